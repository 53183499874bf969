/**
 * A supervised child: the state machine behind both the CLI and the library,
 * from the stop signal to the exit status. Starting a child is spawn.ts's.
 *
 * A {@link Supervised} child moves through named states:
 *
 *   running ──stop signal──▶ stopping (deadline armed) ──deadline──▶ killing ──▶ exited
 *                                 └──deadline, `dump` set──▶ dumping ──seconds──┘
 *      └──────────────────────────── exits on its own ──────────────────────────▶ exited
 *
 * `beginStop` is the transition into `stopping`, `onDeadline` the one into
 * `dumping` (or straight on), `escalate` the one into `killing`, `onWait`
 * the one into `exited`.
 * @module
 */
import { EventEmitter } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import { ESRCH, native } from '../native';
import { own, type WaitEvent } from '../core/children';
import { exitedWith, killedBy, lostStatus, type ExitStatus } from '../exit-status';
import { continueIfStopped } from '../diagnosis/proc';
import { childStopped } from '../diagnosis/targets';
import { checkSeconds, wait, type Wait } from '../durations';
import { STOP_SIGNALS, signalName, toSignalNumber, SIGCONT, SIGKILL, type SignalLike } from '../signals';

/** States of a supervised child. */
export type SupervisedState = 'running' | 'stopping' | 'dumping' | 'killing' | 'exited';

/** What began a stop (see the `stopping` event). */
export type StopReason = 'stop' | 'forward' | 'timeout' | 'abort';

/** Events of {@link Supervised}. */
export interface SupervisedEvents {
  /** The child was reaped. */
  exit: [status: ExitStatus];
  /**
   * A stop began: the stop signal was sent and the grace deadline armed.
   * `reason` says what began it: a {@link Supervised.stop} call, a signal
   * {@link Supervised.forward}ed, the `timeout` option, or the `signal` option's abort.
   */
  stopping: [info: { signal: string; deadline: number; reason: StopReason }];
  /**
   * The grace deadline passed and the `dump` signal is about to go to the
   * group (emitted just before it is sent); SIGKILL follows after `seconds`.
   */
  dump: [info: { signal: string; seconds: number; after: number }];
  /** SIGKILL is about to go to the group (emitted just before it is sent: the survivors are still there to look at). */
  escalating: [info: { signal: 'SIGKILL'; after: number }];
  /** The grace deadline passed: SIGKILL went to the group. */
  escalated: [info: { signal: 'SIGKILL'; after: number }];
  /** The child was stopped (job control) by this signal. */
  stopped: [signal: string];
  /** The child was continued. */
  continued: [];
}

/**
 * After the child is reaped, how long its `exit` waits at most for stdout and
 * stderr pipes that are still open: another process (a grandchild) may hold
 * their write ends. The streams themselves stay open and keep delivering.
 */
export const PIPE_LINGER_MS = 1000;

/**
 * A child process started by {@link spawn} and supervised until it is reaped.
 *
 * Order of events at the end: the child is reaped (`state` becomes
 * 'exited'), then its stdout and stderr pipes end (every byte it wrote has
 * been delivered to their consumers), then `exit` is emitted and `exited`
 * resolves. A pipe nobody ever read from is not waited for, and one held
 * open by another process delays `exit` by at most {@link PIPE_LINGER_MS}.
 */
export class Supervised extends EventEmitter<SupervisedEvents> {
  /** The child's pid; 0 when the program could not be started (then `exited` rejects). */
  readonly pid: number;
  /** The process group signals go to (the child's own when `group`, else this process's); 0 when not started. */
  readonly pgid: number;
  /**
   * Resolves with the exit status once the child is reaped and its output
   * pipes have ended. Rejects with a {@link SpawnError} (`code` ENOENT,
   * EACCES, ...) when the program could not be started.
   */
  readonly exited: Promise<ExitStatus>;
  /**
   * The child's stdin when `stdio[0]` is 'pipe', else null. As with
   * child_process, a write after the child closed its end fails with EPIPE
   * (an 'error' event: listen for it if that can happen).
   */
  readonly stdin: Writable | null;
  /** The child's stdout when `stdio[1]` is 'pipe', else null. */
  readonly stdout: Readable | null;
  /** The child's stderr when `stdio[2]` is 'pipe', else null. */
  readonly stderr: Readable | null;
  /** Whether signals go to the whole group. */
  readonly group: boolean;
  /** Seconds from stop signal to SIGKILL. */
  readonly grace: number;

  private stateName: SupervisedState = 'running';
  private status: ExitStatus | undefined;
  private resolveExit!: (s: ExitStatus) => void;
  private timer: Wait | undefined;
  private stopStartedAt: number | undefined;
  private stopDeadline: number | undefined;
  private readonly rewrite: Map<number, number>;
  private readonly killSignal: number;
  private readonly dump: { signal: number; seconds: number } | undefined;
  /** Undoes the `timeout` timer and the `signal` listener (at exit). */
  private disarm: (() => void) | undefined;

  /** @internal Use {@link spawn}. */
  constructor(pid: number, opts: {
    group: boolean; grace: number; rewrite: Map<number, number>; killSignal: number;
    /** Signal to send at the grace deadline, and seconds to wait before SIGKILL. */
    dump?: { signal: number; seconds: number };
    streams?: readonly [Writable | null, Readable | null, Readable | null];
    /** The program could not be started: `exited` rejects with this. */
    failure?: Error;
    /** Milliseconds until a stop begins (0: never). */
    timeout?: number;
    /** A stop begins when it is aborted. */
    abort?: AbortSignal;
  }) {
    super();
    this.pid = pid;
    this.group = opts.group;
    this.grace = opts.grace;
    this.rewrite = opts.rewrite;
    this.killSignal = opts.killSignal;
    this.dump = opts.dump;
    [this.stdin, this.stdout, this.stderr] = opts.streams ?? [null, null, null];
    if (opts.failure !== undefined) {
      this.pgid = 0;
      this.stateName = 'exited';
      this.exited = Promise.reject(opts.failure);
      return;
    }
    this.pgid = opts.group ? pid : native().getpgid(0);
    this.exited = new Promise((resolve) => { this.resolveExit = resolve; });
    own(pid, (ev) => this.onWait(ev));
    this.arm(opts.timeout ?? 0, opts.abort);
  }

  /** Arms the `timeout` timer and the `signal` listener; both begin a stop. */
  private arm(timeout: number, abort: AbortSignal | undefined): void {
    if (timeout <= 0 && abort === undefined) return;
    const timer = timeout > 0 ? setTimeout(() => this.stopFor('timeout'), timeout) : undefined;
    timer?.unref(); // the child itself keeps the loop alive while it runs
    const onAbort = (): void => this.stopFor('abort');
    abort?.addEventListener('abort', onAbort, { once: true });
    this.disarm = () => {
      clearTimeout(timer);
      abort?.removeEventListener('abort', onAbort);
    };
  }

  /** Begins a stop with the kill signal and the grace period, as stop() does. */
  private stopFor(reason: StopReason): void {
    if (this.stateName === 'running') this.beginStop(this.killSignal, this.grace, reason);
  }

  /** Current state. */
  get state(): SupervisedState {
    return this.stateName;
  }

  /** The exit status once reaped. */
  get exitStatus(): ExitStatus | undefined {
    return this.status;
  }

  /** When the current stop began (ms since the epoch), if one did. */
  get stopStarted(): number | undefined {
    return this.stopStartedAt;
  }

  /** The grace deadline (ms since the epoch) of the current stop, if one is armed. */
  get deadline(): number | undefined {
    return this.stopDeadline;
  }

  /**
   * Sends `sig` as is (no rewrite) to the child's group, or to the child alone
   * when `group` is false. Returns false when nothing received it.
   */
  signal(sig: SignalLike): boolean {
    return this.send(toSignalNumber(sig)) === 0;
  }

  /** Sends to the group or child; returns 0 or the errno. */
  private send(signum: number): number {
    if (this.pid <= 0) return ESRCH; // never started: nothing to signal (and never kill(0))
    if (this.stateName === 'exited' && !this.group) return ESRCH; // never signal a recycled pid
    if (!this.group) return native().kill(this.pid, signum);
    const rc = native().kill(-this.pgid, signum);
    // The child left its group (setsid/setpgid) and took the group's last
    // member with it: it must still get the signal.
    if (rc === ESRCH && this.stateName !== 'exited') return native().kill(this.pid, signum);
    return rc;
  }

  /**
   * Forwards a signal this process received, with the init's rules: the
   * rewrite table applies (a target of 0 drops it), and a SIGTERM or SIGINT
   * begins a stop (deadline armed, SIGCONT sent after it when the group has
   * a stopped process). Returns the
   * number actually sent, or 0 when dropped.
   */
  forward(signum: number): number {
    const to = this.rewrite.has(signum) ? this.rewrite.get(signum)! : signum;
    if (to === 0) return 0;
    if (STOP_SIGNALS.has(signum)) this.beginStop(to, this.grace, 'forward');
    else this.send(to);
    return to;
  }

  /**
   * Stops the child: sends the kill signal (default SIGTERM), SIGCONT when a
   * process of the group is stopped (so that it can act on it), and
   * SIGKILLs the group if it is still alive when the grace deadline passes.
   * Idempotent; resolves when the child is reaped.
   */
  stop(options: { signal?: SignalLike; grace?: number } = {}): Promise<ExitStatus> {
    if (this.stateName === 'running') {
      const signum = options.signal === undefined ? this.killSignal : toSignalNumber(options.signal);
      const grace = checkSeconds(options.grace, 'grace', this.grace);
      this.beginStop(signum, grace, 'stop');
    }
    return this.exited;
  }

  /** Transition running → stopping: send `signum` (and SIGCONT to a stopped group), arm the deadline. */
  private beginStop(signum: number, grace: number, reason: StopReason): void {
    // The grace counts from the signal, not from the end of its sending
    // (signalling a group of thousands takes the kernel tens of ms).
    const at = Date.now();
    this.send(signum);
    const first = this.stateName === 'running';
    if (first) {
      this.stateName = 'stopping';
      this.stopStartedAt = at;
      this.stopDeadline = at + grace * 1000;
      this.timer = wait(Math.max(0, this.stopDeadline - Date.now()), () => this.onDeadline());
    }
    // A stopped process cannot act on the stop signal until it is continued;
    // a running one must not get a SIGCONT that nobody sent.
    if (signum !== SIGKILL && signum !== SIGCONT) continueIfStopped(() => this.hasStoppedMember(), () => this.send(SIGCONT));
    if (first) this.emit('stopping', { signal: signalName(signum), deadline: this.stopDeadline!, reason });
  }

  /** Whether the child, or a member of its group, is stopped by job control (true when /proc cannot tell). */
  private hasStoppedMember(): boolean {
    if (this.stateName === 'exited') return false;
    return childStopped(this.pid, this.pgid, this.group);
  }

  /** The grace deadline passed: transition stopping → dumping when a dump signal is set, else escalate. */
  private onDeadline(): void {
    this.timer = undefined;
    if (this.dump === undefined || this.stateName !== 'stopping') { this.escalate(); return; }
    this.stateName = 'dumping';
    const after = Date.now() - (this.stopStartedAt ?? Date.now());
    this.emit('dump', { signal: signalName(this.dump.signal), seconds: this.dump.seconds, after });
    if (this.stateName !== 'dumping') return; // a listener escalated, or the child was reaped meanwhile
    this.send(this.dump.signal);
    this.timer = wait(this.dump.seconds * 1000, () => this.escalate());
  }

  /** Transition stopping (or dumping) → killing: SIGKILL to the group. */
  escalate(): void {
    if (this.stateName === 'exited' || this.stateName === 'killing') return;
    this.stateName = 'killing';
    this.timer?.cancel();
    this.timer = undefined;
    this.emit('escalating', { signal: 'SIGKILL', after: Date.now() - (this.stopStartedAt ?? Date.now()) });
    this.send(SIGKILL);
    if (this.group) native().kill(this.pid, SIGKILL); // also when it left its group
    this.emit('escalated', { signal: 'SIGKILL', after: Date.now() - (this.stopStartedAt ?? Date.now()) });
  }

  /** Transition any → exited, or a job-control notification. */
  private onWait(ev: WaitEvent): void {
    if (ev.kind === 'stopped') { this.emit('stopped', signalName(ev.value)); return; }
    if (ev.kind === 'continued') { this.emit('continued'); return; }
    const status = ev.kind === 'exited' ? exitedWith(ev.value) : ev.kind === 'killed' ? killedBy(ev.value) : lostStatus();
    this.status = status;
    this.stateName = 'exited';
    this.timer?.cancel();
    this.timer = undefined;
    this.disarm?.();
    this.disarm = undefined;
    this.afterOutput(() => {
      this.resolveExit(status);
      this.emit('exit', status);
    });
  }

  /**
   * Runs `fn` once stdout and stderr have ended (synchronously when there is
   * no pipe to wait for). Pipes never read from are not waited for; pipes
   * still open {@link PIPE_LINGER_MS} after the reap no longer hold `fn` back.
   */
  private afterOutput(fn: () => void): void {
    const waiting = [this.stdout, this.stderr].filter((s): s is Readable =>
      s !== null && !s.readableEnded && !s.destroyed && s.readableFlowing !== null);
    if (waiting.length === 0) { fn(); return; }
    let left = waiting.length;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(linger);
      fn();
    };
    const linger = setTimeout(finish, PIPE_LINGER_MS);
    const { finished } = lazyStream();
    for (const s of waiting) {
      finished(s, { writable: false }, () => { if (--left === 0) finish(); });
    }
  }
}

// node:stream serves the library's pipes only. The CLI never makes one, and
// loading it (with what it loads) is a measurable part of start-up, so it is
// required on first use.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const lazyStream = (): typeof import('node:stream') => require('node:stream') as typeof import('node:stream');
