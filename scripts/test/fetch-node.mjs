#!/usr/bin/env node
// Fetches official Node.js binaries, published on the npm registry as the
// packages node-linux-<arch>@<version>, into a cache outside git and prints
// the bin directory of each, one per line (put it first in PATH to run
// tsinit and the test suite under that Node).
//
//   node scripts/test/fetch-node.mjs [--arch x64|arm64] VERSION...
//
// VERSION is exact (22.23.5) or a major (22: newest 22.x on the registry).
// Without VERSION it fetches the versions the project tests on (DEFAULTS).
// The cache is node_modules/.cache/tsinit-node/ (already git-ignored) or
// $TSINIT_NODE_CACHE. A fetched version is reused; the tarball is downloaded
// with `npm pack`, which checks the registry's integrity hash.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The Node versions beside this machine's Node 20 that the suite must pass on. */
export const DEFAULTS = ['22.23.5', '24.22.3', '26.12.1'];

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CACHE = process.env.TSINIT_NODE_CACHE || path.join(ROOT, 'node_modules', '.cache', 'tsinit-node');

function npm(args) {
  return execFileSync('npm', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
}

/** Resolves a major ("22") to the newest published x.y.z of that package. */
function resolve(pkg, spec) {
  if (/^\d+\.\d+\.\d+$/.test(spec)) return spec;
  if (!/^\d+$/.test(spec)) throw new Error(`not a version or a major: ${spec}`);
  const out = JSON.parse(npm(['view', `${pkg}@${spec}`, 'version', '--json']));
  const all = Array.isArray(out) ? out : [out];
  if (all.length === 0) throw new Error(`${pkg}@${spec}: no such version`);
  const key = (v) => v.split('.').map(Number);
  all.sort((a, b) => { const x = key(a), y = key(b); return x[0] - y[0] || x[1] - y[1] || x[2] - y[2]; });
  return all[all.length - 1];
}

/** Makes sure node-linux-<arch>@<version> is in the cache; returns its bin directory. */
export function fetchNode(spec, arch = 'x64') {
  const pkg = `node-linux-${arch}`;
  const version = resolve(pkg, String(spec));
  const dir = path.join(CACHE, `linux-${arch}`, version);
  const bin = path.join(dir, 'bin');
  if (existsSync(path.join(bin, 'node'))) return bin;
  mkdirSync(path.dirname(dir), { recursive: true });
  const tmp = mkdtempSync(path.join(path.dirname(dir), `.${version}-`));
  try {
    const [packed] = JSON.parse(npm(['pack', `${pkg}@${version}`, '--json', '--pack-destination', tmp]));
    // Keep the binary, its headers (a nodedir for node-gyp) and its license.
    execFileSync('tar', ['-xzf', path.join(tmp, packed.filename), '-C', tmp, '--strip-components=1',
      'package/bin/node', 'package/include', 'package/LICENSE'], { stdio: 'inherit' });
    rmSync(path.join(tmp, packed.filename));
    chmodSync(tmp, 0o755); // mkdtemp made it 0700: other users (tests that drop root) run this Node too
    renameSync(tmp, dir);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  return bin;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  let arch = 'x64';
  const i = args.indexOf('--arch');
  if (i >= 0) { arch = args[i + 1]; args.splice(i, 2); }
  if (arch !== 'x64' && arch !== 'arm64') {
    console.error(`fetch-node: --arch must be x64 or arm64, not ${arch}`);
    process.exit(2);
  }
  try {
    for (const v of args.length > 0 ? args : DEFAULTS) console.log(fetchNode(v, arch));
  } catch (err) {
    console.error(`fetch-node: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}
