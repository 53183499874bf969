/**
 * The CHANGELOG speaks of the version package.json names: its newest release
 * heading is that version, with a date, and every release heading has one.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.join(__dirname, '..', '..');
const version = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const headings = readFileSync(path.join(ROOT, 'CHANGELOG.md'), 'utf8').split('\n').filter((l) => l.startsWith('## ['));

describe('CHANGELOG.md', () => {
  it(`its newest release is package.json's version (${version}), dated`, () => {
    const releases = headings.filter((h) => !h.startsWith('## [Unreleased]'));
    expect(releases[0]).toMatch(new RegExp(`^## \\[${version.replace(/\./g, '\\.')}\\] - \\d{4}-\\d{2}-\\d{2}$`));
  });
  it('every release heading carries a date, newest first', () => {
    const dates = headings.filter((h) => !h.startsWith('## [Unreleased]')).map((h) => /- (\d{4}-\d{2}-\d{2})$/.exec(h)?.[1]);
    expect(dates.every((d) => d !== undefined)).toBe(true);
    expect([...dates].sort().reverse()).toEqual(dates);
  });
});
