import { describe, expect, it } from "vitest";
import { fakeClock } from "../../../adapters/testing/index.ts";

describe("fakeClock", () => {
  it("resolves sleeps in order only when time is advanced past them", async () => {
    const clock = fakeClock(1000);
    const woke: number[] = [];
    const a = clock.sleep(50).then(() => woke.push(50));
    const b = clock.sleep(10).then(() => woke.push(10));
    clock.advance(9);
    await Promise.resolve();
    expect(woke).toEqual([]);
    clock.advance(41);
    await Promise.all([a, b]);
    expect(woke).toEqual([10, 50]);
    expect(clock.now()).toBe(1050);
    expect(() => clock.set(0)).toThrow(RangeError);
  });

  it("rejects a sleep when its signal aborts", async () => {
    const clock = fakeClock();
    const controller = new AbortController();
    const sleeping = clock.sleep(1000, controller.signal);
    controller.abort(new Error("stop"));
    await expect(sleeping).rejects.toThrow("stop");
  });
});
