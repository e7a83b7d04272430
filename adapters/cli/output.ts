/**
 * What the bin prints: one human-readable line per event (`leasehold: …`), or with `--json` one JSON object per
 * line (`{"event":…,"at":…}` plus the event's fields, 64-bit integers as decimal strings) for log pipelines.
 */
import type { Writable } from "node:stream";

export type Fields = Readonly<Record<string, unknown>>;

export interface Reporter {
  /** An event always shown. */
  event(event: string, fields: Fields, text: string): void;
  /** An event shown only with `-v` (renewals). */
  detail(event: string, fields: Fields, text: string): void;
}

export interface ReporterOptions {
  json: boolean;
  verbose: boolean;
  /** Start of human lines, e.g. `leasehold: `. */
  label: string;
}

const exact = (_: string, value: unknown) => (typeof value === "bigint" ? value.toString() : value);

/** One event as a JSON line: bigints become decimal strings, `at` is an ISO timestamp. */
export function jsonLine(event: string, fields: Fields, at = new Date()): string {
  return `${JSON.stringify({ event, at: at.toISOString(), ...fields }, exact)}\n`;
}

export function createReporter(out: Writable, options: ReporterOptions): Reporter {
  const write = (event: string, fields: Fields, text: string) => {
    out.write(options.json ? jsonLine(event, fields) : `${options.label}${text}\n`);
  };
  return {
    event: write,
    detail: (event, fields, text) => {
      if (options.verbose) write(event, fields, text);
    },
  };
}
