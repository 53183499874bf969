#!/usr/bin/env node
/*
 * tsinit benchmark: tsinit beside tini, dumb-init and catatonit (whichever are
 * installed), with `node -e 0` and a C floor (`/bin/true` for start-up, the
 * measuring helper itself elsewhere) in the same run. Linux; the reap figure
 * needs root (a PID namespace); cc builds the helper.
 *
 *   npm run bench                 full run (3 to 5 minutes on a 2-core machine)
 *   npm run bench -- --quick      fewer repetitions (1 to 2 minutes)
 *
 * Options:
 *   --quick                 fewer repetitions
 *   --only a,b              only these subjects (names as in the table)
 *   --metrics m1,m2         only these metrics: startup launch idle forward reap storm load prefix
 *                           (load: the library's load time, require and import,
 *                           e.g. `npm run bench -- --metrics load`;
 *                           prefix: --procfile's line prefixing, MB/s through tsinit, its own table)
 *   --variant 'NAME=CMD'    an extra init under test, CMD split on spaces, run as
 *                           `CMD PROGRAM ARGS...` (e.g. 'bundle=node dist/tsinit.cjs --')
 *   --tsinit PATH           the tsinit to run (default bin/tsinit of this checkout)
 *   --json FILE             also write the JSON here (default bench/results/latest.json)
 *
 * Figures come from bench/helper.c (compiled here with cc into
 * bench/results/bin/): it starts each init with posix_spawn, times with
 * CLOCK_MONOTONIC, and is also the child the inits run, so no figure includes
 * Node's own start-up as the harness.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.join(HERE, '..');
const RESULTS = path.join(HERE, 'results');
const HELPER_SRC = path.join(HERE, 'helper.c');
const HELPER = path.join(RESULTS, 'bin', 'helper');
let TSINIT = path.join(ROOT, 'bin', 'tsinit');

// ------------------------------------------------------------------ options

const args = process.argv.slice(2);
const opt = { quick: false, only: null, metrics: null, variants: [], json: path.join(RESULTS, 'latest.json') };
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--quick') opt.quick = true;
  else if (a === '--only') opt.only = args[++i].split(',');
  else if (a === '--metrics') opt.metrics = args[++i].split(',');
  else if (a === '--variant') {
    const v = args[++i];
    const eq = v.indexOf('=');
    if (eq < 1) throw new Error(`--variant wants NAME=CMD (NAME without '='), got ${v}`);
    opt.variants.push({ name: v.slice(0, eq), argv: v.slice(eq + 1).split(' ').filter(Boolean) });
  } else if (a === '--json') opt.json = path.resolve(args[++i]);
  else if (a === '--tsinit') TSINIT = path.resolve(args[++i]);
  else if (a === '-h' || a === '--help') {
    process.stdout.write(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('*/')[0].replace(/^#!.*\n\/\*/, '').replace(/^ \* ?/gm, ''));
    process.exit(0);
  } else throw new Error(`unknown option ${a}`);
}

const Q = opt.quick;
const PLAN = {
  startup: { rounds: Q ? 4 : 8, block: 5 },           // 20 / 40 runs per subject
  launch: { rounds: Q ? 4 : 6, block: Q ? 8 : 10 },   // 32 / 60 runs per subject
  idle: { rounds: Q ? 1 : 3, settleMs: 1500, windowMs: 5000 },
  forward: { runs: Q ? 1 : 3, signals: 200, gapUs: 4000 },
  reap: { runs: Q ? 1 : 3, orphans: 10000 },
  storm: { runs: Q ? 1 : 2, signals: 6000, gapUs: 50 },
  load: { rounds: Q ? 6 : 12, block: 5 },             // 30 / 60 runs per command
  // A 32 MiB file of lines, written `repeat` times: enough that the fixed cost is small beside it.
  prefix: { runs: Q ? 3 : 5, megabytes: 32, lineSizes: [80, 1024], repeat: { direct: Q ? 16 : 32, 'no-prefix': Q ? 16 : 32, prefixed: Q ? 4 : 8 } },
};
const METRICS = ['startup', 'launch', 'idle', 'forward', 'reap', 'storm', 'load', 'prefix'];
const metrics = opt.metrics ?? METRICS;
for (const m of metrics) if (!METRICS.includes(m)) throw new Error(`unknown metric ${m}`);

// --------------------------------------------------------------- the helper

function buildHelper() {
  mkdirSync(path.dirname(HELPER), { recursive: true });
  if (existsSync(HELPER) && statSync(HELPER).mtimeMs >= statSync(HELPER_SRC).mtimeMs) return;
  const base = ['-O2', '-Wall', '-Wextra', '-o', HELPER, HELPER_SRC];
  // Static when libc.a is there: the child's "first instruction" then comes
  // before any dynamic loading; dynamic otherwise.
  const r = spawnSync('cc', ['-static', ...base], { stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.error) throw new Error('the benchmark compiles bench/helper.c: install a C compiler (cc)');
  if (r.status !== 0) execFileSync('cc', base, { stdio: 'inherit' });
}

/** Runs the helper as runner; returns stdout lines. */
function helper(argv, timeoutMs = 300000, cwd = undefined) {
  const r = spawnSync(HELPER, argv, { cwd, encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGTERM', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) throw new Error(`helper ${argv.slice(0, 3).join(' ')} ... failed (${r.status ?? r.signal}): ${r.stderr.trim()}`);
  return r.stdout.trim().split('\n').filter(Boolean);
}

// ----------------------------------------------------------------- subjects

function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function versionOf(argv) {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 5000 });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n')[0];
}

/** How long the child lives before exiting in the launch runs: the init is idle by then. */
const CHILD_LIFE_MS = 100;
const STAMP_JS = "const t=process.hrtime.bigint(),b=Buffer.alloc(16);b.writeBigUInt64LE(t,0);" +
  `setTimeout(()=>{b.writeBigUInt64LE(process.hrtime.bigint(),8);require('fs').writeSync(1,b)},${CHILD_LIFE_MS})`;
const IDLE_JS = 'setTimeout(()=>{},2147483647)';
const COUNT_JS = "const fs=require('fs');let n=0;process.on('SIGUSR2',()=>{n++});process.on('SIGTERM',()=>{const b=Buffer.alloc(8);b.writeBigUInt64LE(BigInt(n));fs.writeSync(1,b);process.exit(0)});setTimeout(()=>{},2147483647);fs.writeSync(1,Buffer.alloc(8))";

/**
 * An init is run as [...argv, PROGRAM...] (pid1Argv inside a PID namespace).
 * A floor has its own command per metric (null: not applicable).
 */
const subjects = [
  { name: 'tsinit', kind: 'init', underTest: true, argv: [TSINIT, '--'], pid1Argv: [TSINIT, '--'] },
  ...opt.variants.map((v) => ({ name: v.name, kind: 'init', underTest: true, argv: v.argv, pid1Argv: v.argv })),
  { name: 'tini', kind: 'init', argv: ['tini', '-s', '--'], pid1Argv: ['tini', '--'], bin: 'tini' },
  { name: 'dumb-init', kind: 'init', argv: ['dumb-init'], pid1Argv: ['dumb-init'], bin: 'dumb-init' },
  { name: 'catatonit', kind: 'init', argv: ['catatonit', '--'], pid1Argv: ['catatonit', '--'], bin: 'catatonit' },
  {
    name: 'node -e 0', kind: 'floor',
    startup: [process.execPath, '-e', '0'],
    launch: [process.execPath, '-e', STAMP_JS],
    idle: [process.execPath, '-e', IDLE_JS],
    forward: null, reap: null,
    storm: [process.execPath, '-e', COUNT_JS],
  },
  {
    // start-up: /bin/true itself; the other rows: bench/helper.c doing the
    // child's part directly (its own first instruction, its own idle, a signal
    // sent straight to it, itself as PID 1 reaping, its own signal handler).
    name: 'C floor', kind: 'floor',
    startup: ['/bin/true'],
    launch: [HELPER, 'stamp', String(CHILD_LIFE_MS)],
    idle: [HELPER, 'sleep'],
    forward: [HELPER, 'sigrecv'],
    reap: [HELPER, 'orphans', String(PLAN.reap.orphans)],
    storm: [HELPER, 'sigcount'],
  },
].filter((s) => (!s.bin || has(s.bin)) && (!opt.only || opt.only.includes(s.name)));

/** The command for `metric` with the helper child `childArgv`, or null. */
function commandFor(s, metric, childArgv, pid1 = false) {
  if (s.kind === 'floor') return s[metric] ?? null;
  return [...(pid1 ? s.pid1Argv : s.argv), ...childArgv];
}

// ------------------------------------------------------------------ stats

function sorted(xs) { return [...xs].sort((a, b) => a - b); }
function median(xs) {
  if (xs.length === 0) return null;
  const s = sorted(xs), m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
function pct(xs, p) {
  if (xs.length === 0) return null;
  const s = sorted(xs);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}
const ms = (ns) => ns / 1e6;

// ----------------------------------------------------------------- metrics

const results = {}; // results[subject][key] = value; raw[subject][metric] = samples
const raw = {};
function put(s, key, value) { (results[s.name] ??= {})[key] = value; }
function keep(s, metric, samples) { (raw[s.name] ??= {})[metric] = samples; }

function log(msg) { process.stderr.write(`bench: ${msg}\n`); }

/** start-up: wall time of `INIT -- /bin/true` (floors: `node -e 0`, `/bin/true`). */
function benchStartup() {
  const { rounds, block } = PLAN.startup;
  const cmds = subjects.map((s) => [s, commandFor(s, 'startup', ['/bin/true'])]).filter(([, c]) => c);
  for (const [, c] of cmds) helper(['time-run', '2', ...c]); // warm caches
  const samples = new Map(cmds.map(([s]) => [s, { wall: [], cpu: [] }]));
  for (let r = 0; r < rounds; r++) {
    for (const [s, c] of cmds) {
      for (const line of helper(['time-run', String(block), ...c])) {
        const [wall, cpu] = line.split(' ').map(Number);
        samples.get(s).wall.push(wall);
        samples.get(s).cpu.push(cpu);
      }
    }
  }
  for (const [s, { wall, cpu }] of samples) {
    put(s, 'startup_ms', ms(median(wall)));
    put(s, 'startup_cpu_ms', ms(median(cpu)));
    keep(s, 'startup_ns', wall);
    keep(s, 'startup_cpu_ns', cpu);
  }
}

/**
 * child start latency (exec of the init → child's first instruction) and exit
 * latency (child's exit → init reaped; the child lives CHILD_LIFE_MS first, so
 * the init's own start-up is over when it exits).
 */
function benchLaunch() {
  const { rounds, block } = PLAN.launch;
  const cmds = subjects.map((s) => [s, commandFor(s, 'launch', [HELPER, 'stamp', String(CHILD_LIFE_MS)])]).filter(([, c]) => c);
  for (const [, c] of cmds) helper(['launch', '2', ...c]);
  const samples = new Map(cmds.map(([s]) => [s, { start: [], exit: [] }]));
  for (let r = 0; r < rounds; r++) {
    for (const [s, c] of cmds) {
      for (const line of helper(['launch', String(block), ...c])) {
        const [a, b] = line.split(' ').map(Number);
        samples.get(s).start.push(a);
        samples.get(s).exit.push(b);
      }
    }
  }
  for (const [s, { start, exit }] of samples) {
    put(s, 'child_start_ms', ms(median(start)));
    put(s, 'exit_p50_ms', ms(median(exit)));
    put(s, 'exit_p99_ms', ms(pct(exit, 99)));
    keep(s, 'child_start_ns', start);
    keep(s, 'exit_ns', exit);
  }
}

function readProcFile(p) { try { return readFileSync(p, 'utf8'); } catch { return ''; } }
function field(text, name) {
  const m = new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : null;
}
function voluntarySwitches(pid) {
  let sum = 0;
  let tasks = [];
  try { tasks = readdirSync(`/proc/${pid}/task`); } catch { return null; }
  for (const t of tasks) sum += field(readProcFile(`/proc/${pid}/task/${t}/status`), 'voluntary_ctxt_switches') ?? 0;
  return { sum, threads: tasks.length };
}
function hasChild(pid) {
  return readProcFile(`/proc/${pid}/task/${pid}/children`).trim().length > 0;
}
const sleep = (msec) => new Promise((r) => setTimeout(r, msec));

async function waitExit(p, msec) {
  if (p.exitCode !== null || p.signalCode !== null) return;
  await Promise.race([new Promise((r) => p.once('exit', r)), sleep(msec)]);
}

/** idle VmRSS / Private_Dirty and voluntary context switches over 5 s, all subjects side by side. */
async function benchIdle() {
  const { rounds, settleMs, windowMs } = PLAN.idle;
  const cmds = subjects.map((s) => [s, commandFor(s, 'idle', [HELPER, 'sleep'])]).filter(([, c]) => c);
  const samples = new Map(cmds.map(([s]) => [s, { rss: [], pd: [], wake: [], threads: [] }]));
  for (let r = 0; r < rounds; r++) {
    const procs = cmds.map(([s, c]) => [s, spawn(c[0], c.slice(1), { stdio: ['ignore', 'ignore', 'inherit'] })]);
    try {
      const deadline = Date.now() + 20000;
      for (const [s, p] of procs) {
        while (s.kind === 'init' && !hasChild(p.pid)) {
          if (Date.now() > deadline) throw new Error(`${s.name} never started its child`);
          await sleep(20);
        }
      }
      await sleep(settleMs);
      const before = new Map(procs.map(([s, p]) => [s, voluntarySwitches(p.pid)]));
      await sleep(windowMs);
      for (const [s, p] of procs) {
        const after = voluntarySwitches(p.pid);
        const st = readProcFile(`/proc/${p.pid}/status`);
        const sr = readProcFile(`/proc/${p.pid}/smaps_rollup`);
        const x = samples.get(s);
        x.wake.push(after.sum - before.get(s).sum);
        x.threads.push(after.threads);
        x.rss.push(field(st, 'VmRSS'));
        x.pd.push(field(sr, 'Private_Dirty'));
      }
    } finally {
      for (const [, p] of procs) p.kill('SIGTERM');
      for (const [, p] of procs) {
        await waitExit(p, 5000);
        if (p.exitCode === null && p.signalCode === null) { p.kill('SIGKILL'); await waitExit(p, 5000); }
      }
    }
  }
  for (const [s, x] of samples) {
    put(s, 'idle_rss_mib', median(x.rss) / 1024);
    put(s, 'idle_private_dirty_mib', median(x.pd) / 1024);
    put(s, 'idle_wakeups_5s', median(x.wake));
    put(s, 'threads', median(x.threads));
    keep(s, 'idle', x);
  }
}

/** forwarding latency: SIGUSR2 to the init → the child's handler; 200 signals a few ms apart per run. */
function benchForward() {
  const { runs, signals, gapUs } = PLAN.forward;
  const cmds = subjects.map((s) => [s, commandFor(s, 'forward', [HELPER, 'sigrecv'])]).filter(([, c]) => c);
  const per = new Map(cmds.map(([s]) => [s, { p50: [], p99: [], lost: 0, all: [] }]));
  for (let r = 0; r < runs; r++) {
    for (const [s, c] of cmds) {
      const lines = helper(['forward', String(signals), String(gapUs), ...c]);
      const xs = lines.filter((l) => l !== 'lost').map(Number);
      const x = per.get(s);
      x.lost += lines.length - xs.length;
      x.p50.push(median(xs));
      x.p99.push(pct(xs, 99));
      x.all.push(xs);
    }
  }
  for (const [s, x] of per) {
    put(s, 'forward_p50_us', median(x.p50) / 1e3);
    put(s, 'forward_p99_us', median(x.p99) / 1e3);
    put(s, 'forward_lost', x.lost);
    keep(s, 'forward_ns', x.all);
  }
}

/**
 * reap throughput: as PID 1 of a new PID namespace, 10,000 orphans exit at once
 * while the init is held stopped; timed from SIGCONT until none is a zombie
 * (see child_orphans in helper.c). The C floor is the helper as PID 1 itself.
 */
function benchReap() {
  const { runs, orphans } = PLAN.reap;
  if (process.getuid?.() !== 0) { log('reap skipped: a PID namespace needs root'); return; }
  const unshare = ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child'];
  const child = [HELPER, 'orphans', String(orphans)];
  const cmds = subjects.map((s) => [s, commandFor(s, 'reap', child, true)]).filter(([, c]) => c);
  const per = new Map(cmds.map(([s]) => [s, []]));
  for (let r = 0; r < runs; r++) {
    for (const [s, c] of cmds) {
      const line = s.kind === 'floor'
        ? execFileSync(unshare[0], [...unshare.slice(1), ...c], { encoding: 'utf8', timeout: 180000, killSignal: 'SIGKILL' })
        : helper(['reap', ...unshare, ...c], 250000).join('\n');
      const m = /reap_ns (\d+)/.exec(line);
      if (!m) throw new Error(`reap with ${s.name} printed no time: ${line}`);
      per.get(s).push(Number(m[1]));
    }
  }
  for (const [s, xs] of per) {
    put(s, 'reap_ms', ms(median(xs)));
    put(s, 'reap_per_s', Math.round(orphans / (median(xs) / 1e9)));
    keep(s, 'reap_ns', xs);
  }
}

/** signal storm: RSS growth of the init over 6,000 SIGUSR2 (forwarded to a counting child). */
function benchStorm() {
  const { runs, signals, gapUs } = PLAN.storm;
  const cmds = subjects.map((s) => [s, commandFor(s, 'storm', [HELPER, 'sigcount'])]).filter(([, c]) => c);
  const per = new Map(cmds.map(([s]) => [s, { growth: [], pdGrowth: [], delivered: [], rss0: [], rss1: [] }]));
  for (let r = 0; r < runs; r++) {
    for (const [s, c] of cmds) {
      const [line] = helper(['storm', String(signals), String(gapUs), ...c]);
      const [rss0, rss1, pd0, pd1, delivered] = line.split(' ').map(Number);
      const x = per.get(s);
      x.growth.push((100 * (rss1 - rss0)) / rss0);
      x.pdGrowth.push((pd1 - pd0) / 1024);
      x.delivered.push(delivered);
      x.rss0.push(rss0);
      x.rss1.push(rss1);
    }
  }
  for (const [s, x] of per) {
    put(s, 'storm_rss_growth_pct', median(x.growth));
    put(s, 'storm_private_dirty_growth_mib', median(x.pdGrowth));
    put(s, 'storm_delivered', median(x.delivered));
    keep(s, 'storm', x);
  }
}

/**
 * library load: what `require('node-tsinit')` and `import 'node-tsinit'` add
 * to a Node process, by name as an application loads it (run from the
 * package root, where the name resolves to this checkout). Each command
 * against its floor, median of N runs, all commands interleaved round by
 * round: require against `node -e 0`; import, from an ES module file,
 * against an empty ES module file (both pay for Node's ES module loader and
 * for reading a module file, which any ES module application pays).
 */
function benchLoad() {
  const { rounds, block } = PLAN.load;
  const dir = path.join(RESULTS, 'load');
  mkdirSync(dir, { recursive: true });
  const file = (name, text) => { const f = path.join(dir, name); writeFileSync(f, text); return f; };
  const node = process.execPath;
  const floorEsm = file('empty.mjs', '');
  const cmds = {
    'node -e 0': [node, '-e', '0'],
    require: [node, '-e', "require('node-tsinit')"],
    'require register': [node, '-e', "require('node-tsinit/register')"],
    'empty .mjs': [node, floorEsm],
    import: [node, file('import.mjs', "import 'node-tsinit';\n")],
    'import register': [node, file('import-register.mjs', "import 'node-tsinit/register';\n")],
  };
  for (const c of Object.values(cmds)) helper(['time-run', '2', ...c], 300000, ROOT); // warm caches
  const wall = Object.fromEntries(Object.keys(cmds).map((k) => [k, []]));
  const cpu = Object.fromEntries(Object.keys(cmds).map((k) => [k, []]));
  for (let r = 0; r < rounds; r++) {
    for (const [k, c] of Object.entries(cmds)) {
      for (const line of helper(['time-run', String(block), ...c], 300000, ROOT)) {
        const [w, u] = line.split(' ').map(Number);
        wall[k].push(w);
        cpu[k].push(u);
      }
    }
  }
  const rows = [
    ['require', "require('node-tsinit')", 'node -e 0', 10],
    ['import', "import 'node-tsinit'", 'empty .mjs', 10],
    ['require register', "require('node-tsinit/register')", 'node -e 0', null],
    ['import register', "import 'node-tsinit/register'", 'empty .mjs', null],
  ];
  const s = { name: 'tsinit' };
  loadRows.length = 0;
  for (const [k, label, floor, target] of rows) {
    const row = {
      label, floor, runs: wall[k].length, target,
      ms: ms(median(wall[k])), floor_ms: ms(median(wall[floor])),
      cpu_ms: ms(median(cpu[k])), floor_cpu_ms: ms(median(cpu[floor])),
    };
    row.cost_ms = row.ms - row.floor_ms;
    row.cost_cpu_ms = row.cpu_ms - row.floor_cpu_ms;
    loadRows.push(row);
    put(s, `load_${k.replace(' ', '_')}_ms`, row.cost_ms);
    put(s, `load_${k.replace(' ', '_')}_cpu_ms`, row.cost_cpu_ms);
  }
  keep(s, 'load', { wall, cpu });
}
const loadRows = [];

/** The library-load table: one row per entry point and way of loading it. */
function loadTable() {
  const header = ['library load (median)', 'runs', 'wall [ms]', 'floor [ms]', 'added [ms]', 'added CPU [ms]', 'floor', 'target', 'met'];
  const rows = loadRows.map((r) => [
    r.label, String(r.runs), fmt(r.ms), fmt(r.floor_ms), fmt(r.cost_ms), fmt(r.cost_cpu_ms), r.floor,
    r.target == null ? '' : `≤ ${r.target} ms`, r.target == null ? '' : r.cost_ms <= r.target ? 'yes' : 'NO',
  ]);
  return [header, ...rows];
}

// ------------------------------------------------------------------- table

// ------------------------------------------------------------------ prefix
// Output through tsinit: one service writes a file of lines (cat) as fast as
// its stdout takes them; wc -c reads tsinit's stdout. Three ways: the program
// under `tsinit --` (output shared, tsinit not in the path), a Procfile with
// --no-prefix (the same, for services), and a Procfile with prefixes (every
// byte read, split into lines and written again by tsinit). The same run with
// an empty file gives the fixed cost (start-up, exit), subtracted.

const prefixRows = [];

function timeShell(cmd) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('sh', ['-c', cmd], { encoding: 'utf8', timeout: 300000 });
  const t = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd}: exit ${r.status}: ${r.stderr}`);
  return { ms: t, bytes: Number(r.stdout.trim()) };
}

function benchPrefix() {
  const dir = path.join(RESULTS, 'prefix');
  mkdirSync(dir, { recursive: true });
  const { runs, megabytes, lineSizes, repeat } = PLAN.prefix;
  const empty = path.join(dir, 'empty');
  writeFileSync(empty, '');
  for (const size of lineSizes) {
    const file = path.join(dir, `lines-${size}`);
    const line = Buffer.alloc(size, 'x');
    line[size - 1] = 0x0a;
    const lines = Math.floor((megabytes * 2 ** 20) / size);
    writeFileSync(file, Buffer.concat(Array.from({ length: lines }, () => line)));
    const files = (f, n) => Array(n).fill(f).join(' ');
    const procfile = (f, n) => { const p = path.join(dir, `Procfile-${path.basename(f)}`); writeFileSync(p, `w: exec cat ${files(f, n)}\n`); return p; };
    const ways = {
      direct: (f, n) => `${TSINIT} -- cat ${files(f, n)} | wc -c`,
      'no-prefix': (f, n) => `${TSINIT} --no-prefix --procfile ${procfile(f, n)} | wc -c`,
      prefixed: (f, n) => `${TSINIT} --procfile ${procfile(f, n)} | wc -c`,
    };
    const row = { size, lines, mb: (lines * size) / 2 ** 20 };
    for (const [way, cmd0] of Object.entries(ways)) {
      const n = repeat[way];
      const cmd = (f) => cmd0(f, n);
      const fixed = median(Array.from({ length: runs }, () => timeShell(cmd(empty)).ms));
      const samples = Array.from({ length: runs }, () => timeShell(cmd(file)));
      const expected = n * (way === 'prefixed' ? lines * (size + 4) : lines * size);
      if (samples.some((x) => x.bytes !== expected)) throw new Error(`${way}: ${samples.map((x) => x.bytes)} bytes, expected ${expected}`);
      const net = Math.max(0.001, median(samples.map((x) => x.ms)) - fixed);
      row[way] = { ms: net / n, mbps: (n * row.mb) / (net / 1000) };
    }
    row.nsPerLine = ((row.prefixed.ms - row.direct.ms) * 1e6) / lines;
    prefixRows.push(row);
    log(`prefix ${size} B lines: direct ${fmt(row.direct.mbps)} MiB/s, no-prefix ${fmt(row['no-prefix'].mbps)} MiB/s, prefixed ${fmt(row.prefixed.mbps)} MiB/s`);
  }
  results.prefix = prefixRows;
}

function prefixTable() {
  const header = ['line size', 'MiB', 'direct [MiB/s]', '--no-prefix [MiB/s]', 'prefixed [MiB/s]', 'prefixed ÷ direct', 'added per line [ns]'];
  return [header, ...prefixRows.map((r) => [`${r.size} B`, fmt(r.mb), fmt(r.direct.mbps), fmt(r['no-prefix'].mbps), fmt(r.prefixed.mbps),
    (r.prefixed.mbps / r.direct.mbps).toFixed(2), fmt(r.nsPerLine)])];
}

const ROWS = [
  // key, label, unit/format, target check (value of the init under test, results) → [text, ok]
  ['startup_ms', 'start-up (INIT -- /bin/true), p50', 'ms',
    (v, R) => ratioTarget(v, R['node -e 0']?.startup_ms, 1.10, '≤ 1.10 × node')],
  ['startup_cpu_ms', 'start-up CPU time (user+sys, all threads), p50', 'ms',
    (v, R) => ratioTarget(v, R['node -e 0']?.startup_cpu_ms, 1.10, '≤ 1.10 × node')],
  ['child_start_ms', 'child start latency, p50', 'ms',
    (v, R) => addTarget(v, R['node -e 0']?.child_start_ms, 5, '≤ node + 5 ms')],
  ['idle_rss_mib', 'idle VmRSS', 'MiB', null],
  ['idle_private_dirty_mib', 'idle Private_Dirty', 'MiB',
    (v, R) => addTarget(v, R['node -e 0']?.idle_private_dirty_mib, 2, '≤ node + 2 MiB')],
  ['idle_wakeups_5s', 'idle wakeups in 5 s (all threads)', '', (v) => [`= 0`, v === 0]],
  ['threads', 'threads', '', null],
  ['forward_p50_us', 'forwarding latency, p50', 'µs', (v, R) => leTarget(v, R.tini?.forward_p50_us, '≤ tini')],
  ['forward_p99_us', 'forwarding latency, p99', 'µs', (v, R) => leTarget(v, R.tini?.forward_p99_us, '≤ tini')],
  ['reap_ms', 'reap 10,000 zombies as PID 1', 'ms', null],
  ['reap_per_s', 'reap throughput', '/s', (v, R) => geTarget(v, R.tini?.reap_per_s, '≥ tini')],
  ['exit_p50_ms', 'exit latency, p50', 'ms', (v) => [`≤ 2 ms`, v <= 2]],
  ['exit_p99_ms', 'exit latency, p99', 'ms', null],
  ['storm_rss_growth_pct', 'RSS growth over 6,000 signals', '%', (v) => [`< 5 %`, v < 5]],
  ['storm_delivered', 'signals that reached the child', '', null],
];
function ratioTarget(v, base, k, text) { return base == null ? [text, null] : [text, v <= k * base]; }
function addTarget(v, base, add, text) { return base == null ? [text, null] : [text, v <= base + add]; }
function leTarget(v, base, text) { return base == null ? [text, null] : [text, v <= base]; }
function geTarget(v, base, text) { return base == null ? [text, null] : [text, v >= base]; }

function fmt(v) {
  if (v == null || Number.isNaN(v)) return '–';
  if (Number.isInteger(v) && Math.abs(v) >= 100) return String(v);
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : a >= 1 ? v.toFixed(2) : v.toFixed(3);
}
function ratio(a, b) {
  if (a == null || b == null) return '–';
  if (b === 0) return a === 0 ? '1.00' : '∞';
  return (a / b).toFixed(2);
}

function table() {
  const names = subjects.map((s) => s.name);
  const tested = subjects.filter((s) => s.underTest).map((s) => s.name);
  const header = ['metric', ...names];
  for (const t of tested) header.push(`${t} ÷ tini`, `${t} ÷ node`);
  header.push('target (tsinit)', 'met');
  const rows = [];
  for (const [key, label, unit, target] of ROWS) {
    if (!names.some((n) => results[n]?.[key] != null)) continue;
    const row = [`${label}${unit ? ` [${unit}]` : ''}`, ...names.map((n) => fmt(results[n]?.[key]))];
    for (const t of tested) row.push(ratio(results[t]?.[key], results.tini?.[key]), ratio(results[t]?.[key], results['node -e 0']?.[key]));
    const v = results.tsinit?.[key];
    if (target && v != null) {
      const [text, ok] = target(v, results);
      row.push(text, ok === null ? '?' : ok ? 'yes' : 'NO');
    } else row.push('', '');
    rows.push(row);
  }
  return [header, ...rows];
}

function printTable(t) {
  const widths = t[0].map((_, i) => Math.max(...t.map((r) => r[i].length)));
  const line = (r) => '| ' + r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ') + ' |';
  const out = [line(t[0]), '|' + widths.map((w, i) => (i === 0 ? '-'.repeat(w + 1) + '-' : '-'.repeat(w + 1) + ':')).join('|') + '|', ...t.slice(1).map(line)];
  process.stdout.write(out.join('\n') + '\n');
}

// -------------------------------------------------------------------- main

async function main() {
  if (!existsSync(path.join(path.dirname(TSINIT), '..', 'dist', 'cli.js'))) throw new Error('dist/ is missing: run `npm run build` first');
  buildHelper();
  const started = Date.now();
  const load0 = os.loadavg();
  const machine = {
    cpu: os.cpus()[0]?.model, cpus: os.cpus().length, memory_gib: +(os.totalmem() / 2 ** 30).toFixed(1),
    kernel: os.release(), node: process.version,
    os: (readProcFile('/etc/os-release').match(/^PRETTY_NAME="?([^"\n]*)/m) ?? [])[1],
    versions: Object.fromEntries(subjects.filter((s) => s.bin).map((s) => [s.name, versionOf([s.bin, '--version'])])),
    tsinit: JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version,
  };
  log(`${subjects.map((s) => s.name).join(', ')}; ${opt.quick ? 'quick' : 'full'} run; load average ${load0.map((x) => x.toFixed(2)).join(' ')}`);
  const steps = { startup: benchStartup, launch: benchLaunch, idle: benchIdle, forward: benchForward, reap: benchReap, storm: benchStorm, load: benchLoad, prefix: benchPrefix };
  const loads = {};
  for (const m of metrics) {
    loads[m] = +os.loadavg()[0].toFixed(2);
    const t0 = Date.now();
    log(`${m}...`);
    await steps[m]();
    log(`${m} done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  const load1 = os.loadavg();
  const t = table();
  if (t.length > 1) printTable(t);
  if (loadRows.length > 0) {
    if (t.length > 1) process.stdout.write('\n');
    printTable(loadTable());
  }
  if (prefixRows.length > 0) {
    process.stdout.write(`${t.length > 1 || loadRows.length > 0 ? '\n' : ''}Output through --procfile (one service writing lines with cat; fixed start-up cost subtracted):\n`);
    printTable(prefixTable());
  }
  // The reap step raises the load average itself (10,000 runnable processes):
  // judge the machine by the readings taken before each step.
  const noisy = Math.max(...Object.values(loads)) > 0.5 * machine.cpus;
  process.stdout.write(`\n${machine.cpus} × ${machine.cpu}, ${machine.os}, Linux ${machine.kernel}, Node ${machine.node}; ` +
    `1-min load average before each step: ${Object.entries(loads).map(([m, l]) => `${m} ${l}`).join(', ')}` +
    `${noisy ? ' (other work was running: figures are noisy)' : ''}; ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
  mkdirSync(path.dirname(opt.json), { recursive: true });
  const doc = {
    date: new Date().toISOString(), quick: opt.quick, plan: PLAN, machine, load_average: { start: load0, end: load1, before_step: loads },
    subjects: subjects.map((s) => ({ name: s.name, kind: s.kind, argv: s.argv ?? null })),
    results, table: t, load: loadRows, raw,
  };
  writeFileSync(opt.json, JSON.stringify(doc, null, 1) + '\n');
  const stamped = path.join(RESULTS, `bench-${doc.date.replace(/[:.]/g, '-')}.json`);
  if (path.resolve(opt.json) === path.join(RESULTS, 'latest.json')) writeFileSync(stamped, JSON.stringify(doc) + '\n');
  log(`wrote ${path.relative(process.cwd(), opt.json)}`);
}

main().catch((err) => { process.stderr.write(`bench: ${err.stack ?? err}\n`); process.exit(1); });
