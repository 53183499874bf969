import { afterEach, describe, expect, it } from 'vitest';
import { killAll, run } from '../support/helpers';

afterEach(killAll);

describe('exit status', () => {
  it('propagates the child exit code as PID 1', async () => {
    const r = await run(['--', 'sh', '-c', 'exit 42']);
    expect(r.code).toBe(42);
  });
  it('exits 128+N when the child is killed by signal N', async () => {
    const r = await run(['sh', '-c', 'kill -USR2 $$']);
    expect(r.code).toBe(128 + 12);
  });
  it('exits 127 with a one-line message when PROGRAM is not found', async () => {
    const r = await run(['no-such-program-xyz'], { pid1: false });
    expect(r.code).toBe(127);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('no-such-program-xyz');
  });
});

describe("the other inits' verbosity variables", () => {
  it('TINI_VERBOSITY=1 (tini\'s quiet default) prints nothing on a clean run; 2 prints the info lines', async () => {
    const quiet = await run(['--', 'true'], { env: { TINI_VERBOSITY: '1' } });
    expect(quiet.code).toBe(0);
    expect(quiet.stderr).toBe('');
    const info = await run(['--', 'true'], { env: { TINI_VERBOSITY: '2' } });
    expect(info.code).toBe(0);
    expect(info.stderr).toMatch(/^tsinit: started true as pid \d+/m);
  });
  it('DUMB_INIT_DEBUG=1 turns on debug output', async () => {
    const r = await run(['--', 'true'], { env: { DUMB_INIT_DEBUG: '1' } });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^tsinit: started true as pid \d+/m);
    expect(r.stderr.split('\n').length).toBeGreaterThan(3);
  });
});
