/**
 * spawn()'s options where child_process habits lead: an option tsinit does not
 * support is an error naming it, never silently ignored; `timeout` and an
 * AbortSignal stop the child the way a stop() does; stdio entries may be file
 * descriptors of this process.
 */
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { getEventListeners } from 'node:events';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { spawn, type SpawnOptions, type Supervised } from 'node-tsinit';
import { spawn as spawnProcess } from 'node:child_process';
import { FIXTURES, killSpawned, spawnTracked } from '../support/library-helpers';

function start(command: string, args: readonly string[], options: SpawnOptions): Supervised {
  return spawnTracked(command, args, options);
}

afterEach(killSpawned);

const tmp = mkdtempSync(path.join(os.tmpdir(), 'tsinit-options-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('options tsinit does not support', () => {
  const cases: Array<[string, unknown]> = [
    ['shell', true], ['uid', 0], ['gid', 0], ['detached', true], ['windowsHide', true], ['argv0', 'x'],
    ['serialization', 'json'], ['encoding', 'utf8'], ['gracee', 5], ['killsignal', 'SIGINT'],
  ];
  for (const [name, value] of cases) {
    it(`'${name}' is a TypeError naming it, and no child is started`, async () => {
      const marker = path.join(tmp, `started-${name}`);
      const options = { [name]: value } as SpawnOptions;
      expect(() => start('sh', ['-c', `: > ${marker}`], options)).toThrow(TypeError);
      expect(() => start('sh', ['-c', `: > ${marker}`], options)).toThrow(new RegExp(`'${name}'`));
      await sleep(200);
      expect(existsSync(marker)).toBe(false);
    });
  }

  it('a typo gets a suggestion', () => {
    expect(() => spawn('true', [], { gracee: 5 } as SpawnOptions)).toThrow(/did you mean 'grace'/);
    expect(() => spawn('true', [], { killsignal: 'SIGINT' } as SpawnOptions)).toThrow(/did you mean 'killSignal'/);
  });

  it('shell says what to do instead', () => {
    expect(() => spawn('echo hi', [], { shell: true } as SpawnOptions)).toThrow(/sh', \['-c'/);
  });

  it('options that are not an object are a TypeError', () => {
    expect(() => spawn('true', [], 5 as unknown as SpawnOptions)).toThrow(TypeError);
    expect(() => spawn('true', [], null as unknown as SpawnOptions)).toThrow(TypeError);
  });
});

describe('timeout', () => {
  it('stops the child with SIGTERM after the timeout: status 143, in about the timeout', async () => {
    const t0 = Date.now();
    const s = start('sleep', ['30'], { timeout: 500 });
    const stopping: Array<{ signal: string; reason?: string }> = [];
    s.on('stopping', (i) => stopping.push(i));
    expect(await s.exited).toEqual({ code: null, signal: 'SIGTERM', status: 143 });
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(450);
    expect(took).toBeLessThan(5_000);
    expect(stopping).toEqual([expect.objectContaining({ signal: 'SIGTERM', reason: 'timeout' })]);
  });

  it('sends killSignal, as child_process does', async () => {
    const s = start('sleep', ['30'], { timeout: 200, killSignal: 'SIGUSR2' });
    expect(await s.exited).toEqual({ code: null, signal: 'SIGUSR2', status: 140 });
  });

  it('then the normal grace and escalation: a child ignoring SIGTERM is SIGKILLed after grace', async () => {
    const s = start('sh', ['-c', 'trap "" TERM; while :; do sleep 0.05; done'], { timeout: 300, grace: 0.5 });
    const t0 = Date.now();
    const escalated = new Promise<number>((r) => s.once('escalated', () => r(Date.now() - t0)));
    expect(await s.exited).toEqual({ code: null, signal: 'SIGKILL', status: 137 });
    expect(await escalated).toBeGreaterThanOrEqual(700);
  });

  it('a child that ends first is not signalled, and 0 means no timeout', async () => {
    const s = start('sh', ['-c', 'exit 3'], { timeout: 10_000 });
    expect(await s.exited).toEqual({ code: 3, signal: null, status: 3 });
    const n = start('sh', ['-c', 'sleep 0.3; exit 4'], { timeout: 0 });
    expect(await n.exited).toEqual({ code: 4, signal: null, status: 4 });
  });

  it('an invalid timeout is a TypeError naming it', () => {
    for (const bad of [-1, Number.NaN, Infinity, '100', 2 ** 31]) {
      expect(() => spawn('true', [], { timeout: bad as number })).toThrow(/timeout/);
      expect(() => spawn('true', [], { timeout: bad as number })).toThrow(TypeError);
    }
  });
});

describe('signal (AbortSignal)', () => {
  it('abort stops the child with SIGTERM (status 143) and removes its listener at exit', async () => {
    const ac = new AbortController();
    const s = start('sleep', ['30'], { signal: ac.signal });
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
    const stopping: Array<{ signal: string; reason?: string }> = [];
    s.on('stopping', (i) => stopping.push(i));
    setTimeout(() => ac.abort(), 200);
    expect(await s.exited).toEqual({ code: null, signal: 'SIGTERM', status: 143 });
    expect(stopping).toEqual([expect.objectContaining({ signal: 'SIGTERM', reason: 'abort' })]);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });

  it('a child that exits on its own leaves no listener on a long-lived signal', async () => {
    const ac = new AbortController();
    for (let i = 0; i < 3; i++) await start('true', [], { signal: ac.signal }).exited;
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });

  it('an already-aborted signal: the child is not started, exited rejects with an AbortError', async () => {
    const marker = path.join(tmp, 'aborted-started');
    const reason = new Error('shutting down');
    const s = start('sh', ['-c', `: > ${marker}`], { signal: AbortSignal.abort(reason) });
    expect(s.pid).toBe(0);
    await expect(s.exited).rejects.toMatchObject({ name: 'AbortError', code: 'ABORT_ERR', cause: reason });
    await sleep(200);
    expect(existsSync(marker)).toBe(false);
  });

  it('something that is not an AbortSignal is a TypeError naming the option', () => {
    expect(() => spawn('true', [], { signal: {} as AbortSignal })).toThrow(/'signal'/);
    expect(() => spawn('true', [], { signal: 'SIGTERM' as unknown as AbortSignal })).toThrow(TypeError);
  });
});

describe('stdio entries given as file descriptors', () => {
  it("['ignore', fd, 'inherit']: the child's stdout is the file behind fd", async () => {
    const file = path.join(tmp, 'out.txt');
    const fd = openSync(file, 'w');
    try {
      const s = start('sh', ['-c', 'echo to-stdout; echo to-stderr >&2'], { stdio: ['ignore', fd, 'ignore'] });
      expect(await s.exited).toMatchObject({ status: 0 });
    } finally {
      closeSync(fd);
    }
    expect(readFileSync(file, 'utf8')).toBe('to-stdout\n');
  });

  it('one fd for stdout and stderr, and a file as stdin', async () => {
    const input = path.join(tmp, 'in.txt');
    writeFileSync(input, 'from-stdin\n');
    const file = path.join(tmp, 'both.txt');
    const inFd = openSync(input, 'r');
    const fd = openSync(file, 'w');
    try {
      const s = start('sh', ['-c', 'cat; echo to-stderr >&2'], { stdio: [inFd, fd, fd] });
      expect(await s.exited).toMatchObject({ status: 0 });
    } finally {
      closeSync(fd);
      closeSync(inFd);
    }
    expect(readFileSync(file, 'utf8')).toBe('from-stdin\nto-stderr\n');
  });

  it("this process's own descriptors: 2 as the child's stdout is our stderr", async () => {
    const s = start('sleep', ['5'], { stdio: ['ignore', 2, 'inherit'] });
    expect(readlinkSync(`/proc/${s.pid}/fd/1`)).toBe(readlinkSync('/proc/self/fd/2'));
    expect(readlinkSync(`/proc/${s.pid}/fd/2`)).toBe(readlinkSync('/proc/self/fd/2'));
    expect(readlinkSync(`/proc/${s.pid}/fd/0`)).toBe('/dev/null');
    s.signal('SIGKILL');
    await s.exited;
  });

  it('a descriptor that is not open is a TypeError naming the entry', () => {
    const fd = openSync(path.join(tmp, 'closed.txt'), 'w');
    closeSync(fd);
    expect(() => spawn('true', [], { stdio: ['ignore', fd, 'inherit'] })).toThrow(/stdio\[1\]/);
    expect(() => spawn('true', [], { stdio: ['ignore', fd, 'inherit'] })).toThrow(TypeError);
    expect(() => spawn('true', [], { stdio: ['ignore', -1, 'inherit'] })).toThrow(/stdio\[1\]/);
    expect(() => spawn('true', [], { stdio: ['ignore', 1.5, 'inherit'] })).toThrow(/stdio\[1\]/);
  });

  it('an entry naming a descriptor that an earlier entry replaces in the child is refused', () => {
    // stdio[1] = 0 would read the child's fd 0 after stdio[0] ('ignore') replaced it.
    expect(() => spawn('true', [], { stdio: ['ignore', 0, 'inherit'] })).toThrow(/stdio\[1\]/);
  });
});

describe('defaults that differ from child_process', () => {
  it('stdio defaults to \'inherit\' (the child writes to this process\'s stdout and stderr), and there is no IPC channel: no NODE_CHANNEL_FD, no descriptor beyond 0-2', async () => {
    // The fixture has an IPC channel of its own: none of it may reach the child.
    const p = spawnProcess(process.execPath, [path.join(FIXTURES, 'default-stdio.cjs')],
      { cwd: FIXTURES, stdio: ['ignore', 'pipe', 'pipe', 'ipc'], detached: true });
    const killer = setTimeout(() => { try { process.kill(-p.pid!, 'SIGKILL'); } catch { /* gone */ } }, 15_000);
    let stdout = '';
    let stderr = '';
    p.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); });
    p.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    const code = await new Promise<number | null>((resolve) => p.on('close', resolve));
    clearTimeout(killer);
    try { process.kill(-p.pid!, 'SIGKILL'); } catch { /* gone */ }
    expect(code, stdout + stderr).toBe(0);
    expect(stdout).toMatch(/^parent ipc true$/m);
    expect(stdout).toMatch(/^exited 0$/m);
    // Inherited: the child's lines arrive on this process's stdout and stderr, each on its own.
    expect(stdout).toMatch(/^streams true true true$/m);
    expect(stdout).toMatch(/^child wrote to stdout$/m);
    expect(stdout).not.toMatch(/child wrote to stderr/);
    expect(stderr).toMatch(/^child wrote to stderr$/m);
    // No IPC channel.
    expect(stdout).toMatch(/^child NODE_CHANNEL_FD=unset$/m);
    // The fixture's own "streams" line may land among the child's (both write
    // to one pipe, a line per write): the numbers only.
    const fds = /^child fds:\n([\s\S]*?)^child fds end$/m.exec(stdout)?.[1]?.split('\n').filter((l) => /^\d+$/.test(l)).map(Number).sort((a, b) => a - b);
    expect(fds, stdout).toEqual([0, 1, 2]);
  });
});

