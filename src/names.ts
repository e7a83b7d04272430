/** Validation of lease names and holder identities, shared by `createLease` and the backends. */
import { InvalidArgumentError } from "./errors.ts";

/** Longest lease name, in characters. */
export const MAX_NAME_LENGTH = 200;
/** Longest holder identity, in characters. */
export const MAX_HOLDER_LENGTH = 256;

const SEGMENT = /^(?!\.\.?$)[\p{L}\p{N}._~:@+=,-]+$/u;
const SEGMENT_CHAR = /^[\p{L}\p{N}._~:@+=,-]$/u;
const CONTROL = /[\p{Cc}\p{Cs}]/u;

const ALLOWED = 'letters, digits and . _ ~ : @ + = , - in segments separated by "/"';

/** Why `name` is refused, pointing at the offending character by its index in `name`. */
function nameRule(name: string, segments: readonly string[], bad: number): string {
  const at = segments.slice(0, bad).reduce((n, s) => n + s.length + 1, 0);
  const segment = segments[bad] as string;
  const quoted = JSON.stringify(name);
  if (segment === "")
    return `${quoted} has an empty segment at index ${at} (a leading, trailing or doubled "/"); allowed: ${ALLOWED}`;
  if (segment === "." || segment === "..")
    return `${quoted} has the segment "${segment}" at index ${at}, which is not allowed; allowed: ${ALLOWED}`;
  const chars = Array.from(segment);
  const i = chars.findIndex((c) => !SEGMENT_CHAR.test(c));
  const char = chars[i] as string;
  const code = `U+${(char.codePointAt(0) as number).toString(16).toUpperCase().padStart(4, "0")}`;
  const index = at + chars.slice(0, i).join("").length;
  return `${quoted} has ${JSON.stringify(char)} (${code}) at index ${index}; allowed: ${ALLOWED}`;
}

/**
 * A lease name is one or more "/"-separated segments, e.g. `jobs/nightly-report`: no empty segment (so no
 * leading, trailing or doubled "/"), no "." or ".." segment, and each segment made of letters, digits and
 * `. _ ~ : @ + = , -`. These rules make every name a valid etcd key suffix and a valid ZooKeeper path.
 * @throws {InvalidArgumentError} with `field` set to `field`, whose message quotes the name and the index of
 *   the first offending character (e.g. `name: "jobs/nightly report" has " " (U+0020) at index 12; allowed: …`).
 */
export function validateName(name: unknown, field = "name"): string {
  if (typeof name !== "string" || name.length === 0 || name.length > MAX_NAME_LENGTH) {
    throw new InvalidArgumentError(field, `must be a string of 1 to ${MAX_NAME_LENGTH} characters`);
  }
  const segments = name.split("/");
  const bad = segments.findIndex((segment) => !SEGMENT.test(segment));
  if (bad >= 0) throw new InvalidArgumentError(field, nameRule(name, segments, bad));
  return name;
}

/**
 * A holder identity: 1 to 256 characters, no control characters or unpaired surrogates.
 * @throws {InvalidArgumentError} with `field` set to `field`.
 */
export function validateHolder(holder: unknown, field = "holder"): string {
  if (
    typeof holder !== "string" ||
    holder.length === 0 ||
    holder.length > MAX_HOLDER_LENGTH ||
    CONTROL.test(holder)
  ) {
    throw new InvalidArgumentError(
      field,
      `must be a string of 1 to ${MAX_HOLDER_LENGTH} characters, no control characters or lone surrogates`,
    );
  }
  return holder;
}
