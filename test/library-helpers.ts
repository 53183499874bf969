/**
 * Harness for the library tests: runs a Node fixture (test/fixtures/library)
 * as PID 1 of a fresh PID namespace or as an ordinary process, bounded in
 * time, leaving nothing behind. The fixtures load the package by its own
 * name ('tsinit', 'tsinit/register'), so they exercise the built entry points.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

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

const live = new Set<ChildProcess>();

/** Kills every process group a test started and did not see exit (call in afterEach). */
export function killNodes(): void {
  for (const p of live) {
    try { process.kill(-p.pid!, 'SIGKILL'); } catch { /* gone */ }
  }
  live.clear();
}

/** Starts `node FIXTURE ARGS`, as PID 1 of a new PID namespace when `pid1`. */
export function startNode(fixture: string, args: readonly string[] = [], opts: { pid1?: boolean; timeoutMs?: number; mountProc?: boolean } = {}): NodeRun {
  const script = path.join(FIXTURES, fixture);
  const pid1 = opts.pid1 ?? true;
  const ns = ['--pid', '--fork', ...(opts.mountProc === false ? [] : ['--mount-proc']), '--kill-child'];
  const proc = pid1
    ? spawn('unshare', [...ns, process.execPath, script, ...args], { detached: true, stdio: ['pipe', 'pipe', 'pipe'], cwd: FIXTURES })
    : spawn(process.execPath, [script, ...args], { detached: true, stdio: ['pipe', 'pipe', 'pipe'], cwd: FIXTURES });
  proc.stdin!.on('error', () => { /* the fixture may be gone */ });
  live.add(proc);
  let out = '';
  let err = '';
  let timedOut = false;
  const waiters: Array<() => void> = [];
  const notify = (): void => { for (const w of waiters.splice(0)) w(); };
  proc.stdout!.on('data', (d: Buffer) => { out += d.toString(); notify(); });
  proc.stderr!.on('data', (d: Buffer) => { err += d.toString(); notify(); });
  const timer = setTimeout(() => {
    timedOut = true;
    try { process.kill(-proc.pid!, 'SIGKILL'); } catch { /* gone */ }
  }, opts.timeoutMs ?? 30_000);
  const result = new Promise<Awaited<NodeRun['result']>>((resolve) => {
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      live.delete(proc);
      try { process.kill(-proc.pid!, 'SIGKILL'); } catch { /* gone */ }
      resolve({ code, signal, stdout: out, stderr: err, timedOut });
    });
  });
  const hostPid = async (): Promise<number> => {
    if (!pid1) return proc.pid!;
    for (let i = 0; i < 500; i++) {
      try {
        const children = readFileSync(`/proc/${proc.pid}/task/${proc.pid}/children`, 'utf8').trim();
        if (children !== '') return Number(children.split(' ')[0]);
      } catch { /* not yet */ }
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error('the fixture did not start');
  };
  return {
    proc,
    result,
    stdout: () => out,
    stderr: () => err,
    waitFor: (re, ms = 15_000) => new Promise((resolve, reject) => {
      const deadline = setTimeout(() => reject(new Error(`timed out waiting for ${re} in:\n--- stdout\n${out}\n--- stderr\n${err}`)), ms);
      const check = (): void => {
        const m = out.match(re);
        if (m !== null) { clearTimeout(deadline); resolve(m); } else waiters.push(check);
      };
      check();
    }),
    hostPid,
    send: (line) => { proc.stdin!.write(`${line}\n`); },
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

/** Resolves after `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
