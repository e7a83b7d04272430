/** Durations on the command line: `500ms`, `15s`, `2m`, `1h`, `1.5s`. */
import { usageError } from "./exit.ts";

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses `text` into whole ms (rounded up).
 * @throws {CliError} naming `flag` when `text` is not a number followed by ms, s, m or h, or is above a year.
 */
export function parseDurationMs(text: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text.trim());
  const unit = match ? UNIT_MS[match[2] as string] : undefined;
  const ms = match && unit ? Math.ceil(Number(match[1]) * unit) : Number.NaN;
  if (!(ms >= 0 && ms <= 31_536_000_000)) {
    throw usageError(flag, `must be a duration like 500ms, 15s or 2m (got ${JSON.stringify(text)})`);
  }
  return ms;
}

/** `15000` → `15s`, `500` → `500ms`, `90000` → `90s`: for messages. */
export function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : ms > 1000 ? `${(ms / 1000).toFixed(1)}s` : `${ms}ms`;
}
