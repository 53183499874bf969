/**
 * Harness for the library tests: runs a Node fixture (test/support/fixtures/library)
 * as PID 1 of a fresh PID namespace or as an ordinary process, bounded in
 * time, leaving nothing behind. The fixtures load the package by its own
 * name ('node-tsinit', 'node-tsinit/register'), so they exercise the built entry points.
 */
import type { ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { spawn, type SpawnOptions, type StdioSpec, type StdioStreams, type Supervised } from 'node-tsinit';
import { firstChildOf, inNamespace, killAll, startBounded } from './helpers';

export const FIXTURES = path.join(__dirname, 'fixtures', 'library');

export interface NodeRun {
  proc: ChildProcess;
  result: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; timedOut: boolean }>;
  stdout(): string;
  stderr(): string;
  /** Resolves once `re` matches stdout, rejects after `ms`. */
  waitFor(re: RegExp, ms?: number): Promise<RegExpMatchArray>;
  /** The fixture's pid as seen from here (inside the namespace it is PID 1). */
  hostPid(): Promise<number>;
  /** Sends `sig` to the fixture itself. */
  kill(sig: NodeJS.Signals): Promise<void>;
  /** Writes one line to the fixture's stdin. */
  send(line: string): void;
}

/** Kills every process group a test started and did not see exit (call in afterEach). */
export const killNodes = killAll;

/** Starts `node FIXTURE ARGS`, as PID 1 of a new PID namespace when `pid1`. */
export function startNode(fixture: string, args: readonly string[] = [], opts: { pid1?: boolean; timeoutMs?: number; mountProc?: boolean } = {}): NodeRun {
  const script = path.join(FIXTURES, fixture);
  const pid1 = opts.pid1 ?? true;
  const [cmd, argv] = pid1
    ? inNamespace([process.execPath, script, ...args], { mountProc: opts.mountProc })
    : [process.execPath, [script, ...args]];
  const b = startBounded(cmd, argv, { cwd: FIXTURES, timeoutMs: opts.timeoutMs ?? 30_000, keepStdin: true });
  const hostPid = async (): Promise<number> => (pid1 ? firstChildOf(b.proc.pid!, 'the fixture') : b.proc.pid!);
  return {
    proc: b.proc,
    result: b.result,
    stdout: b.stdout,
    stderr: b.stderr,
    waitFor: (re, ms = 15_000) => b.waitFor(re, ms, true),
    hostPid,
    send: b.send,
    kill: async (sig) => {
      const pid = await hostPid();
      try { process.kill(pid, sig); } catch { /* gone */ }
    },
  };
}

/** Runs a fixture to the end and parses the last line of its stdout as JSON. */
export async function runJson<T>(fixture: string, args: readonly string[] = [], opts: { pid1?: boolean; timeoutMs?: number; mountProc?: boolean } = {}): Promise<T & { stderr: string; exit: { code: number | null; signal: string | null; timedOut: boolean } }> {
  const r = await startNode(fixture, args, opts).result;
  const last = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return { ...(JSON.parse(last) as T), stderr: r.stderr, exit: { code: r.code, signal: r.signal, timedOut: r.timedOut } };
  } catch {
    throw new Error(`no JSON from ${fixture} (code ${r.code}, signal ${r.signal}, timed out ${r.timedOut}):\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
  }
}

export { sleep } from './helpers';

/** Supervised children a test started in this process, for {@link killSpawned}. */
const spawned = new Set<Supervised>();

/** The library's spawn(), remembered so that {@link killSpawned} can clean up after the test. */
export function spawnTracked<S extends StdioSpec = 'inherit'>(command: string | Buffer, args?: ReadonlyArray<string | Buffer>, options?: SpawnOptions<S>): Supervised & StdioStreams<S>;
export function spawnTracked<S extends StdioSpec = 'inherit'>(command: string | Buffer, options?: SpawnOptions<S>): Supervised & StdioStreams<S>;
export function spawnTracked(...args: [string | Buffer, (ReadonlyArray<string | Buffer> | SpawnOptions)?, SpawnOptions?]): Supervised {
  const s = (spawn as (...a: typeof args) => Supervised)(...args);
  spawned.add(s);
  return s;
}

/** Leaves nothing behind (call in afterEach): SIGKILL every group a test started. */
export function killSpawned(): void {
  for (const s of spawned) {
    if (s.pid <= 0) continue;
    // Never our own group: a child started with group: false shares it.
    try { process.kill(s.group ? -s.pgid : s.pid, 'SIGKILL'); } catch { /* gone */ }
  }
  spawned.clear();
}
