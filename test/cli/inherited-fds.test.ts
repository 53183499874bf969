/**
 * Descriptors tsinit inherits reach its child at the same number, and PID 1
 * keeps no copy once the child has them: a listening socket handed to the
 * container (socket activation) belongs to the application alone, and
 * systemd's protocol (LISTEN_FDS, LISTEN_PID) names the child. Each case runs
 * through the bin's shell lines and as `node bin/tsinit` (no /bin/sh, as in a
 * distroless image), where no shell recorded the descriptors.
 */
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type SpawnOptions } from 'node-tsinit';
import { fetchedNodeBin, inNamespace, killAll, type Running, start, startBounded } from '../support/helpers';
import { fixture, listeningPorts, tempDir, until } from '../support/fixtures/util';

afterEach(killAll);

const FDWRAP = path.join(__dirname, '..', 'support', 'fixtures', 'fdwrap.py');
let fdchild: string;
let dir: string;
beforeAll(() => {
  fdchild = fixture('fdchild');
  dir = tempDir();
});

/** What fdchild printed: its pid, the LISTEN_* variables, its descriptors and their targets. */
interface ChildView { pid: number; listenPid: string; listenFds: string; listenFdNames: string; fds: Map<number, string> }

function childView(stdout: string): ChildView {
  const head = /^pid=(\d+) LISTEN_PID=(\S+) LISTEN_FDS=(\S+) LISTEN_FDNAMES=(\S+)$/m.exec(stdout);
  expect(head, stdout).not.toBeNull();
  const fds = new Map<number, string>();
  for (const m of stdout.matchAll(/^fd (\d+) (.*)$/gm)) fds.set(Number(m[1]), m[2]!);
  return { pid: Number(head![1]), listenPid: head![2]!, listenFds: head![3]!, listenFdNames: head![4]!, fds };
}

/** Every descriptor of a (host) process and its target. */
function fdsOf(pid: number): Map<number, string> {
  const out = new Map<number, string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try { out.set(Number(fd), readlinkSync(`/proc/${pid}/fd/${fd}`)); } catch { /* closed meanwhile */ }
  }
  return out;
}

/** The children of a (host) process, from every thread's list. */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  let tasks: string[] = [];
  try { tasks = readdirSync(`/proc/${pid}/task`); } catch { return out; }
  for (const t of tasks) {
    try { out.push(...readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').split(' ').filter((x) => x !== '').map(Number)); } catch { /* ended meanwhile */ }
  }
  return out;
}

/** Connects to 127.0.0.1:port and resolves with what the peer wrote before closing. */
function fetchGreeting(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let text = '';
    s.on('data', (d) => { text += d.toString(); });
    s.on('end', () => resolve(text));
    s.on('error', reject);
    s.setTimeout(10_000, () => { s.destroy(); reject(new Error('no greeting within 10 s')); });
  });
}

/** Node 22 opens io_uring descriptors too, and has process.execve for the restart. */
const NODE22 = fetchedNodeBin('22.23.5');
if (NODE22.bin === undefined) console.warn(`Node 22 cases skipped: ${NODE22.why}`);

/** How tsinit is started: through its bin's shell lines, as `node bin/tsinit`, or that with NODE_OPTIONS (re-exec in place). */
const PATHS: Array<{ name: string; node: string[]; env: Record<string, string | undefined> }> = [
  { name: 'through the bin\'s shell lines', node: [], env: {} },
  { name: 'as `node bin/tsinit` (no /bin/sh)', node: [process.execPath], env: { NODE_OPTIONS: undefined } },
  { name: 'as `node bin/tsinit` with NODE_OPTIONS (restarted in place)', node: [process.execPath], env: { NODE_OPTIONS: '--max-old-space-size=200' } },
];
const NODE24 = fetchedNodeBin('24.22.3');
if (NODE24.bin === undefined) console.warn(`Node 24 cases skipped: ${NODE24.why}`);
else PATHS.push({ name: 'as `node bin/tsinit` on Node 24', node: [path.join(NODE24.bin, 'node')], env: { NODE_OPTIONS: undefined } });
if (NODE22.bin !== undefined) {
  const node22 = path.join(NODE22.bin, 'node');
  PATHS.push({ name: 'as `node bin/tsinit` on Node 22', node: [node22], env: { NODE_OPTIONS: undefined } });
  PATHS.push({ name: 'as `node bin/tsinit` on Node 22 with NODE_OPTIONS (restarted in place)', node: [node22], env: { NODE_OPTIONS: '--max-old-space-size=200' } });
}

describe.each(PATHS)('inherited descriptors, $name', ({ node, env }) => {
  /**
   * tsinit as PID 1 with 3 = /dev/null, 4 = a file, 5 = a listening socket; the child
   * (fdchild) lists its descriptors, then serves one connection on fd 5 and exits while
   * a leftover (ignoring SIGTERM, without the socket) keeps tsinit draining for the grace period.
   */
  async function startWithFds(extraEnv: Record<string, string | undefined> = {}): Promise<{ h: Running; file: string; port: number }> {
    const file = path.join(dir, `out-${Math.random().toString(36).slice(2)}`);
    const h = start(['-v', '--grace', '3', '--', 'sh', '-c', `(trap "" TERM; exec sleep 30) 5<&- & exec "$0" 5`, fdchild],
      { wrap: ['python3', FDWRAP, 'fds', file, ...node], env: { ...env, ...extraEnv }, timeoutMs: 30_000 });
    const port = Number((await h.waitFor(/^port=(\d+)$/m))[1]);
    await h.waitFor(/^ready$/m);
    return { h, file, port };
  }

  it('the child gets 0, 1, 2 and the inherited 3, 4, 5 at the same numbers, and nothing else', async () => {
    const { h, file } = await startWithFds();
    const view = childView(h.stdout());
    expect([...view.fds.keys()].sort((a, b) => a - b), h.stdout()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(view.fds.get(3)).toBe('/dev/null');
    expect(view.fds.get(4)).toBe(file);
    expect(view.fds.get(5)).toMatch(/^socket:\[\d+\]$/);
  });

  it('PID 1 holds no copy of them once the child runs, and the child accepts on the socket', async () => {
    const { h, file, port } = await startWithFds();
    const socket = childView(h.stdout()).fds.get(5)!;
    // The child can print before tsinit, back from the spawn, has closed its copies: allow it a moment.
    const pid = await h.tsinitPid();
    let targets: string[] = [];
    await until(() => { targets = [...fdsOf(pid).values()]; return !['/dev/null', file, socket].some((t) => targets.includes(t)); }, 2000);
    expect(targets, targets.join('\n')).not.toContain('/dev/null');
    expect(targets).not.toContain(file);
    expect(targets).not.toContain(socket);
    const greeting = await fetchGreeting(port);
    expect(greeting).toMatch(/^hello from \d+\n$/);
  });

  it('once the child has exited, nothing listens on the socket, though tsinit still runs', async () => {
    const { h, port } = await startWithFds();
    const socket = childView(h.stdout()).fds.get(5)!;
    await fetchGreeting(port);
    await h.waitFor(/child pid \d+ ended/);
    const pid = await h.tsinitPid();
    expect(listeningPorts(pid)).not.toContain(port);
    // The leftover is forked holding the socket and drops it (`5<&-`) in its
    // first step; on a loaded machine that step can come after the child has
    // served and ended, and a connection queued meanwhile is reset when it
    // does. Wait for the leftover (now PID 1's child) to have dropped it.
    const holders = (): number[] => childrenOf(pid).filter((c) => { try { return [...fdsOf(c).values()].includes(socket); } catch { return false; } });
    expect(await until(() => holders().length === 0, 5000), `still held by ${holders().join(', ')}`).toBe(true);
    await expect(fetchGreeting(port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    const r = await h.result;
    expect(r.code, r.stderr).toBe(0);
  });

  it('the same with the _np extensions hidden (TSINIT_NATIVE_NO_NP=1: /proc scan, no closefrom)', async () => {
    const { h, file, port } = await startWithFds({ TSINIT_NATIVE_NO_NP: '1' });
    const view = childView(h.stdout());
    expect([...view.fds.keys()].sort((a, b) => a - b), h.stdout()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(view.fds.get(4)).toBe(file);
    const pid = await h.tsinitPid();
    expect(await until(() => ![...fdsOf(pid).values()].includes(view.fds.get(5)!), 2000)).toBe(true);
    expect(await fetchGreeting(port)).toMatch(/^hello from /);
  });

  it('socket activation: with LISTEN_PID = tsinit\'s pid, the child sees LISTEN_PID = its own pid and accepts on fd 3', async () => {
    const h = start(['--', fdchild, '3'], { wrap: ['python3', FDWRAP, 'activate', 'self', ...node], env, timeoutMs: 30_000 });
    const port = Number((await h.waitFor(/^port=(\d+)$/m))[1]);
    await h.waitFor(/^ready$/m);
    const view = childView(h.stdout());
    expect(view.pid).not.toBe(1);
    expect(view.listenPid).toBe(String(view.pid));
    expect(view.listenFds).toBe('1');
    expect(view.listenFdNames).toBe('web');
    expect([...view.fds.keys()].sort((a, b) => a - b)).toEqual([0, 1, 2, 3]);
    expect(await fetchGreeting(port)).toBe(`hello from ${view.pid}\n`);
    const r = await h.result;
    expect(r.code, r.stderr).toBe(0);
  });

  it('socket activation: LISTEN_FDS and LISTEN_FDNAMES reach the child unchanged (two sockets, web:admin), only LISTEN_PID is rewritten', async () => {
    const h = start(['--', fdchild], { wrap: ['python3', FDWRAP, 'activate2', 'self', ...node], env, timeoutMs: 30_000 });
    const r = await h.result;
    expect(r.code, r.stderr).toBe(0);
    const view = childView(r.stdout);
    expect(view.listenFds).toBe('2');
    expect(view.listenFdNames).toBe('web:admin');
    expect(view.listenPid).toBe(String(view.pid));
    expect([...view.fds.keys()].sort((a, b) => a - b), r.stdout).toEqual([0, 1, 2, 3, 4]);
    expect(view.fds.get(3)).toMatch(/^socket:\[\d+\]$/);
    expect(view.fds.get(4)).toMatch(/^socket:\[\d+\]$/);
  });

  it('socket activation through the fork path too (TSINIT_NATIVE_NO_NP=1)', async () => {
    const h = start(['--', fdchild, '3'], { wrap: ['python3', FDWRAP, 'activate', 'self', ...node], env: { ...env, TSINIT_NATIVE_NO_NP: '1' }, timeoutMs: 30_000 });
    const port = Number((await h.waitFor(/^port=(\d+)$/m))[1]);
    await h.waitFor(/^ready$/m);
    const view = childView(h.stdout());
    expect(view.listenPid).toBe(String(view.pid));
    expect(await fetchGreeting(port)).toBe(`hello from ${view.pid}\n`);
  });

  it('LISTEN_PID naming another process is passed on unchanged (the variables were not meant for tsinit)', async () => {
    const h = start(['--', fdchild], { wrap: ['python3', FDWRAP, 'activate', '4242', ...node], env, timeoutMs: 30_000 });
    const r = await h.result;
    expect(r.code, r.stderr).toBe(0);
    const view = childView(r.stdout);
    expect(view.listenPid).toBe('4242');
    expect(view.fds.get(3)).toMatch(/^socket:/); // the descriptor itself is inherited as any other
  });
});

describe('`node bin/tsinit` with NODE_OPTIONS=--inspect', () => {
  it('the inspector socket Node opened for tsinit is not taken for an inherited one', async () => {
    const file = path.join(dir, 'out-inspect');
    const h = start(['--', fdchild], { wrap: ['python3', FDWRAP, 'fds', file, process.execPath], env: { NODE_OPTIONS: '--inspect=127.0.0.1:0' }, timeoutMs: 30_000 });
    const r = await h.result;
    expect(r.stderr).toMatch(/Debugger listening/); // it was open when the bin started
    expect(r.code, r.stderr).toBe(0);
    expect([...childView(r.stdout).fds.keys()].sort((a, b) => a - b), r.stdout).toEqual([0, 1, 2, 3, 4, 5]);
  });
});

/** Is `cmd` an executable on PATH? */
function onPath(cmd: string): string | undefined {
  for (const d of (process.env.PATH ?? '').split(':')) if (existsSync(path.join(d || '.', cmd))) return path.join(d || '.', cmd);
  return undefined;
}

describe('the bin run by other shells: the shell\'s own descriptor on the bin file is not passed', () => {
  for (const shell of ['bash', 'busybox'] as const) {
    const bin = onPath(shell);
    it.skipIf(bin === undefined)(`${shell}${bin === undefined ? ' (SKIPPED: not installed)' : ''}`, async () => {
      const file = path.join(dir, `out-${shell}`);
      // bash holds the script on fd 255, BusyBox ash on one >= 10: neither may reach the child.
      const h = start(['--', fdchild], { wrap: ['python3', FDWRAP, 'fds', file, ...(shell === 'busybox' ? [bin!, 'sh'] : [bin!])], timeoutMs: 30_000 });
      const r = await h.result;
      expect(r.code, r.stderr).toBe(0);
      expect([...childView(r.stdout).fds.keys()].sort((a, b) => a - b), r.stdout).toEqual([0, 1, 2, 3, 4, 5]);
    });
  }
});

/** The peers as PID 1 on the same socket-activation input, side by side (measured: tini 0.19, dumb-init 1.2.5, catatonit 0.1.7). */
const PEERS = [
  { init: 'tini', args: ['--'], keepsCopy: true, readdresses: false },
  { init: 'dumb-init', args: [], keepsCopy: true, readdresses: false },
  { init: 'catatonit', args: ['--'], keepsCopy: false, readdresses: true },
] as const;

describe('beside tini, dumb-init and catatonit, on the same input', () => {
  for (const peer of PEERS) {
    const bin = onPath(peer.init);
    const what = `${peer.init} passes fd 3 on, ${peer.keepsCopy ? 'keeps its own copy' : 'closes its copy'} and ` +
      `${peer.readdresses ? 'readdresses LISTEN_PID to the child' : 'leaves LISTEN_PID naming itself'}`;
    it.skipIf(bin === undefined)(`${what}${bin === undefined ? ' (SKIPPED: not installed)' : ''}`, async () => {
      const b = startBounded(...inNamespace(['python3', FDWRAP, 'activate', 'self', bin!, ...peer.args, fdchild, '3']),
        { timeoutMs: 20_000 });
      const port = Number((await b.waitFor(/^port=(\d+)$/m))[1]);
      await b.waitFor(/^ready$/m);
      const view = childView(b.stdout());
      expect([...view.fds.keys()].sort((a, b) => a - b)).toEqual([0, 1, 2, 3]);
      expect(view.listenPid).toBe(peer.readdresses ? String(view.pid) : '1');
      const init = Number(readFileSync(`/proc/${b.proc.pid}/task/${b.proc.pid}/children`, 'utf8').trim().split(' ')[0]);
      const holds = (): boolean => [...fdsOf(init).values()].includes(view.fds.get(3)!);
      if (!peer.keepsCopy) await until(() => !holds(), 2000); // it may close just after the child printed
      expect(holds()).toBe(peer.keepsCopy);
      expect(await fetchGreeting(port)).toBe(`hello from ${view.pid}\n`);
      await b.result;
    });
  }
});

describe('the library: spawn() with inheritFds and pidVariable', () => {
  /** Runs `sh -c SCRIPT` through the library with `options`, and returns its stdout. */
  async function output(script: string, options: SpawnOptions): Promise<string> {
    const s = spawn('sh', ['-c', script], { ...options, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    for await (const chunk of s.stdout!) out += String(chunk);
    await s.exited;
    return out;
  }
  // ls runs as the shell's child, so the list is the shell's alone.
  const LIST = 'ls /proc/$$/fd; true';

  it('a descriptor in inheritFds reaches the child at its number, though this process opened it close-on-exec', async () => {
    const fd = openSync('/dev/null', 'r');
    try {
      expect((await output(LIST, { inheritFds: [fd] })).split('\n')).toContain(String(fd));
      expect((await output(LIST, {})).split('\n')).not.toContain(String(fd));
    } finally {
      closeSync(fd);
    }
  });

  it('pidVariable: the child finds the variable set to its own pid, whatever env held', async () => {
    const out = await output('echo "$MY_PID $$"', { pidVariable: 'MY_PID', env: { ...process.env, MY_PID: 'stale' } });
    const [value, pid] = out.trim().split(' ');
    expect(value).toBe(pid);
  });

  it('invalid inheritFds or pidVariable throw a TypeError at once', () => {
    expect(() => spawn('true', [], { inheritFds: [2] })).toThrow(TypeError);
    expect(() => spawn('true', [], { inheritFds: [3.5] })).toThrow(TypeError);
    expect(() => spawn('true', [], { pidVariable: 'A=B' })).toThrow(TypeError);
    expect(() => spawn('true', [], { pidVariable: '' })).toThrow(TypeError);
  });
});
