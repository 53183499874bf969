#!/usr/bin/env node
// Runs the same black-box scenarios under tsinit, tini, dumb-init and catatonit
// (whichever are installed), each as PID 1 of a fresh PID namespace, and
// prints what each init did. Needs root (unshare). Usage: node bench/compare.mjs
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const which = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).stdout.trim();

const INITS = [
  { name: 'tsinit', argv: [path.join(ROOT, 'bin', 'tsinit'), '-t', '2', '--'] },
  { name: 'tini', argv: [which('tini'), '--'] },
  { name: 'tini -g', argv: [which('tini'), '-g', '--'] },
  { name: 'dumb-init', argv: [which('dumb-init'), '--'] },
  { name: 'catatonit', argv: [which('catatonit'), '--'] },
].filter((i) => i.argv[0] !== '');

/** Runs INIT CMD as PID 1; `termAfterMs` after the child prints "ready", SIGTERM to the init; hard limit `limitMs` from the start. */
function runAsPid1(init, cmd, { termAfterMs, limitMs = 6000, wrap = [] } = {}) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const p = spawn('unshare', ['--pid', '--fork', '--mount-proc', '--kill-child', ...wrap, ...init.argv, ...cmd], {
      detached: true, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let termSent = false;
    let termAt = 0;
    const sendTerm = () => {
      termSent = true;
      termAt = Date.now();
      try {
        const kid = readFileSync(`/proc/${p.pid}/task/${p.pid}/children`, 'utf8').trim().split(' ')[0];
        if (kid) process.kill(Number(kid), 'SIGTERM');
      } catch {}
    };
    p.stdout.on('data', (d) => {
      out += d;
      // The child says "ready" once it runs, so the init is up and watching signals.
      if (termAfterMs !== undefined && !termSent && out.includes('ready')) { termSent = true; setTimeout(sendTerm, termAfterMs); }
    });
    p.stderr.on('data', () => {});
    let timedOut = false;
    const limit = setTimeout(() => { timedOut = true; try { process.kill(-p.pid, 'SIGKILL'); } catch {} }, limitMs);
    p.on('close', (code, signal) => {
      clearTimeout(limit);
      try { process.kill(-p.pid, 'SIGKILL'); } catch {}
      resolve({ code, signal, out, ms: Date.now() - (termAt || t0), timedOut });
    });
  });
}

const scenarios = [
  {
    title: 'docker stop: child ignores SIGTERM (status, seconds after SIGTERM; limit 8 s)',
    async run(init) {
      const r = await runAsPid1(init, ['sh', '-c', "trap '' TERM; echo ready; sleep 30 & wait"], { termAfterMs: 200, limitMs: 8000 });
      return r.timedOut ? 'still running at 8 s' : `exit ${r.code} after ${(r.ms / 1000).toFixed(1)} s`;
    },
  },
  {
    title: 'SIGTERM reaches a grandchild in the group (sh -c "sleep 30 & wait")',
    async run(init) {
      const r = await runAsPid1(init, ['sh', '-c', 'echo ready; sleep 30 & wait'], { termAfterMs: 200 });
      return r.timedOut ? 'still running at 6 s' : `exit ${r.code} after ${(r.ms / 1000).toFixed(1)} s`;
    },
  },
  {
    title: 'child exits, a daemon that cleans up on SIGTERM remains: did its cleanup run?',
    async run(init) {
      const dir = mkdtempSync(path.join(tmpdir(), 'tsinit-cmp-'));
      const flag = path.join(dir, 'cleaned');
      const daemon = `trap 'touch ${flag}; exit 0' TERM; while :; do sleep 0.1; done`;
      const r = await runAsPid1(init, ['sh', '-c', `setsid sh -c "${daemon}" & sleep 0.5; exit 3`]);
      const cleaned = existsSync(flag);
      rmSync(dir, { recursive: true, force: true });
      return `exit ${r.code}, cleanup ${cleaned ? 'ran' : 'never ran'}`;
    },
  },
  {
    title: "child's ignored signals when the init was started with SIGHUP ignored (SigIgn)",
    async run(init) {
      const r = await runAsPid1(init, ['sh', '-c', 'grep SigIgn /proc/$$/status'], { wrap: ['sh', '-c', 'trap "" HUP; exec "$@"', 'sh'] });
      return r.out.trim().replace(/\s+/g, ' ') || `exit ${r.code}`;
    },
  },
  {
    title: 'PROGRAM not found / not executable',
    async run(init) {
      const a = await runAsPid1(init, ['/no/such/program']);
      const b = await runAsPid1(init, ['/etc']);
      return `${a.code} / ${b.code}`;
    },
  },
  {
    title: 'zombies left after 200 orphans exit (as PID 1)',
    async run(init) {
      const r = await runAsPid1(init, ['sh', '-c',
        'for i in $(seq 200); do (sleep 0.2 &) ; done; sleep 1; grep -l "^State:.*Z" /proc/[0-9]*/status 2>/dev/null | wc -l']);
      return r.out.trim() === '' ? `no answer (exit ${r.code})` : `${r.out.trim()} zombies`;
    },
  },
];

const rows = [];
for (const s of scenarios) {
  const cells = [];
  for (const init of INITS) cells.push(await s.run(init));
  rows.push([s.title, ...cells]);
}
const header = ['scenario', ...INITS.map((i) => i.name)];
console.log(`| ${header.join(' | ')} |`);
console.log(`|${header.map(() => '---').join('|')}|`);
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
