/**
 * Dockerfile.example built and run by a real container engine: podman (with
 * runc as its OCI runtime). No registry is reachable, so the base image is
 * made here (test/support/rootfs-helpers.ts: the host's node, its libraries, /bin/sh,
 * the node user, and the package installed globally from the packed tarball,
 * as the Dockerfile's RUN line installs it from the registry) and imported;
 * the app image is then built by podman from Dockerfile.example itself, with
 * only FROM pointing at that base and the RUN lines (which need npm and the
 * registry) done while making the base. Containers are stopped as
 * `docker stop -t 2` stops them (`podman stop -t 2`: the image's STOPSIGNAL,
 * 2 s, SIGKILL), and what the engine reports is checked. No `--init`.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '../support/helpers';
import { execCommand, killStarted, mustRun, packForRelease, ROOT, type ExecResult, type Packed } from '../support/pack-helpers';
import { buildRootfs, installPackage, PODMAN, podmanUlimits } from '../support/rootfs-helpers';
import { readStat } from '../../src/diagnosis/proc';

const DOCKERFILE = path.join(ROOT, 'Dockerfile.example');
const CONTEXT = path.join(ROOT, 'test', 'support', 'fixtures', 'docker');
const TAG = `${process.pid}-${Date.now().toString(36)}`;
const BASE = `localhost/tsinit-test-base:${TAG}`;
const APP = `localhost/tsinit-test-app:${TAG}`;
const pkgVersion = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/** Why a container cannot run here, or undefined when one can (checked with a shell-only root). */
function engineMissing(): string | undefined {
  if (PODMAN === undefined) return 'podman is not installed (apt-get install podman; .ci/run installs it)';
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tsinit-engine-probe-'));
  try {
    buildRootfs(dir, { noNode: true, shell: true });
    const r = spawnSync(PODMAN, ['run', '--rm', '--network', 'none', ...podmanUlimits(), '--rootfs', dir, '/bin/sh', '-c', 'exit 7'],
      { encoding: 'utf8', timeout: 60_000 });
    if (r.status === 7) return undefined;
    const why = (r.stderr || r.error?.message || `status ${r.status}`).trim().split('\n').pop();
    return `podman cannot run a container here: ${why}`;
  } catch (e) {
    return `podman cannot run a container here: ${(e as Error).message.split('\n')[0]}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const missing = engineMissing();
if (missing !== undefined) console.warn(`container engine tests skipped: ${missing}`);
const title = (t: string): string => (missing === undefined ? t : `${t} (skipped: ${missing})`);

/** One instruction of a Dockerfile: comments dropped, continuations joined. */
function instructions(text: string): string[] {
  const out: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line.endsWith('\\')) { pending += line.slice(0, -1) + ' '; continue; }
    out.push((pending + line).trim());
    pending = '';
  }
  return out;
}

/**
 * Dockerfile.example for the local base: FROM replaced, RUN lines left out.
 * Returns the file and the RUN lines it left out (the base stands for them).
 */
function containerfileFor(base: string): { text: string; runs: string[] } {
  const kept: string[] = [];
  const runs: string[] = [];
  for (const ins of instructions(readFileSync(DOCKERFILE, 'utf8'))) {
    const keyword = ins.split(/\s/, 1)[0]!.toUpperCase();
    if (keyword === 'FROM') kept.push(`FROM ${base}`);
    else if (keyword === 'RUN') runs.push(ins.slice(3).trim());
    else kept.push(ins);
  }
  return { text: kept.join('\n') + '\n', runs };
}

const podman = (args: readonly string[], timeoutMs = 60_000): Promise<ExecResult> => mustRun(PODMAN!, args, { timeoutMs });

/** Containers started by the current test, removed after it. */
const containers: string[] = [];
let serial = 0;

/** `podman run -d` of the app image as a fresh container; returns its name. */
async function runContainer(opts: readonly string[], cmd: readonly string[] = []): Promise<string> {
  const name = `tsinit-test-${TAG}-${serial++}`;
  containers.push(name);
  await podman(['run', '-d', '--name', name, ...podmanUlimits(), ...opts, APP, ...cmd]);
  return name;
}

/** stdout and stderr the container wrote so far. */
async function logs(name: string): Promise<string> {
  const r = await execCommand(PODMAN!, ['logs', name], { timeoutMs: 20_000 });
  return r.stdout + r.stderr;
}

/** Polls the container's log until `re` matches. */
async function waitForLog(name: string, re: RegExp, ms = 20_000): Promise<RegExpMatchArray> {
  const until = Date.now() + ms;
  let text = '';
  while (Date.now() < until) {
    text = await logs(name);
    const m = text.match(re);
    if (m !== null) return m;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${re} in the log of ${name}:\n${text}`);
}

async function inspect(name: string, format: string): Promise<string> {
  return (await podman(['inspect', '--format', format, name])).stdout.trim();
}

/**
 * `docker stop -t 2`: the image's STOPSIGNAL to PID 1, 2 s, then SIGKILL.
 * Returns the exit code the engine reports, and how long after the stop began
 * the container's PID 1 ended (by the engine's own record).
 */
async function stop(name: string, seconds = 2): Promise<{ code: number; endedAfterMs: number }> {
  const t0 = Date.now();
  await podman(['stop', '-t', String(seconds), name], 30_000);
  const code = Number(await inspect(name, '{{.State.ExitCode}}'));
  const finished = Number(BigInt(await inspect(name, '{{.State.FinishedAt.UnixNano}}')) / 1_000_000n);
  return { code, endedAfterMs: finished - t0 };
}

/** The container's PID 1, as a host pid. */
async function hostPid1(name: string): Promise<number> {
  return Number(await inspect(name, '{{.State.Pid}}'));
}

/** Children of host pid `pid` (zombies included, until reaped). */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ').filter((s) => s !== '').map(Number);
  } catch {
    return [];
  }
}

afterEach(async () => {
  for (const name of containers.splice(0)) {
    await execCommand(PODMAN!, ['rm', '-f', '-t', '0', name], { timeoutMs: 30_000 });
  }
  killStarted();
});

describe.skipIf(missing !== undefined)(title('Dockerfile.example built and run by podman (runc), stopped as docker stop -t 2 does'), () => {
  let packed: Packed;
  let runs: string[];

  beforeAll(async () => {
    packed = await packForRelease();
    // The base image: what node:*-slim offers (node, /bin/sh, the node user) plus the RUN line's global install.
    const base = path.join(packed.tmp, 'base');
    buildRootfs(base, { shell: true, users: true });
    await installPackage(base, packed.tarball, { global: true }, packed.tmp);
    const tar = path.join(packed.tmp, 'base.tar');
    await mustRun('tar', ['-C', base, '-cf', tar, '.'], { timeoutMs: 60_000 });
    await podman(['import', '--change', 'ENV PATH=/usr/local/bin:/usr/bin:/bin', tar, BASE], 120_000);
    // The app image, built by podman from Dockerfile.example with the service's folder as context.
    const ctx = path.join(packed.tmp, 'context');
    cpSync(CONTEXT, ctx, { recursive: true });
    const cf = containerfileFor(BASE);
    runs = cf.runs;
    writeFileSync(path.join(ctx, 'Containerfile'), cf.text);
    await podman(['build', '--pull=never', '--network', 'none', '-f', path.join(ctx, 'Containerfile'), '-t', APP, ctx], 120_000);
  }, 400_000);

  afterAll(async () => {
    if (PODMAN !== undefined) await execCommand(PODMAN, ['rmi', '-f', APP, BASE], { timeoutMs: 60_000 });
    packed?.remove();
  });

  it('the RUN lines left out are the ones the base stands for: the global install of this version, and an npm ci with nothing to install', () => {
    expect(runs).toHaveLength(2);
    expect(runs[0]).toMatch(new RegExp(`^npm install (--global|-g) node-tsinit@${pkgVersion.replace(/\./g, '\\.')}(\\s|$)`));
    expect(runs[1]).toMatch(/^npm ci --omit=dev\b/);
    const pkg = JSON.parse(readFileSync(path.join(CONTEXT, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    expect(Object.keys(pkg.dependencies ?? {})).toEqual([]);
  });

  it('the engine keeps the image\'s ENTRYPOINT, CMD, USER and STOPSIGNAL; no --init', async () => {
    const cfg = JSON.parse((await podman(['image', 'inspect', '--format', '{{json .Config}}', APP])).stdout) as
      { Entrypoint: string[]; Cmd: string[]; User: string; StopSignal: string; Env: string[] };
    expect(cfg.Entrypoint).toEqual(['tsinit', '--']);
    expect(cfg.Cmd).toEqual(['node', 'server.js']);
    expect(cfg.User).toBe('node');
    expect(cfg.StopSignal).toMatch(/^(SIGTERM|15)$/);
    expect(cfg.Env).toContain('TSINIT_GRACE=8');
  });

  it('tsinit is PID 1 and the service its child, as uid 1000, with the ENV lines; SIGHUP (podman kill -s HUP) reaches the service; docker stop -t 2 ends it with its own status 0 well before the engine\'s SIGKILL', async () => {
    const name = await runContainer(['--network', 'host', '-e', 'PORT=0']);
    expect(await inspect(name, '{{.HostConfig.Init}}')).toBe('false');
    const port = Number((await waitForLog(name, /listening on (\d+)/))[1]);
    const body = await new Promise<string>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: '/', timeout: 10_000 }, (res) => {
        let b = '';
        res.on('data', (d: Buffer) => { b += d.toString(); });
        res.on('end', () => resolve(b));
      }).on('error', reject);
    });
    const info = JSON.parse(body) as { ppid: number; uid: number; pid1: string; env: { NODE_ENV: string; NODE_OPTIONS: string | null } };
    // The sh lines exec Node by the path their search found (PATH's /usr/local/bin/node).
    expect(info.pid1).toMatch(/^\/usr\/local\/bin\/node --max-semi-space-size=1 \/usr\/local\/bin\/tsinit -- node server\.js$/);
    expect(info.ppid).toBe(1);
    expect(info.uid).toBe(1000);
    expect(info.env).toEqual({ NODE_ENV: 'production', NODE_OPTIONS: '--max-old-space-size=256' });
    // The engine's PID 1 is tsinit's process (the host sees it as node running the bin).
    const pid1 = await hostPid1(name);
    expect(readFileSync(`/proc/${pid1}/cmdline`, 'utf8').split('\0')).toContain('/usr/local/bin/tsinit');

    await podman(['kill', '-s', 'HUP', name]);
    await waitForLog(name, /SIGHUP: reloading/, 10_000);
    expect(await inspect(name, '{{.State.Running}}')).toBe('true');

    const { code, endedAfterMs } = await stop(name, 2);
    expect(code).toBe(0);
    expect(endedAfterMs).toBeLessThan(2000);
    expect(await logs(name)).toMatch(/SIGTERM: closing\s+closed/);
  });

  it('an app with no SIGTERM handler: docker stop -t 2 reports 143 (killed by SIGTERM), before the engine\'s SIGKILL', async () => {
    const name = await runContainer(['--network', 'none'], ['node', '-e', 'console.log("up"); setInterval(() => {}, 1000)']);
    await waitForLog(name, /^up$/m);
    const { code, endedAfterMs } = await stop(name, 2);
    expect(code).toBe(143);
    expect(endedAfterMs).toBeLessThan(2000);
  });

  it('an app that ignores SIGTERM is SIGKILLed by tsinit at TSINIT_GRACE=0.5, before the engine\'s own SIGKILL at 2 s: 137, and tsinit says so', async () => {
    const app = 'process.on("SIGTERM", () => console.log("SIGTERM ignored")); console.log("up"); setInterval(() => {}, 1000)';
    const name = await runContainer(['--network', 'none', '-e', 'TSINIT_GRACE=0.5'], ['node', '-e', app]);
    await waitForLog(name, /^up$/m);
    const { code, endedAfterMs } = await stop(name, 2);
    const log = await logs(name);
    expect(log).toMatch(/SIGTERM ignored/);
    expect(log).toMatch(/tsinit: warning: grace period of 0.5 s over: sent SIGKILL to process group \d+/);
    expect(code).toBe(137);
    expect(endedAfterMs).toBeGreaterThanOrEqual(450);
    expect(endedAfterMs).toBeLessThan(2000);
  });

  it('the app\'s own exit status is what the engine reports', async () => {
    const name = await runContainer(['--network', 'none'], ['node', '-e', 'setTimeout(() => process.exit(42), 200)']);
    const r = await podman(['wait', name], 30_000);
    expect(r.stdout.trim()).toBe('42');
  });

  it('orphans re-parented to PID 1 are reaped when they exit: no zombie stays in the container', async () => {
    // Each intermediate starts a grandchild and exits at once: the grandchild is orphaned to PID 1.
    const grandchild = 'setTimeout(() => {}, 1500)';
    const intermediate = `require("child_process").spawn(process.execPath, ["-e", ${JSON.stringify(grandchild)}], { detached: true, stdio: "ignore" }).unref()`;
    const app = `for (let i = 0; i < 3; i++) require("child_process").spawn(process.execPath, ["-e", ${JSON.stringify(intermediate)}], { stdio: "ignore" }); console.log("spawned"); setInterval(() => {}, 1000)`;
    const name = await runContainer(['--network', 'none'], ['node', '-e', app]);
    const pid1 = await hostPid1(name);
    await waitForLog(name, /spawned/);
    // The three orphans appear as PID 1's children beside the app...
    let most = 0;
    for (let i = 0; i < 200 && most < 4; i++) { most = Math.max(most, childrenOf(pid1).length); await sleep(25); }
    expect(most).toBe(4);
    // ...and once they exit, PID 1 reaps them: only the app is left, not a zombie.
    let kids = childrenOf(pid1);
    for (let i = 0; i < 200 && kids.length > 1; i++) { await sleep(50); kids = childrenOf(pid1); }
    expect(kids).toHaveLength(1);
    expect(readStat(kids[0]!)?.state).not.toBe('Z');
    expect(readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map((p) => readStat(Number(p)))
      .filter((s) => s !== undefined && s.ppid === pid1 && s.state === 'Z')).toEqual([]);
  });
});
