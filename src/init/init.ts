/**
 * The init: what tsinit does as PID 1 (or as a subreaper) around its one
 * supervised child. The CLI is a thin layer over {@link runInit}.
 *
 * Life of an init ({@link InitState}), each transition a named method below:
 *
 *   starting ─spawn─▶ running ─onChildExit─▶ draining ─onSwept: nothing left─▶ exited (finish)
 *      │                 │  └─maybeRestart─▶ restarting ─delay─▶ running (spawn)
 *      └─failSpawn─▶ exited                 └─stop signal─▶ exited (onSignalWhileRestarting)
 *
 * While running, a stop signal moves the child's Supervised from running to
 * stopping, dumping and killing (supervised.ts). While draining, what is
 * left gets SIGTERM, then SIGKILL at the deadline: the drain's own states
 * are in leftovers.ts.
 *
 * Point of no return: once the child runs, no error of tsinit's own may end
 * tsinit; it warns and carries on, and the child's status still propagates.
 * @module
 */
import { native } from '../native';
import { claimAllChildren } from '../core/children';
import { describeStatus, killedBy, remapStatus, spawnFailureStatus, type ExitStatus } from '../exit-status';
import type { Logger } from './log';
import type { CliOptions } from './options';
import { procIsOurs } from '../diagnosis/proc';
import { admitSignal, logReaped, prepareInit } from './setup';
import { closeInherited, forwardsSocketActivation, inheritedFds, LISTEN_PID } from './inherited-fds';
import { stashedLimits } from './startup';
import { STOP_SIGNALS, JOB_CONTROL_STOPS, SIGCONT, SIGKILL, SIGSTOP, signalName, toSignalNumber } from '../signals';
import { LeftoverDrain } from './leftovers';
import { StopReport } from './stop-report';
import { formatRestartPolicy, isStop, RestartTracker } from '../supervise/restart';
import { signalOutsiders, type Outsider } from '../diagnosis/targets';
import { spawnSupervised, SpawnError } from '../supervise/spawn';
import type { Supervised } from '../supervise/supervised';
import { terminationLogPath } from './termination-log';
import { childEnvironmentEntries, PRIVATE, STASHED, STASHED_NODE_OPTIONS, STASHED_PPID } from '../core/raw-invocation';

export { STASHED_NODE_OPTIONS, STASHED_PPID };

/**
 * The child's environment: tsinit's own, minus the wrapper's private
 * variables, with NODE_OPTIONS and LD_PRELOAD restored exactly as the caller
 * set them (set-but-empty stays set, unset stays unset).
 */
export function childEnvironment(env: Readonly<Record<string, string | undefined>>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = { ...env };
  for (const name of PRIVATE) delete out[name];
  for (const { name, stash } of STASHED) {
    const stashed = env[stash];
    if (stashed === undefined) continue;
    // Stored as 'x' and the value, or empty when the caller had none.
    if (stashed.startsWith('x')) out[name] = stashed.slice(1);
    else delete out[name];
  }
  return out;
}

/** Named states of the init. */
export type InitState = 'starting' | 'running' | 'restarting' | 'draining' | 'exited';

/** PROGRAM, its arguments and tsinit's environment as bytes (see `readRawInvocation`). */
export interface RawCommand {
  /** `o.command` byte for byte. */
  command: Buffer[];
  /** tsinit's environment as executed, entry by entry; the child's is derived from it. */
  env: Buffer[];
}

/**
 * Runs PROGRAM as an init would and resolves with the status tsinit should
 * exit with. With `raw`, the child gets PROGRAM, its arguments and its
 * environment from these bytes instead of the decoded `o.command` and `env`.
 */
export function runInit(o: CliOptions, log: Logger, env: Readonly<Record<string, string | undefined>> = process.env,
  onSpawned?: (pid: number) => void, raw?: RawCommand): Promise<number> {
  return new Init(o, log, env, onSpawned, raw).run();
}

class Init {
  private state: InitState = 'starting';
  private child: Supervised | undefined;
  private readonly core = native();
  private readonly pid1 = process.pid === 1;
  private readonly ownPgrp = this.core.getpgid(0);
  private foreground = false;
  private pending: number[] = [];
  /** What is left when the child is gone: SIGTERM, SIGKILL at the deadline (see leftovers.ts). */
  private drain!: LeftoverDrain;
  private finishResolve!: (status: number) => void;
  private stopSignalAt: number | undefined;
  /** Survivor diagnoses, the timeline line, the termination message. */
  private report!: StopReport;
  /** Survivors outside the child's group, to kill right after the group at escalation. */
  private outsiders: Outsider[] = [];
  /** The restart policy's counters; the run's start and the signals tsinit sent it (on-failure ignores deaths by those). */
  private restarts!: RestartTracker;
  private runStartedAt = 0;
  private sentThisRun = new Set<number>();
  private restartTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly o: CliOptions,
    private readonly log: Logger,
    private readonly env: Readonly<Record<string, string | undefined>>,
    private readonly onSpawned?: (pid: number) => void,
    private readonly raw?: RawCommand,
  ) {}

  run(): Promise<number> {
    const done = new Promise<number>((resolve) => { this.finishResolve = resolve; });
    const procUsable = procIsOurs();
    this.restarts = new RestartTracker(this.o.restart);
    this.report = new StopReport(this.log, {
      self: process.pid, pid1: this.pid1, grace: this.o.grace, procUsable,
      terminationLog: this.o.terminationLog ? terminationLogPath(this.env) : null,
    });
    this.drain = new LeftoverDrain({
      pid1: this.pid1, report: this.report, log: this.log, grace: this.o.grace, what: 'child exited',
      group: () => (this.child !== undefined && this.child.group ? this.child.pgid : undefined),
      finish: () => this.finish(),
    });
    this.pending.push(...prepareInit(this.o, this.env, this.log, this.pid1, (signum) => this.onSignal(signum)));
    if (!procUsable) {
      this.log.warn('setup', "/proc is missing or belongs to another PID namespace: processes left running at a stop or after the child exits cannot be listed or diagnosed" +
        (this.pid1 ? '' : ", and those outside the child's process group are not stopped") + ' (mount a /proc for this PID namespace)');
    }
    claimAllChildren((pid, ev) => logReaped(this.log, this.o.warnOnReap, pid, ev), (more) => this.onSwept(more));
    if (!this.spawn()) return done;
    for (const signum of this.pending.splice(0)) this.onSignal(signum);
    return done;
  }

  /** Transition starting → running. Returns false when PROGRAM could not start. */
  private spawn(): boolean {
    const { o, core, log } = this;
    const file = o.command[0]!;
    const [program, ...args] = (this.raw?.command ?? o.command) as [string | Buffer, ...Array<string | Buffer>];
    if (program.length === 0) {
      // execvp("") fails with ENOENT: an empty name is a missing program.
      this.failSpawn("cannot run '': the program name is empty", 'ENOENT', file);
      return false;
    }
    // tcgetpgrp fails (-1) on anything but a terminal, so no isatty first.
    this.foreground = o.group && core.tcgetpgrp(0) === this.ownPgrp;
    // What tsinit inherited goes to the child at the same numbers, and
    // socket activation addressed to tsinit is readdressed to the child.
    const fds = inheritedFds(this.env);
    try {
      this.child = spawnSupervised(program, args, {
        env: this.raw !== undefined ? childEnvironmentEntries(this.raw.env) : childEnvironment(this.env),
        inheritFds: fds,
        pidVariable: forwardsSocketActivation(this.env) ? LISTEN_PID : undefined,
        grace: o.grace,
        group: o.group,
        foreground: this.foreground,
        rewrite: o.rewrite,
        dump: o.dumpSignal === null ? undefined : { signal: o.dumpSignal, seconds: o.dumpSeconds },
        limits: stashedLimits(this.env), // the soft limits the bin raised for Node, given back
      });
    } catch (err) {
      const e = err as SpawnError;
      this.failSpawn(e.message, e.code, file);
      return false;
    }
    const child = this.child;
    this.state = 'running';
    // The child has its copies: a listening socket must not outlive it in PID 1.
    // With a restart policy the next run needs them too: they stay open.
    if (this.o.restart.mode === 'no') {
      for (const f of closeInherited(fds)) log.warn('fds', `cannot close inherited descriptor ${f.fd}: ${f.message}`);
    }
    if (fds.length > 0) log.debug('fds', `passed inherited descriptors ${fds.join(' ')} to the child`);
    this.runStartedAt = Date.now();
    this.sentThisRun = new Set();
    this.onSpawned?.(child.pid);
    log.info('spawn', `started ${file}${this.restarts.run > 1 ? ` (run ${this.restarts.run})` : ''} as pid ${child.pid}${o.group ? ` in its own process group` : ''}${this.foreground ? ', terminal foreground' : ''}`,
      { pid: child.pid, pgid: child.pgid });
    child.on('stopped', (sig) => this.onChildStopped(sig));
    this.report.setGroup(child.group ? child.pgid : undefined);
    child.on('stopping', (info) => this.onStopping(info.signal, info.deadline));
    child.on('dump', (info) => this.onDump(info.signal, info.seconds));
    child.on('escalating', () => this.onEscalating());
    child.on('escalated', () => this.onEscalated());
    child.on('exit', (status) => this.onChildExit(status));
    return true;
  }

  /** Transition starting → exited: PROGRAM could not start (127 not found, 126 any other reason). */
  private failSpawn(message: string, code: string | undefined, file: string): void {
    this.log.error('spawn-error', message, { code, program: file });
    this.state = 'exited';
    const status = spawnFailureStatus(code);
    this.report.finishWithoutChild(message, status);
    this.finishResolve(status);
  }

  /** Every signal tsinit receives (SIGCHLD and the faults excepted). */
  private onSignal(signum: number): void {
    const { child, log } = this;
    if (this.state === 'restarting') { this.onSignalWhileRestarting(signum); return; }
    const when = { starting: this.state === 'starting', live: this.state === 'running', state: this.state, gone: 'the child is gone' };
    if (!admitSignal(signum, when, this.pending, log) || child === undefined) return;
    const name = signalName(signum);
    if (signum === SIGCONT && this.foreground && this.core.tcgetpgrp(0) === this.ownPgrp) {
      // `fg` gave tsinit the terminal back: hand it on to the child's group.
      this.core.tcsetpgrp(0, child.pgid);
    }
    log.debug('signal', `received ${name}`, { signal: name });
    const stop = STOP_SIGNALS.has(signum);
    if (stop && this.stopSignalAt === undefined) {
      this.stopSignalAt = Date.now();
      this.report.signalReceived(name, this.stopSignalAt);
    }
    const sent = child.forward(signum);
    if (sent !== 0) this.sentThisRun.add(sent);
    if (isStop(signum, sent)) this.restarts.stop();
    const target = child.group ? `process group ${child.pgid}` : `pid ${child.pid}`;
    if (stop) this.report.forwarded(sent === 0 ? null : signalName(sent), target);
    if (sent === 0) log.info('forward', `received ${name}: dropped by rewrite`, { signal: name });
    else log.info('forward', `received ${name}: sent ${signalName(sent)} to ${target}`, { signal: name, sent: signalName(sent), target: child.group ? -child.pgid : child.pid });
    if (JOB_CONTROL_STOPS.has(signum) && !this.foreground && !this.pid1) {
      // Stop with the child, so the shell that started tsinit sees its job stop.
      this.core.kill(process.pid, SIGSTOP);
    }
  }

  /** The child stopped (Ctrl-Z): with the terminal, tsinit stops too so the shell gets its prompt. */
  private onChildStopped(sig: string): void {
    this.log.debug('job-control', `child stopped by ${sig}`);
    if (this.foreground && !this.pid1) this.core.kill(process.pid, SIGSTOP);
  }

  /** The child's Supervised went running → stopping: diagnose survivors while the grace runs. */
  private onStopping(signal: string, deadline: number): void {
    const child = this.child!;
    const target = child.group
      ? { kind: 'group' as const, pgid: child.pgid, sid: StopReport.sessionOf(child.pid) ?? StopReport.sessionOf(process.pid) }
      : { kind: 'pid' as const, pid: child.pid };
    this.report.stopping(toSignalNumber(signal), target, deadline);
  }

  /** Grace deadline with --dump: the dump signal goes to the survivors (the group gets it from the Supervised). */
  private onDump(signal: string, seconds: number): void {
    const signum = toSignalNumber(signal);
    signalOutsiders(this.report.dumping(signal, seconds), signum, this.pid1);
  }

  /**
   * SIGKILL is about to go to the child's group. Nothing is read here (the
   * kill must not wait): the last look before the deadline names the
   * survivors outside the group, killed right after it.
   */
  private onEscalating(): void {
    this.outsiders = this.report.escalating();
  }

  /** SIGKILL went to the child's group: now to the survivors outside it (after, so the child can't outlive them); then the log. */
  private onEscalated(): void {
    signalOutsiders(this.outsiders.splice(0), SIGKILL, this.pid1);
    const child = this.child!;
    this.report.escalationSent(child.group ? `process group ${child.pgid}` : `pid ${child.pid}`);
  }


  /** Transition running → draining: the main child was reaped. */
  private onChildExit(status: ExitStatus): void {
    if (this.maybeRestart(status)) return;
    this.state = 'draining';
    this.report.childExited(this.child!.pid, status);
    this.log.info('exit', `child pid ${this.child!.pid} ended: ${describeStatus(status)}`, { status: status.status, code: status.code, signal: status.signal });
    if (this.foreground && this.core.tcgetpgrp(0) === this.child!.pgid) this.core.tcsetpgrp(0, this.ownPgrp);
  }

  /**
   * Transition running → restarting when the restart policy says so: the
   * next run starts after the policy's delay. What the run left behind keeps
   * running (reaped as it exits, drained at tsinit's own end).
   */
  private maybeRestart(status: ExitStatus): boolean {
    const child = this.child!;
    const ranMs = Date.now() - this.runStartedAt;
    const d = this.restarts.decide(status, ranMs, this.sentThisRun);
    const policy = formatRestartPolicy(this.o.restart);
    if (!d.restart) {
      if (d.reason === 'exhausted') {
        this.log.warn('restart', `child pid ${child.pid} ended: ${describeStatus(status)}; restart policy ${policy} used up after ${this.restarts.count} restart(s), not restarting`,
          { run: this.restarts.run, status: status.status, restarts: this.restarts.count, policy });
      }
      return false;
    }
    this.state = 'restarting';
    if (this.foreground && this.core.tcgetpgrp(0) === child.pgid) this.core.tcsetpgrp(0, this.ownPgrp);
    this.report.restarted(d.run - 1, child.pid, status, d.delayMs);
    this.log.info('restart', `child pid ${child.pid} (run ${d.run - 1}) ended: ${describeStatus(status)} after ${(ranMs / 1000).toFixed(3)} s; run ${d.run} starts in ${d.delayMs} ms (restart ${d.count}${this.o.restart.max === null ? '' : ` of ${this.o.restart.max}`}, ${policy})`,
      { run: d.run - 1, pid: child.pid, status: status.status, code: status.code, signal: status.signal, delayMs: d.delayMs, next: d.run, restarts: d.count, policy });
    this.restartTimer = setTimeout(() => { this.restartTimer = undefined; this.spawn(); }, d.delayMs);
    return true;
  }

  /** A signal while waiting to restart: a stop ends tsinit at once with 128+N; others have no one to reach. */
  private onSignalWhileRestarting(signum: number): void {
    const name = signalName(signum);
    const to = this.o.rewrite.get(signum) ?? signum;
    if (!isStop(signum, to)) {
      this.log.debug('signal', `received ${name} while waiting to restart the child: nothing to forward`);
      return;
    }
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    this.restarts.stop();
    this.report.signalReceived(name);
    this.log.info('restart', `received ${name} while waiting to restart the child: not restarting, exiting`, { signal: name });
    // Whatever earlier runs left gets the stop too (as PID 1 the kernel kills it when tsinit exits).
    this.drain.stopAll(signum);
    this.end(killedBy(signum));
  }

  /** After each waitpid sweep: finish when nothing is left, else drain what is. */
  private onSwept(more: boolean): void {
    if (this.state !== 'draining') return;
    if (!more) { this.finish(); return; }
    this.drain.onLeft(this.child!.deadline);
  }

  /** Transition → exited. */
  private finish(): void {
    if (this.state === 'exited') return;
    this.state = 'exited';
    this.drain.cancel();
    this.end(this.child!.exitStatus!);
  }

  /** Into exited: the report's last words, and the status tsinit exits with (--expect-exit applied). */
  private end(status: ExitStatus): void {
    this.state = 'exited';
    const code = remapStatus(status.status, this.o.expectExit);
    this.report.disarm();
    this.report.finish(this.o.command[0]!, status, code, code !== status.status);
    this.finishResolve(code);
  }

}
