/** A manually driven {@link Clock} for tests: time moves only when the test calls `advance` or `set`. */
import type { Clock } from "../../src/backend-kit.ts";

export interface FakeClock extends Clock {
  /** Moves time forward by `ms` and resolves every `sleep` that is due, in order. */
  advance(ms: number): void;
  /** Moves time to `epochMs` (never backwards). */
  set(epochMs: number): void;
}

interface Sleeper {
  at: number;
  resolve: () => void;
}

/** A fake clock starting at `startMs` (epoch ms, default 1 700 000 000 000). */
export function fakeClock(startMs = 1_700_000_000_000): FakeClock {
  let now = startMs;
  let sleepers: Sleeper[] = [];
  const set = (epochMs: number) => {
    if (epochMs < now) throw new RangeError("fakeClock: time cannot go backwards");
    now = epochMs;
    const due = sleepers.filter((s) => s.at <= now).sort((a, b) => a.at - b.at);
    sleepers = sleepers.filter((s) => s.at > now);
    for (const s of due) s.resolve();
  };
  return {
    now: () => now,
    sleep: (ms, signal) =>
      new Promise<void>((resolve, reject) => {
        if (signal?.aborted) {
          reject(signal.reason);
          return;
        }
        const sleeper: Sleeper = { at: now + Math.max(0, ms), resolve };
        signal?.addEventListener(
          "abort",
          () => {
            sleepers = sleepers.filter((s) => s !== sleeper);
            reject(signal.reason);
          },
          { once: true },
        );
        if (sleeper.at <= now) resolve();
        else sleepers.push(sleeper);
      }),
    advance: (ms) => set(now + ms),
    set,
  };
}
