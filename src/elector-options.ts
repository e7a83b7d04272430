/** The elector's option rules (`startElector`), checked once at the start. */
import type { Barrier } from "./elector-barrier.ts";
import { InvalidArgumentError } from "./errors.ts";
import type { Lease } from "./lease.ts";

function interval(value: number | undefined, field: string, ttlMs: number): number {
  const ms = value ?? Math.floor(ttlMs / 3);
  if (typeof ms !== "number" || !(ms > 0 && ms < ttlMs)) {
    throw new InvalidArgumentError(field, `must be a number of ms above 0 and below the TTL (${ttlMs} ms)`);
  }
  return ms;
}

/**
 * The intervals, barrier and lock-delay of an elector, with their defaults.
 * @throws {InvalidArgumentError} naming the field: `renewIntervalMs`, `retryIntervalMs`, `campaign`, `barrier`,
 *   `lockDelayMs`.
 */
export function electorSettings(options: {
  lease: Lease;
  renewIntervalMs?: number;
  retryIntervalMs?: number;
  campaign?: boolean;
  barrier?: Barrier;
  lockDelayMs?: number;
}) {
  const { ttlMs } = options.lease;
  const renewMs = interval(options.renewIntervalMs, "renewIntervalMs", ttlMs);
  const retryMs = interval(options.retryIntervalMs, "retryIntervalMs", ttlMs);
  if (options.campaign !== undefined && typeof options.campaign !== "boolean") {
    throw new InvalidArgumentError("campaign", "must be a boolean");
  }
  const barrier = options.barrier ?? false;
  if (barrier !== false && barrier !== "clean" && barrier !== "lease-gone") {
    throw new InvalidArgumentError("barrier", `must be "clean", "lease-gone" or false`);
  }
  const lockDelayMs = options.lockDelayMs ?? 0;
  if (!Number.isInteger(lockDelayMs) || lockDelayMs < 0 || lockDelayMs > 3_600_000) {
    throw new InvalidArgumentError("lockDelayMs", "must be an integer number of ms from 0 to 3 600 000");
  }
  return { renewMs, retryMs, barrier, lockDelayMs };
}
