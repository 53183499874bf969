/**
 * The modes tsinit runs in, defined once, so that a guarantee that holds in
 * every mode is written once and proved in each:
 *
 *     it.each(MODES)('a child killed by a signal gives 128+N, %s', async ({ pid1 }) => ...)
 *
 * A mode prints as its name (its toString), so `%s` in a test name reads as
 * part of the sentence ("..., as PID 1"); `$name` works too, quoted.
 */

/** Where tsinit runs. */
export interface Mode {
  /** How the mode ends a test name: "as PID 1", "as a subreaper (not PID 1)". */
  readonly name: string;
  /** PID 1 of a fresh PID namespace, or an ordinary process (which makes itself a subreaper): `RunOptions.pid1`. */
  readonly pid1: boolean;
  toString(): string;
}

function mode(name: string, pid1: boolean): Mode {
  return { name, pid1, toString: () => name };
}

/** tsinit as PID 1 of a fresh PID namespace, and as an ordinary process (a subreaper). */
export const MODES: readonly Mode[] = [
  mode('as PID 1', true),
  mode('as a subreaper (not PID 1)', false),
];

/** Whom tsinit forwards a signal to. */
export interface Forwarding {
  /** How it ends a test name. */
  readonly name: string;
  /** The options that choose it. */
  readonly args: readonly string[];
  /** Does a forwarded signal reach the child's whole process group (or the child alone)? */
  readonly group: boolean;
  toString(): string;
}

function forwarding(name: string, args: readonly string[], group: boolean): Forwarding {
  return { name, args, group, toString: () => name };
}

/** Forwarding to the child's process group (the default, -g) and to the child alone (-c). */
export const FORWARDING: readonly Forwarding[] = [
  forwarding('to the process group (-g)', ['-g'], true),
  forwarding('to the child only (-c)', ['-c'], false),
];

/** Every mode with every forwarding: `[mode, forwarding]` pairs for it.each. */
export const MODES_BY_FORWARDING: ReadonlyArray<readonly [Mode, Forwarding]> =
  MODES.flatMap((m) => FORWARDING.map((f) => [m, f] as const));
