/**
 * One signal vocabulary: src/signals.ts names every signal number; no other
 * module writes one. A grep over src/, comments and strings left out.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.join(__dirname, '..', '..', 'src');

/** Ways a signal number gets written: a re-declared constant, a comparison or field, a kill, a table entry. */
const PATTERNS: readonly RegExp[] = [
  /\bSIG[A-Z0-9]+\s*=\s*\d/,
  /\b(?:sig|signum|signo|signal|sent|received|to)\s*(?:===|!==|==|!=|:)\s*[1-9]\d*\b/,
  /\bkill\([^()]*,\s*[1-9]\d*\s*\)/,
  /\b(?:watchSignal|unwatchSignal|subscribe|forward|send|signal|claimSignals)\(\s*\[?\s*[1-9]\d*\b/,
  /\[\s*[1-9]\d*\s*,\s*['"]SIG/,
  /new Set\(\[\s*(?:[1-9]\d*\s*,\s*)+[1-9]\d*\s*\]\)/,
];

/** The text of a TypeScript file without its comments and string literals (a string naming a signal keeps its `SIG`). */
function code(text: string): string {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/(^|[^:\\])\/\/.*$/gm, '$1')
    .replace(/'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"/g, (s) => (s.startsWith('SIG', 1) ? "'SIG'" : "''"))
    .replace(/`(?:[^`\\$]|\\.|\$(?!\{))*`/g, '``');
}

function offences(text: string): string[] {
  const out: string[] = [];
  code(text).split('\n').forEach((line, i) => {
    if (PATTERNS.some((p) => p.test(line))) out.push(`${i + 1}: ${line.trim()}`);
  });
  return out;
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) return sources(p);
    return name.endsWith('.ts') || name.endsWith('.mts') ? [p] : [];
  });
}

describe('one signal vocabulary', () => {
  it('the grep catches the ways a signal number is written', () => {
    for (const bad of ['const SIGTERM = 15;', 'if (signum === 9) return;', "report({ signal: 15 });", 'core.kill(-pgid, 9);',
      'subscribe([17], onChild);', "new Map([[1, 'SIGHUP']])", 'const JOB = new Set([20, 21, 22]);']) {
      expect(offences(bad), bad).toHaveLength(1);
    }
    for (const fine of ['// kill(pid, 9) in a comment', "log('sent signal 15')", 'core.kill(-1, signum);', 'if (to === 0) return 0;', 'const n = signum - 1;']) {
      expect(offences(fine), fine).toEqual([]);
    }
  });

  it('no module but signals.ts writes a signal number', () => {
    const files = sources(SRC).filter((f) => path.basename(f) !== 'signals.ts');
    expect(files.length).toBeGreaterThan(10);
    const found = files.flatMap((f) => offences(readFileSync(f, 'utf8')).map((o) => `${path.relative(SRC, f)}:${o}`));
    expect(found).toEqual([]);
  });
});
