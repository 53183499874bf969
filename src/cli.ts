/**
 * The `tsinit` command: a thin layer over {@link runInit}. Parses the command
 * line, answers --help/--version/--license, runs the init, exits with its status.
 * @module
 */
import { readFileSync, writeSync } from 'node:fs';
import * as path from 'node:path';
import { STATUS_INTERNAL, STATUS_USAGE } from './exit-status';
import { runInit, type RawCommand } from './init/init';
import { native, NativeLoadError } from './native';
import { escapeControls, Logger } from './init/log';
import { parseCommandLine, UsageError, USAGE } from './init/options';
import { hasReplacement, readRawInvocation } from './core/raw-invocation';
import type { ProcfileEntry } from './init/procfile';

// The services init (--procfile) and what it loads are required on first use:
// the single-child path never pays for them at start-up.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const lazyServices = (): typeof import('./init/services') => require('./init/services') as typeof import('./init/services');
import { warnAboutWrapperPid1 } from './init/pid1-check';

const ROOT = path.join(__dirname, '..');

function print(fd: number, text: string): void {
  try { writeSync(fd, text); } catch { /* a closed stream loses the text, nothing more */ }
}

// What bin/tsinit needs before main(), from this one bundled file: the
// start-up signal recorder, the inherited descriptors, the in-place restart.
export { claimStartupSignals, stashSignals, takeRecordedSignals } from './init/startup';
export { detectInheritedFds, parseFdList } from './init/inherited-fds';
export { restartRequest } from './core/raw-invocation';
export { native } from './native';

/** The version in package.json. */
export function version(): string {
  return (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

/**
 * Runs tsinit with `argv` (no node, no script) and exits the process with
 * tsinit's status. Without `argv`, this process's own arguments: options are
 * parsed from process.argv, and the child gets PROGRAM, its arguments and
 * the environment byte for byte from /proc/self.
 */
export function main(argv?: readonly string[], env: NodeJS.ProcessEnv = process.env): void {
  const own = argv === undefined;
  argv ??= process.argv.slice(2);
  const log = new Logger();
  let options;
  let services: ProcfileEntry[] | undefined;
  try {
    options = parseCommandLine(argv, env);
    if (options.action === 'run' && options.procfile !== null) services = lazyServices().loadProcfile(options.procfile);
  } catch (err) {
    // By code, not class: the services init (dist/init/services.js) is a module graph of its own.
    if (!(err instanceof UsageError) && (err as { code?: unknown }).code !== 'ERR_TSINIT_USAGE') throw err;
    print(2, `tsinit: ${escapeControls((err as Error).message)}\nTry 'tsinit --help' for more information.\n`);
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
  // A missing or unloadable addon: one line that says what to do, status 1.
  try {
    native();
  } catch (err) {
    if (!(err instanceof NativeLoadError)) throw err;
    log.error('native', err.message);
    process.exit(STATUS_INTERNAL);
  }
  const raw = own ? rawCommand(options.command, env, log) : undefined;
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
  // Node prints its warnings through process.stderr, which sets O_NONBLOCK
  // on the description the child shares and can block on a stalled stderr:
  // they go through the log instead.
  process.removeAllListeners('warning');
  process.on('warning', (w) => {
    log.warn('node-warning', `${w.name}: ${w.message}`);
  });
  process.on('unhandledRejection', (err) => {
    log.warn('internal', `internal error (ignored): ${String(err)}`);
  });
  // Every write of tsinit's is synchronous, so nothing is left to flush: skip
  // Node's teardown and exit the moment the status is known.
  const started = (): void => {
    childStarted = true;
    // The child already runs: is PID 1 a wrapper that eats stop signals? (two
    // small /proc reads; done now so that even a child that exits at once gets it said)
    warnAboutWrapperPid1(log);
  };
  const running = services === undefined ? runInit(options, log, env, started, raw) : lazyServices().runServices(options, services, log, env, started);
  running.then((code) => {
    log.flush(); // lines dropped at the end are at least counted
    native().exitNow(code);
  });
}

/**
 * PROGRAM, its arguments and the environment as executed, from /proc/self.
 * Without /proc the decoded strings serve; at -v, a note when that changed
 * bytes that were not UTF-8 (they show as U+FFFD).
 */
function rawCommand(command: readonly string[], env: NodeJS.ProcessEnv, log: Logger): RawCommand | undefined {
  const raw = readRawInvocation();
  if (raw !== undefined) return { command: raw.args.slice(raw.args.length - command.length), env: raw.env };
  const lossy = command.some(hasReplacement) || Object.entries(env).some(([k, v]) => hasReplacement(k) || (v !== undefined && hasReplacement(v)));
  if (lossy) {
    log.info('bytes', 'cannot read /proc/self/cmdline and environ: bytes that are not UTF-8 in the arguments or environment reach the child as U+FFFD');
  }
  return undefined;
}
