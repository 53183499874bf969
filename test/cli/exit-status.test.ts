/**
 * Exit status: the pure rules (src/exit-status.ts) and, end to end, what
 * tsinit exits with: the child's code, 128+N for a signal, 127/126 with a
 * one-line message naming PROGRAM, scripts without #!, and --expect-exit.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  describeStatus, exitedWith, killedBy, remapStatus, STATUS_CANNOT_EXECUTE, STATUS_INTERNAL, STATUS_NOT_FOUND,
  STATUS_USAGE,
} from '../../src/exit-status';
import { killAll, run } from '../support/helpers';
import { tempDir } from '../support/fixtures/util';
import { MODES } from '../support/modes';

afterEach(killAll);

describe('exit status rules (pure)', () => {
  it('an exit code is the status', () => {
    expect(exitedWith(0)).toEqual({ code: 0, signal: null, status: 0 });
    expect(exitedWith(255)).toEqual({ code: 255, signal: null, status: 255 });
  });
  it('death by signal N is 128+N, named', () => {
    expect(killedBy(15)).toEqual({ code: null, signal: 'SIGTERM', status: 143 });
    expect(killedBy(9).status).toBe(137);
    expect(killedBy(34)).toEqual({ code: null, signal: 'SIGRTMIN', status: 162 });
    expect(killedBy(64).status).toBe(192);
  });
  it('--expect-exit maps listed statuses to 0 and leaves the rest', () => {
    expect(remapStatus(143, new Set([143, 130]))).toBe(0);
    expect(remapStatus(130, new Set([143, 130]))).toBe(0);
    expect(remapStatus(137, new Set([143, 130]))).toBe(137);
    expect(remapStatus(0, new Set())).toBe(0);
  });
  it('describes a status for humans', () => {
    expect(describeStatus(killedBy(15))).toBe('exit 143 = killed by SIGTERM');
    expect(describeStatus(exitedWith(3))).toBe('exit 3');
  });
  it('the fixed statuses: 127 not found, 126 not executable, 2 usage, 1 internal', () => {
    expect(STATUS_NOT_FOUND).toBe(127);
    expect(STATUS_CANNOT_EXECUTE).toBe(126);
    expect(STATUS_USAGE).toBe(2);
    expect(STATUS_INTERNAL).toBe(1);
  });
});

describe('tsinit exits with the child\'s status', () => {
  const CODES = [0, 42, 77, 255];
  /** Signal, and the status it must give: 128+N. */
  const KILLED = [['KILL', 137], ['SEGV', 139], ['TERM', 143], ['64', 192]] as const;
  it.each(MODES.flatMap((m) => CODES.map((code) => [code, m] as const)))('exit code %i propagates, %s', async (code, { pid1 }) => {
    const r = await run(['--', 'sh', '-c', `exit ${code}`], { pid1 });
    expect(r.timedOut).toBe(false);
    expect(r.code).toBe(code);
  });
  /** Statuses tsinit also uses for its own failures (1 internal, 2 usage, 126, 127): the child's own pass through. */
  const OWN_CODES = [1, 2, 126, 127];
  it.each(MODES.flatMap((m) => OWN_CODES.map((code) => [code, m] as const)))(
    'a child\'s own exit %i passes through unchanged, and tsinit claims no failure of its own, %s', async (code, { pid1 }) => {
      const r = await run(['--', 'sh', '-c', `exit ${code}`], { pid1 });
      expect(r.timedOut).toBe(false);
      expect(r.code, r.stderr).toBe(code);
      // Nothing said about the status (the one-time warning about a wrapper PID 1 outside the namespace aside).
      expect(r.stderr.split('\n').filter((l) => l !== '' && !/^tsinit: warning: PID 1 is /.test(l))).toEqual([]);
    });
  it.each(MODES.flatMap((m) => KILLED.map(([sig, status]) => [sig, status, m] as const)))(
    'a child killed by SIG%s makes tsinit exit %i (128+N), %s', async (sig, status, { pid1 }) => {
      const r = await run(['--', 'sh', '-c', `kill -${sig} $$`], { pid1 });
      expect(r.code).toBe(status);
    });
});

describe('PROGRAM that cannot run', () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir();
    writeFileSync(path.join(dir, 'noexec'), '#!/bin/sh\necho should-not-run\n');
    chmodSync(path.join(dir, 'noexec'), 0o644);
    mkdirSync(path.join(dir, 'adir'));
    writeFileSync(path.join(dir, 'noshebang'), 'echo "ran-by-sh $0 $*"\nexit 7\n');
    chmodSync(path.join(dir, 'noshebang'), 0o755);
  });

  const oneLineNaming = (stderr: string, program: string): void => {
    const lines = stderr.trim().split('\n');
    expect(lines, stderr).toHaveLength(1);
    expect(lines[0]).toContain(program);
  };

  it.each(MODES)('not found in PATH: 127 and one line on stderr naming PROGRAM, %s', async ({ pid1 }) => {
    const r = await run(['--', 'no-such-program-4711', 'arg'], { pid1 });
    expect(r.code).toBe(127);
    oneLineNaming(r.stderr, 'no-such-program-4711');
    expect(r.stdout).toBe('');
  });
  it('not found by path: 127', async () => {
    const r = await run(['--', path.join(dir, 'missing')]);
    expect(r.code).toBe(127);
    oneLineNaming(r.stderr, path.join(dir, 'missing'));
  });
  it('a file without execute permission: 126 and one line naming PROGRAM', async () => {
    const r = await run(['--', path.join(dir, 'noexec')]);
    expect(r.code).toBe(126);
    oneLineNaming(r.stderr, path.join(dir, 'noexec'));
    expect(r.stdout).not.toContain('should-not-run');
  });
  it('found through PATH but not executable: 126', async () => {
    const r = await run(['--', 'noexec'], { env: { PATH: `${dir}:${process.env['PATH']}` } });
    expect(r.code).toBe(126);
    oneLineNaming(r.stderr, 'noexec');
  });
  it('a directory: 126', async () => {
    const r = await run(['--', path.join(dir, 'adir')]);
    expect(r.code).toBe(126);
    oneLineNaming(r.stderr, path.join(dir, 'adir'));
  });
  it('a script without #! runs through /bin/sh, as execvp would', async () => {
    const script = path.join(dir, 'noshebang');
    const r = await run(['--', script, 'a', 'b']);
    expect(r.stdout).toBe(`ran-by-sh ${script} a b\n`);
    expect(r.code).toBe(7);
    expect(r.stderr).toBe('');
  });
  it('a script without #! found through PATH runs through /bin/sh too', async () => {
    const r = await run(['--', 'noshebang', 'x'], { env: { PATH: `${dir}:${process.env['PATH']}` } });
    expect(r.stdout).toBe(`ran-by-sh ${path.join(dir, 'noshebang')} x\n`);
    expect(r.code).toBe(7);
  });
});

describe('--expect-exit', () => {
  it('-e 3 turns exit 3 into 0', async () => {
    expect((await run(['-e', '3', '--', 'sh', '-c', 'exit 3'])).code).toBe(0);
  });
  it('-e 3 leaves exit 4 alone', async () => {
    expect((await run(['-e', '3', '--', 'sh', '-c', 'exit 4'])).code).toBe(4);
  });
  it('-e143 turns death by SIGTERM into 0', async () => {
    expect((await run(['-e143', '--', 'sh', '-c', 'kill -TERM $$'])).code).toBe(0);
  });
  it('TSINIT_EXPECT_EXIT=143,130 remaps both', async () => {
    const env = { TSINIT_EXPECT_EXIT: '143,130' };
    expect((await run(['--', 'sh', '-c', 'kill -INT $$'], { env })).code).toBe(0);
    expect((await run(['--', 'sh', '-c', 'exit 1'], { env })).code).toBe(1);
  });
});
