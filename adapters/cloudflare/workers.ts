/**
 * The parts of the Workers runtime types this adapter uses, declared structurally so that the package needs no
 * `@cloudflare/workers-types`: the runtime's `ScheduledController` and `ExecutionContext` satisfy them.
 */

/** A cron event: `scheduledTime` (epoch ms) and the `cron` pattern that fired. */
export interface ScheduledControllerLike {
  readonly scheduledTime: number;
  readonly cron: string;
  noRetry(): void;
}

/** The Worker's execution context: work passed to `waitUntil` may finish after the handler returns. */
export interface ExecutionContextLike {
  waitUntil(promise: Promise<unknown>): void;
}
