/**
 * Signal names and numbers (src/signals.ts): Linux numbering, glibc's
 * real-time range, RTMIN+n / RTMAX-n round trips, and which signals an init
 * forwards.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  forwardableSignals, MAX_SIGNAL, NOT_FORWARDED, parseSignal, signalName, signalTable, SIGPIPE, SIGRTMAX, SIGRTMIN,
  toSignalNumber,
} from '../../src/signals';

describe('standard signals', () => {
  it("every name agrees with Node's own table for Linux", () => {
    const node = constants.signals as Record<string, number>;
    for (let n = 1; n <= 31; n++) {
      const name = signalName(n);
      if (name in node) expect(node[name], name).toBe(n);
    }
    // and the other way round
    for (const [name, n] of Object.entries(node)) {
      if (name === 'SIGIOT' || name === 'SIGPOLL' || name === 'SIGUNUSED') continue;
      expect(parseSignal(name), name).toBe(n);
    }
  });
  it('parses with or without SIG, in any case, and by number', () => {
    expect(parseSignal('SIGTERM')).toBe(15);
    expect(parseSignal('TERM')).toBe(15);
    expect(parseSignal('sigterm')).toBe(15);
    expect(parseSignal('term')).toBe(15);
    expect(parseSignal(' 15 ')).toBe(15);
    expect(parseSignal('1')).toBe(1);
    expect(parseSignal('64')).toBe(64);
  });
  it('knows the aliases', () => {
    expect(parseSignal('SIGIOT')).toBe(6);
    expect(parseSignal('CLD')).toBe(17);
    expect(parseSignal('POLL')).toBe(29);
  });
  it('rejects what is not a signal', () => {
    for (const t of ['0', '65', '-1', '', 'FOO', 'SIG', '15x', '1.5', 'SIGTERM+1']) {
      expect(parseSignal(t), t).toBeUndefined();
    }
  });
});

describe('real-time signals', () => {
  it('SIGRTMIN is 34 and SIGRTMAX is 64 (glibc keeps 32 and 33)', () => {
    expect(SIGRTMIN).toBe(34);
    expect(SIGRTMAX).toBe(64);
    expect(MAX_SIGNAL).toBe(64);
  });
  it('RTMIN, RTMIN+n, RTMAX, RTMAX-n parse to numbers', () => {
    expect(parseSignal('RTMIN')).toBe(34);
    expect(parseSignal('SIGRTMIN')).toBe(34);
    expect(parseSignal('RTMIN+0')).toBe(34);
    expect(parseSignal('SIGRTMIN+3')).toBe(37);
    expect(parseSignal('rtmin+30')).toBe(64);
    expect(parseSignal('RTMAX')).toBe(64);
    expect(parseSignal('SIGRTMAX-1')).toBe(63);
    expect(parseSignal('RTMAX-30')).toBe(34);
  });
  it('out-of-range offsets are rejected', () => {
    for (const t of ['RTMIN+31', 'RTMAX-31', 'RTMIN-1', 'RTMAX+1', 'RTMIN+', 'RTMID']) {
      expect(parseSignal(t), t).toBeUndefined();
    }
  });
  it('every number 34..64 round-trips through its name, as `kill -l` names them', () => {
    for (let n = 34; n <= 64; n++) {
      const name = signalName(n);
      expect(name).toMatch(/^SIGRT(MIN|MAX)([+-]\d+)?$/);
      expect(parseSignal(name), name).toBe(n);
    }
    expect(signalName(34)).toBe('SIGRTMIN');
    expect(signalName(35)).toBe('SIGRTMIN+1');
    expect(signalName(49)).toBe('SIGRTMIN+15');
    expect(signalName(50)).toBe('SIGRTMAX-14');
    expect(signalName(63)).toBe('SIGRTMAX-1');
    expect(signalName(64)).toBe('SIGRTMAX');
  });
  it('every number 1..64 round-trips through its name', () => {
    for (let n = 1; n <= 64; n++) {
      if (n === 32 || n === 33) continue;
      expect(parseSignal(signalName(n)), signalName(n)).toBe(n);
    }
  });
  it('32 and 33 have a name that says what they are', () => {
    expect(signalName(32)).toBe('SIG32');
    expect(signalName(33)).toBe('SIG33');
  });
});

describe('signalTable', () => {
  it('maps every standard and real-time name to its number', () => {
    const t = signalTable();
    expect(t['SIGTERM']).toBe(15);
    expect(t['SIGRTMIN']).toBe(34);
    expect(t['SIGRTMIN+1']).toBe(35);
    expect(t['SIGRTMAX']).toBe(64);
    expect(Object.keys(t)).toHaveLength(31 + 31);
  });
});

describe('toSignalNumber', () => {
  it('accepts numbers and names, 0 only when allowed', () => {
    expect(toSignalNumber(15)).toBe(15);
    expect(toSignalNumber('SIGRTMAX-2')).toBe(62);
    expect(toSignalNumber(0, true)).toBe(0);
    expect(toSignalNumber('0', true)).toBe(0);
    expect(() => toSignalNumber(0)).toThrow(TypeError);
    expect(() => toSignalNumber(65)).toThrow(TypeError);
    expect(() => toSignalNumber(1.5)).toThrow(TypeError);
    expect(() => toSignalNumber('NOPE')).toThrow(/NOPE/);
  });
});

describe('which signals are forwarded', () => {
  const expected = [1, 2, 3, 10, 12, 13, 14, 15, 16, 18, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30,
    ...Array.from({ length: 31 }, (_, i) => 34 + i)];
  it('every catchable signal but CHLD, the synchronous faults and glibc\'s 32/33', () => {
    expect(forwardableSignals()).toEqual(expected);
  });
  it('never KILL, STOP, CHLD, SEGV, BUS, FPE, ILL, TRAP, SYS, ABRT, 32, 33', () => {
    for (const n of [9, 19, 17, 11, 7, 8, 4, 5, 31, 6, 32, 33]) {
      expect(NOT_FORWARDED.has(n), signalName(n)).toBe(true);
      expect(forwardableSignals()).not.toContain(n);
    }
  });
  it('real-time signals, PIPE, the job-control signals and CONT are forwarded', () => {
    for (const n of [13, 18, 20, 21, 22, 34, 64]) expect(forwardableSignals()).toContain(n);
  });
});

describe('the addon\'s start-up recorder (native/tsinit.cc: RecordBeforeNode)', () => {
  /** The signals the constructor never claims, read from its source: the `skipped` list and the libc range. */
  function skippedInC(source: string): number[] {
    const list = /const int skipped\[\] = \{([^}]*)\};/.exec(source);
    const range = /kLibcOwnFirst = (\d+), kLibcOwnLast = (\d+);/.exec(source);
    if (list === null || range === null) throw new Error('RecordBeforeNode\'s skip list or libc range not found in native/tsinit.cc');
    const out = list[1]!.split(',').map((name) => {
      const n = parseSignal(name.trim());
      if (n === undefined) throw new Error(`not a signal in RecordBeforeNode's skip list: ${name.trim()}`);
      return n;
    });
    for (let n = Number(range[1]); n <= Number(range[2]); n++) out.push(n);
    return out.sort((a, b) => a - b);
  }

  it('claims exactly what the bin\'s claimStartupSignals claims: every forwarded signal but SIGPIPE', () => {
    // Written in C, since it runs before Node's main; a drift here would lose
    // (or wrongly catch) a signal only in the launcher's window.
    const source = readFileSync(path.join(__dirname, '..', '..', 'native', 'tsinit.cc'), 'utf8');
    const claimedByJs = forwardableSignals().filter((n) => n !== SIGPIPE);
    const skippedByJs = Array.from({ length: MAX_SIGNAL }, (_, i) => i + 1).filter((n) => !claimedByJs.includes(n));
    expect(skippedInC(source)).toEqual(skippedByJs);
  });

  it('the reading of the source catches a drift', () => {
    const drifted = 'const int skipped[] = {SIGKILL, SIGXFSZ};\n  constexpr int kLibcOwnFirst = 32, kLibcOwnLast = 34;';
    expect(skippedInC(drifted)).toEqual([9, 25, 32, 33, 34]);
    expect(() => skippedInC('nothing here')).toThrow(/not found/);
  });
});

describe('signals the C library keeps for itself', () => {
  it('a watch on one (33 on glibc; 34 too on musl) is skipped, not fatal, and the others still arrive', () => {
    // Inside Node, through the built signal hub: 33 is refused by sigaction
    // here just as 34 is on musl, where the init subscribes to it.
    const hub = JSON.stringify(path.join(__dirname, '..', '..', 'dist', 'core', 'signal-hub.js'));
    const script = `const { subscribe } = require(${hub});
      subscribe([33, 12], (n) => { console.log('got ' + n); process.exit(0); }, true);
      console.log('subscribed');
      process.kill(process.pid, 'SIGUSR2');`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 10_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('subscribed\ngot 12\n');
    expect(r.status).toBe(0);
  });
});
