/**
 * SIGUSR1 must never leave a Node inspector listening in PID 1, not even when
 * it arrives during Node's bootstrap, before tsinit's own watcher exists.
 *
 * Two paths: a Node without --disable-sigusr1 (20, and 22 before 22.14), where
 * tsinit's inspector guard closes what a start-up SIGUSR1 opened, and a Node
 * with it, which bin/tsinit starts with the flag so that nothing opens at all.
 * Each test runs under the Node on PATH and under an official Node 22 fetched
 * from the npm registry (scripts/test/fetch-node.mjs), so both paths run whichever
 * Node runs the suite.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fetchedNodeBin, hasDisableSigusr1, killAll, ROOT, sleep, start } from '../support/helpers';

afterEach(killAll);

/** A Node that has --disable-sigusr1, fetched once (cached) for the second path. */
const FLAG_NODE_VERSION = '22.23.5';
let flagNodeBin: string | undefined;
let fetchError = '';
beforeAll(() => {
  const f = fetchedNodeBin(FLAG_NODE_VERSION);
  flagNodeBin = f.bin;
  fetchError = f.why ?? '';
}, 200_000);

interface NodeUnderTest { name: string; env: () => Record<string, string> }
const NODES: NodeUnderTest[] = [
  { name: 'the Node on PATH', env: () => ({}) },
  { name: `Node ${FLAG_NODE_VERSION}`, env: () => ({ PATH: `${flagNodeBin}:${process.env.PATH}` }) },
];
/** Skips a test of the fetched Node when it could not be fetched; says why. */
function needs(n: NodeUnderTest, ctx: { skip: (note?: string) => void }): void {
  if (n !== NODES[0] && flagNodeBin === undefined) ctx.skip(fetchError);
}

/** TCP sockets of `pid` listening on port 9229 (the inspector's). */
function inspectorListeners(pid: number): number {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch { /* closed */ }
  }
  let n = 0;
  for (const file of ['tcp', 'tcp6']) {
    for (const line of readFileSync(`/proc/${pid}/net/${file}`, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address is HEX_IP:HEX_PORT, st 0A is LISTEN, inode is field 9
      if (f.length > 9 && f[1]!.endsWith(':240D') && f[3] === '0A' && inodes.has(f[9]!)) n++;
    }
  }
  return n;
}

describe.each(NODES)('under $name', (n) => {

it('tsinit runs Node with --disable-sigusr1 exactly when that Node has it', async (ctx) => {
  needs(n, ctx);
  const env = n.env();
  const nodeOnPath = execFileSync('sh', ['-c', 'command -v node'], { encoding: 'utf8', env: { ...process.env, ...env } }).trim();
  const t = start(['--', 'sh', '-c', 'echo READY; exec sleep 5'], { env });
  await t.waitFor(/READY/);
  const argv = readFileSync(`/proc/${await t.tsinitPid()}/cmdline`, 'utf8').split('\0');
  // The sh lines exec Node by the path their own search of PATH found: the one `command -v` names.
  const flags = hasDisableSigusr1(nodeOnPath) ? ['--disable-sigusr1', '--max-semi-space-size=1'] : ['--max-semi-space-size=1'];
  expect(argv.slice(0, flags.length + 2)).toEqual([nodeOnPath, ...flags, path.join(ROOT, 'bin', 'tsinit')]);
  t.kill('SIGTERM');
  expect((await t.result).code).toBe(143);
});

it('a SIGUSR1 storm from the first instant of start-up leaves no inspector listening', async (ctx) => {
  needs(n, ctx);
  // USR1 is dropped by the rewrite so the child survives the storm.
  const t = start(['-r', 'USR1:0', '--', 'sleep', '5'], { env: n.env() });
  const host = t.proc.pid!;
  let pid = 0;
  const until = Date.now() + 5000;
  while (pid === 0 && Date.now() < until) {
    try { pid = Number(readFileSync(`/proc/${host}/task/${host}/children`, 'utf8').trim().split(' ')[0] ?? 0); } catch { /* not yet */ }
  }
  expect(pid).toBeGreaterThan(0);
  let sent = 0;
  for (const stormEnd = Date.now() + 400; Date.now() < stormEnd;) {
    try { process.kill(pid, 'SIGUSR1'); sent++; } catch { /* between sh and node */ }
  }
  expect(sent).toBeGreaterThan(100);
  await sleep(1500); // the guard's last check runs 1 s after start-up
  const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  expect(cmdline).toContain('tsinit');
  expect(inspectorListeners(pid)).toBe(0);
  t.kill('SIGTERM');
  const r = await t.result;
  expect(r.code).toBe(143);
  // With --disable-sigusr1 nothing opened even for a moment; without it the
  // guard closed what opened (Node announces that on stderr).
  if (cmdline.split('\0')[1] === '--disable-sigusr1') expect(r.stderr).not.toContain('Debugger listening');
});

it('SIGUSR1 after start-up is forwarded to the child and opens nothing', async (ctx) => {
  needs(n, ctx);
  const t = start(['--', 'sh', '-c', 'trap "echo GOT-USR1; exit 0" USR1; echo READY; while :; do sleep 0.05; done'], { env: n.env() });
  await t.waitFor(/READY/);
  const pid = await t.tsinitPid();
  process.kill(pid, 'SIGUSR1');
  const r = await t.result;
  expect(r.stdout).toContain('GOT-USR1');
  expect(r.stderr).not.toContain('Debugger listening');
  expect(r.code).toBe(0);
});

});
