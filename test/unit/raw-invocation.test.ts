/**
 * The pure parts of reading tsinit's invocation as bytes: splitting /proc
 * blocks, deriving the child's environment from raw entries, and choosing
 * between strings and bytes for the `node bin/tsinit` re-exec.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { childEnvironmentEntries, readRawInvocation, restartRequest, splitNul } from '../../src/core/raw-invocation';
import { childEnvironment } from '../../src/init/init';

const b = (s: string | number[]): Buffer => (typeof s === 'string' ? Buffer.from(s, 'latin1') : Buffer.from(s));
const hex = (list: readonly Buffer[]): string[] => list.map((x) => x.toString('hex'));

describe('splitNul', () => {
  it('splits on every NUL, keeps empty entries, and drops only the final terminator', () => {
    expect(hex(splitNul(b('a\0\0b\0')))).toEqual(hex([b('a'), b(''), b('b')]));
    expect(hex(splitNul(b('a\0b')))).toEqual(hex([b('a'), b('b')]));
    expect(splitNul(b(''))).toEqual([]);
  });
});

describe('childEnvironmentEntries', () => {
  it('removes the wrapper\'s variables and restores NODE_OPTIONS in the stash\'s place, bytes intact', () => {
    const env = [b('A=1'), b([0x42, 0x3d, 0xff]), b('__TSINIT_NODE_OPTIONS=x--x\xff'), b('__TSINIT_PPID=7'), b('C=3')];
    expect(hex(childEnvironmentEntries(env))).toEqual(hex([b('A=1'), b([0x42, 0x3d, 0xff]), b('NODE_OPTIONS=--x\xff'), b('C=3')]));
  });

  it('keeps set-but-empty NODE_OPTIONS set, and unset stays unset', () => {
    expect(hex(childEnvironmentEntries([b('__TSINIT_NODE_OPTIONS=x')]))).toEqual(hex([b('NODE_OPTIONS=')]));
    expect(hex(childEnvironmentEntries([b('A=1'), b('__TSINIT_PPID=1')]))).toEqual(hex([b('A=1')]));
  });

  it('passes duplicates and entries without "=" as they are', () => {
    const env = [b('A=1'), b('A=2'), b('NOEQUALS'), b('__TSINIT_PPIDX=1')];
    expect(hex(childEnvironmentEntries(env))).toEqual(hex(env));
  });

  it('gives back the caller\'s LD_PRELOAD from the launcher\'s stash: a value, set-but-empty, or unset (empty stash)', () => {
    const launched = [b('A=1'), b('LD_PRELOAD=/pkg/tsinit.node:/lib/x\xff.so'), b('__TSINIT_BLOCKED=0')];
    expect(hex(childEnvironmentEntries([...launched, b('__TSINIT_LD_PRELOAD=x/lib/x\xff.so')]))).toEqual(hex([b('A=1'), b('LD_PRELOAD=/lib/x\xff.so')]));
    expect(hex(childEnvironmentEntries([...launched, b('__TSINIT_LD_PRELOAD=x')]))).toEqual(hex([b('A=1'), b('LD_PRELOAD=')]));
    expect(hex(childEnvironmentEntries([...launched, b('__TSINIT_LD_PRELOAD=')]))).toEqual(hex([b('A=1')]));
    // No launcher: the caller's LD_PRELOAD is tsinit's own, passed as it is.
    expect(hex(childEnvironmentEntries([b('LD_PRELOAD=/lib/y.so')]))).toEqual(hex([b('LD_PRELOAD=/lib/y.so')]));
  });

  it('the stash wins over a NODE_OPTIONS that is still there', () => {
    expect(hex(childEnvironmentEntries([b('NODE_OPTIONS=a'), b('__TSINIT_NODE_OPTIONS=xb')]))).toEqual(hex([b('NODE_OPTIONS=b')]));
  });
});

describe('childEnvironment (the same rules on decoded strings, as the Procfile init uses them)', () => {
  it('gives back the caller\'s LD_PRELOAD and NODE_OPTIONS, unset stays unset, and drops every private variable', () => {
    const launched = { A: '1', LD_PRELOAD: '/pkg/tsinit.node:/lib/x.so', __TSINIT_BLOCKED: '0', __TSINIT_PPID: '1', __TSINIT_NODE_OPTIONS: 'x' };
    expect(childEnvironment({ ...launched, __TSINIT_LD_PRELOAD: 'x/lib/x.so' })).toEqual({ A: '1', LD_PRELOAD: '/lib/x.so', NODE_OPTIONS: '' });
    expect(childEnvironment({ ...launched, __TSINIT_LD_PRELOAD: 'x' })).toEqual({ A: '1', LD_PRELOAD: '', NODE_OPTIONS: '' });
    expect(childEnvironment({ ...launched, __TSINIT_LD_PRELOAD: '' })).toEqual({ A: '1', NODE_OPTIONS: '' });
    expect(childEnvironment({ LD_PRELOAD: '/lib/y.so' })).toEqual({ LD_PRELOAD: '/lib/y.so' });
  });
});

describe('this process as bytes', () => {
  it('readRawInvocation finds this process\'s arguments at the end of /proc/self/cmdline', () => {
    const raw = readRawInvocation(process.argv.slice(2));
    expect(raw).toBeDefined();
    expect(raw!.args.map((x) => x.toString())).toEqual(process.argv.slice(2));
    expect(readRawInvocation([...process.argv.slice(2), 'not-an-argument-of-this-process'])).toBeUndefined();
  });

  it('restartRequest keeps the command line, stashes NODE_OPTIONS, and offers strings when they say it exactly', () => {
    const req = restartRequest(['--some-flag', '--other-flag'], { ...process.env, __TSINIT_PPID: '42' });
    const argv = req.argv.map(String);
    expect(argv.slice(1, 3)).toEqual(['--some-flag', '--other-flag']);
    // then this process's own command line after the executable, unchanged
    expect(argv.slice(3)).toEqual(readFileSync('/proc/self/cmdline', 'utf8').split('\0').slice(1, -1));
    const envp = req.envp.map(String);
    expect(envp.filter((e) => e.startsWith('NODE_OPTIONS='))).toEqual([]);
    expect(envp).toContain('__TSINIT_PPID=42');
    if (process.env['NODE_OPTIONS'] !== undefined) expect(envp).toContain(`__TSINIT_NODE_OPTIONS=x${process.env['NODE_OPTIONS']}`);
    expect(req.text).toBeDefined();
    expect(req.text!.argv).toEqual(req.argv.map(String));
  });
});
