/**
 * spawn() and Supervised, in this test process: stop with a grace deadline,
 * escalation to the whole group, exact statuses, exec errors, pipes.
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, PIPE_LINGER_MS } from 'node-tsinit';
import { killSpawned, spawnTracked } from '../support/library-helpers';

const start = spawnTracked;
afterEach(killSpawned);

/** Text of a readable stream until it ends. */
async function text(stream: NodeJS.ReadableStream | null): Promise<string> {
  let out = '';
  for await (const chunk of stream!) out += String(chunk);
  return out;
}

function stateOf(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]!;
  } catch {
    return 'gone';
  }
}

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return cond();
}

describe('exit status', () => {
  it('is exact for an exit code', async () => {
    const s = start('sh', ['-c', 'exit 42']);
    expect(await s.exited).toEqual({ code: 42, signal: null, status: 42 });
    expect(s.exitStatus).toEqual({ code: 42, signal: null, status: 42 });
    expect(s.state).toBe('exited');
  });

  it('is exact for a death by signal (128+N)', async () => {
    const s = start('sh', ['-c', 'kill -USR2 $$']);
    expect(await s.exited).toEqual({ code: null, signal: 'SIGUSR2', status: 140 });
  });

  it('the exit event carries the same status as exited', async () => {
    const s = start('sh', ['-c', 'exit 7']);
    const ev = await new Promise((resolve) => s.once('exit', resolve));
    expect(ev).toEqual({ code: 7, signal: null, status: 7 });
  });

  it('the child runs in its own process group by default, and in ours with group: false', async () => {
    const own = start('sh', ['-c', 'sleep 5']);
    expect(own.pgid).toBe(own.pid);
    const shared = start('sh', ['-c', 'sleep 5'], { group: false });
    expect(shared.pgid).toBe(Number(readFileSync('/proc/self/stat', 'latin1').split(') ')[1]!.split(' ')[2]));
    own.signal('SIGKILL');
    shared.signal('SIGKILL');
    expect((await own.exited).signal).toBe('SIGKILL');
    expect((await shared.exited).signal).toBe('SIGKILL');
  });
});

describe('a status taken by another waitpid', () => {
  it('settles exited with status 255 (unknown) instead of hanging', async () => {
    const { native } = await import('../../src/native');
    const s = start('sh', ['-c', 'exit 3']);
    // Block the loop while the child exits, then take its status the way a
    // careless addon would, before tsinit's SIGCHLD handler runs.
    for (const until = Date.now() + 300; Date.now() < until;) { /* busy */ }
    expect(native().reapPid(s.pid, false)).toEqual([0, 3]);
    const status = await Promise.race([s.exited, new Promise((r) => setTimeout(() => r('pending'), 5000))]);
    expect(status).toEqual({ code: null, signal: null, status: 255 });
    expect(s.state).toBe('exited');
  });
});

describe('stop()', () => {
  it('sends SIGTERM and resolves with the exact status', async () => {
    const s = start('sleep', ['30']);
    const stopping: unknown[] = [];
    s.on('stopping', (i) => stopping.push(i));
    expect(await s.stop()).toEqual({ code: null, signal: 'SIGTERM', status: 143 });
    expect(stopping).toHaveLength(1);
  });

  it('honours the grace deadline: SIGKILL comes after the grace, not before', async () => {
    const s = start('sh', ['-c', 'trap "" TERM; while :; do sleep 0.05; done']);
    await new Promise((r) => setTimeout(r, 200)); // let the trap be set
    const t0 = Date.now();
    let escalatedAfter = -1;
    s.on('escalated', () => { escalatedAfter = Date.now() - t0; });
    const status = await s.stop({ grace: 1.5 });
    expect(status).toEqual({ code: null, signal: 'SIGKILL', status: 137 });
    expect(escalatedAfter).toBeGreaterThanOrEqual(1400);
    expect(escalatedAfter).toBeLessThan(10_000);
  });

  it('escalates to the whole group: a grandchild that ignores SIGTERM is killed too', async () => {
    const s = start('sh', ['-c', 'trap "" TERM; sleep 60 & echo $!; wait'], { stdio: ['ignore', 'pipe', 'inherit'], grace: 0.5 });
    const line = await new Promise<string>((resolve) => s.stdout!.once('data', (d) => resolve(String(d))));
    const grandchild = Number(line.trim());
    expect(stateOf(grandchild)).not.toBe('gone');
    const escalated = new Promise((r) => s.once('escalated', r));
    expect(await s.stop()).toMatchObject({ signal: 'SIGKILL' });
    await escalated;
    expect(await until(() => ['gone', 'Z'].includes(stateOf(grandchild)), 15_000)).toBe(true);
  });

  it('twice: one stop signal, one deadline, the same promise', async () => {
    const s = start('sh', ['-c', 'trap "" TERM; while :; do sleep 0.05; done']);
    await new Promise((r) => setTimeout(r, 200));
    let stoppingEvents = 0;
    s.on('stopping', () => { stoppingEvents++; });
    const a = s.stop({ grace: 0.5 });
    const deadline = s.deadline;
    const b = s.stop({ grace: 30 }); // does not push the first deadline back
    expect(b).toBe(a);
    expect(s.deadline).toBe(deadline);
    expect(await a).toMatchObject({ signal: 'SIGKILL' });
    expect(stoppingEvents).toBe(1);
  });

  it('after exit resolves at once with the exit status', async () => {
    const s = start('sh', ['-c', 'exit 3']);
    await s.exited;
    let stoppingEvents = 0;
    s.on('stopping', () => { stoppingEvents++; });
    expect(await s.stop()).toEqual({ code: 3, signal: null, status: 3 });
    expect(stoppingEvents).toBe(0);
  });

  it('uses killSignal, and the rewrite table applies to forwarded signals', async () => {
    const s = start('sh', ['-c', 'trap "exit 11" QUIT; while :; do sleep 0.05; done'], { killSignal: 'SIGQUIT', stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 200));
    expect(await s.stop()).toEqual({ code: 11, signal: null, status: 11 });
    const t = start('sh', ['-c', 'trap "exit 12" USR2; while :; do sleep 0.05; done'], { rewrite: { SIGTERM: 'SIGUSR2' }, stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 200));
    expect(t.forward(15)).toBe(12);
    expect(await t.exited).toEqual({ code: 12, signal: null, status: 12 });
  });
});

describe('exec errors', () => {
  it('a program that is not found: exited rejects with code ENOENT, pid 0', async () => {
    const s = start('no-such-program-tsinit');
    expect(s.pid).toBe(0);
    await expect(s.exited).rejects.toMatchObject({ code: 'ENOENT', name: 'SpawnError' });
    expect(s.signal('SIGTERM')).toBe(false);
    await expect(s.stop()).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('a file that is not executable: exited rejects with code EACCES', async () => {
    const s = start('/etc/passwd');
    await expect(s.exited).rejects.toMatchObject({ code: 'EACCES' });
  });

  it('a directory: exited rejects with code EACCES', async () => {
    const s = start('/tmp');
    await expect(s.exited).rejects.toMatchObject({ code: 'EACCES' });
  });

  it('the error names the call that failed: posix_spawnp, or on the fork path execvpe and chdir', async () => {
    await expect(start('/nonexistent-tsinit').exited).rejects.toMatchObject({ code: 'ENOENT', syscall: 'posix_spawnp' });
    await expect(start('/nonexistent-tsinit', [], { pidVariable: 'TSINIT_TEST_PID' }).exited)
      .rejects.toMatchObject({ code: 'ENOENT', errno: 2, syscall: 'execvpe' });
    await expect(start('true', [], { pidVariable: 'TSINIT_TEST_PID', cwd: '/nonexistent-tsinit-dir' }).exited)
      .rejects.toMatchObject({ code: 'ENOENT', syscall: 'chdir' });
  });

  it('invalid options throw a TypeError at once', () => {
    expect(() => spawn('true', [], { stdio: ['pipe', 'bogus' as 'pipe', 'pipe'] })).toThrow(TypeError);
    expect(() => spawn('true', [], { grace: -1 })).toThrow(TypeError);
    expect(() => spawn('', [])).toThrow(TypeError);
  });
});

describe('pipes', () => {
  it('deliver all output, no truncation at exit, before the exit event', async () => {
    const size = 4 * 1024 * 1024;
    // Writes 4 MiB, a marker, some stderr, and exits at once.
    const s = start('sh', ['-c', `head -c ${size} /dev/zero | tr '\\0' x; echo END; echo to-stderr >&2; exit 5`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let bytes = 0;
    let tail = '';
    let err = '';
    s.stdout!.on('data', (d: Buffer) => { bytes += d.length; tail = (tail + d.toString('latin1')).slice(-8); });
    s.stderr!.on('data', (d: Buffer) => { err += String(d); });
    const atExit = await new Promise<{ bytes: number; tail: string; err: string }>((resolve) =>
      s.once('exit', () => resolve({ bytes, tail, err })));
    expect(atExit).toEqual({ bytes: size + 4, tail: 'xxxxEND\n', err: 'to-stderr\n' });
    expect((await s.exited).code).toBe(5);
  });

  it('stdin is a writable stream to the child', async () => {
    const s = start('cat', [], { stdio: ['pipe', 'pipe', 'inherit'] });
    const out = text(s.stdout);
    s.stdin!.end('hello through stdin\n');
    expect(await out).toBe('hello through stdin\n');
    expect((await s.exited).code).toBe(0);
  });

  it('output nobody read before the exit can still be read after it', async () => {
    const s = start('sh', ['-c', 'echo late reader'], { stdio: ['ignore', 'pipe', 'inherit'] });
    await s.exited;
    expect(await text(s.stdout)).toBe('late reader\n');
  });

  it('a pipe a grandchild keeps open delays the exit event by at most PIPE_LINGER_MS', async () => {
    const s = start('sh', ['-c', 'sleep 60 & echo parent done'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    s.stdout!.on('data', (d) => { out += String(d); });
    const t0 = Date.now();
    const status = await s.exited;
    expect(status.code).toBe(0);
    expect(out).toBe('parent done\n');
    expect(Date.now() - t0).toBeLessThan(PIPE_LINGER_MS + 20_000); // not the grandchild's 60 s (generous: a loaded machine)
    expect(s.stdout!.readableEnded).toBe(false); // the stream itself stays open
    s.signal('SIGKILL'); // the grandchild is in the child's group
  });
});
