/**
 * forwardSignals(): this process's signals to supervised children, with the
 * init's rules, and this process left in a sane state after unsubscribing.
 */
import * as path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { forwardSignals, spawn } from 'node-tsinit';
import { FIXTURES, killNodes, sleep, startNode } from '../support/library-helpers';
import { fetchedNodeBin, hasDisableSigusr1, startBounded } from '../support/helpers';

const groups = new Set<number>();
afterEach(() => {
  killNodes();
  // The fixture's supervised shells run in groups of their own and may outlive it.
  for (const g of groups) { try { process.kill(-g, 'SIGKILL'); } catch { /* gone */ } }
  groups.clear();
});

/** Starts the forward fixture and remembers its children's groups for the clean-up. */
async function startForward(arg: string): Promise<ReturnType<typeof startNode>> {
  const app = startNode('forward.cjs', [arg], { pid1: false });
  const m = await app.waitFor(/pids (\d+) (\d+)/);
  groups.add(Number(m[1]));
  groups.add(Number(m[2]));
  return app;
}

/** Resolves once `re` has matched stdout `n` times. */
async function seen(app: ReturnType<typeof startNode>, re: RegExp, n = 1): Promise<void> {
  const g = new RegExp(re.source, 'g');
  const end = Date.now() + 10_000;
  while ((app.stdout().match(g) ?? []).length < n) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${n}× ${re} in:\n${app.stdout()}\n${app.stderr()}`);
    await sleep(20);
  }
}

describe('forwardSignals', () => {
  it('forwards to every target, each with its own rewrite table', async () => {
    const app = await startForward('default');
    await seen(app, /a ready/);
    await seen(app, /b ready/);
    await app.kill('SIGUSR2');
    await seen(app, /a got USR2/);
    await seen(app, /b got USR2/);
    await app.kill('SIGHUP');
    await seen(app, /a got HUP/);
    await seen(app, /b got USR2/, 2); // b rewrites SIGHUP to SIGUSR2
    expect(app.stdout()).not.toMatch(/b got HUP/);
  });

  it('SIGTERM begins every target\'s stop and this process survives it to see their statuses', async () => {
    const app = await startForward('default');
    await seen(app, /b ready/);
    await seen(app, /a ready/);
    await app.kill('SIGTERM');
    const r = await app.result;
    expect(r.stdout).toMatch(/a got TERM/);
    expect(r.stdout).toMatch(/b got TERM/);
    expect(r.stdout).toMatch(/exited 7 7/);
    expect(r.code).toBe(0);
  });

  it('SIGUSR1 is forwarded and never opens the inspector, not even after unsubscribing', async () => {
    const app = await startForward('default');
    await seen(app, /a ready/);
    await app.kill('SIGUSR1');
    await seen(app, /a got USR1/);
    app.send('inspector');
    await seen(app, /inspector closed/);
    app.send('unsubscribe');
    await seen(app, /unsubscribed/);
    await app.kill('SIGUSR1');
    await sleep(500);
    app.send('inspector');
    await seen(app, /inspector closed/, 2);
    expect(app.proc.exitCode).toBe(null); // alive: SIGUSR1 did not kill it either
    expect(app.stdout().match(/a got USR1/g)).toHaveLength(1);
  });

  it('SIGPIPE stays ignored after unsubscribing: a write to a closed pipe gives EPIPE, not death', async () => {
    const app = await startForward('SIGPIPE,SIGTERM');
    await seen(app, /a ready/);
    app.send('epipe');
    await seen(app, /write error EPIPE/);
    app.send('unsubscribe');
    await seen(app, /unsubscribed/);
    app.send('epipe');
    await seen(app, /write error EPIPE/, 2);
    await sleep(200);
    expect(app.proc.exitCode).toBe(null);
    expect(app.proc.signalCode).toBe(null);
  });

  it('after unsubscribing, SIGTERM ends this process again (default action back)', async () => {
    const app = await startForward('default');
    await seen(app, /a ready/);
    app.send('unsubscribe');
    await seen(app, /unsubscribed/);
    await app.kill('SIGTERM');
    const r = await app.result;
    expect(r.signal).toBe('SIGTERM');
    expect(r.stdout).not.toMatch(/got TERM/);
  });

  it('refuses signals that cannot be forwarded, and targets that are not Supervised', async () => {
    const s = spawn('sleep', ['10']);
    try {
      expect(() => forwardSignals(s, { signals: ['SIGKILL'] })).toThrow(TypeError);
      expect(() => forwardSignals(s, { signals: ['SIGCHLD'] })).toThrow(TypeError);
      expect(() => forwardSignals(s, { signals: ['SIGSEGV'] })).toThrow(TypeError);
      expect(() => forwardSignals(s, { signals: ['NOPE'] })).toThrow(TypeError);
      expect(() => forwardSignals({} as typeof s)).toThrow(TypeError);
    } finally {
      s.signal('SIGKILL');
      await s.exited;
    }
  });
});

describe('forwardSignals under node --disable-sigusr1', () => {
  /** A Node that has --disable-sigusr1 (22.14+), fetched once (cached); or why there is none. */
  const FLAG_NODE_VERSION = '22.23.5';
  let flagNode: string | undefined;
  let why = '';
  beforeAll(() => {
    const f = fetchedNodeBin(FLAG_NODE_VERSION);
    if (f.bin === undefined) { why = f.why!; return; }
    const node = path.join(f.bin, 'node');
    if (hasDisableSigusr1(node)) flagNode = node;
    else why = `Node ${FLAG_NODE_VERSION} lacks --disable-sigusr1`;
  }, 200_000);

  it('a SIGUSR1 sent before forwarding starts (blocked by Node, pending) is delivered and forwarded once it starts', async (ctx) => {
    if (flagNode === undefined) ctx.skip(`needs a Node with --disable-sigusr1: ${why}`);
    const app = startBounded(flagNode!, ['--disable-sigusr1', path.join(FIXTURES, 'usr1-pending.cjs')],
      { cwd: FIXTURES, timeoutMs: 30_000, keepStdin: true });
    groups.add(Number((await app.waitFor(/child pid (\d+)/, 15_000, true))[1]));
    await app.waitFor(/^child ready$/m, 15_000, true);
    process.kill(app.proc.pid!, 'SIGUSR1');
    await sleep(300);
    app.send('state');
    // Node's flag in effect: blocked in the main thread, pending, nothing opened, this process alive.
    await app.waitFor(/^usr1 pending=true blocked=true inspector=closed$/m, 5_000, true);
    expect(app.stdout()).not.toMatch(/child got USR1/);
    app.send('forward');
    await app.waitFor(/^child got USR1$/m, 5_000, true);
    app.send('state');
    await app.waitFor(/^usr1 pending=false blocked=false inspector=closed$/m, 5_000, true);
    expect(app.stdout().match(/child got USR1/g)).toHaveLength(1);
    expect(app.proc.exitCode).toBe(null);
  });
});

