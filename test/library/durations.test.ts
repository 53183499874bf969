/**
 * Grace and dump durations: one validator for the CLI and the library, and
 * waits that mean what they say — Infinity never escalates, and a finite
 * wait beyond setTimeout's ceiling (2^31-1 ms) is waited for in full rather
 * than clamped by Node to 1 ms.
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { spawn, parseCommandLine } from 'node-tsinit';
import { killAll, sleep, start as startInit } from '../support/helpers';
import { killSpawned, spawnTracked } from '../support/library-helpers';
import { until } from '../support/fixtures/util';
import { MAX_TIMEOUT_MS, wait } from '../../src/durations';

const startLib = spawnTracked;

afterEach(() => {
  vi.useRealTimers();
  killSpawned();
  killAll();
});

function stateOf(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]!;
  } catch {
    return 'gone';
  }
}

/** Waits until `pid` ignores SIGTERM (its trap is set), so a stop cannot catch it earlier. */
async function ignoresTerm(pid: number): Promise<void> {
  const ok = await until(() => {
    try {
      const m = /^SigIgn:\s+([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
      return m !== null && (BigInt(`0x${m[1]}`) & (1n << 14n)) !== 0n;
    } catch {
      return false;
    }
  });
  expect(ok).toBe(true);
}

/** A child that ignores SIGTERM (inherited through exec), so only SIGKILL ends it. */
const STUBBORN = ['sh', ['-c', 'trap "" TERM; exec sleep 5']] as const;

describe('long and endless grace periods in the library', () => {
  for (const grace of [Infinity, 3e9]) {
    it(`stop({ grace: ${grace} }) does not SIGKILL within 1 s`, async () => {
      const s = startLib(STUBBORN[0], [...STUBBORN[1]], { stdio: 'ignore' });
      await ignoresTerm(s.pid);
      void s.stop({ grace });
      await sleep(1000);
      expect(s.state).toBe('stopping');
      expect(stateOf(s.pid)).not.toBe('gone');
      expect(s.exitStatus).toBeUndefined();
      process.kill(-s.pgid, 'SIGKILL');
      expect((await s.exited).signal).toBe('SIGKILL');
    });
  }

  it('spawn({ grace: Infinity }) then stop() does not SIGKILL within 1 s', async () => {
    const s = startLib(STUBBORN[0], [...STUBBORN[1]], { stdio: 'ignore', grace: Infinity });
    await ignoresTerm(s.pid);
    void s.stop();
    await sleep(1000);
    expect(s.state).toBe('stopping');
    process.kill(-s.pgid, 'SIGKILL');
    await s.exited;
  });

  it('dump.seconds beyond the timer ceiling: the dump signal comes, SIGKILL does not within 1 s', async () => {
    const s = startLib('sh', ['-c', 'trap "" TERM; trap "echo got-quit" QUIT; while :; do sleep 0.05; done'],
      { stdio: ['ignore', 'pipe', 'inherit'], grace: 0.2, dump: { signal: 'SIGQUIT', seconds: 3e9 } });
    let out = '';
    s.stdout!.on('data', (d: Buffer) => { out += String(d); });
    await ignoresTerm(s.pid);
    void s.stop();
    await sleep(1300);
    expect(out).toContain('got-quit');
    expect(s.state).toBe('dumping');
    process.kill(-s.pgid, 'SIGKILL');
    await s.exited;
  });
});

describe('one validator for the CLI and the library', () => {
  const MESSAGE = /must be a number of seconds >= 0 \(Infinity: never\), got /;

  it.each([[NaN, 'NaN'], [-1, '-1'], ['5', "'5'"], [null, 'null']])('library: grace %s is a TypeError naming it', (bad, shown) => {
    expect(() => spawn('true', [], { grace: bad as number })).toThrow(TypeError);
    expect(() => spawn('true', [], { grace: bad as number })).toThrow(new RegExp(`^grace ${MESSAGE.source}${shown.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`));
    expect(() => spawn('true', [], { dump: { signal: 'SIGQUIT', seconds: bad as number } })).toThrow(new RegExp(`^dump.seconds ${MESSAGE.source}`));
  });

  it('library: stop() validates with the same message', async () => {
    const s = startLib('sleep', ['5'], { stdio: 'ignore' });
    expect(() => s.stop({ grace: -1 })).toThrow(new RegExp(`^grace ${MESSAGE.source}-1$`));
    await s.stop({ grace: 0 });
  });

  it.each([['-t', '-1'], ['-t', 'NaN'], ['-t', 'abc'], ['--grace', ''], ['--dump', 'SIGQUIT:x']])('CLI: %s %j is a usage error with the same message', (flag, value) => {
    expect(() => parseCommandLine([flag, value, 'app'])).toThrow(MESSAGE);
  });

  it('CLI: inf means never, and values beyond the old 2,000,000 s cap are accepted', () => {
    expect(parseCommandLine(['-t', 'inf', 'app']).grace).toBe(Infinity);
    expect(parseCommandLine(['-t', 'Infinity', 'app']).grace).toBe(Infinity);
    expect(parseCommandLine(['app'], { TSINIT_GRACE: 'inf' }).grace).toBe(Infinity);
    expect(parseCommandLine(['-t', '3000000', 'app']).grace).toBe(3e6);
    expect(parseCommandLine(['--dump', 'SIGQUIT:inf', 'app']).dumpSeconds).toBe(Infinity);
  });
});

describe('the CLI waits as long as it is told', () => {
  for (const grace of ['inf', '3000000']) {
    it(`-t ${grace}: a child that ignores SIGTERM is not SIGKILLed within 1.5 s`, async () => {
      const h = startInit(['-v', '-t', grace, '--', 'sh', '-c', 'trap "" TERM; echo ready; exec sleep 30'], { timeoutMs: 15_000 });
      await h.waitFor(/ready/);
      h.kill('SIGTERM');
      await h.waitFor(/received SIGTERM: sent SIGTERM/);
      await sleep(1500);
      expect(h.stderr()).not.toMatch(/SIGKILL/);
      h.kill('SIGKILL'); // PID 1 of the namespace: the kernel ends it all
      await h.result;
    });
  }
});

describe('wait() chains timers beyond the ceiling', () => {
  it('fires after the full delay, not after 1 ms; Infinity never fires', () => {
    vi.useFakeTimers();
    const long = vi.fn();
    const never = vi.fn();
    wait(MAX_TIMEOUT_MS + 5000, long);
    wait(Infinity, never);
    vi.advanceTimersByTime(MAX_TIMEOUT_MS);
    expect(long).not.toHaveBeenCalled();
    vi.advanceTimersByTime(4999);
    expect(long).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(long).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(10 * MAX_TIMEOUT_MS);
    expect(never).not.toHaveBeenCalled();
  });

  it('cancel() stops a chained wait', () => {
    vi.useFakeTimers();
    const fn = vi.fn();
    const w = wait(3 * MAX_TIMEOUT_MS, fn);
    vi.advanceTimersByTime(MAX_TIMEOUT_MS + 1);
    w.cancel();
    vi.advanceTimersByTime(5 * MAX_TIMEOUT_MS);
    expect(fn).not.toHaveBeenCalled();
  });
});
