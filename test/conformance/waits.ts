/**
 * Waits for the long-running cases (electors, observers, transfers), on any target's clock: time passes in
 * 25 ms steps, each followed by enough turns of the event loop for the loops under test to react.
 */
import type { ConformanceTarget } from "./target.ts";

export async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

export function waits(target: Pick<ConformanceTarget, "elapse">) {
  return {
    /** Lets time pass in 25 ms steps until `check` holds, for at most `ms`. */
    async eventually(check: () => boolean, ms = 5000): Promise<void> {
      for (let waited = 0; !check(); waited += 25) {
        if (waited > ms) throw new Error(`not within ${ms} ms`);
        await target.elapse(25);
        await settle();
      }
    },
    /** Lets `ms` pass in 25 ms steps, so that renewals keep up on a fake clock. */
    async pass(ms: number): Promise<void> {
      for (let waited = 0; waited < ms; waited += 25) {
        await target.elapse(25);
        await settle();
      }
    },
  };
}
