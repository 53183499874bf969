/**
 * tsinit as a library: supervised children, signal forwarding and the init
 * itself, for Node programs that supervise workers or run as PID 1.
 * @module
 */
export { spawnSupervised as spawn, Supervised, SpawnError, type SpawnOptions, type StdioOption, type SupervisedState, type SupervisedEvents } from './supervisor';
export { type ExitStatus } from './exit-status';
export { signalName, parseSignal, signalTable, type SignalLike } from './signals';
export { runInit } from './init';
export { parseCommandLine, UsageError, type CliOptions } from './options';
