/**
 * The package's entry points: `node-tsinit` and `node-tsinit/register`, importable from
 * ESM and CommonJS, typed, and one module instance whichever way it is loaded.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runJson } from './library-helpers';

const ROOT = path.join(__dirname, '..');

describe('entry points', () => {
  it('a consumer using every export type-checks, from ESM (.mts) and from CommonJS (.cts)', () => {
    const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const r = spawnSync(process.execPath, [tsc, '-p', path.join(ROOT, 'test', 'types', 'tsconfig.json')], { encoding: 'utf8', timeout: 230_000 });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  }, 240_000); // tsc alone takes ~10 s of CPU; the shared machine may be slower

  it('ESM and CommonJS see the same exports and share one instance (and one register)', async () => {
    const r = await runJson<{ esmNames: string[]; cjsNames: string[]; sameInstance: boolean; sameRegister: boolean; status: unknown }>(
      'entries.mjs', [], { pid1: false });
    expect(r.esmNames).toEqual(r.cjsNames);
    expect(r.esmNames).toEqual(expect.arrayContaining(['spawn', 'forwardSignals', 'startReaper', 'isPid1', 'setSubreaper', 'signals']));
    expect(r.sameInstance).toBe(true);
    expect(r.sameRegister).toBe(true);
    expect(r.status).toEqual({ code: 4, signal: null, status: 4 });
  });
});
