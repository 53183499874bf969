/**
 * Root filesystems made on this machine, standing in for container images
 * (no registry is reachable): the host's `node` and the shared libraries
 * `ldd` lists for it, optionally a /bin/sh (the host's dash) and the users of
 * the official node images, and the package installed from a packed tarball
 * exactly as a Dockerfile's RUN line would install it. Used as the base image
 * of a real container engine (test/packaging/engine.test.ts) and as a shell-less
 * "distroless" root for PID 1 (test/packaging/distroless.test.ts).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { cleanEnv, findOnPath, mustRun, slimBin } from './pack-helpers';

/** Absolute paths of the shared libraries (and the loader) `ldd` lists for `binary`. */
export function sharedLibraries(binary: string): string[] {
  const out = execFileSync('ldd', [binary], { encoding: 'utf8', timeout: 10_000 });
  const libs: string[] = [];
  for (const line of out.split('\n')) {
    // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/.exec(line);
    if (m !== null) libs.push(m[1]!);
  }
  if (libs.length === 0) throw new Error(`ldd listed no libraries for ${binary}:\n${out}`);
  return libs;
}

/** Copies `file` (following symlinks) to the same path under `root`, with `mode`. */
function copyInto(root: string, file: string, dest = file, mode = 0o755): void {
  const to = path.join(root, dest);
  mkdirSync(path.dirname(to), { recursive: true });
  copyFileSync(file, to);
  chmodSync(to, mode);
}

/** What to put in a root filesystem besides node and its libraries. */
export interface RootfsOptions {
  /** Leave node out (default: put it in). */
  noNode?: boolean;
  /** Add /bin/sh (the host's /bin/sh, e.g. dash, and its libraries), as the slim node images have. */
  shell?: boolean;
  /** Add /etc/passwd and /etc/group with root (0) and node (1000), as the official node images have. */
  users?: boolean;
}

/** Where {@link buildRootfs} put node. */
export const ROOTFS_NODE = '/usr/local/bin/node';

/**
 * Makes a minimal root filesystem in `root`: node at /usr/local/bin/node (as
 * in the node images), the libraries `ldd` lists for it at their host paths,
 * empty /proc, /dev, /sys, a world-writable /tmp, and what `opts` asks for.
 */
export function buildRootfs(root: string, opts: RootfsOptions = {}): void {
  for (const d of ['proc', 'dev', 'sys', 'etc', 'usr/local/bin']) mkdirSync(path.join(root, d), { recursive: true });
  mkdirSync(path.join(root, 'tmp'), { recursive: true });
  chmodSync(path.join(root, 'tmp'), 0o1777);
  chmodSync(root, 0o755);
  const libs = new Set<string>();
  if (opts.noNode !== true) {
    copyInto(root, process.execPath, ROOTFS_NODE);
    for (const l of sharedLibraries(process.execPath)) libs.add(l);
  }
  if (opts.shell === true) {
    copyInto(root, '/bin/sh', '/bin/sh');
    for (const l of sharedLibraries('/bin/sh')) libs.add(l);
  }
  for (const l of libs) copyInto(root, l);
  if (opts.users === true) {
    writeFileSync(path.join(root, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000::/home/node:/bin/sh\n');
    writeFileSync(path.join(root, 'etc', 'group'), 'root:x:0:\nnode:x:1000:\n');
    mkdirSync(path.join(root, 'home', 'node'), { recursive: true });
    chmodSync(path.join(root, 'home', 'node'), 0o755);
  }
}

/** The shells a distroless image must not hold. */
const SHELLS = ['/bin/sh', '/usr/bin/sh', '/bin/bash', '/usr/bin/bash', '/bin/dash', '/bin/ash', '/bin/busybox'];

/** The shells present in `root` (empty for a distroless root). */
export function shellsIn(root: string): string[] {
  return SHELLS.filter((s) => existsSync(path.join(root, s)));
}

/**
 * Installs the packed tarball into `root` with the host's npm, with no
 * compiler on PATH: `global` as `npm install --global` does in the node
 * images (/usr/local/lib/node_modules, /usr/local/bin/tsinit), or locally into
 * `dir` (e.g. /app/node_modules/node-tsinit) as an app's dependency.
 */
export async function installPackage(root: string, tarball: string, where: { global: true } | { dir: string }, scratch: string): Promise<void> {
  const slim = existsSync(path.join(scratch, 'slim-bin')) ? path.join(scratch, 'slim-bin') : slimBin(path.join(scratch, 'slim-bin'));
  const env = cleanEnv({ PATH: slim });
  const common = ['--prefer-offline', '--no-audit', '--no-fund', '--no-package-lock', tarball];
  if ('global' in where) {
    await mustRun('npm', ['install', '--global', '--prefix', path.join(root, 'usr', 'local'), ...common], { env, timeoutMs: 180_000 });
  } else {
    const dir = path.join(root, where.dir);
    mkdirSync(dir, { recursive: true });
    if (!existsSync(path.join(dir, 'package.json'))) writeFileSync(path.join(dir, 'package.json'), '{"private":true}\n');
    await mustRun('npm', ['install', '--prefix', dir, ...common], { env, timeoutMs: 180_000 });
  }
}

/** podman's path, or undefined. */
export const PODMAN = findOnPath('podman') ?? (existsSync('/usr/bin/podman') ? '/usr/bin/podman' : undefined);

/**
 * Resource limits for `podman run`. Podman's defaults (RLIMIT_NOFILE 1048576,
 * RLIMIT_NPROC 4194304) exceed what a host without CAP_SYS_RESOURCE in its
 * bounding set may grant, and runc then fails with "error setting rlimits ...
 * operation not permitted" (`--ulimit host` fails the same way): ask for
 * values below the host's limits instead.
 */
export function podmanUlimits(): string[] {
  const limits = readFileSync('/proc/self/limits', 'utf8');
  const hard = (name: string): number => {
    const m = new RegExp(`^${name}\\s+\\S+\\s+(\\S+)`, 'm').exec(limits);
    return m === null || m[1] === 'unlimited' ? Infinity : Number(m[1]);
  };
  const nofile = Math.min(4096, hard('Max open files'));
  const nproc = Math.min(4096, hard('Max processes'));
  return ['--ulimit', `nofile=${nofile}:${nofile}`, '--ulimit', `nproc=${nproc}:${nproc}`];
}
