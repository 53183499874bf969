/**
 * tsinit as a library: supervised children, signal forwarding and a safe
 * reaper, for Node programs that supervise workers or run as PID 1.
 *
 * - {@link spawn} starts a child with the init's semantics and returns a
 *   {@link Supervised} (stop with a grace deadline, exact exit status).
 * - {@link supervise} adds a restart policy (Docker's `on-failure:3`, ...) to a
 *   supervised child; {@link superviseAll} runs several with one stop.
 * - {@link forwardSignals} forwards this process's signals to supervised children.
 * - {@link startReaper} reaps orphaned zombies without ever taking a child that
 *   child_process, worker_threads or a Supervised owns.
 * - `node-tsinit/register` does the PID 1 chores in one import.
 * @module
 */
import { signalTable } from './signals';
import type { runInit as RunInit } from './init/init';

export {
  spawn, SpawnError,
  type SpawnOptions, type StdioOption, type StdioMode, type StdioSpec, type StdioStream, type StdioStreams, type StdioAt,
} from './supervise/spawn';
export {
  Supervised, PIPE_LINGER_MS, type StopReason, type SupervisedState, type SupervisedEvents,
} from './supervise/supervised';
export {
  supervise, superviseAll, Service, ServiceGroup,
  type SuperviseOptions, type ServiceState, type ServiceEvents, type RestartInfo,
  type ServiceSpec, type GroupResult, type ServiceGroupEvents,
} from './supervise/service';
export {
  parseRestartPolicy, formatRestartPolicy, nextRestartDelay, DEFAULT_RESTART_TIMING,
  type RestartPolicy, type RestartMode, type RestartTiming,
} from './supervise/restart';
export { parseProcfile, ProcfileError, type ProcfileEntry } from './init/procfile';
export { forwardSignals, DEFAULT_FORWARDED_SIGNALS, type ForwardOptions } from './supervise/forward';
export {
  startReaper, Reaper, isPid1, setSubreaper, isSubreaper,
  type ReaperOptions, type ReapEvent, type ReaperEvents,
} from './supervise/reaper';
export { type ExitStatus } from './exit-status';
export { signalName, parseSignal, signalTable, type SignalLike } from './signals';
export type { RawCommand } from './init/init';
export { parseCommandLine, UsageError, type CliOptions } from './init/options';
export { Logger, Level, type LogFields } from './init/log';

/**
 * Signal names to numbers on Linux, real-time signals included
 * (`SIGTERM` → 15, `SIGRTMIN` → 34, `SIGRTMIN+3` → 37, `SIGRTMAX-1` → 63).
 * For the other direction use {@link signalName}; to parse user input
 * (`term`, `15`, `RTMIN+3`) use {@link parseSignal}.
 */
export const signals: Readonly<Record<string, number>> = Object.freeze(signalTable());

/**
 * Runs the init (the `tsinit` command's work) with parsed options: spawns
 * PROGRAM, forwards signals, reaps, and resolves with the status to exit with.
 * The init's modules load on the first call, so that a program using only
 * the supervisor does not pay for them.
 */
export function runInit(...args: Parameters<typeof RunInit>): ReturnType<typeof RunInit> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('./init/init') as typeof import('./init/init')).runInit(...args);
}
