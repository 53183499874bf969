/**
 * ESM entry of `tsinit`: re-exports the CommonJS build, so that ESM and
 * CommonJS users share one module instance (one reaper, one signal hub, one
 * owner of waitpid). Keep this list equal to index.ts's exports (a test
 * compares them). The build (scripts/build/bundle.mjs) replaces the emitted
 * index.mjs with one that loads dist/library.cjs through createRequire and
 * exports the same names; this file gives the declarations.
 * @module
 */
export {
  spawn, Supervised, SpawnError, PIPE_LINGER_MS,
  forwardSignals, DEFAULT_FORWARDED_SIGNALS,
  startReaper, Reaper, isPid1, setSubreaper, isSubreaper,
  signals, signalName, parseSignal, signalTable,
  runInit, parseCommandLine, UsageError,
  supervise, superviseAll, Service, ServiceGroup,
  parseRestartPolicy, formatRestartPolicy, nextRestartDelay, DEFAULT_RESTART_TIMING,
  parseProcfile, ProcfileError,
} from './index.js';
export type {
  SpawnOptions, StdioOption, StdioMode, StdioSpec, StdioStream, StdioStreams, StdioAt, StopReason, SupervisedState, SupervisedEvents,
  ForwardOptions, ReaperOptions, ReapEvent, ReaperEvents,
  ExitStatus, SignalLike, CliOptions,
  SuperviseOptions, ServiceState, ServiceEvents, RestartInfo, ServiceSpec, GroupResult, ServiceGroupEvents,
  RestartPolicy, RestartMode, RestartTiming, ProcfileEntry,
} from './index.js';
