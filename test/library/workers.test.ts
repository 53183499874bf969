/**
 * Signal watches in worker threads: each environment (the main thread, each
 * worker) owns its own, and ending a worker closes its watches with it. A
 * worker that watched a signal and then exited, or was terminated, used to
 * abort the whole process ("uv_loop_close() while having open handles"),
 * and a worker's SIGPIPE watch took SIGPIPE away from the main thread.
 */
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { killAll, startBounded } from '../support/helpers';

afterEach(killAll);

const HUB = JSON.stringify(path.join(__dirname, '..', '..', 'dist', 'core', 'signal-hub.js'));

/** A worker that watches SIGPIPE and SIGUSR2, then ends as `how` says; then the main thread's own SIGPIPE watch is tried. */
const SCRIPT = `
const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads');
const { subscribe } = require(${HUB});
const { SIGPIPE, SIGUSR2 } = require('node:os').constants.signals;
// From another process: a SIGPIPE this process sends itself counts as its own write's, never reported.
const sendPipe = () => require('node:child_process').execFileSync('kill', ['-PIPE', String(process.pid)]);
if (!isMainThread) {
  subscribe([SIGPIPE, SIGUSR2], () => {}, false);
  parentPort.postMessage('watching');
  if (workerData === 'exits') setTimeout(() => process.exit(0), 20);
  else setInterval(() => {}, 1000);
} else {
  const runWorker = (how) => new Promise((resolve) => {
    const w = new Worker(__filename, { eval: false, workerData: how });
    w.on('message', () => {
      // A SIGPIPE while the worker watches: it must not be lost to the main thread later.
      sendPipe();
      if (how === 'terminated') setTimeout(() => w.terminate(), 20);
    });
    w.on('exit', resolve);
  });
  (async () => {
    await runWorker('exits');
    await runWorker('terminated');
    console.log('workers ended');
    subscribe([SIGPIPE], () => { console.log('main got SIGPIPE'); process.exit(0); }, true);
    sendPipe();
  })();
}
`;

describe('signal watches in worker threads', () => {
  it('a worker that watched signals and exited, or was terminated, leaves the process alive, and the main thread still gets SIGPIPE', async () => {
    const file = path.join(require('node:os').tmpdir(), `tsinit-workers-${process.pid}.cjs`);
    require('node:fs').writeFileSync(file, SCRIPT);
    try {
      const r = await startBounded(process.execPath, [file], { timeoutMs: 20_000 }).result;
      expect(r.stderr).not.toMatch(/uv_loop_close|Aborted|FATAL/);
      expect(r.stdout).toBe('workers ended\nmain got SIGPIPE\n');
      expect(r.code).toBe(0);
    } finally {
      require('node:fs').rmSync(file, { force: true });
    }
  }, 30_000);
});
