/**
 * A stop signal that arrives while tsinit is still starting is honoured:
 * whether PID 1 is still the bin's sh lines or Node is bootstrapping, the
 * child is started and gets the signal at once (as tini does), and tsinit
 * exits with the child's status quickly. Not as PID 1, tsinit may instead be
 * ended by the signal's default action before it started a child: also
 * honoured (the tests count which happened).
 *
 * The signal is sent from outside by the commkill fixture, which polls
 * /proc/PID/comm and SigCgt without sleeping. Each case sends the signal 20
 * times (a start in which the poller missed the moment is not counted).
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fetchedNodeBin, inNamespace, killAll, startBounded, TSINIT } from '../support/helpers';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fixture, tempDir } from '../support/fixtures/util';
import { MODES } from '../support/modes';

afterEach(killAll);

const SIGTERM = 15;
const RUNS = 20;
/**
 * Runs 3 s unless stopped: a lost stop shows as exit 0 after 3 s. Only the
 * status decides, not the time: under a loaded machine an honoured stop once
 * took 963 ms from start to exit (stop itself 12 ms), and a time limit read it
 * as lost. How fast a stop is belongs in the benchmarks.
 */
const CHILD = ['sleep', '3'];
/** Honoured: the child was killed by SIGTERM (tsinit exits 128+15), or tsinit itself was ended by it. */
const HONOURED = new Set([128 + SIGTERM]);

let commkill: string;
beforeAll(() => { commkill = fixture('commkill'); });

/**
 * A PATH that holds PID 1 in the sh lines for a while (they look for node in
 * every entry with shell built-ins), so that the poller reliably catches the
 * moment the sh traps are in place.
 */
const SLOW_PATH = [...Array.from({ length: 2000 }, (_, i) => `/nonexistent-${i}`), process.env.PATH ?? '/usr/bin:/bin'].join(':');

interface Tally { honoured: number; childRan: number; tsinitKilled: number; lost: string[]; missed: string[] }

/** At most this many starts in all, to get RUNS signals sent (the poller can miss the moment under load). */
const MAX_STARTS = RUNS + 10;

/**
 * Starts tsinit until RUNS signals were sent, each when PID 1's comm is
 * `comm` and its SigCgt has SIGTERM (a handler is in place: the sh trap, or
 * Node's own), or with `anyHandler` at once, whatever SigCgt says. A start in
 * which the poller missed the moment (it is a busy loop, and on a loaded
 * machine it can be off the CPU for the whole window) sends nothing; it does
 * not count towards RUNS, but it must still have run normally: the child
 * started and tsinit exited 0 with it.
 */
async function stopDuringStartUp(opts: { comm: string; pid1: boolean; entry: string[]; env?: NodeJS.ProcessEnv; anyHandler?: boolean }): Promise<Tally> {
  const tally: Tally = { honoured: 0, childRan: 0, tsinitKilled: 0, lost: [], missed: [] };
  for (let starts = 0; tally.honoured + tally.lost.length < RUNS && starts < MAX_STARTS; starts++) {
    const inner = [...opts.entry, '-v', '--', ...CHILD];
    const target = opts.pid1 ? inNamespace(inner).flat() : inner;
    const args = [...(opts.pid1 ? ['-n'] : []), ...(opts.anyHandler === true ? [] : ['-c', String(SIGTERM)]), opts.comm, String(SIGTERM), '--', ...target];
    const r = await startBounded(commkill, args, { env: { ...process.env, ...opts.env }, timeoutMs: 10_000 }).result;
    const started = /started sleep as pid/.test(r.stderr);
    const miss = /commkill: never saw .*/.exec(r.stderr);
    if (miss !== null) {
      tally.missed.push(miss[0]);
      expect({ code: r.code, started }, `a start with no signal sent ran abnormally:\n${r.stderr}`).toEqual({ code: 0, started: true });
      continue;
    }
    if (r.code !== null && HONOURED.has(r.code)) {
      tally.honoured++;
      if (started) tally.childRan++; else tally.tsinitKilled++;
    } else {
      tally.lost.push(`exit ${r.code} after ${r.ms} ms: ${r.stderr.trim().split('\n').slice(-2).join(' | ')}`);
    }
  }
  return tally;
}

function expectAllHonoured(t: Tally, pid1: boolean, knownLosses = 0): void {
  const detail = JSON.stringify(t, null, 1);
  expect(t.lost.length, detail).toBeLessThanOrEqual(knownLosses);
  expect(t.honoured + t.lost.length, `fewer than ${RUNS} signals sent in ${MAX_STARTS} starts: ${detail}`).toBe(RUNS);
  // As PID 1 nothing can end tsinit before the child: the child always ran.
  if (pid1) expect(t.tsinitKilled).toBe(0);
  console.log(`honoured ${t.honoured}/${RUNS} (child started and got it: ${t.childRan}, tsinit ended by it: ${t.tsinitKilled}); moment missed in ${t.missed.length} more starts${t.missed.length > 0 ? `: ${t.missed.join('; ')}` : ''}`);
}

describe('SIGTERM while PID 1 is still the bin\'s sh lines (their trap in place)', () => {
  it.each(MODES)(`is honoured at least ${RUNS - 1} of ${RUNS} times %s: the child starts, gets it, its status is tsinit's`, async ({ pid1 }) => {
    // KNOWN WINDOW, documented in the README: a SIGTERM that dash takes after
    // its last trap check is lost with the exec (its trap runs only between
    // commands, sh cannot block a signal, and execve resets dash's handler so
    // that the kernel drops the pending signal for a PID 1). The sh lines exec
    // by the path they found, so that moment is one execve long (with `exec
    // node` it was an execve per PATH entry, 2,000 here, and under load 1 or 2
    // stops in 20 were lost); with two full test suites on 2 cores 1 stop in
    // 40 was still lost there. Closing it needs the signals blocked before the
    // sh lines run, by something that is not sh (exec'ing the launcher from
    // the sh lines only moves this gap to that exec).
    expectAllHonoured(await stopDuringStartUp({ comm: 'tsinit', pid1, entry: [TSINIT], env: { PATH: SLOW_PATH } }), pid1, 1);
  }, 120_000);
});

describe('SIGTERM while Node bootstraps (Node\'s own one-shot handler in place)', () => {
  const entries: Array<{ how: string; entry: string[]; env?: NodeJS.ProcessEnv }> = [
    { how: 'started through the sh lines', entry: [TSINIT] },
    { how: 'started as `node bin/tsinit` (no sh)', entry: [process.execPath, TSINIT] },
    { how: 'started as `node bin/tsinit` with NODE_OPTIONS (re-exec in place)', entry: [process.execPath, TSINIT], env: { NODE_OPTIONS: '--no-warnings' } },
  ];
  for (const e of entries) {
    it.each(MODES)(`is honoured ${RUNS} of ${RUNS} times, ${e.how}, %s`, async ({ pid1 }) => {
      expectAllHonoured(await stopDuringStartUp({ comm: 'node', pid1, entry: e.entry, env: e.env }), pid1);
    }, 120_000);
  }
});


describe('SIGTERM at the instant PID 1\'s comm becomes node (no handler of any kind in place yet)', () => {
  it.each(MODES)(`is honoured ${RUNS} of ${RUNS} times, started through the sh lines, %s`, async ({ pid1 }) => {
    // execve resets every handler, a PID 1 drops a signal at its default
    // disposition, and Node installs its own handler only milliseconds
    // later: without the launcher about 19 stops in 20 were lost here. The
    // launcher (native/launch.c) blocks every signal before it execs Node;
    // the addon it preloads records the pending SIGTERM before Node's main.
    expectAllHonoured(await stopDuringStartUp({ comm: 'node', pid1, entry: [TSINIT], anyHandler: true }), pid1);
  }, 120_000);

  it(`is honoured ${RUNS} of ${RUNS} times when \`node\` in PATH is a wrapper script that execs the real one (a version manager's shim), as PID 1`, async () => {
    // The addon, preloaded into the wrapper's shell too, leaves everything
    // blocked there and acts in the Node it execs.
    const dir = tempDir();
    writeFileSync(path.join(dir, 'node'), `#!/bin/sh\nexec '${process.execPath}' "$@"\n`, { mode: 0o755 });
    expectAllHonoured(await stopDuringStartUp({ comm: 'node', pid1: true, entry: [TSINIT], anyHandler: true, env: { PATH: `${dir}:${process.env.PATH}` } }), true);
  }, 120_000);
});

describe('SIGTERM at the instant PID 1\'s comm becomes node, on newer Node', () => {
  // The addon's handlers are put in place before Node's main; each Node must
  // keep them through its start-up reset (only ignored signals are reset).
  for (const version of ['22.23.5', '24.22.3', '26.12.1']) {
    const fetched = fetchedNodeBin(version);
    if (fetched.why !== undefined) console.log(`skipped: ${fetched.why}`);
    it.skipIf(fetched.bin === undefined)(`is honoured ${RUNS} of ${RUNS} times on Node ${version}, as PID 1`, async () => {
      const env = { PATH: `${fetched.bin}:${process.env.PATH}` };
      expectAllHonoured(await stopDuringStartUp({ comm: 'node', pid1: true, entry: [TSINIT], anyHandler: true, env }), true);
    }, 120_000);
  }
});
