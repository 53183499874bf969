/**
 * Dockerfile.example, read as text: the promises the file makes (exec form,
 * pinned install, non-root user, stop signal and grace). The image it
 * describes is built and run by a real container engine in
 * test/packaging/engine.test.ts.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/pack-helpers';
import { parseSignal } from '../../src/signals';

/** One instruction of a Dockerfile: keyword (upper case) and the rest of its logical line. */
interface Instruction { keyword: string; rest: string }

/** Splits a Dockerfile into instructions: comments dropped, backslash continuations joined. */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) continue;
    if (pending !== '' && line.startsWith('#')) continue; // comments inside a continuation
    if (line.endsWith('\\')) { pending += line.slice(0, -1) + ' '; continue; }
    const full = (pending + line).trim();
    pending = '';
    const m = /^(\S+)\s*(.*)$/.exec(full)!;
    out.push({ keyword: m[1]!.toUpperCase(), rest: m[2]! });
  }
  return out;
}

/** Words of an ENV/COPY line: whitespace-separated, with "double" or 'single' quotes and backslash escapes. */
function words(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote = '';
  let any = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quote !== '') {
      if (c === quote) quote = '';
      else if (c === '\\' && quote === '"' && i + 1 < s.length) cur += s[++i];
      else cur += c;
    } else if (c === '"' || c === "'") { quote = c; any = true; }
    else if (c === '\\' && i + 1 < s.length) { cur += s[++i]; any = true; }
    else if (/\s/.test(c)) { if (any || cur !== '') out.push(cur); cur = ''; any = false; }
    else cur += c;
  }
  if (any || cur !== '') out.push(cur);
  return out;
}

/** ENV KEY=VALUE [KEY=VALUE...] or the legacy ENV KEY VALUE. */
function parseEnv(rest: string): Array<[string, string]> {
  const w = words(rest);
  if (w.length >= 1 && !w[0]!.includes('=')) return [[w[0]!, rest.trim().slice(w[0]!.length).trim()]];
  return w.map((kv) => { const i = kv.indexOf('='); return [kv.slice(0, i), kv.slice(i + 1)]; });
}

/** The exec (JSON array) form of ENTRYPOINT/CMD; anything else is an error. */
function execForm(rest: string, what: string): string[] {
  let v: unknown;
  try { v = JSON.parse(rest); } catch { throw new Error(`${what} is not in exec form (a JSON array): ${rest}`); }
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new Error(`${what} is not a JSON array of strings`);
  return v as string[];
}

interface Image {
  from: string;
  env: Record<string, string>;
  workdir: string;
  user: string | undefined;
  stopSignal: string | undefined;
  entrypoint: string[];
  cmd: string[];
  runs: string[];
  copies: Array<{ sources: string[]; dest: string; workdir: string }>;
}

function readImage(file: string): Image {
  const img: Image = { from: '', env: {}, workdir: '/', user: undefined, stopSignal: undefined, entrypoint: [], cmd: [], runs: [], copies: [] };
  for (const { keyword, rest } of parseDockerfile(readFileSync(file, 'utf8'))) {
    switch (keyword) {
      case 'FROM': img.from = rest.trim(); break;
      case 'ENV': for (const [k, v] of parseEnv(rest)) img.env[k] = v; break;
      case 'WORKDIR': img.workdir = path.posix.resolve(img.workdir, rest.trim()); break;
      case 'USER': img.user = rest.trim(); break;
      case 'STOPSIGNAL': img.stopSignal = rest.trim(); break;
      case 'ENTRYPOINT': img.entrypoint = execForm(rest, 'ENTRYPOINT'); break;
      case 'CMD': img.cmd = execForm(rest, 'CMD'); break;
      case 'RUN': img.runs.push(rest); break;
      case 'COPY': {
        const w = words(rest).filter((x) => !x.startsWith('--'));
        img.copies.push({ sources: w.slice(0, -1), dest: w[w.length - 1]!, workdir: img.workdir });
        break;
      }
      default: break;
    }
  }
  return img;
}

const DOCKERFILE = path.join(ROOT, 'Dockerfile.example');
/** Users of the official node images. */
const USERS: Record<string, number> = { root: 0, node: 1000 };
/** Docker's default stop timeout (docker stop, Compose), seconds. */
const DOCKER_STOP_TIMEOUT = 10;

const image = readImage(DOCKERFILE);
const pkgVersion = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

describe('Dockerfile.example', () => {
  it('starts tsinit as PID 1 in exec form, with the app as CMD', () => {
    expect(image.entrypoint).toEqual(['tsinit', '--']);
    expect(image.cmd.length).toBeGreaterThan(0);
    expect(image.cmd[0]).toBe('node');
  });

  it('uses a slim base, installs this version of node-tsinit globally from the registry, runs as a non-root user', () => {
    expect(image.from).toMatch(/^node:\d+-[a-z]+-slim$/);
    expect(image.runs.some((r) => new RegExp(`npm install (--global|-g) node-tsinit@${pkgVersion.replace(/\./g, '\\.')}(\\s|$)`).test(r))).toBe(true);
    expect(image.user).toBeDefined();
    expect(USERS[image.user!]).toBeGreaterThan(0);
  });

  it('names a stop signal and keeps tsinit\'s grace below Docker\'s default stop timeout', () => {
    expect(image.stopSignal).toBeDefined();
    expect(parseSignal(image.stopSignal!)).toBeDefined();
    const grace = Number(image.env['TSINIT_GRACE'] ?? 30);
    expect(grace).toBeLessThan(DOCKER_STOP_TIMEOUT);
  });
});
