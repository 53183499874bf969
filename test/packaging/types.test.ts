/**
 * The package's entry points: `node-tsinit` and `node-tsinit/register`, importable from
 * ESM and CommonJS, typed, and one module instance whichever way it is loaded.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runJson } from '../support/library-helpers';

const ROOT = path.join(__dirname, '..', '..');

describe('entry points', () => {
  it('a consumer using every export type-checks, from ESM (.mts) and from CommonJS (.cts), with stream types that follow stdio', () => {
    const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const r = spawnSync(process.execPath, [tsc, '-p', path.join(ROOT, 'test', 'support', 'fixtures', 'types', 'tsconfig.json')], { encoding: 'utf8', timeout: 230_000 });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  }, 240_000); // tsc alone takes ~10 s of CPU; the shared machine may be slower

  it('the tests themselves type-check under the same strict options (test/tsconfig.json), against the built package', () => {
    // A type error in a test is often a test defect: an it.each callback that
    // expects a context (only it.for passes one) never skips, it crashes.
    const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const r = spawnSync(process.execPath, [tsc, '-p', path.join(ROOT, 'test', 'tsconfig.json')], { encoding: 'utf8', timeout: 230_000 });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  }, 240_000);

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

/**
 * A consumer project in a temporary directory, as an application sees the
 * package: node_modules/node-tsinit holds what package.json "files" ships
 * (built), and @types/node is this repository's. Each check is one tsc run.
 */
describe('as a consumer project sees the package', () => {
  let app: string;
  const tsc = (project: string): { out: string; status: number | null } => {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(app, project)],
      { encoding: 'utf8', timeout: 230_000 });
    return { out: r.stdout + r.stderr, status: r.status };
  };
  const tsconfig = (name: string, compilerOptions: Record<string, unknown>, files: string[]): void => {
    writeFileSync(path.join(app, name), JSON.stringify({
      compilerOptions: { target: 'ES2022', lib: ['ES2022'], types: ['node'], strict: true, noEmit: true, skipLibCheck: false, ...compilerOptions },
      files,
    }, null, 1));
  };

  beforeAll(() => {
    app = mkdtempSync(path.join(os.tmpdir(), 'tsinit-consumer-'));
    const pkg = path.join(app, 'node_modules', 'node-tsinit');
    const files = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { files: string[] }).files;
    for (const f of ['package.json', ...files]) {
      if (existsSync(path.join(ROOT, f))) cpSync(path.join(ROOT, f), path.join(pkg, f), { recursive: true });
    }
    mkdirSync(path.join(app, 'node_modules', '@types'));
    symlinkSync(path.join(ROOT, 'node_modules', '@types', 'node'), path.join(app, 'node_modules', '@types', 'node'));
    writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', private: true }));
  });
  afterAll(() => { if (app) rmSync(app, { recursive: true, force: true }); });

  it("'node-tsinit' and 'node-tsinit/register' resolve with their types under module commonjs + moduleResolution node10", () => {
    writeFileSync(path.join(app, 'node10.ts'), [
      "import { spawn, startReaper, type Reaper, type SpawnOptions } from 'node-tsinit';",
      "import { reaper } from 'node-tsinit/register';",
      "import register = require('node-tsinit/register');",
      "const child = spawn('cat', [], { stdio: 'pipe' });",
      "child.stdout.on('data', (d: Buffer) => process.stdout.write(d));",
      "const r: Reaper | undefined = reaper ?? register.reaper;",
      "const o: SpawnOptions = { timeout: 1000 };",
      '// @ts-expect-error reaper is a Reaper or undefined, not a number (the types are not any)',
      'const n: number = reaper;',
      'void [r, o, n, startReaper];',
    ].join('\n'));
    tsconfig('tsconfig.node10.json', { module: 'commonjs', moduleResolution: 'node10' }, ['node10.ts']);
    expect(tsc('tsconfig.node10.json')).toEqual({ out: '', status: 0 });
  }, 240_000);

  it("the README's TypeScript examples compile under strict", () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const blocks = [...readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
    expect(blocks.length).toBeGreaterThanOrEqual(4);
    const files = blocks.map((code, i) => {
      const name = `readme-${i + 1}.mts`;
      writeFileSync(path.join(app, name), code);
      return name;
    });
    tsconfig('tsconfig.readme.json', { module: 'nodenext', moduleResolution: 'nodenext' }, files);
    expect(tsc('tsconfig.readme.json')).toEqual({ out: '', status: 0 });
  }, 240_000);
});
