/**
 * The `tsinit` command: a thin layer over {@link runInit}. Parses the command
 * line, answers --help/--version/--license, runs the init, exits with its status.
 * @module
 */
import { readFileSync, writeSync } from 'node:fs';
import * as path from 'node:path';
import { STATUS_INTERNAL, STATUS_USAGE } from './exit-status';
import { runInit } from './init';
import { native } from './native';
import { Logger } from './log';
import { parseCommandLine, UsageError, USAGE } from './options';
import { warnAboutWrapperPid1 } from './pid1-check';

const ROOT = path.join(__dirname, '..');

function print(fd: number, text: string): void {
  try { writeSync(fd, text); } catch { /* a closed stream loses the text, nothing more */ }
}

/** The version in package.json. */
export function version(): string {
  return (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

/** Runs tsinit with `argv` (no node, no script) and exits the process with tsinit's status. */
export function main(argv: readonly string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): void {
  const log = new Logger();
  let options;
  try {
    options = parseCommandLine(argv, env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    print(2, `tsinit: ${err.message}\nTry 'tsinit --help' for more information.\n`);
    process.exit(STATUS_USAGE);
  }
  switch (options.action) {
    case 'help': print(1, USAGE); process.exit(0);
    // falls through (process.exit does not return)
    case 'version': print(1, `tsinit ${version()}\n`); process.exit(0);
    // falls through
    case 'license': print(1, readFileSync(path.join(ROOT, 'LICENSE'), 'utf8')); process.exit(0);
    // falls through
    case 'run': break;
  }
  log.verbosity = options.verbosity;
  log.format = options.logFormat;
  // Point of no return is the spawn: from then on nothing of tsinit's own may
  // end it. Before the spawn an unexpected error ends tsinit with status 1.
  let childStarted = false;
  process.on('uncaughtException', (err) => {
    if (!childStarted) {
      log.error('internal', `internal error before the child started: ${err.stack ?? String(err)}`);
      process.exit(STATUS_INTERNAL);
    }
    log.warn('internal', `internal error (ignored; the child keeps running): ${err.stack ?? String(err)}`);
  });
  process.on('unhandledRejection', (err) => {
    log.warn('internal', `internal error (ignored): ${String(err)}`);
  });
  // Every write of tsinit's is synchronous, so nothing is left to flush: skip
  // Node's teardown and exit the moment the status is known.
  runInit(options, log, env, () => {
    childStarted = true;
    // The child already runs: is PID 1 a wrapper that eats stop signals? (two
    // small /proc reads; done now so that even a child that exits at once gets it said)
    warnAboutWrapperPid1(log);
  }).then((code) => native().exitNow(code));
}
