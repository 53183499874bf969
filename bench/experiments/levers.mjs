#!/usr/bin/env node
/*
 * Measures the footprint levers side by side with bench/run.mjs variants:
 *
 *   node bench/experiments/levers.mjs path    start-up path: /bin/sh step, bundle, lazy
 *                                 built-ins, direct addon load, V8 snapshot
 *   node bench/experiments/levers.mjs flags   node flags on the exec line
 *   node bench/experiments/levers.mjs exit    exit latency: process.exit() against _exit(2) (exitNow)
 *   node bench/experiments/levers.mjs reap    reap throughput with and without --jitless
 *   node bench/experiments/levers.mjs tiers   V8's optimising tiers (--max-opt, --no-opt, --jitless)
 *                                 on the lean bundle: the storm's one-time growth
 *   node bench/experiments/levers.mjs launcher  start-up through bin/tsinit without the start-up
 *                                 launcher, with the local (dynamic) one, and with the
 *                                 prebuilds' static one (zig, as scripts/build/prebuild.sh)
 *   node bench/experiments/levers.mjs list    print the variants and build what they need
 *   ... --tree DIR                measure the tsinit in DIR (its bin/, dist/, build/)
 *                                 instead of this checkout's
 *   ... --freeze                  first copy this checkout (bin, tsc of src, the built
 *                                 addon) to bench/results/tree and measure that, so
 *                                 edits made meanwhile do not mix into one run
 *   ... --quick                   passed on to bench/run.mjs
 *
 * Experimental builds go to bench/results/levers/GROUP/ (ignored): they stub or
 * rewire modules to show what a source change would buy before anyone makes
 * it. Nothing here is what tsinit ships.
 */
import { build } from 'esbuild';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.join(HERE, '..', '..');
const NODE = process.execPath;
const [group = 'list', ...rest] = process.argv.slice(2);
// One directory per group, so two groups never rebuild each other's files mid-run.
const OUT = path.join(HERE, '..', 'results', 'levers', group);
mkdirSync(OUT, { recursive: true });
let TREE = ROOT;
const treeAt = rest.indexOf('--tree');
if (treeAt >= 0) { TREE = path.resolve(rest[treeAt + 1]); rest.splice(treeAt, 2); }
const freezeAt = rest.indexOf('--freeze');
if (freezeAt >= 0) { rest.splice(freezeAt, 1); TREE = freeze(path.join(HERE, '..', 'results', 'tree')); }
const DIST = path.join(TREE, 'dist');

function freeze(tree) {
  rmSync(tree, { recursive: true, force: true });
  mkdirSync(path.join(tree, 'build', 'Release'), { recursive: true });
  for (const f of ['bin', 'package.json', 'LICENSE']) cpSync(path.join(ROOT, f), path.join(tree, f), { recursive: true });
  cpSync(path.join(ROOT, 'build', 'Release', 'tsinit.node'), path.join(tree, 'build', 'Release', 'tsinit.node'));
  // A copy, not a symlink: resolving through a symlinked node_modules is enough
  // extra start-up work to get V8's optimising compiler paged in (+4 MiB RSS).
  cpSync(path.join(ROOT, 'node_modules', 'node-gyp-build'), path.join(tree, 'node_modules', 'node-gyp-build'), { recursive: true });
  execFileSync(NODE, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(ROOT, 'tsconfig.json'),
    '--outDir', path.join(tree, 'dist')], { stdio: 'inherit' });
  return tree;
}

/**
 * Stand-ins that load a built-in only when called, for the names the CLI's
 * modules import (a missing name fails the build, so this list cannot go
 * stale silently). ES modules, so esbuild's interop never touches the real one.
 */
const LAZY = {
  'node:net': 'export function Socket(...a) { return new (require("node:net").Socket)(...a); }\n',
  'node:stream': 'export function finished(...a) { return require("node:stream").finished(...a); }\n',
};

/**
 * esbuild plugin for the "lean" experiment:
 *  - node:net, node:stream load on first use (≡ importing them inside the
 *    library-only functions that create pipes);
 *  - node:tty's isatty answers true (≡ deleting `isatty(0) &&` in init.ts:
 *    tcgetpgrp(0) already returns -1 on anything but a terminal);
 *  - optionally node-gyp-build is replaced by a direct require of the local
 *    build or the exact prebuild (≡ a fast path in src/native.ts).
 */
function leanPlugin({ fastAddon, snapshot }) {
  return {
    name: 'lean',
    setup(b) {
      b.onResolve({ filter: /^node:(net|stream)$/ }, (a) =>
        a.namespace === 'lazy' ? { path: a.path, external: true } : { path: a.path, namespace: 'lazy' });
      b.onLoad({ filter: /.*/, namespace: 'lazy' }, (a) => ({ contents: LAZY[a.path], loader: 'js' }));
      b.onResolve({ filter: /^node:tty$/ }, () => ({ path: 'tty', namespace: 'notty' }));
      b.onLoad({ filter: /.*/, namespace: 'notty' }, () => ({ contents: 'exports.isatty = () => true;\n', loader: 'js' }));
      if (fastAddon) {
        // Inside a V8 start-up snapshot require() knows built-ins only: use createRequire there.
        const req = snapshot ? "require('node:module').createRequire(path.join(dir, 'package.json'))" : 'require';
        b.onResolve({ filter: /^node-gyp-build$/ }, () => ({ path: 'ngb', namespace: 'fastaddon' }));
        b.onLoad({ filter: /.*/, namespace: 'fastaddon' }, () => ({
          loader: 'js',
          contents: `const fs = require('node:fs'), path = require('node:path');
module.exports = function load(dir) {
  const req = ${req};
  const local = path.join(dir, 'build', 'Release', 'tsinit.node');
  if (fs.existsSync(local)) return req(local);
  return req(path.join(dir, 'prebuilds', process.platform + '-' + process.arch, 'tsinit.glibc.node'));
};
`,
        }));
      }
    },
  };
}

async function bundle(outfile, { lean = false, fastAddon = false, snapshot = false } = {}) {
  await build({
    absWorkingDir: ROOT,
    entryPoints: ['src/cli.ts'],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    legalComments: 'none',
    logLevel: 'error',
    // Outside dist/, so point __dirname back at it (package.json, addon).
    define: { __dirname: JSON.stringify(DIST) },
    plugins: lean ? [leanPlugin({ fastAddon, snapshot })] : [],
    footer: { js: snapshot ? '' : 'if (require.main === module) module.exports.main();' },
  });
  if (snapshot) {
    // The snapshot builder runs the entry with require (built-ins only),
    // __filename and __dirname, without module/exports.
    const code = readFileSync(outfile, 'utf8');
    writeFileSync(outfile,
      'var module = { exports: {} }, exports = module.exports;\n' + code +
      '\nrequire("v8").startupSnapshot.setDeserializeMainFunction(() => module.exports.main(process.argv.slice(1)));\n');
  }
  return outfile;
}

/**
 * The bundle with main()'s final `native().exitNow(code)` (_exit(2)) put back
 * to `process.exit(code)` (Node's teardown: exit handlers, V8, its threads).
 */
function processExitBundle(bundled) {
  const code = readFileSync(bundled, 'utf8');
  const needle = 'native().exitNow(code);';
  if (code.split(needle).length !== 2) throw new Error(`cannot find "${needle}" exactly once in ${bundled}: update processExitBundle() in bench/experiments/levers.mjs`);
  const out = path.join(OUT, 'process-exit.cjs');
  writeFileSync(out, code.replace(needle, 'process.exit(code);'));
  return out;
}

function snapshotBlob(entry, blob) {
  const r = spawnSync(NODE, ['--snapshot-blob', blob, '--build-snapshot', entry], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`snapshot build failed: ${r.stderr}`);
  return blob;
}

/**
 * Three copies of the tree's bin/tsinit and addon that differ only in the
 * launcher beside the addon: none, the local build's (dynamic, glibc), and a
 * static musl one built with zig as the prebuilds ship it. Each copy is its
 * own package root, so the sh lines' -ef check finds it.
 */
function launcherTrees() {
  const zig = execFileSync(NODE, [path.join(ROOT, 'scripts', 'build', 'check-musl.mjs'), '--fetch'], { encoding: 'utf8' }).trim();
  const out = {};
  for (const kind of ['none', 'dynamic', 'static']) {
    const tree = path.join(OUT, kind);
    rmSync(tree, { recursive: true, force: true });
    mkdirSync(path.join(tree, 'build', 'Release'), { recursive: true });
    for (const f of ['bin', 'dist', 'package.json']) cpSync(path.join(TREE, f), path.join(tree, f), { recursive: true });
    cpSync(path.join(ROOT, 'node_modules', 'node-gyp-build'), path.join(tree, 'node_modules', 'node-gyp-build'), { recursive: true });
    cpSync(path.join(TREE, 'build', 'Release', 'tsinit.node'), path.join(tree, 'build', 'Release', 'tsinit.node'));
    const launcher = path.join(tree, 'build', 'Release', 'tsinit-launch');
    if (kind === 'dynamic') cpSync(path.join(TREE, 'build', 'Release', 'tsinit-launch'), launcher);
    if (kind === 'static') {
      const cache = path.join(path.dirname(path.dirname(zig)), 'zig-cache');
      const target = process.arch === 'arm64' ? 'aarch64-linux-musl' : 'x86_64-linux-musl';
      execFileSync(zig, ['cc', '-target', target, '-static', '-Os', '-s', '-std=c11', '-o', launcher, path.join(ROOT, 'native', 'launch.c')],
        { env: { ...process.env, ZIG_GLOBAL_CACHE_DIR: cache, ZIG_LOCAL_CACHE_DIR: cache }, stdio: ['ignore', 'ignore', 'inherit'] });
    }
    out[kind] = path.join(tree, 'bin', 'tsinit');
  }
  return out;
}

/** What the group measures, built only for it. */
async function prepare() {
  if (group === 'launcher') return { trees: launcherTrees() };
  const launcher = path.join(OUT, 'launcher.cjs');
  writeFileSync(launcher, `require(${JSON.stringify(path.join(DIST, 'cli.js'))}).main();\n`);
  const bundled = await bundle(path.join(OUT, 'bundle.cjs'));
  const lean = await bundle(path.join(OUT, 'lean.cjs'), { lean: true });
  const leanFast = await bundle(path.join(OUT, 'lean-fast.cjs'), { lean: true, fastAddon: true });
  const snapEntry = await bundle(path.join(OUT, 'snap-entry.cjs'), { lean: true, fastAddon: true, snapshot: true });
  const blob = snapshotBlob(snapEntry, path.join(OUT, 'lean-fast.blob'));
  const processExit = processExitBundle(bundled);
  if (!existsSync(blob)) throw new Error('no snapshot blob');
  return { lean, leanFast, blob, bundled, processExit, launcher };
}

function variants(b) {
  if (group === 'path') {
    return [
      // bin/tsinit itself is the "tsinit" column.
      ['no-sh', `${NODE} ${b.launcher} --`],                 // same JS, no /bin/sh step
      ['bundle', `${NODE} ${b.bundled} --`],                 // dist/tsinit.cjs
      ['lean', `${NODE} ${b.lean} --`],                       // + lazy net/stream, no tty
      ['lean+addon', `${NODE} ${b.leanFast} --`],             // + direct addon load
      ['snapshot', `${NODE} --snapshot-blob ${b.blob} --`],   // + V8 start-up snapshot
    ];
  }
  if (group === 'flags') {
    const on = (flags) => `${NODE} ${flags} ${b.launcher} --`.replace(/\s+/g, ' ');
    return [
      ['plain', on('')],
      ['semi1', on('--max-semi-space-size=1')],
      ['pool1', on('--v8-pool-size=1')],
      ['1thread', on('--single-threaded')],
      // --no-expose-wasm: without it Node 20 and 22 warn on stderr that --jitless
      // disabled it (Node 24 rejects --no-expose-wasm: not for the exec line).
      ['jitless', on('--jitless --no-expose-wasm')],
      ['lite', on('--lite-mode --no-expose-wasm')],
      ['old32', on('--max-old-space-size=32')],
      ['combo', on('--v8-pool-size=1 --max-semi-space-size=1 --jitless --no-expose-wasm')],
    ];
  }
  if (group === 'launcher') {
    return [
      ['no-launcher', `${b.trees.none} --`],
      ['launcher-dynamic', `${b.trees.dynamic} --`],
      ['launcher-static', `${b.trees.static} --`],
    ];
  }
  if (group === 'tiers') {
    const on = (flags) => `${NODE} ${flags} ${b.leanFast} --`.replace(/\s+/g, ' ');
    return [
      ['lean', on('')],
      ['maxopt2', on('--max-opt=2')],
      ['maxopt1', on('--max-opt=1')],
      ['maxopt0', on('--max-opt=0')],
      ['no-opt', on('--no-opt')],
      ['jitless', on('--jitless --no-expose-wasm')],
    ];
  }
  if (group === 'reap') {
    return [
      ['plain', `${NODE} ${b.launcher} --`],
      ['jitless', `${NODE} --jitless --no-expose-wasm ${b.launcher} --`],
    ];
  }
  if (group === 'exit') {
    return [
      ['process.exit', `${NODE} ${b.processExit} --`],
      ['_exit', `${NODE} ${b.bundled} --`],
    ];
  }
  return [];
}

const built = await prepare();
const vs = variants(built);
if (group === 'list' || vs.length === 0) {
  for (const g of ['path', 'flags', 'tiers', 'exit', 'reap', 'launcher']) process.stdout.write(`${g}: see variants() in bench/experiments/levers.mjs\n`);
  process.stdout.write(`built: ${JSON.stringify(built, null, 1)}\n`);
  process.exit(0);
}
const metrics = {
  path: 'startup,launch,idle', flags: 'startup,idle,storm,forward', tiers: 'startup,idle,storm,forward',
  exit: 'launch', reap: 'reap', launcher: 'startup,launch',
}[group];
const peers = ['tini', 'node -e 0'];
const args = [path.join(HERE, '..', 'run.mjs'), '--tsinit', path.join(TREE, 'bin', 'tsinit'), '--only',
  ['tsinit', ...peers, ...vs.map(([n]) => n)].join(','),
  '--metrics', metrics, '--json', path.join(HERE, '..', 'results', `levers-${group}.json`), ...rest];
for (const [n, cmd] of vs) args.push('--variant', `${n}=${cmd}`);
const r = spawnSync(NODE, args, { stdio: 'inherit' });
process.exit(r.status ?? 1);
