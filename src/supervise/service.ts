/**
 * Services: supervised children that a restart policy starts again, alone
 * ({@link supervise}) or as a set with one stop ({@link superviseAll}).
 *
 * A {@link Service} is a sequence of runs, each one a {@link Supervised}
 * child. Its states:
 *
 *   running ─(run ends, policy restarts)─▶ restarting ─(delay)─▶ running
 *      │ stop                                   │ stop: no more runs
 *      ▼                                        ▼
 *   stopping ───────(run ends)──────────────▶ exited
 *
 * A stop (TERM/INT forwarded, or {@link Service.stop}) ends the policy.
 * @module
 */
import { EventEmitter } from 'node:events';
import type { ExitStatus } from '../exit-status';
import { formatRestartPolicy, isStop, NO_RESTART, parseRestartPolicy, RestartTracker, type RestartPolicy } from './restart';
import { STOP_SIGNALS, SIGTERM, signalName, toSignalNumber, type SignalLike } from '../signals';
import { normaliseRewrite, spawnSupervised, SpawnError, type SpawnOptions } from './spawn';
import type { Supervised } from './supervised';

/** Options of {@link supervise}: those of `spawn`, plus a restart policy. */
export interface SuperviseOptions extends SpawnOptions {
  /**
   * When a run that ended is started again, in Docker's syntax: `'no'`
   * (default), `'on-failure'`, `'on-failure:MAX'`, `'always'`, `'always:MAX'`,
   * or a parsed {@link RestartPolicy}. Delays: 100 ms doubling to 30 s, back
   * to 100 ms (and the count of consecutive restarts to 0) after a run of 10 s.
   */
  restart?: string | RestartPolicy;
}

/** States of a {@link Service}. */
export type ServiceState = 'running' | 'restarting' | 'stopping' | 'exited';

/** What a `restart` event tells. */
export interface RestartInfo {
  /** The run that ended (1 for the first). */
  run: number;
  /** Its pid. */
  pid: number;
  /** How it ended. */
  status: ExitStatus;
  /** How long it ran, ms. */
  ranMs: number;
  /** Delay before the next run starts, ms. */
  delayMs: number;
  /** Consecutive restarts including this one. */
  count: number;
}

/** Events of {@link Service}. */
export interface ServiceEvents {
  /** A run started (the first one too, emitted on the next tick). */
  spawn: [child: Supervised, run: number];
  /** A run ended and the policy starts another after `delayMs`. */
  restart: [info: RestartInfo];
  /** The policy's MAX was used up: the run that just ended is the last. */
  exhausted: [info: { run: number; status: ExitStatus; count: number }];
  /** The service ended for good (no restart follows). */
  exit: [status: ExitStatus];
  /** A run could not start the program; `finished` rejects with this error. */
  error: [err: SpawnError];
}

function normalisePolicy(r: SuperviseOptions['restart']): RestartPolicy {
  if (r === undefined) return NO_RESTART;
  if (typeof r === 'string') return parseRestartPolicy(r);
  if (typeof r === 'object' && r !== null && ['no', 'on-failure', 'always'].includes(r.mode)
    && (r.max === null || (Number.isInteger(r.max) && r.max >= 0))) return { mode: r.mode, max: r.max === 0 ? null : r.max };
  throw new TypeError(`restart must be 'no', 'on-failure[:MAX]', 'always[:MAX]' or a RestartPolicy, got ${JSON.stringify(r)}`);
}

/**
 * A child under a restart policy. Each run is a {@link Supervised}
 * ({@link current}); signals forwarded and stops apply to the current run.
 * `finished` resolves with the status of the last run once no restart follows.
 */
export class Service extends EventEmitter<ServiceEvents> {
  /** Resolves with the last run's status when the service ended for good; rejects with a SpawnError when a run could not start. */
  readonly finished: Promise<ExitStatus>;
  /** The parsed restart policy. */
  readonly policy: RestartPolicy;

  private child: Supervised | undefined;
  private stateName: ServiceState = 'running';
  private readonly tracker: RestartTracker;
  private timer: NodeJS.Timeout | undefined;
  private startedAt = 0;
  private sent = new Set<number>();
  private last: ExitStatus | undefined;
  private readonly rewrite: Map<number, number>;
  private resolve!: (s: ExitStatus) => void;
  private reject!: (e: Error) => void;

  /** @internal Use {@link supervise}. */
  constructor(
    private readonly command: string,
    private readonly args: readonly string[],
    private readonly options: SpawnOptions,
    policy: RestartPolicy,
  ) {
    super();
    this.policy = policy;
    this.rewrite = normaliseRewrite(options.rewrite);
    this.tracker = new RestartTracker(policy);
    this.finished = new Promise((resolve, reject) => { this.resolve = resolve; this.reject = reject; });
    this.finished.catch(() => { /* the caller may only listen to events */ });
    this.startRun(true);
  }

  /** Current state. */
  get state(): ServiceState {
    return this.stateName;
  }

  /** The current (or last) run's child. */
  get current(): Supervised | undefined {
    return this.child;
  }

  /** The number of the current (or last) run, 1 for the first. */
  get run(): number {
    return this.tracker.run;
  }

  /** Consecutive restarts so far (a run of 10 s resets it). */
  get restarts(): number {
    return this.tracker.count;
  }

  /** The final status once `exit` was emitted. */
  get exitStatus(): ExitStatus | undefined {
    return this.stateName === 'exited' ? this.last : undefined;
  }

  /** The policy in Docker's syntax. */
  get policyText(): string {
    return formatRestartPolicy(this.policy);
  }

  /** The error of a first run that could not start (then `finished` rejects with it). @internal */
  startError: SpawnError | undefined;

  private startRun(first: boolean): void {
    let child: Supervised;
    try {
      child = spawnSupervised(this.command, this.args, this.options);
    } catch (err) {
      if (!(err instanceof SpawnError)) throw err; // invalid options: a programming error
      this.stateName = 'exited';
      if (first) this.startError = err;
      this.reject(err);
      const report = (): void => { if (this.listenerCount('error') > 0) this.emit('error', err); };
      if (first) process.nextTick(report); else report();
      return;
    }
    this.child = child;
    this.stateName = 'running';
    this.startedAt = Date.now();
    this.sent = new Set();
    const run = this.tracker.run;
    child.on('exit', (status) => this.onRunExit(child, status));
    if (first) process.nextTick(() => this.emit('spawn', child, run));
    else this.emit('spawn', child, run);
  }

  private onRunExit(child: Supervised, status: ExitStatus): void {
    this.last = status;
    const ranMs = Date.now() - this.startedAt;
    const d = this.tracker.decide(status, ranMs, this.sent);
    if (d.restart) {
      this.stateName = 'restarting';
      this.emit('restart', { run: d.run - 1, pid: child.pid, status, ranMs, delayMs: d.delayMs, count: d.count });
      if (this.stateName !== 'restarting') return; // a listener stopped it
      this.timer = setTimeout(() => { this.timer = undefined; this.startRun(false); }, d.delayMs);
      return;
    }
    if (d.reason === 'exhausted') this.emit('exhausted', { run: this.tracker.run, status, count: this.tracker.count });
    this.end(status);
  }

  private end(status: ExitStatus): void {
    this.stateName = 'exited';
    this.resolve(status);
    this.emit('exit', status);
  }

  /**
   * Forwards a received signal to the current run with the init's rules
   * (rewrite table; TERM/INT begin a stop and end the policy). While waiting
   * to restart, TERM/INT end the service at once (with the last run's status)
   * and other signals are dropped. Returns the signal sent, or 0.
   */
  forward(signum: number): number {
    const to = this.rewrite.has(signum) ? this.rewrite.get(signum)! : signum;
    const stop = isStop(signum, to);
    if (stop) this.tracker.stop();
    if (this.stateName === 'restarting') {
      if (stop) this.cancelRestart();
      return 0;
    }
    if (this.stateName === 'exited' || this.child === undefined) return 0;
    if (stop) this.stateName = 'stopping';
    const sent = this.child.forward(signum);
    if (sent !== 0) this.sent.add(sent);
    return sent;
  }

  /** Sends `sig` as is to the current run (its group). False when nothing received it. */
  signal(sig: SignalLike): boolean {
    if (this.stateName !== 'running' && this.stateName !== 'stopping') return false;
    const signum = toSignalNumber(sig);
    const ok = this.child?.signal(signum) ?? false;
    if (ok) this.sent.add(signum);
    return ok;
  }

  /**
   * Stops the service: no restart after this; the current run gets the
   * kill signal, SIGKILL at the grace deadline (see `Supervised.stop`).
   * While waiting to restart, ends at once. Resolves like `finished`.
   */
  stop(options: { signal?: SignalLike; grace?: number } = {}): Promise<ExitStatus> {
    this.tracker.stop();
    if (this.stateName === 'restarting') this.cancelRestart();
    else if (this.stateName === 'running' && this.child !== undefined) {
      this.stateName = 'stopping';
      this.sent.add(toSignalNumber(options.signal ?? this.options.killSignal ?? SIGTERM));
      void this.child.stop(options);
    }
    return this.finished;
  }

  private cancelRestart(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.end(this.last!);
  }
}

/**
 * Starts `command` as a supervised child under a restart policy. Like
 * `spawn`, it never throws for a program that cannot be started: `finished`
 * rejects with the {@link SpawnError} (and `error` is emitted when listened to).
 *
 * ```ts
 * const svc = supervise('node', ['worker.js'], { restart: 'on-failure:5', grace: 10 });
 * svc.on('restart', (r) => console.log(`run ${r.run} ended (${r.status.status}), again in ${r.delayMs} ms`));
 * const status = await svc.finished;
 * ```
 * @throws {TypeError} on invalid options; {@link RangeError} on a bad policy string.
 */
export function supervise(command: string, args: readonly string[] = [], options: SuperviseOptions = {}): Service {
  const { restart, ...spawnOptions } = options;
  return new Service(command, args, spawnOptions, normalisePolicy(restart));
}

/** One member of {@link superviseAll}. */
export interface ServiceSpec {
  /** Name, unique in the set. */
  name: string;
  command: string;
  args?: readonly string[];
  /** Spawn options and restart policy of this service (`grace` comes from the set). */
  options?: SuperviseOptions;
}

/** How a {@link ServiceGroup} ended. */
export interface GroupResult {
  /** The service whose status decides: the first to end for good, or on a stop the first listed. */
  name: string;
  status: ExitStatus;
  /** Whether a stop (TERM/INT or {@link ServiceGroup.stop}) ended the set. */
  stopped: boolean;
  /** Every service's final status. */
  statuses: ReadonlyMap<string, ExitStatus>;
}

/** Events of {@link ServiceGroup}. */
export interface ServiceGroupEvents {
  /** A service's run started. */
  spawn: [name: string, child: Supervised, run: number];
  /** A service's run ended and restarts after `delayMs`. */
  restart: [name: string, info: RestartInfo];
  /** A service ended for good. */
  exit: [name: string, status: ExitStatus];
  /** The set is stopping every service: a stop signal, `stop()`, or `name` ended (foreman's rule). */
  stopping: [info: { cause: 'signal' | 'exit'; name?: string; signal: string; deadline: number }];
}

/**
 * Several services with one stop: when one ends for good, or a stop comes,
 * every other one gets the stop signal with one grace deadline.
 */
export class ServiceGroup extends EventEmitter<ServiceGroupEvents> {
  /** The services by name, in the order given. */
  readonly services: ReadonlyMap<string, Service>;
  /** Resolves once every service ended for good. */
  readonly finished: Promise<GroupResult>;
  /** Seconds from the stop signal to SIGKILL. */
  readonly grace: number;

  private decided: { name: string; status: ExitStatus; stopped: boolean } | undefined;
  private stopDeadline: number | undefined;
  private readonly statuses = new Map<string, ExitStatus>();
  private resolve!: (r: GroupResult) => void;
  private readonly killSignal: number;

  /** @internal Use {@link superviseAll}. */
  constructor(services: Map<string, Service>, grace: number, killSignal: number) {
    super();
    this.services = services;
    this.grace = grace;
    this.killSignal = killSignal;
    this.finished = new Promise((resolve) => { this.resolve = resolve; });
    for (const [name, svc] of services) {
      svc.on('spawn', (child, run) => this.emit('spawn', name, child, run));
      svc.on('restart', (info) => this.emit('restart', name, info));
      svc.on('exit', (status) => this.onServiceExit(name, status));
      svc.finished.catch((err: unknown) => this.onServiceExit(name, { code: null, signal: null, status: (err as SpawnError).code === 'ENOENT' ? 127 : 126 }));
    }
  }

  /** The grace deadline of the stop under way (ms since the epoch), if any. */
  get deadline(): number | undefined {
    return this.stopDeadline;
  }

  private onServiceExit(name: string, status: ExitStatus): void {
    if (this.statuses.has(name)) return;
    this.statuses.set(name, status);
    this.emit('exit', name, status);
    if (this.decided === undefined) {
      this.decided = { name, status, stopped: false };
      this.stopAll('exit', this.killSignal, name);
    }
    if (this.statuses.size === this.services.size) {
      let d = this.decided;
      if (d.stopped) {
        const [first] = this.services.keys();
        d = { name: first!, status: this.statuses.get(first!)!, stopped: true };
      }
      this.resolve({ ...d, statuses: this.statuses });
    }
  }

  /** Begins the one stop: every service still running gets `signum`, all with the same deadline. */
  private stopAll(cause: 'signal' | 'exit', signum: number, name?: string): void {
    if (this.stopDeadline !== undefined) return;
    const now = Date.now();
    this.stopDeadline = now + this.grace * 1000;
    this.emit('stopping', { cause, name, signal: signalName(signum), deadline: this.stopDeadline });
    for (const svc of this.services.values()) {
      if (svc.state === 'exited') continue;
      void svc.stop({ signal: signum, grace: Math.max(0, (this.stopDeadline - Date.now()) / 1000) });
    }
  }

  /**
   * Forwards a received signal to every service (their own rewrite tables
   * apply); TERM/INT stop them all with one deadline. Returns how many
   * services it reached.
   */
  forward(signum: number): number {
    const stop = STOP_SIGNALS.has(signum);
    if (stop && this.decided === undefined) this.decided = { name: '', status: { code: null, signal: null, status: 0 }, stopped: true };
    let n = 0;
    if (stop && this.stopDeadline === undefined) {
      const now = Date.now();
      this.stopDeadline = now + this.grace * 1000;
      this.emit('stopping', { cause: 'signal', signal: signalName(signum), deadline: this.stopDeadline });
    }
    for (const svc of this.services.values()) if (svc.forward(signum) !== 0) n++;
    return n;
  }

  /** Stops every service (one deadline); resolves like `finished`. */
  stop(options: { signal?: SignalLike } = {}): Promise<GroupResult> {
    if (this.decided === undefined) this.decided = { name: '', status: { code: null, signal: null, status: 0 }, stopped: true };
    this.stopAll('signal', options.signal === undefined ? this.killSignal : toSignalNumber(options.signal));
    return this.finished;
  }
}

/**
 * Starts several services that live and stop together (a Procfile's rule,
 * as foreman's): when one ends and its policy does not restart it, the
 * others get the stop signal with one grace deadline, then SIGKILL;
 * `finished` resolves with that service's status. A stop signal forwarded
 * with {@link ServiceGroup.forward} (or `stop()`) stops all the same way,
 * and the first listed service's status decides.
 *
 * @throws {SpawnError} when a service cannot start, with `service` set to its name (those already started are killed at once).
 * @throws {TypeError} on duplicate names or invalid options.
 */
export function superviseAll(specs: readonly ServiceSpec[], options: { grace?: number; killSignal?: SignalLike } = {}): ServiceGroup {
  const grace = options.grace ?? 30;
  if (typeof grace !== 'number' || !(grace >= 0) || !Number.isFinite(grace)) throw new TypeError(`grace must be a number of seconds >= 0, got ${String(grace)}`);
  if (specs.length === 0) throw new TypeError('superviseAll needs at least one service');
  const services = new Map<string, Service>();
  for (const spec of specs) {
    if (typeof spec.name !== 'string' || spec.name === '') throw new TypeError('every service needs a name');
    if (services.has(spec.name)) throw new TypeError(`duplicate service name '${spec.name}'`);
    services.set(spec.name, undefined!);
  }
  services.clear();
  try {
    for (const spec of specs) {
      const svc = supervise(spec.command, spec.args ?? [], { ...spec.options, grace });
      services.set(spec.name, svc);
      if (svc.startError !== undefined) throw Object.assign(svc.startError, { service: spec.name });
    }
  } catch (err) {
    for (const svc of services.values()) void svc.stop({ signal: 'SIGKILL' });
    throw err;
  }
  return new ServiceGroup(services, grace, toSignalNumber(options.killSignal ?? SIGTERM));
}
