/**
 * Exit codes of the `leasehold` bin (sysexits.h where one fits) and the error type that carries one. A run whose
 * child ended on its own exits with the child's code instead.
 */

/** A flag or argument is wrong (EX_USAGE). */
export const EXIT_USAGE = 64;
/** The store failed or could not be reached (EX_UNAVAILABLE). */
export const EXIT_UNAVAILABLE = 69;
/** The term ended while the child ran; the child was stopped (EX_SOFTWARE). */
export const EXIT_TERM_ENDED = 70;
/** The lease is held by another holder or invocation, or `--wait` ran out (EX_TEMPFAIL). */
export const EXIT_HELD = 75;
/** The store refused the credentials or the permission (EX_NOPERM). */
export const EXIT_NOPERM = 77;
/** An environment variable is wrong (EX_CONFIG). */
export const EXIT_CONFIG = 78;

/** A failure the bin reports as one line on stderr before exiting with `exitCode`. */
export class CliError extends Error {
  readonly exitCode: number;

  constructor(message: string, exitCode: number) {
    super(message);
    this.exitCode = exitCode;
    this.name = "CliError";
  }
}

/** A bad flag: `--flag: rule`. */
export function usageError(flag: string, rule: string): CliError {
  return new CliError(`${flag}: ${rule}`, EXIT_USAGE);
}
