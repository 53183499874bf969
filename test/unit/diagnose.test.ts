/**
 * The stop-diagnosis classifier on recorded /proc text, and the termination
 * message. The D-state sample was recorded from a real process (a perl
 * parent blocked in vfork while its child sleeps); the end-to-end tests in
 * cli/stop-diagnosis.test.ts make the same kind of process live.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { spawn as spawnProcess } from 'node:child_process';
import {
  classify, classifyAll, formatSurvivor, hasSignal, parseMask, readSample, stillThere,
  type ProcSample, type StopContext, type Survivor,
} from '../../src/diagnosis/diagnose';
import {
  formatTerminationMessage, terminationLogPath, writeTerminationLog, TERMINATION_LOG_LIMIT,
} from '../../src/init/termination-log';

const SIGTERM = 15;
const SIGWINCH = 28;

function recorded(name: string): ProcSample {
  return JSON.parse(readFileSync(path.join(__dirname, '..', 'support', 'fixtures', 'proc', `${name}.json`), 'utf8')) as ProcSample;
}

/** A sample of a single-threaded process, built the way /proc writes it. */
function sample(o: {
  pid?: number; ppid?: number; pgid?: number; sid?: number; state?: string; comm?: string; cmdline?: string;
  ign?: string; cgt?: string; blk?: string; pnd?: string; shd?: string; starttime?: number; flags?: number; nspid?: string;
}): ProcSample {
  const pid = o.pid ?? 8;
  const state = o.state ?? 'S';
  // Fields 3..22 after the comm: state ppid pgrp session tty_nr tpgid flags ... starttime.
  const fields = [state, o.ppid ?? 1, o.pgid ?? 8, o.sid ?? 1, 0, -1, o.flags ?? 4194304,
    0, 0, 0, 0, 0, 0, 0, 0, 20, 0, 1, 0, o.starttime ?? 100];
  const stat = `${pid} (${o.comm ?? 'app'}) ${fields.join(' ')} 0 0\n`;
  const m = (v: string | undefined): string => (v ?? '0').padStart(16, '0');
  const status = [
    `Name:\t${o.comm ?? 'app'}`, `State:\t${state} (whatever)`, `Tgid:\t${pid}`, `Pid:\t${pid}`, `PPid:\t${o.ppid ?? 1}`,
    `NSpid:\t${o.nspid ?? pid}`, 'Threads:\t1', `SigPnd:\t${m(o.pnd)}`, `ShdPnd:\t${m(o.shd)}`, `SigBlk:\t${m(o.blk)}`,
    `SigIgn:\t${m(o.ign)}`, `SigCgt:\t${m(o.cgt)}`, 'CoreDumping:\t0', '',
  ].join('\n');
  return { stat, status, tasks: [status], cmdline: o.cmdline ?? `${o.comm ?? 'app'}\0` };
}

const group = (pgid = 8, sid = 1): StopContext => ({ signal: SIGTERM, target: { kind: 'group', pgid, sid } });
/** The recorded processes were signalled one by one. */
const direct: StopContext = { signal: SIGTERM, target: { kind: 'all' } };

describe('signal masks', () => {
  it('parses /proc masks as 64-bit sets, real-time signals included', () => {
    expect(hasSignal(parseMask('0000000000004000'), SIGTERM)).toBe(true);
    expect(hasSignal(parseMask('0000000000004000'), 14)).toBe(false);
    expect(hasSignal(parseMask('8000000000000000'), 64)).toBe(true);
    expect(hasSignal(parseMask('8000000000000000'), 63)).toBe(false);
    expect(hasSignal(parseMask('0000000180000000'), 32)).toBe(true);
    expect(parseMask('not hex')).toBe(0n);
  });
});

describe('classify (recorded /proc samples)', () => {
  it('a process in state D is uninterruptible, with its wchan, whatever its masks say', () => {
    const s = classify(recorded('vfork-parent-D'), direct);
    expect(s?.cause).toBe('uninterruptible');
    expect(s?.state).toBe('D');
    expect(s?.wchan).toBe('kernel_clone');
    expect(s?.cmd).toBe('vfork-parent');
  });

  it('a signal blocked in every thread and pending is `blocks`', () => {
    const s = classify(recorded('python-all-threads-blocked'), direct);
    expect(s?.cause).toBe('blocks');
  });

  it('a signal blocked in only one of two threads is not `blocks`', () => {
    const s = classify(recorded('python-one-thread-unblocked'), direct);
    expect(s?.cause).not.toBe('blocks');
    expect(s?.evidence?.sigBlkAll).toBe('0000000000000000');
  });
});

describe('classify (state first, then reach, then masks)', () => {
  it('a stopped process that catches SIGTERM is `stopped`', () => {
    expect(classify(sample({ state: 'T', cgt: '4000' }), group())?.cause).toBe('stopped');
    expect(classify(sample({ state: 't' }), group())?.detail).toMatch(/tracer/);
  });

  it('a zombie under another parent is `zombie` and names the parent; one of tsinit\'s own is not listed', () => {
    const samples = new Map([
      [7, sample({ pid: 7, ppid: 1, comm: 'sleep', cmdline: 'sleep\x001006\0', ign: '4000' })],
      [9, sample({ pid: 9, ppid: 7, state: 'Z', comm: 'true', cmdline: '' })],
      [10, sample({ pid: 10, ppid: 1, state: 'Z', comm: 'gone', cmdline: '' })],
    ]);
    const list = classifyAll(samples, { ...group(), self: 1 });
    expect(list.map((s) => [s.pid, s.cause])).toEqual([[7, 'ignores'], [9, 'zombie']]);
    expect(list[1]!.cmd).toBe('[true]');
    expect(list[1]!.detail).toContain('parent pid 7 (sleep 1006)');
  });

  it('a process outside the signalled group is `outside-group`, and says setsid or setpgid', () => {
    const escaped = classify(sample({ pgid: 13, sid: 13, ign: '4000' }), group(8, 1));
    expect(escaped?.cause).toBe('outside-group');
    expect(escaped?.detail).toMatch(/setsid/);
    expect(classify(sample({ pgid: 13, sid: 1 }), group(8, 1))?.detail).toMatch(/setpgid/);
  });

  it('outside-group applies only when the signal went to a group', () => {
    expect(classify(sample({ pgid: 13, ign: '4000' }), { signal: SIGTERM, target: { kind: 'all' } })?.cause).toBe('ignores');
    expect(classify(sample({ pid: 9 }), { signal: SIGTERM, target: { kind: 'pid', pid: 8 } })?.cause).toBe('not-signalled');
  });

  it('a process started after the signal was sent is `not-signalled`', () => {
    const s = classify(sample({ starttime: 1000 }), { ...group(), sentAtBoot: 5 });
    expect(s?.cause).toBe('not-signalled');
    expect(classify(sample({ starttime: 400, cgt: '4000' }), { ...group(), sentAtBoot: 5 })?.cause).toBe('handling');
  });

  it('reads ignores, blocks and handling from the masks', () => {
    expect(classify(sample({ ign: '4000', cgt: '4000' }), group())?.cause).toBe('ignores');
    expect(classify(sample({ blk: '4000', shd: '4000', cgt: '4000' }), group())?.cause).toBe('blocks');
    // A handler runs with its own signal blocked: caught + blocked + not pending is a handler still running.
    expect(classify(sample({ blk: '4000', cgt: '4000' }), group())?.cause).toBe('handling');
    // Blocked, not pending, not caught: taken by sigwait/signalfd.
    expect(classify(sample({ blk: '4000' }), group())?.detail).toMatch(/sigwait or signalfd/);
    expect(classify(sample({ cgt: '4000' }), group())?.cause).toBe('handling');
  });

  it('never invents a cause: default disposition and nothing else is `unknown` (or `exiting` with PF_EXITING)', () => {
    expect(classify(sample({}), group())?.cause).toBe('unknown');
    expect(classify(sample({ flags: 4194304 | 4 }), group())?.cause).toBe('exiting');
  });

  it('a signal ignored by default, or sent to a nested namespace init, is `ignores`', () => {
    expect(classify(sample({}), { ...group(), signal: SIGWINCH })?.cause).toBe('ignores');
    expect(classify(sample({ nspid: '8\t1' }), group())?.detail).toMatch(/nested PID namespace/);
  });

  it('a leader that exited while its threads run is judged by its threads', () => {
    const s = sample({ state: 'Z' });
    const thread = s.status.replace(/^State:.*$/m, 'State:\tD (disk sleep)');
    expect(classify({ ...s, tasks: [s.status, thread] }, group())?.cause).toBe('uninterruptible');
  });
});

describe('human line', () => {
  it('reads like the issue asks', () => {
    const s = classify(sample({ cmdline: '/root/app\0-f\0conf\0', ign: '4000' }), group()) as Survivor;
    expect(formatSurvivor(s, 'SIGTERM', 5000)).toBe('still running 5.0 s after SIGTERM: pid 8 /root/app -f conf — ignores SIGTERM');
  });
});

describe('termination message', () => {
  it('stays within 4096 bytes with whole lines and says how many did not fit', () => {
    const survivors = Array.from({ length: 500 }, (_, i) => `pid ${i + 2} /usr/bin/wörker --id ${i} — ignores SIGTERM`);
    const text = formatTerminationMessage({ outcome: 'app ended: exit 137 = killed by SIGKILL', status: 137, stop: 'timeline: …', survivors });
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(TERMINATION_LOG_LIMIT);
    expect(text).toMatch(/^tsinit: app ended: exit 137 = killed by SIGKILL; tsinit exits 137\n/);
    expect(text).toMatch(/… and \d+ more\n$/);
    for (const line of text.split('\n').filter((l) => l.startsWith('pid '))) expect(line).toMatch(/ignores SIGTERM$/);
  });

  it('takes its path from TSINIT_TERMINATION_LOG unless the value only switches it', () => {
    expect(terminationLogPath({})).toBe('/dev/termination-log');
    expect(terminationLogPath({ TSINIT_TERMINATION_LOG: '1' })).toBe('/dev/termination-log');
    expect(terminationLogPath({ TSINIT_TERMINATION_LOG: '/run/x/log' })).toBe('/run/x/log');
  });

  it('writes an existing file, replacing its content, and never creates one', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tsinit-termlog-'));
    try {
      const file = path.join(dir, 'termination-log');
      expect(writeTerminationLog(file, 'x')).toBe(false);
      expect(existsSync(file)).toBe(false);
      writeFileSync(file, 'old content that is longer');
      expect(writeTerminationLog(file, 'new')).toBe(true);
      expect(readFileSync(file, 'utf8')).toBe('new');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the second read: a process that exits while it is looked at is not listed', () => {
  /** The first read of a live process: its sample, classified as a survivor of `ctx`. */
  function firstRead(pid: number): Survivor {
    const sample = readSample(pid);
    expect(sample, `pid ${pid} readable`).toBeDefined();
    const [s] = classifyAll(new Map([[pid, sample!]]), direct);
    expect(s?.pid).toBe(pid);
    return s!;
  }
  const stateOf = (pid: number): string | undefined => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
      return stat.slice(stat.lastIndexOf(')') + 2)[0];
    } catch {
      return undefined;
    }
  };
  const until = async (cond: () => boolean, ms = 5000): Promise<void> => {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 10));
    }
  };

  it('a real process read once, then gone (exited and reaped) before the second read, is dropped; alive, it stays', async () => {
    const p = spawnProcess('sleep', ['30'], { stdio: 'ignore' });
    try {
      const s = firstRead(p.pid!);
      expect(stillThere(s)).toBe(true); // the same process, still running: listed
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGKILL');
      await exited; // reaped by child_process: /proc/PID is gone
      expect(stillThere(s)).toBe(false);
    } finally {
      p.kill('SIGKILL');
    }
  });

  it('a real process read once, then exited (a zombie its parent does not reap) before the second read, is dropped', async () => {
    // sh starts the sleep in the background, then becomes a parent that never waits.
    const parent = spawnProcess('sh', ['-c', 'sleep 30 & echo $!; exec sleep 60'], { stdio: ['ignore', 'pipe', 'ignore'], detached: true });
    try {
      const pid = await new Promise<number>((resolve) => parent.stdout!.once('data', (d: Buffer) => resolve(Number(String(d).trim()))));
      const s = firstRead(pid);
      expect(s.cause).not.toBe('zombie');
      expect(stillThere(s)).toBe(true);
      process.kill(pid, 'SIGKILL');
      await until(() => stateOf(pid) === 'Z');
      expect(stillThere(s)).toBe(false);
    } finally {
      try { process.kill(-parent.pid!, 'SIGKILL'); } catch { /* gone */ }
    }
  });
});
