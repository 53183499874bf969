/**
 * The npm name: the package is published as `node-tsinit` (the name `tsinit`
 * belongs to an unrelated project). When the registry answers, the name must
 * be either free or ours; without a registry the check is skipped and says so.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.join(__dirname, '..', '..');
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  name: string; description: string; bin: Record<string, string>; repository?: { url: string };
};

/** `npm view NAME --json`: the registry's record, null when the name is free, or why it could not be asked. */
function view(name: string): { record?: Record<string, unknown> | null; why?: string } {
  const r = spawnSync('npm', ['view', name, '--json'], { encoding: 'utf8', timeout: 30_000 });
  if (r.error !== undefined) return { why: `npm could not run: ${r.error.message}` };
  if (r.status === 0) return { record: JSON.parse(r.stdout) as Record<string, unknown> };
  if (/E404|404 Not Found/.test(r.stdout + r.stderr)) return { record: null };
  return { why: `the registry did not answer: ${(r.stderr || r.stdout).trim().split('\n')[0]}` };
}

const ours = view(pkg.name);
if (ours.why !== undefined) console.warn(`npm name check skipped: ${ours.why}`);

describe('the npm name', () => {
  it('package.json names the package node-tsinit and its command tsinit', () => {
    expect(pkg.name).toBe('node-tsinit');
    expect(Object.keys(pkg.bin)).toEqual(['tsinit']);
  });

  it.skipIf(ours.why !== undefined)(`npm view ${pkg.name} shows no other project's package${ours.why ? ` (skipped: ${ours.why})` : ''}`, () => {
    const record = ours.record;
    if (record === null || record === undefined) { expect(record).toBeNull(); return; } // free: nobody else has it
    // Published: it must be this project (same description, same repository).
    expect(record['description']).toBe(pkg.description);
    expect(JSON.stringify(record['repository'] ?? null)).toContain(pkg.repository?.url.replace(/^git\+/, '').replace(/\.git$/, '') ?? '<no repository>');
  });

  it('the README and Dockerfile.example install node-tsinit, never the other tsinit', () => {
    for (const file of ['README.md', 'Dockerfile.example']) {
      const text = readFileSync(path.join(ROOT, file), 'utf8');
      expect(text, file).not.toMatch(/npm (install|i)( -g| --global)? tsinit\b/);
      expect(text, file).toMatch(/npm install (-g |--global )?node-tsinit/);
    }
  });
});
