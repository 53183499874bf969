/**
 * The command line and its environment twins. Pure: takes argv and an
 * environment, returns validated options or throws {@link UsageError}.
 *
 * Grammar: `tsinit [OPTIONS] [--] PROGRAM [ARGS...]`. Options stop at the
 * first non-option or at `--`; short options cluster as getopt's do
 * (`-vvv`, `-sg`, `-e143`); long options take `--name=value` or
 * `--name value`. The flags are the union of tini's and dumb-init's.
 * @module
 */
import { parseSignal, NOT_FORWARDED, signalName } from '../signals';
import { DEFAULT_DUMP_SECONDS, DEFAULT_GRACE_SECONDS, parseSeconds as parseDuration } from '../durations';
import { NO_RESTART, parseRestartPolicy, type RestartPolicy } from '../supervise/restart';

export { DEFAULT_DUMP_SECONDS, DEFAULT_GRACE_SECONDS };

/** What the command line asks for. */
export type CliAction = 'run' | 'help' | 'version' | 'license';

/** Log line format on stderr. */
export type LogFormat = 'human' | 'json';

/** Fully validated options of one tsinit run. */
export interface CliOptions {
  action: CliAction;
  /** PROGRAM and its arguments (empty when action is not 'run', or with `procfile`). */
  command: string[];
  /** Seconds between the forwarded stop signal and SIGKILL. */
  grace: number;
  /** Forward to the child's whole process group (true) or only the child. */
  group: boolean;
  /** Register as a child subreaper even when PID 1 would not need it. */
  subreaper: boolean;
  /** Exit codes that tsinit reports as 0. */
  expectExit: Set<number>;
  /** Signal the kernel sends tsinit when its parent dies, or null. */
  pdeathsig: number | null;
  /** Signal rewrites before forwarding; a target of 0 drops the signal. */
  rewrite: Map<number, number>;
  /** -1 errors only (TINI_VERBOSITY=0), 0 warnings, 1 timeline and forwarding, 2 and 3 deeper. */
  verbosity: number;
  /** Warn when an orphaned zombie is reaped. */
  warnOnReap: boolean;
  /** Signal sent to survivors at the grace deadline before SIGKILL, or null. */
  dumpSignal: number | null;
  /** Seconds between the dump signal and SIGKILL. */
  dumpSeconds: number;
  /** Format of log lines on stderr. */
  logFormat: LogFormat;
  /** Write a summary to the Kubernetes termination-log file on an unclean exit. */
  terminationLog: boolean;
  /** When the child (or each service) is restarted after it ends. */
  restart: RestartPolicy;
  /** Run the services of this Procfile instead of PROGRAM, or null. */
  procfile: string | null;
  /** With `procfile`: prefix each output line with the service's name (false: output passes through untouched). */
  prefix: boolean;
}

/** Bad usage: a message for stderr, and tsinit exits without starting a child. */
export class UsageError extends Error {
  /** Stable machine-readable code. */
  readonly code = 'ERR_TSINIT_USAGE';
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

interface OptionSpec {
  short?: string;
  long: string;
  /** Takes a value (`-t 5`), or is a flag. */
  value: boolean;
  apply(o: CliOptions, value: string, shown: string): void;
}

function fail(message: string): never {
  throw new UsageError(message);
}

/** Seconds, or inf for never: the library's validator and message (src/durations.ts). */
function parseSeconds(text: string, what: string): number {
  try {
    return parseDuration(text, what);
  } catch (err) {
    return fail(`${(err as Error).message}, e.g. 30, 2.5 or inf`);
  }
}

function parseExitCode(text: string, what: string): number {
  const t = text.trim();
  if (!/^\d+$/.test(t) || Number(t) > 255) fail(`invalid ${what} '${text}': expected an exit code 0..255`);
  return Number(t);
}

function parseSignalValue(text: string, what: string): number {
  const n = parseSignal(text);
  if (n === undefined) fail(`invalid ${what} '${text}': expected a signal name or number 1..64, e.g. SIGTERM or 15`);
  return n;
}

function parseRewrite(text: string, what: string): [number, number] {
  const m = /^([^:]+):([^:]+)$/.exec(text.trim());
  if (m === null) fail(`invalid ${what} '${text}': expected FROM:TO, e.g. 15:3 or SIGTERM:SIGQUIT`);
  const from = parseSignalValue(m[1]!, what);
  if (NOT_FORWARDED.has(from)) fail(`invalid ${what} '${text}': ${signalName(from)} is never forwarded, so it cannot be rewritten`);
  const to = m[2]!.trim() === '0' ? 0 : parseSignalValue(m[2]!, what);
  return [from, to];
}

function parseBool(text: string, what: string): boolean {
  const t = text.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(t)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(t)) return false;
  return fail(`invalid ${what} '${text}': expected 1 or 0`);
}

function parseDump(text: string, what: string): [number, number] {
  const [sig, secs, ...rest] = text.split(':');
  if (rest.length > 0 || sig === undefined) fail(`invalid ${what} '${text}': expected SIGNAL or SIGNAL:SECONDS`);
  return [parseSignalValue(sig, what), secs === undefined ? DEFAULT_DUMP_SECONDS : parseSeconds(secs, `${what} seconds`)];
}

function parseRestart(text: string, what: string): RestartPolicy {
  try {
    return parseRestartPolicy(text);
  } catch {
    return fail(`invalid ${what} '${text}': expected no, on-failure[:MAX] or always[:MAX]`);
  }
}

function parseLogFormat(text: string, what: string): LogFormat {
  const t = text.trim().toLowerCase();
  if (t === 'human' || t === 'json') return t;
  return fail(`invalid ${what} '${text}': expected human or json`);
}

const SPECS: readonly OptionSpec[] = [
  { short: 't', long: 'grace', value: true, apply: (o, v, s) => { o.grace = parseSeconds(v, s); } },
  { short: 'g', long: 'pgroup', value: false, apply: (o) => { o.group = true; } },
  { short: 'c', long: 'single-child', value: false, apply: (o) => { o.group = false; } },
  { short: 's', long: 'subreaper', value: false, apply: (o) => { o.subreaper = true; } },
  { short: 'e', long: 'expect-exit', value: true, apply: (o, v, s) => { o.expectExit.add(parseExitCode(v, s)); } },
  { short: 'p', long: 'pdeathsig', value: true, apply: (o, v, s) => { o.pdeathsig = parseSignalValue(v, s); } },
  { short: 'r', long: 'rewrite', value: true, apply: (o, v, s) => { const [f, t] = parseRewrite(v, s); o.rewrite.set(f, t); } },
  { short: 'v', long: 'verbose', value: false, apply: (o) => { o.verbosity++; } },
  { short: 'w', long: 'warn-on-reap', value: false, apply: (o) => { o.warnOnReap = true; } },
  { short: 'l', long: 'license', value: false, apply: (o) => { o.action = 'license'; } },
  { short: 'L', long: 'license', value: false, apply: (o) => { o.action = 'license'; } },
  { short: 'V', long: 'version', value: false, apply: (o) => { o.action = 'version'; } },
  { short: 'h', long: 'help', value: false, apply: (o) => { o.action = 'help'; } },
  { long: 'dump', value: true, apply: (o, v, s) => { [o.dumpSignal, o.dumpSeconds] = parseDump(v, s); } },
  { long: 'log-format', value: true, apply: (o, v, s) => { o.logFormat = parseLogFormat(v, s); } },
  { long: 'no-termination-log', value: false, apply: (o) => { o.terminationLog = false; } },
  { long: 'restart', value: true, apply: (o, v, s) => { o.restart = parseRestart(v, s); } },
  { long: 'procfile', value: true, apply: (o, v, s) => { o.procfile = parsePath(v, s); } },
  { long: 'no-prefix', value: false, apply: (o) => { o.prefix = false; } },
];

function defaults(): CliOptions {
  return {
    action: 'run',
    command: [],
    grace: DEFAULT_GRACE_SECONDS,
    group: true,
    subreaper: false,
    expectExit: new Set(),
    pdeathsig: null,
    rewrite: new Map(),
    verbosity: 0,
    warnOnReap: false,
    dumpSignal: null,
    dumpSeconds: DEFAULT_DUMP_SECONDS,
    logFormat: 'human',
    terminationLog: true,
    restart: NO_RESTART,
    procfile: null,
    prefix: true,
  };
}

function parsePath(text: string, what: string): string {
  if (text === '' || text.includes('\0')) fail(`invalid ${what} '${text}': expected a file name`);
  return text;
}

function list(text: string): string[] {
  return text.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

/** Applies the environment twins of the options (the command line then overrides them). */
function applyEnv(o: CliOptions, env: Env): void {
  const get = (name: string): string | undefined => env[name];
  let v: string | undefined;
  // tini and dumb-init compatibility first, so tsinit's own names win.
  if (get('TINI_KILL_PROCESS_GROUP') !== undefined) o.group = true;
  if ((v = get('DUMB_INIT_SETSID')) !== undefined) o.group = parseBool(v, 'DUMB_INIT_SETSID');
  if (get('TINI_SUBREAPER') !== undefined) o.subreaper = true;
  // tini counts from 1, its quiet default (warnings): 0 silences warnings too,
  // 2 is info, 3 debug, 4 trace. tsinit's scale starts at warnings (0).
  if ((v = get('TINI_VERBOSITY')) !== undefined) o.verbosity = Math.min(parseNumber(v, 'TINI_VERBOSITY', 4) - 1, 3);
  // dumb-init has one switch: DUMB_INIT_DEBUG=1 turns on its debug output.
  if ((v = get('DUMB_INIT_DEBUG')) !== undefined && parseBool(v, 'DUMB_INIT_DEBUG')) o.verbosity = Math.max(o.verbosity, 2);

  if ((v = get('TSINIT_GRACE')) !== undefined) o.grace = parseSeconds(v, 'TSINIT_GRACE');
  if ((v = get('TSINIT_SINGLE_CHILD')) !== undefined) o.group = !parseBool(v, 'TSINIT_SINGLE_CHILD');
  if ((v = get('TSINIT_SUBREAPER')) !== undefined) o.subreaper = parseBool(v, 'TSINIT_SUBREAPER');
  if ((v = get('TSINIT_EXPECT_EXIT')) !== undefined) {
    for (const c of list(v)) o.expectExit.add(parseExitCode(c, 'TSINIT_EXPECT_EXIT'));
  }
  if ((v = get('TSINIT_PDEATHSIG')) !== undefined && v.trim() !== '') o.pdeathsig = parseSignalValue(v, 'TSINIT_PDEATHSIG');
  if ((v = get('TSINIT_REWRITE')) !== undefined) {
    for (const r of list(v)) { const [f, t] = parseRewrite(r, 'TSINIT_REWRITE'); o.rewrite.set(f, t); }
  }
  if ((v = get('TSINIT_VERBOSITY')) !== undefined) o.verbosity = parseVerbosity(v, 'TSINIT_VERBOSITY');
  if ((v = get('TSINIT_WARN_ON_REAP')) !== undefined) o.warnOnReap = parseBool(v, 'TSINIT_WARN_ON_REAP');
  if ((v = get('TSINIT_DUMP')) !== undefined && v.trim() !== '') [o.dumpSignal, o.dumpSeconds] = parseDump(v, 'TSINIT_DUMP');
  if ((v = get('TSINIT_LOG_FORMAT')) !== undefined && v.trim() !== '') o.logFormat = parseLogFormat(v, 'TSINIT_LOG_FORMAT');
  if ((v = get('TSINIT_RESTART')) !== undefined && v.trim() !== '') o.restart = parseRestart(v, 'TSINIT_RESTART');
  if ((v = get('TSINIT_PROCFILE')) !== undefined && v !== '') o.procfile = parsePath(v, 'TSINIT_PROCFILE');
  if ((v = get('TSINIT_PREFIX')) !== undefined && v.trim() !== '') o.prefix = parseBool(v, 'TSINIT_PREFIX');
  if ((v = get('TSINIT_TERMINATION_LOG')) !== undefined && v.trim() !== '') {
    // A path is read by the caller; only "0"/"1"-style values switch it here.
    if (/^(0|1|true|false|yes|no|on|off)$/i.test(v.trim())) o.terminationLog = parseBool(v, 'TSINIT_TERMINATION_LOG');
  }
}

function parseNumber(text: string, what: string, max: number): number {
  const t = text.trim();
  if (!/^\d+$/.test(t)) fail(`invalid ${what} '${text}': expected a number 0..${max}`);
  return Math.min(Number(t), max);
}

function parseVerbosity(text: string, what: string): number {
  return parseNumber(text, what, 3);
}

/**
 * Parses tsinit's arguments (without `node` and the script) and environment.
 * @throws {UsageError} on an unknown option, a missing or malformed value, or a missing PROGRAM.
 */
export function parseCommandLine(argv: readonly string[], env: Env = {}): CliOptions {
  const fromEnv = defaults();
  applyEnv(fromEnv, env);
  const o: CliOptions = { ...fromEnv, expectExit: new Set(), rewrite: new Map(), verbosity: 0 };
  let sawExpect = false;
  let sawRewrite = false;
  let sawVerbose = false;
  let sawProcfile = false;

  const use = (spec: OptionSpec, value: string, shown: string): void => {
    if (spec.long === 'expect-exit') sawExpect = true;
    if (spec.long === 'rewrite') sawRewrite = true;
    if (spec.long === 'verbose') sawVerbose = true;
    if (spec.long === 'procfile') sawProcfile = true;
    spec.apply(o, value, shown);
  };

  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') { i++; break; }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = arg.slice(2, eq === -1 ? undefined : eq);
      const spec = SPECS.find((s) => s.long === name);
      if (spec === undefined) fail(`unknown option '--${name}'`);
      if (!spec.value) {
        if (eq !== -1) fail(`option '--${name}' takes no value`);
        use(spec, '', `--${name}`);
        continue;
      }
      let value: string;
      if (eq !== -1) value = arg.slice(eq + 1);
      else if (i + 1 < argv.length) value = argv[++i]!;
      else fail(`option '--${name}' needs a value`);
      use(spec, value, `--${name}`);
      continue;
    }
    if (arg.startsWith('-') && arg.length > 1) {
      for (let j = 1; j < arg.length; j++) {
        const ch = arg[j]!;
        const spec = SPECS.find((s) => s.short === ch);
        if (spec === undefined) fail(`unknown option '-${ch}'`);
        if (!spec.value) { use(spec, '', `-${ch}`); continue; }
        let value: string;
        if (j + 1 < arg.length) value = arg.slice(j + 1);
        else if (i + 1 < argv.length) value = argv[++i]!;
        else fail(`option '-${ch}' needs a value`);
        use(spec, value, `-${ch}`);
        break;
      }
      continue;
    }
    break;
  }
  o.command = argv.slice(i);
  if (!sawExpect) o.expectExit = fromEnv.expectExit;
  if (!sawRewrite) o.rewrite = fromEnv.rewrite;
  if (!sawVerbose) o.verbosity = fromEnv.verbosity;
  o.verbosity = Math.min(o.verbosity, 3);
  if (o.action === 'run' && o.procfile !== null && o.command.length > 0) {
    // The command line's PROGRAM wins over TSINIT_PROCFILE; both on the command line is a mistake.
    if (sawProcfile) fail('--procfile and PROGRAM exclude each other');
    o.procfile = null;
  }
  if (o.action === 'run' && o.command.length === 0 && o.procfile === null) fail('missing PROGRAM to run (or --procfile FILE)');
  return o;
}

/** The usage text printed by `--help`. */
export const USAGE = `Usage: tsinit [OPTIONS] [--] PROGRAM [ARGS...]
       tsinit [OPTIONS] --procfile FILE

Runs PROGRAM as the only child of a correct init: reaps zombies, forwards
signals to PROGRAM's process group, sends SIGKILL when a stop outlives the
grace period, and exits with PROGRAM's status.

Options (environment twin in brackets; the command line wins):
  -t, --grace SECONDS      grace before SIGKILL after SIGTERM/SIGINT, default ${DEFAULT_GRACE_SECONDS}; inf: never [TSINIT_GRACE]
  -g, --pgroup             forward to the child's process group (default) [TINI_KILL_PROCESS_GROUP]
  -c, --single-child       forward only to the direct child [TSINIT_SINGLE_CHILD=1, DUMB_INIT_SETSID=0]
  -s, --subreaper          register as a child subreaper (automatic when not PID 1) [TSINIT_SUBREAPER, TINI_SUBREAPER]
  -e, --expect-exit CODE   report exit code CODE as 0; repeatable [TSINIT_EXPECT_EXIT=143,130]
  -p, --pdeathsig SIGNAL   receive SIGNAL when tsinit's parent dies [TSINIT_PDEATHSIG]
  -r, --rewrite FROM:TO    forward signal FROM as TO; TO=0 drops it; repeatable [TSINIT_REWRITE=15:3,2:0]
  -v, --verbose            more diagnostics on stderr; repeatable [TSINIT_VERBOSITY, TINI_VERBOSITY, DUMB_INIT_DEBUG]
  -w, --warn-on-reap       warn when an orphaned zombie is reaped [TSINIT_WARN_ON_REAP]
      --dump SIGNAL[:SECS] at the grace deadline send SIGNAL, wait SECS (default ${DEFAULT_DUMP_SECONDS}), then SIGKILL [TSINIT_DUMP]
      --log-format FORMAT  human (default) or json, on stderr [TSINIT_LOG_FORMAT]
      --no-termination-log do not write /dev/termination-log [TSINIT_TERMINATION_LOG=0]
      --restart POLICY     no (default), on-failure[:MAX] or always[:MAX], as Docker's [TSINIT_RESTART]
      --procfile FILE      run the services of a Procfile (name: command) instead of PROGRAM [TSINIT_PROCFILE]
      --no-prefix          with --procfile, pass output through without the 'name | ' prefix [TSINIT_PREFIX=0]
  -l, -L, --license        print the license and exit
  -V, --version            print the version and exit
  -h, --help               print this help and exit

Exit status: PROGRAM's exit code, or 128+N when a signal N killed it (with
--procfile: the status of the service that ended first, or on a stop the
first line's);
127 PROGRAM not found, 126 PROGRAM not executable, 2 bad usage.
`;
