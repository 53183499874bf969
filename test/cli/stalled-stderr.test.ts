/**
 * A stderr nobody reads must never hold PID 1 up: signals are still
 * forwarded at once, the grace deadline still ends in SIGKILL, the exit
 * status is right, and the lines that cannot be written are dropped and
 * counted (bounded memory), even where stderr cannot be reopened
 * non-blocking: a UNIX socket, a root-owned 0600 pipe under a non-root
 * PID 1, no /proc.
 */
import { chmodSync, closeSync, constants as fsConstants, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { killAll, NOBODY, sleep, start, whyNobodyCannotRun, type Running } from '../support/helpers';
import { fixture, tempDir } from '../support/fixtures/util';

afterEach(killAll);

/** The forwarding bound the issue sets. */
const FORWARD_MS = 100;

/**
 * A wrapper that fills fd 2 (a UNIX socket the test has stopped reading)
 * until not one more byte fits, then execs tsinit: its fd 2 is a plain
 * blocking descriptor of a full socket, as a hung log reader leaves it.
 */
const fillStderr = (): string[] => ['sh', '-c', `${fixture('fillsock')} 2 || exit 97; exec "$@"`, 'sh'];

/**
 * A `wrap` that starts tsinit as `node --require warn-preload.cjs bin/tsinit`:
 * PID 1 then emits a Node DeprecationWarning every 10 ms from 300 ms on.
 */
const WITH_NODE_WARNINGS: readonly string[] = [process.execPath, '--require', path.join(__dirname, '..', 'support', 'fixtures', 'warn-preload.cjs')];

/** A FIFO (root, mode 0600) with a read end held open by the test and nothing read: full. */
function fullFifo(): { fifo: string; reader: number } {
  const dir = tempDir();
  chmodSync(dir, 0o755);
  const fifo = path.join(dir, 'stderr');
  execFileSync('mkfifo', ['-m', '0600', fifo]);
  const reader = openSync(fifo, fsConstants.O_RDWR | fsConstants.O_NONBLOCK);
  const filler = openSync(fifo, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK);
  const chunk = Buffer.alloc(4096, 0x2e);
  try {
    for (;;) writeSync(filler, chunk);
  } catch (err) {
    if ((err as { code?: string }).code !== 'EAGAIN') throw err;
  } finally {
    closeSync(filler);
  }
  return { fifo, reader };
}

/** Everything in the FIFO now (non-blocking read end). */
function drain(reader: number): string {
  const buf = Buffer.alloc(65536);
  let out = '';
  for (;;) {
    try {
      const n = readSync(reader, buf);
      if (n <= 0) return out;
      out += buf.toString('latin1', 0, n);
    } catch {
      return out;
    }
  }
}

/**
 * Starts tsinit ARGS over sigrec (which records SIGTERM and goes on running:
 * it ignores it in effect), waits until the child is ready, sends SIGTERM to
 * PID 1, and checks: the child has it within FORWARD_MS, SIGKILL ends it at
 * the grace deadline (2 s), tsinit exits 137.
 */
async function termThenKill(h: Running): Promise<void> {
  await h.waitFor(/^ready 0 /m, 15_000);
  const pid = await h.tsinitPid();
  await sleep(200);
  const sent = Date.now();
  process.kill(pid, 'SIGTERM');
  await h.waitFor(/^sig 0 15 /m, 5_000);
  const forwardedMs = Date.now() - sent;
  const r = await h.result;
  const stopMs = Date.now() - sent;
  expect(r.timedOut).toBe(false);
  expect(forwardedMs).toBeLessThan(FORWARD_MS);
  expect(stopMs).toBeGreaterThanOrEqual(1900);
  expect(stopMs).toBeLessThan(3500);
  expect(r.code).toBe(137);
}

describe('a stalled stderr never holds PID 1 up', () => {
  for (const verbosity of [[], ['-vvv']]) {
    it(`stderr a UNIX socket nobody reads${verbosity.length ? ' (-vvv)' : ''}: SIGTERM forwarded within ${FORWARD_MS} ms, SIGKILL at the 2 s deadline, exit 137`, async () => {
      const h = start([...verbosity, '-t', '2', '--', fixture('sigrec')], {
        wrap: fillStderr(),
        timeoutMs: 25_000,
      });
      h.proc.stderr!.pause(); // the test is the reader, and stops reading
      await termThenKill(h);
    });
  }

  const nobodyWhy = whyNobodyCannotRun();
  if (nobodyWhy !== undefined) console.log(`skipped: ${nobodyWhy}`);
  it.skipIf(nobodyWhy !== undefined)(`non-root PID 1, stderr a full FIFO owned by root with mode 0600 (no reopen): SIGTERM forwarded within ${FORWARD_MS} ms, SIGKILL at the 2 s deadline, exit 137`, async () => {
    const { fifo, reader } = fullFifo();
    try {
      const h = start(['-t', '2', '--', fixture('sigrec')], {
        wrap: ['sh', '-c', 'exec 2>"$0"; exec "$@"', fifo, ...NOBODY],
        timeoutMs: 25_000,
      });
      await termThenKill(h);
    } finally {
      closeSync(reader);
    }
  });

  it(`no /proc, stderr a full pipe (-vvv): SIGTERM forwarded within ${FORWARD_MS} ms, SIGKILL at the 2 s deadline, exit 137`, async () => {
    const { fifo, reader } = fullFifo();
    try {
      const h = start(['-vvv', '-t', '2', '--', fixture('sigrec')], {
        wrap: ['sh', '-c', 'exec 2>"$0"; while mountpoint -q /proc; do umount -l /proc || exit 98; done; [ ! -e /proc/self ] || exit 98; exec "$@"', fifo],
        timeoutMs: 25_000,
      });
      await termThenKill(h);
    } finally {
      closeSync(reader);
    }
  });

  it('a burst of log lines while stderr is stalled keeps RSS bounded and forwarding alive; the dropped lines are counted once the reader resumes', async () => {
    // The child makes PID 1 log two lines per signal at -vvv, for 8 s.
    const script = 'trap "" USR2; echo storm; sleep 0.5; SECONDS=0; n=0; while [ $SECONDS -lt 8 ]; do kill -USR2 1; n=$((n+1)); done; echo "sent $n"; exec sleep 30';
    const h = start(['-vvv', '--', 'bash', '-c', script], {
      wrap: fillStderr(),
      timeoutMs: 25_000,
    });
    h.proc.stderr!.pause();
    const pid = await h.tsinitPid();
    const rss = (): number => Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
    // The child started (tsinit is running), then sample during the burst.
    await h.waitFor(/^storm$/m, 15_000);
    await sleep(300);
    const samples: number[] = [rss()];
    while (!/^sent \d+/m.test(h.stdout())) {
      await sleep(100);
      samples.push(rss());
      if (samples.length > 100) break;
    }
    const sent = Number(/^sent (\d+)/m.exec(h.stdout())?.[1] ?? 0);
    expect(sent).toBeGreaterThan(1000);
    // Measured on Node 20, 24 and 26: 15-18 MB of growth in the 8 s of this
    // burst, flat after (90 s: 17 MB). Queueing the dropped lines instead
    // grew 55 MB in 3 s. Without --max-semi-space-size=1 on the sh lines'
    // exec of Node, V8 grows its young generation with the storm's garbage:
    // 27-49 MB in these 8 s, and on Node 24 150 MB in 60 s.
    const growthKb = Math.max(...samples) - samples[0]!;
    expect(growthKb).toBeLessThan(24 * 1024);
    // The reader comes back; the next line PID 1 writes says how many were lost.
    h.proc.stderr!.resume();
    await sleep(200);
    const t = Date.now();
    process.kill(pid, 'SIGTERM');
    const m = await h.waitFor(/tsinit: warning: (\d+) log line\(s\) dropped/, 5_000);
    expect(Number(m[1])).toBeGreaterThan(100);
    // Not waited for: the "received SIGTERM" line. PID 1 may still be logging
    // the storm's queued signals when SIGTERM comes, and a reader slower than
    // that (this test, on a loaded machine) fills the pipe again, so the line
    // is dropped and counted, as designed. The exit status shows the forward.
    const r = await h.result;
    expect(Date.now() - t).toBeLessThan(3000);
    expect(r.code).toBe(143);
  });
  for (const kind of ['socket', 'FIFO'] as const) {
    it(`the stderr the child shares stays blocking (no O_NONBLOCK) while tsinit logs and drops lines on it (full ${kind}, -vvv)`, async () => {
      // Each signal makes PID 1 log (and drop) lines; then the child reads the
      // flags of its stderr, the same open file description as tsinit's.
      const script = 'trap "" USR2; for i in 1 2 3 4 5 6 7 8; do kill -USR2 1; sleep 0.02; done; ' +
        'awk \'/^flags:/ { print "flags " $2 }\' /proc/self/fdinfo/2';
      const fifo = kind === 'FIFO' ? fullFifo() : undefined;
      try {
        const h = start(['-vvv', '--', 'sh', '-c', script], {
          wrap: fifo === undefined ? fillStderr() : ['sh', '-c', 'exec 2>"$0"; exec "$@"', fifo.fifo],
          timeoutMs: 20_000,
        });
        h.proc.stderr!.pause();
        const r = await h.result;
        expect(r.code).toBe(0);
        const flags = /^flags (\d+)$/m.exec(r.stdout)?.[1];
        expect(flags).toBeDefined();
        expect(parseInt(flags!, 8) & fsConstants.O_NONBLOCK).toBe(0);
        if (fifo !== undefined) expect(drain(fifo.reader)).not.toMatch(/tsinit:/); // it stayed full: every line was dropped
      } finally {
        if (fifo !== undefined) closeSync(fifo.reader);
      }
    });
  }

  it('Node\'s own warnings in PID 1 (emitWarning) go through the same path: SIGTERM forwarded within ' + FORWARD_MS + ' ms, SIGKILL at the 2 s deadline, the child\'s stderr stays blocking', async () => {
    const child = `sleep 1; awk '/^flags:/ { print "flags " $2 }' /proc/self/fdinfo/2; exec ${fixture('sigrec')}`;
    const h = start(['-t', '2', '--', 'sh', '-c', child], {
      wrap: [...fillStderr(), ...WITH_NODE_WARNINGS],
      timeoutMs: 25_000,
    });
    h.proc.stderr!.pause();
    await termThenKill(h);
    const flags = /^flags (\d+)$/m.exec(h.stdout())?.[1];
    expect(flags, h.stdout()).toBeDefined();
    expect(parseInt(flags!, 8) & fsConstants.O_NONBLOCK).toBe(0);
  });
});

describe('Node\'s own warnings go through tsinit\'s log', () => {
  it('a warning PID 1 emits (a DeprecationWarning) is a tsinit log line, not Node\'s own "(node:1) ..." text', async () => {
    const h = start(['--log-format', 'json', '--', 'sh', '-c', 'sleep 1'], { wrap: WITH_NODE_WARNINGS, timeoutMs: 20_000 });
    const r = await h.result;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/\(node:\d+\)|DEP_TSINIT_TEST/);
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    // Every line on stderr is tsinit's own JSON; the warnings are among them.
    const events = lines.map((l) => JSON.parse(l) as { level: string; event: string; msg: string });
    const warnings = events.filter((e) => e.event === 'node-warning');
    expect(warnings.length, r.stderr).toBeGreaterThan(5);
    expect(warnings[0]).toMatchObject({ level: 'warn', msg: 'DeprecationWarning: tsinit test warning 1' });
  });
});

