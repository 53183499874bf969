/**
 * Dockerfile.example, run without a Docker engine: its ENTRYPOINT and CMD,
 * with its ENV, WORKDIR, COPY, USER and STOPSIGNAL, parsed from the file and
 * run as PID 1 of fresh PID and mount namespaces against a global install of
 * the packed tarball (standing in for the RUN line's install from the registry).
 */
import { chmodSync, cpSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, findOnPath, killStarted, mustRun, packForRelease, ROOT, slimBin, startCommand, type Packed } from './pack-helpers';
import { parseSignal } from '../src/signals';

afterEach(killStarted);

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
const CONTEXT = path.join(ROOT, 'test', 'fixtures', 'docker');
const UNSHARE = findOnPath('unshare') ?? '/usr/bin/unshare';
const SETPRIV = findOnPath('setpriv') ?? '/usr/bin/setpriv';
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

describe('Dockerfile.example\'s ENTRYPOINT and CMD, run against the packed tarball', () => {
  let packed: Packed;
  let prefix: string;
  let rootfs: string;
  let slim: string;

  beforeAll(async () => {
    packed = await packForRelease();
    chmodSync(packed.tmp, 0o755); // the image's user must reach the install
    slim = slimBin(path.join(packed.tmp, 'slim-bin'));
    prefix = path.join(packed.tmp, 'usr-local');
    // The RUN line's `npm install --global node-tsinit@VERSION`, from the tarball, with no compiler on PATH.
    await mustRun('npm', ['install', '--global', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', packed.tarball],
      { env: cleanEnv({ PATH: slim }), timeoutMs: 180_000 });
    // The COPY lines, from the build context into a stand-in for the image's filesystem.
    rootfs = path.join(packed.tmp, 'rootfs');
    for (const c of image.copies) {
      const dest = path.join(rootfs, path.posix.resolve(c.workdir, c.dest));
      mkdirSync(dest, { recursive: true });
      for (const s of c.sources) cpSync(path.join(CONTEXT, s), path.join(dest, path.basename(s)));
    }
    mkdirSync(path.join(rootfs, image.workdir), { recursive: true });
    chmodSync(rootfs, 0o755);
  }, 320_000);
  afterAll(() => packed?.remove());

  it('copies what the service needs', () => {
    expect(readdirSync(path.join(rootfs, image.workdir)).sort()).toEqual(['package-lock.json', 'package.json', 'server.js']);
  });

  it('serves as a non-root child of tsinit (PID 1), then stops cleanly on STOPSIGNAL with status 0', async () => {
    const uid = USERS[image.user!]!;
    // The container's environment: its PATH (global bin first) plus the ENV lines.
    // PORT=0 stands for `docker run -e PORT=...`: a free port on this shared host.
    const env: NodeJS.ProcessEnv = { PATH: `${path.join(prefix, 'bin')}:${slim}`, HOME: '/tmp', ...image.env, PORT: '0' };
    const argv = [...image.entrypoint, ...image.cmd];
    const c = startCommand(UNSHARE, ['--pid', '--fork', '--mount-proc', '--kill-child',
      SETPRIV, `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', ...argv],
    { cwd: path.join(rootfs, image.workdir), env, timeoutMs: 60_000 });
    const port = Number((await c.waitFor(/listening on (\d+)/, 30_000))[1]);

    const body = await new Promise<string>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: '/', timeout: 10_000 }, (res) => {
        let b = '';
        res.on('data', (d: Buffer) => { b += d.toString(); });
        res.on('end', () => resolve(b));
      }).on('error', reject);
    });
    const info = JSON.parse(body) as { ppid: number; uid: number; pid1: string; env: { NODE_ENV: string; NODE_OPTIONS: string | null } };
    expect(info.ppid).toBe(1);
    expect(info.pid1).toMatch(/\/bin\/tsinit -- node server\.js$/);
    expect(info.uid).toBe(uid);
    expect(info.env.NODE_ENV).toBe(image.env['NODE_ENV']);
    expect(info.env.NODE_OPTIONS).toBe(image.env['NODE_OPTIONS'] ?? null);

    // `docker stop`: STOPSIGNAL to PID 1 (tsinit's pid on this side of the namespace).
    const tsinitPid = Number(readFileSync(`/proc/${c.proc.pid}/task/${c.proc.pid}/children`, 'utf8').trim().split(' ')[0]);
    expect(tsinitPid).toBeGreaterThan(0);
    process.kill(tsinitPid, parseSignal(image.stopSignal!)!);
    const r = await c.result;
    expect(r.timedOut).toBe(false);
    expect(r.stdout).toMatch(/SIGTERM: closing\s+closed/);
    expect(r.code, r.stdout + r.stderr).toBe(0);
  });
});
