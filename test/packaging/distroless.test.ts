/**
 * tsinit in an image without /bin/sh (distroless, or `FROM scratch` plus
 * node): `ENTRYPOINT ["node", "/app/node_modules/node-tsinit/bin/tsinit", "--"]`.
 * The root filesystem holds only node, the libraries `ldd` lists for it, the
 * package installed into /app from the packed tarball, and the app; tsinit
 * runs as its PID 1 in fresh PID, mount and network namespaces
 * (`unshare --root`), with a clean environment.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Bounded, firstChildOf, inNamespace, sleep, startBounded } from '../support/helpers';
import { killStarted, packForRelease, type Packed } from '../support/pack-helpers';
import { buildRootfs, installPackage, shellsIn } from '../support/rootfs-helpers';

/** The documented ENTRYPOINT for images without a shell. */
const ENTRYPOINT = ['node', '/app/node_modules/node-tsinit/bin/tsinit', '--'];
const INSPECTOR_PORT = 9229;

const APP = `'use strict';
process.on('SIGUSR1', () => console.log('app: SIGUSR1'));
process.on('SIGTERM', () => {
  console.log('app: SIGTERM');
  setTimeout(() => process.exit(Number(process.env.APP_TERM_STATUS ?? 0)), 20);
});
console.log('app: up pid ' + process.pid + ' ppid ' + process.ppid + ' NODE_OPTIONS=' + JSON.stringify(process.env.NODE_OPTIONS ?? null));
setInterval(() => {}, 1000);
`;
/** Records each process it is preloaded into: pid, and the script it runs. */
const PRELOAD = `require('fs').appendFileSync('/tmp/preload.log', process.pid + ' ' + (process.argv[1] ?? '-') + '\\n');
`;

afterEach(killStarted);

describe('tsinit as PID 1 of a root filesystem without /bin/sh (distroless)', () => {
  let packed: Packed;
  let root: string;

  beforeAll(async () => {
    packed = await packForRelease();
    root = path.join(packed.tmp, 'distroless');
    buildRootfs(root);
    await installPackage(root, packed.tarball, { dir: '/app' }, packed.tmp);
    writeFileSync(path.join(root, 'app', 'app.js'), APP);
    writeFileSync(path.join(root, 'app', 'preload.js'), PRELOAD);
  }, 300_000);
  afterAll(() => packed?.remove());

  /** Runs the ENTRYPOINT (node found through PATH inside the root) with `cmd` as PID 1, with exactly `env`. */
  function start(cmd: readonly string[], env: Record<string, string> = {}): Bounded {
    return startBounded(...inNamespace([...ENTRYPOINT, ...cmd], { root, extra: ['--mount', '--net'] }),
      { env: { PATH: '/usr/local/bin', ...env }, timeoutMs: 30_000 });
  }

  it('holds no shell, only node, its libraries, the package and the app', () => {
    expect(shellsIn(root)).toEqual([]);
    expect(readFileSync(path.join(root, 'app', 'node_modules', 'node-tsinit', 'bin', 'tsinit'), 'utf8')).toMatch(/^#!\/bin\/sh\n/);
  });

  it('the child\'s exit status propagates', async () => {
    const r = await start(['node', '-e', 'process.exit(7)']).result;
    expect(r.timedOut).toBe(false);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(7);
  });

  it('NODE_OPTIONS reaches the app unchanged; the running PID 1 has none (restarted in place) and its --require never runs there after the restart', async () => {
    rmSync(path.join(root, 'tmp', 'preload.log'), { force: true });
    const b = start(['node', '/app/app.js'], { NODE_OPTIONS: '--require=/app/preload.js' });
    const m = await b.waitFor(/app: up pid (\d+) ppid (\d+) NODE_OPTIONS=(.*)/);
    const appPid = Number(m[1]);
    expect(Number(m[2])).toBe(1);
    expect(JSON.parse(m[3]!)).toBe('--require=/app/preload.js');
    // PID 1 as it runs now: same pid, no NODE_OPTIONS in its environment.
    const pid1 = await firstChildOf(b.proc.pid!, 'PID 1');
    const environ = readFileSync(`/proc/${pid1}/environ`, 'utf8').split('\0');
    expect(environ.filter((e) => e.startsWith('NODE_OPTIONS='))).toEqual([]);
    expect(readFileSync(`/proc/${pid1}/cmdline`, 'utf8').split('\0')).toContain('/app/node_modules/node-tsinit/bin/tsinit');
    const lines = readFileSync(path.join(root, 'tmp', 'preload.log'), 'utf8').trim().split('\n');
    // In the app, once.
    expect(lines.filter((l) => l === `${appPid} /app/app.js`)).toHaveLength(1);
    // In PID 1 at most once: Node applies NODE_OPTIONS before any script runs, so
    // the preload ran in the first image, which tsinit then replaced (same pid) without them.
    expect(lines.filter((l) => l.startsWith('1 ')).length).toBeLessThanOrEqual(1);
    expect(lines.filter((l) => l !== `${appPid} /app/app.js` && l !== '1 /app/node_modules/node-tsinit/bin/tsinit')).toEqual([]);
    b.proc.kill('SIGKILL');
  });

  it('SIGUSR1 to PID 1 opens no inspector (nothing listens on 9229 in the namespace) and is forwarded to the app; SIGTERM is forwarded and the app\'s status propagates', async () => {
    const b = start(['node', '/app/app.js'], { NODE_OPTIONS: '--max-old-space-size=128', APP_TERM_STATUS: '3' });
    await b.waitFor(/app: up pid/);
    const pid1 = await firstChildOf(b.proc.pid!, 'PID 1');
    process.kill(pid1, 'SIGUSR1');
    await b.waitFor(/app: SIGUSR1/);
    await sleep(200); // an inspector would be listening by now
    const listening = readFileSync(`/proc/${pid1}/net/tcp`, 'utf8').split('\n').slice(1)
      .map((l) => l.trim().split(/\s+/)).filter((f) => f.length > 3 && f[3] === '0A')
      .map((f) => parseInt(f[1]!.split(':')[1]!, 16));
    expect(listening).not.toContain(INSPECTOR_PORT);
    expect(b.stderr()).not.toMatch(/Debugger listening/);
    process.kill(pid1, 'SIGTERM');
    const r = await b.result;
    expect(r.timedOut).toBe(false);
    expect(r.stdout).toMatch(/app: SIGTERM/);
    expect(r.code).toBe(3);
  });
});
