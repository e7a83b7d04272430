#!/usr/bin/env node
/**
 * The `leasehold` bin (Node only): `run`, `leader`, `observe`, `release`. Each prints its own `--help`. A failure
 * is one line on stderr and a sysexits code (exit.ts); nothing here prints a secret.
 */
import { CliError, EXIT_USAGE } from "./exit.ts";
import { leader } from "./leader.ts";
import { observe } from "./observe.ts";
import { release } from "./release.ts";
import { run } from "./run.ts";
import { supervise } from "./supervisor.ts";
import { MAIN_USAGE } from "./usage.ts";

const COMMANDS = { run, leader, observe, release } as const;

async function main([command, ...argv]: string[]): Promise<number> {
  if (command === "_supervise") {
    supervise(argv);
    return -1;
  }
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    process.stdout.write(MAIN_USAGE);
    return command === undefined ? EXIT_USAGE : 0;
  }
  const handler = COMMANDS[command as keyof typeof COMMANDS];
  if (!handler || !Object.hasOwn(COMMANDS, command)) {
    throw new CliError(`unknown command ${JSON.stringify(command)}; run "leasehold --help"`, EXIT_USAGE);
  }
  return handler(argv, process.env);
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (error: unknown) => {
    const cli = error instanceof CliError;
    process.stderr.write(
      `leasehold: ${cli ? error.message : error instanceof Error ? error.stack : String(error)}\n`,
    );
    process.exit(cli ? error.exitCode : 70);
  },
);
