/**
 * The single owner of waitpid in this process. Statuses of supervised
 * children go to their objects, orphans to the reaper, and libuv's children
 * (child_process) stay libuv's.
 *
 * Two modes:
 * - shared (the library default): on SIGCHLD, `waitpid(pid)` for each owned
 *   pid only, then the orphan sweep if a reaper runs. Never `waitpid(-1)`,
 *   which would steal child_process exit statuses.
 * - exclusive (the CLI, which never uses child_process): `waitpid(-1)` until
 *   nothing is ready, each status to its owner or to the orphan handler.
 * @internal
 * @module
 */
import { isFinal, waitAny, waitPid, type WaitEvent } from '../native';
import { subscribe, setKeepAlive } from './signal-hub';
import { SIGCHLD } from '../signals';

export type { WaitEvent };

type Handler = (ev: WaitEvent) => void;

const owned = new Map<number, Handler>();
let exclusive: { onOrphan: (pid: number, ev: WaitEvent) => void; onSwept: (more: boolean) => void } | undefined;
let orphanSweep: (() => void) | undefined;
let unsubscribe: (() => void) | undefined;

function onSigchld(): void {
  sweep();
}

function updateKeepAlive(): void {
  if (unsubscribe !== undefined) setKeepAlive(SIGCHLD, onSigchld, exclusive !== undefined || owned.size > 0);
}

/** Starts watching SIGCHLD. Call before spawning, so no exit goes unnoticed. */
export function watchChildren(): void {
  if (unsubscribe === undefined) unsubscribe = subscribe([SIGCHLD], onSigchld, false);
  updateKeepAlive();
}

/** Registers `handler` for every wait status of `pid` (stops and continues included). */
export function own(pid: number, handler: Handler): void {
  watchChildren();
  owned.set(pid, handler);
  updateKeepAlive();
}

function deliver(pid: number, ev: WaitEvent): void {
  const handler = owned.get(pid);
  if (isFinal(ev)) owned.delete(pid);
  if (handler !== undefined) handler(ev);
  else exclusive?.onOrphan(pid, ev);
}

/**
 * Takes every child of this process: from now on `waitpid(-1)` reaps them
 * all. Only for a process that never uses child_process (the CLI).
 * `onSwept(more)` runs after each sweep; `more` is false once this process
 * has no children at all.
 */
export function claimAllChildren(onOrphan: (pid: number, ev: WaitEvent) => void, onSwept: (more: boolean) => void): void {
  exclusive = { onOrphan, onSwept };
  watchChildren();
}

/** Sets the orphan sweep a shared-mode reaper runs after the owned pids (or clears it). */
export function setOrphanSweep(fn: (() => void) | undefined): void {
  orphanSweep = fn;
  if (fn !== undefined) watchChildren();
}

/** Collects every ready status now. Runs on SIGCHLD; safe to call any time. */
export function sweep(): void {
  if (exclusive !== undefined) {
    const { reaped, more } = waitAny();
    for (const r of reaped) deliver(r.pid, r.event);
    updateKeepAlive();
    exclusive.onSwept(more);
    return;
  }
  for (const pid of [...owned.keys()]) {
    let ev: WaitEvent | null | undefined;
    while ((ev = waitPid(pid, true)) !== null && ev !== undefined) {
      deliver(pid, ev);
      if (isFinal(ev)) break;
    }
    if (ev === undefined && owned.has(pid)) {
      // Someone else reaped it (another addon's waitpid): report it lost rather than hang.
      deliver(pid, { kind: 'lost', value: 0 });
    }
  }
  updateKeepAlive();
  orphanSweep?.();
}

/** Whether `pid` is a child some Supervised object owns. */
export function isOwned(pid: number): boolean {
  return owned.has(pid);
}
