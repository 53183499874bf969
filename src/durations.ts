/**
 * Durations in seconds — the grace period and the wait after the dump
 * signal — validated and defaulted in one place for the CLI and the
 * library alike, and waited for exactly: Infinity means never, and a finite
 * wait longer than setTimeout's ceiling (2^31-1 ms, about 24.8 days) is
 * chained instead of being clamped to 1 ms as Node does.
 * @module
 */

/** Default grace period: Kubernetes' and ECS's default termination grace. */
export const DEFAULT_GRACE_SECONDS = 30;
/** Default wait after the `dump` signal before SIGKILL. */
export const DEFAULT_DUMP_SECONDS = 2;
/** The longest delay setTimeout honours; Node turns a longer one into 1 ms. */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

function shown(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : String(value);
}

/** The one message for a bad duration, whichever way it came. */
function problem(what: string, value: unknown): string {
  return `${what} must be a number of seconds >= 0 (Infinity: never), got ${shown(value)}`;
}

/**
 * A duration given to the library: a number >= 0, Infinity included;
 * `undefined` gives `fallback`.
 * @throws {TypeError} on anything else (NaN, a negative number, a string).
 */
export function checkSeconds(value: unknown, what: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value >= 0)) throw new TypeError(problem(what, value));
  return value;
}

/**
 * A duration given as text (command line, environment): decimal seconds
 * (`30`, `2.5`, `.5`), or `inf`/`infinity` (any case) for never.
 * @throws {TypeError} otherwise, with the library's message.
 */
export function parseSeconds(text: string, what: string): number {
  const t = text.trim();
  if (/^(inf|infinity)$/i.test(t)) return Infinity;
  if (!/^(\d+(\.\d*)?|\.\d+)$/.test(t)) throw new TypeError(problem(what, text));
  return checkSeconds(Number(t), what, 0);
}

/** A pending wait made by {@link wait}. */
export interface Wait {
  /** Cancels it (idempotent). */
  cancel(): void;
}

/**
 * Calls `fn` once after `ms` milliseconds, however long: beyond
 * {@link MAX_TIMEOUT_MS} the timer is re-armed for what is left; Infinity
 * arms nothing at all.
 */
export function wait(ms: number, fn: () => void): Wait {
  let timer: NodeJS.Timeout | undefined;
  const end = Date.now() + ms;
  const arm = (left: number): void => {
    if (left > MAX_TIMEOUT_MS) {
      timer = setTimeout(() => arm(end - Date.now()), MAX_TIMEOUT_MS);
    } else {
      timer = setTimeout(fn, Math.max(0, left));
    }
  };
  if (ms !== Infinity) arm(ms);
  return { cancel: () => { clearTimeout(timer); timer = undefined; } };
}

/** "in 2.5 s", or "never" for Infinity: for log lines. */
export function describeIn(seconds: number): string {
  return seconds === Infinity ? 'never' : `in ${seconds.toFixed(1)} s`;
}
