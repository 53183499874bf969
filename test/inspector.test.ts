/**
 * SIGUSR1 must never leave a Node inspector listening in PID 1, not even when
 * it arrives during Node's bootstrap, before tsinit's own watcher exists.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { afterEach, expect, it } from 'vitest';
import { killAll, sleep, start } from './helpers';

afterEach(killAll);

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

it('a SIGUSR1 storm from the first instant of start-up leaves no inspector listening', async () => {
  // USR1 is dropped by the rewrite so the child survives the storm.
  const t = start(['-r', 'USR1:0', '--', 'sleep', '5']);
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
});

it('SIGUSR1 after start-up is forwarded to the child and opens nothing', async () => {
  const t = start(['--', 'sh', '-c', 'trap "echo GOT-USR1; exit 0" USR1; echo READY; while :; do sleep 0.05; done']);
  await t.waitFor(/READY/);
  const pid = await t.tsinitPid();
  process.kill(pid, 'SIGUSR1');
  const r = await t.result;
  expect(r.stdout).toContain('GOT-USR1');
  expect(r.stderr).not.toContain('Debugger listening');
  expect(r.code).toBe(0);
});
