/**
 * The bug tsinit exists to fix, noticed when it happens anyway: tsinit is
 * not PID 1 and PID 1 of its namespace is a package manager (`npx tsinit`,
 * `npm start`), a shell (the shell form of ENTRYPOINT, `sh -c '...'`) or a
 * plain node. Those drop or mishandle the container's stop signal before it
 * reaches tsinit.
 * @module
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Logger } from './log';
import { procIsOurs } from '../diagnosis/proc';

/** Programs that must not be PID 1 in front of tsinit. */
const WRAPPERS = new Set(['npm', 'npx', 'yarn', 'pnpm', 'sh', 'bash', 'dash', 'ash', 'node']);

/** A script run by node that names a package manager (npm-cli.js, npx-cli.js, yarn.js, pnpm.cjs...). */
function managerOf(script: string): string | undefined {
  const base = path.basename(script).replace(/(-cli)?\.(c|m)?js$/, '');
  return ['npm', 'npx', 'yarn', 'pnpm'].includes(base) ? base : undefined;
}

/**
 * The wrapper PID 1 is, from its argv (/proc/1/cmdline split on NUL), or
 * undefined when it is something else (an init, tsinit's own launcher).
 */
export function wrapperName(argv: readonly string[]): string | undefined {
  if (argv.length === 0 || argv[0] === '') return undefined;
  // npm and friends rename themselves (process.title): "npm exec tsinit ..." as one string.
  const first = argv[0]!.split(' ')[0]!;
  const name = path.basename(first);
  if (!WRAPPERS.has(name)) return undefined;
  if (name === 'node') {
    const script = argv.slice(1).find((a) => !a.startsWith('-'));
    if (script !== undefined && path.basename(script) === 'tsinit') return undefined; // tsinit's own launcher
    return (script !== undefined && managerOf(script)) || 'node';
  }
  return name;
}

/**
 * Warns once when tsinit is not PID 1 and PID 1 is a wrapper (see
 * {@link wrapperName}). Reads /proc/1/cmdline only when /proc belongs to this
 * PID namespace; never throws.
 */
export function warnAboutWrapperPid1(log: Logger, pid = process.pid): void {
  if (pid === 1) return;
  try {
    if (!procIsOurs()) return;
    const argv = readFileSync('/proc/1/cmdline', 'utf8').split('\0').filter((a, i, all) => a !== '' || i < all.length - 1);
    const name = wrapperName(argv);
    if (name === undefined) return;
    log.warn('pid1', `PID 1 is ${name} (${argv.join(' ').slice(0, 120)}), not tsinit: ${name} does not pass the container's `
      + `stop signal on properly, so SIGTERM may never reach tsinit and your app. Make tsinit PID 1: `
      + `ENTRYPOINT ["tsinit", "--"] in exec form (a JSON array), not npx, npm start or a shell`);
  } catch {
    // a check, nothing more
  }
}
