/**
 * A missing or unloadable native addon: the CLI prints one line that says
 * what to do and exits 1 (no stack trace, no child started); the library
 * throws an Error whose message is that one line, with code ERR_TSINIT_NATIVE.
 * The package (bin/, dist/, package.json, node-gyp-build beside it) is
 * copied to a temporary directory without build/ or prebuilds/.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { killAll, ROOT, startBounded } from '../support/helpers';

afterEach(killAll);

let pkg: string;
beforeAll(() => {
  pkg = path.join(mkdtempSync(path.join(os.tmpdir(), 'tsinit-noaddon-')), 'node-tsinit');
  for (const p of ['bin', 'dist', 'package.json']) cpSync(path.join(ROOT, p), path.join(pkg, p), { recursive: true });
  cpSync(path.join(ROOT, 'node_modules', 'node-gyp-build'), path.join(pkg, 'node_modules', 'node-gyp-build'), { recursive: true });
});
afterAll(() => rmSync(path.dirname(pkg), { recursive: true, force: true }));

/** The environment without anything that steers the addon's loader or Node. */
function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const e = { ...process.env, ...extra };
  for (const k of ['PREBUILDS_ONLY', 'LIBC', ...(extra.NODE_OPTIONS === undefined ? ['NODE_OPTIONS'] : [])]) delete e[k];
  return e;
}

const ONE_LINE_MISSING = /^tsinit: node-tsinit's native addon is missing \(no build and no prebuilt binary for linux-\w+, Node [\d.]+\): install a C\+\+ compiler, make and python3 \(.*\), then run npm rebuild node-tsinit\n$/;

describe('the CLI without its addon', () => {
  it('prints exactly one line that says what to do, exits 1, and starts no child', async () => {
    const marker = path.join(path.dirname(pkg), 'child-ran');
    const r = await startBounded(path.join(pkg, 'bin', 'tsinit'), ['--', 'sh', '-c', `: > ${marker}`], { env: env() }).result;
    expect(r.stderr).toMatch(ONE_LINE_MISSING);
    expect(r.stdout).toBe('');
    expect(r.code).toBe(1);
    expect(existsSync(marker)).toBe(false);
  });

  it('the same as `node bin/tsinit` with NODE_OPTIONS set (the re-exec path needs the addon on Node < 22.15)', async () => {
    const r = await startBounded(process.execPath, [path.join(pkg, 'bin', 'tsinit'), '--', 'true'], { env: env({ NODE_OPTIONS: '--no-warnings' }) }).result;
    expect(r.stderr).toMatch(ONE_LINE_MISSING);
    expect(r.code).toBe(1);
  });

  it('an addon that is there but cannot be loaded: one line naming it and why, exit 1', async () => {
    const broken = path.join(path.dirname(pkg), 'broken');
    cpSync(pkg, broken, { recursive: true });
    mkdirSync(path.join(broken, 'build', 'Release'), { recursive: true });
    writeFileSync(path.join(broken, 'build', 'Release', 'tsinit.node'), 'not an ELF file\n');
    const r = await startBounded(path.join(broken, 'bin', 'tsinit'), ['--', 'true'], { env: env() }).result;
    expect(r.stderr).toMatch(/^tsinit: node-tsinit's native addon \S+\/build\/Release\/tsinit\.node cannot be loaded \(linux-\w+, Node [\d.]+: [^\n]+\): install a C\+\+ compiler[^\n]*npm rebuild node-tsinit\n$/);
    expect(r.code).toBe(1);
  });

  it('--version and --help still work', async () => {
    const r = await startBounded(path.join(pkg, 'bin', 'tsinit'), ['--version'], { env: env() }).result;
    expect(r.stdout).toMatch(/^tsinit \d+\.\d+\.\d+/);
    expect(r.code).toBe(0);
  });
});

describe('the library without its addon', () => {
  const script = [
    "const lib = require(process.argv[1]);",
    "let out;",
    "try { lib.spawn('true'); out = { threw: false }; }",
    "catch (e) { out = { threw: true, name: e.name, code: e.code, message: e.message, isError: e instanceof Error }; }",
    "process.stdout.write(JSON.stringify(out));",
  ].join('\n');

  it('spawn() throws an Error with code ERR_TSINIT_NATIVE whose message is one line saying what to do', async () => {
    const r = await startBounded(process.execPath, ['-e', script, path.join(pkg, 'dist', 'index.js')], { env: env() }).result;
    const out = JSON.parse(r.stdout) as { threw: boolean; name: string; code: string; message: string; isError: boolean };
    expect(out).toMatchObject({ threw: true, name: 'NativeLoadError', code: 'ERR_TSINIT_NATIVE', isError: true });
    expect(`tsinit: ${out.message}\n`).toMatch(ONE_LINE_MISSING);
  });

  it('loading the library alone does not need the addon', async () => {
    const r = await startBounded(process.execPath, ['-e', "const l = require(process.argv[1]); process.stdout.write(String(l.signals.SIGTERM))",
      path.join(pkg, 'dist', 'index.js')], { env: env() }).result;
    expect(r.stdout).toBe('15');
    expect(r.code).toBe(0);
  });
});
