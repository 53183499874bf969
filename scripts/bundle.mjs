#!/usr/bin/env node
/*
 * Bundles the CLI into one CommonJS file, dist/tsinit.cjs: src/cli.ts and
 * every module it imports, plus node-gyp-build, so starting tsinit reads and
 * compiles one file instead of resolving and loading a dozen.
 *
 * The file keeps dist/'s place in the tree (the addon and package.json are
 * found from __dirname/..), exports what src/cli.ts exports, and runs main()
 * itself when started directly (`node dist/tsinit.cjs -- PROGRAM`).
 *
 *   node scripts/bundle.mjs            write dist/tsinit.cjs
 *   node scripts/bundle.mjs --analyze  also print what went into it
 */
import { build } from 'esbuild';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const analyze = process.argv.includes('--analyze');

const result = await build({
  absWorkingDir: ROOT,
  entryPoints: ['src/cli.ts'],
  outfile: 'dist/tsinit.cjs',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  // Node's own modules stay require()s; everything else is inlined.
  packages: 'bundle',
  // Readable stack traces in PID 1 matter more than a few kilobytes: no
  // minifying, so functions keep their own names without keepNames' wrappers.
  minify: false,
  legalComments: 'none',
  metafile: analyze,
  logLevel: 'warning',
  footer: { js: 'if (require.main === module) module.exports.main();' },
});

if (analyze) {
  const { analyzeMetafile } = await import('esbuild');
  process.stdout.write(await analyzeMetafile(result.metafile));
}
