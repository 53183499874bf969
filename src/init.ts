/**
 * The init: what tsinit does as PID 1 (or as a subreaper) around its one
 * supervised child. The CLI is a thin layer over {@link runInit}.
 *
 * Life of an init, each transition a named function below:
 *
 *   starting ─spawn─▶ running ─(child exits)─▶ draining ─(nothing left)─▶ exited
 *                       │ stop signal: the child's Supervised goes stopping → killing
 *   draining: SIGTERM to everything left, SIGKILL at the grace deadline (`killLeftovers`).
 *
 * Point of no return: once the child runs, no error of tsinit's own may end
 * tsinit; it warns and carries on, and the child's status still propagates.
 * @module
 */
import { native } from './native';
import { claimAllChildren, type WaitEvent } from './children';
import { describeStatus, remapStatus, STATUS_CANNOT_EXECUTE, STATUS_NOT_FOUND, type ExitStatus } from './exit-status';
import { Level, type Logger } from './log';
import type { CliOptions } from './options';
import { descendantsOf, listProcesses, procIsOurs } from './proc';
import { guardInspector } from './inspector-guard';
import { subscribe } from './signal-hub';
import { STASHED_LIMITS, STASHED_SIGNALS, startupSignals, stashedLimits } from './startup';
import { forwardableSignals, signalName, toSignalNumber } from './signals';
import { StopReport } from './stop-report';
import { spawnSupervised, SpawnError, type Supervised } from './supervisor';
import { terminationLogPath } from './termination-log';

const SIGINT = 2;
const SIGKILL = 9;
const SIGTERM = 15;
const SIGCONT = 18;
const SIGSTOP = 19;
const JOB_STOP = new Set([20, 21, 22]); // SIGTSTP SIGTTIN SIGTTOU

/** After the final SIGKILL, how long to wait for the kernel before exiting anyway. */
const AFTER_KILL_MS = 5000;

/** Environment variables the bin wrapper uses to carry state past `exec node`. */
export const STASHED_NODE_OPTIONS = '__TSINIT_NODE_OPTIONS';
export const STASHED_PPID = '__TSINIT_PPID';

/**
 * The child's environment: tsinit's own, minus the wrapper's private
 * variables, with NODE_OPTIONS restored exactly as the caller set it
 * (set-but-empty stays set).
 */
export function childEnvironment(env: Readonly<Record<string, string | undefined>>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = { ...env };
  const stashed = out[STASHED_NODE_OPTIONS];
  delete out[STASHED_NODE_OPTIONS];
  delete out[STASHED_PPID];
  delete out[STASHED_SIGNALS];
  delete out[STASHED_LIMITS];
  if (stashed !== undefined) out['NODE_OPTIONS'] = stashed.slice(1); // stored with an 'x' prefix
  return out;
}

/** Named states of the init. */
export type InitState = 'starting' | 'running' | 'draining' | 'exited';

/** Runs PROGRAM as an init would and resolves with the status tsinit should exit with. */
export function runInit(o: CliOptions, log: Logger, env: Readonly<Record<string, string | undefined>> = process.env,
  onSpawned?: (pid: number) => void): Promise<number> {
  return new Init(o, log, env, onSpawned).run();
}

class Init {
  private state: InitState = 'starting';
  private child: Supervised | undefined;
  private readonly core = native();
  private readonly pid1 = process.pid === 1;
  private readonly ownPgrp = this.core.getpgid(0);
  private foreground = false;
  private pending: number[] = [];
  private drainTimer: NodeJS.Timeout | undefined;
  private killedLeftovers = false;
  private finishResolve!: (status: number) => void;
  private stopSignalAt: number | undefined;
  /** Survivor diagnoses, the timeline line, the termination message. */
  private report!: StopReport;
  /** Survivors outside the child's group, to kill right after the group at escalation. */
  private outsiders: Array<{ pid: number }> = [];

  constructor(
    private readonly o: CliOptions,
    private readonly log: Logger,
    private readonly env: Readonly<Record<string, string | undefined>>,
    private readonly onSpawned?: (pid: number) => void,
  ) {}

  run(): Promise<number> {
    const done = new Promise<number>((resolve) => { this.finishResolve = resolve; });
    this.report = new StopReport(this.log, {
      self: process.pid, pid1: this.pid1, grace: this.o.grace,
      terminationLog: this.o.terminationLog ? terminationLogPath(this.env) : null,
    });
    // Watch every signal first: from here on SIGUSR1 can't start the inspector
    // and nothing sent to tsinit is lost; signals before the spawn are queued.
    subscribe(forwardableSignals(), (signum) => this.onSignal(signum), true);
    // Signals that came before the watchers (src/startup.ts): queued like those after.
    for (const signum of startupSignals(this.env)) {
      this.log.debug('signal', `received ${signalName(signum)} during start-up`);
      this.pending.push(signum);
    }
    guardInspector(this.log);
    this.setUpProcess();
    claimAllChildren((pid, ev) => this.onOrphan(pid, ev), (more) => this.onSwept(more));
    if (!this.spawn()) return done;
    for (const signum of this.pending.splice(0)) this.onSignal(signum);
    return done;
  }

  /** Parent-death signal and subreaper, before the child exists. */
  private setUpProcess(): void {
    const { o, core, log } = this;
    if (o.pdeathsig !== null) {
      const expected = Number(this.env[STASHED_PPID] ?? process.ppid);
      try {
        if (!core.setPdeathsig(o.pdeathsig, expected)) {
          log.info('signal', `parent ${expected} already gone: acting on ${signalName(o.pdeathsig)} now`);
          this.pending.push(o.pdeathsig);
        }
      } catch (err) {
        log.warn('setup', `cannot set the parent-death signal: ${(err as Error).message}`);
      }
    }
    if (!this.pid1 || o.subreaper) {
      try {
        core.setSubreaper(true);
        log.debug('setup', 'registered as a child subreaper');
      } catch (err) {
        log.warn('setup', `cannot register as a child subreaper, orphans will not be reaped: ${(err as Error).message}`);
      }
    }
  }

  /** Transition starting → running. Returns false when PROGRAM could not start. */
  private spawn(): boolean {
    const { o, core, log } = this;
    const [file, ...args] = o.command as [string, ...string[]];
    // tcgetpgrp fails (-1) on anything but a terminal, so no isatty first.
    this.foreground = o.group && core.tcgetpgrp(0) === this.ownPgrp;
    try {
      this.child = spawnSupervised(file, args, {
        env: childEnvironment(this.env),
        grace: o.grace,
        group: o.group,
        foreground: this.foreground,
        rewrite: o.rewrite,
        dump: o.dumpSignal === null ? undefined : { signal: o.dumpSignal, seconds: o.dumpSeconds },
        limits: stashedLimits(this.env), // the soft limits the bin raised for Node, given back
      });
    } catch (err) {
      const e = err as SpawnError;
      log.error('spawn-error', e.message, { code: e.code, program: file });
      this.state = 'exited';
      const code = e.code === 'ENOENT' || e.code === 'ENOTDIR' ? STATUS_NOT_FOUND : STATUS_CANNOT_EXECUTE;
      this.report.finishWithoutChild(e.message, code);
      this.finishResolve(code);
      return false;
    }
    const child = this.child;
    this.state = 'running';
    this.onSpawned?.(child.pid);
    log.info('spawn', `started ${file} as pid ${child.pid}${o.group ? ` in its own process group` : ''}${this.foreground ? ', terminal foreground' : ''}`,
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

  /** Every signal tsinit receives (SIGCHLD and the faults excepted). */
  private onSignal(signum: number): void {
    const { child, log } = this;
    if (child === undefined) {
      if (this.state === 'starting') this.pending.push(signum);
      return;
    }
    const name = signalName(signum);
    if (this.state !== 'running') {
      log.debug('signal', `received ${name} while ${this.state}: the child is gone, nothing to forward`);
      return;
    }
    if (signum === SIGCONT && this.foreground && this.core.tcgetpgrp(0) === this.ownPgrp) {
      // `fg` gave tsinit the terminal back: hand it on to the child's group.
      this.core.tcsetpgrp(0, child.pgid);
    }
    log.debug('signal', `received ${name}`, { signal: name });
    const stop = signum === SIGTERM || signum === SIGINT;
    if (stop && this.stopSignalAt === undefined) {
      this.stopSignalAt = Date.now();
      this.report.signalReceived(name, this.stopSignalAt);
    }
    const sent = child.forward(signum);
    const target = child.group ? `process group ${child.pgid}` : `pid ${child.pid}`;
    if (stop) this.report.forwarded(sent === 0 ? null : signalName(sent), target);
    if (sent === 0) log.info('forward', `received ${name}: dropped by rewrite`, { signal: name });
    else log.info('forward', `received ${name}: sent ${signalName(sent)} to ${target}`, { signal: name, sent: signalName(sent), target: child.group ? -child.pgid : child.pid });
    if (JOB_STOP.has(signum) && !this.foreground && !this.pid1) {
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
    for (const s of this.report.dumping(signal, seconds)) {
      if (s.cause !== 'zombie' && !this.report.reached(s)) this.core.kill(s.pid, signum);
    }
  }

  /** SIGKILL is about to go to the child's group: list the survivors; those outside it are killed right after. */
  private onEscalating(): void {
    const child = this.child!;
    const target = child.group ? `process group ${child.pgid}` : `pid ${child.pid}`;
    this.outsiders = this.report.escalating(target).filter((s) => s.cause !== 'zombie' && !this.report.reached(s));
  }

  /** SIGKILL went to the child's group: now to the survivors outside it (after, so the child can't outlive them). */
  private onEscalated(): void {
    for (const s of this.outsiders.splice(0)) this.core.kill(s.pid, SIGKILL);
    this.log.debug('escalate', `SIGKILL sent to the child's ${this.child!.group ? `process group ${this.child!.pgid}` : `pid ${this.child!.pid}`}`);
  }

  private onOrphan(pid: number, ev: WaitEvent): void {
    if (ev.kind !== 'exited' && ev.kind !== 'killed') return;
    const how = ev.kind === 'exited' ? `exit ${ev.value}` : `killed by ${signalName(ev.value)}`;
    this.log.log(this.o.warnOnReap ? Level.Warn : Level.Debug, 'reap', `reaped zombie pid ${pid} (${how})`, { pid });
  }

  /** Transition running → draining: the main child was reaped. */
  private onChildExit(status: ExitStatus): void {
    this.state = 'draining';
    this.report.childExited(this.child!.pid, status);
    this.log.info('exit', `child pid ${this.child!.pid} ended: ${describeStatus(status)}`, { status: status.status, code: status.code, signal: status.signal });
    if (this.foreground && this.core.tcgetpgrp(0) === this.child!.pgid) this.core.tcsetpgrp(0, this.ownPgrp);
  }

  /** After each waitpid sweep: finish when nothing is left, else drain what is. */
  private onSwept(more: boolean): void {
    if (this.state !== 'draining') return;
    if (!more) { this.finish(); return; }
    if (this.drainTimer === undefined && !this.killedLeftovers) this.startDrain();
  }

  /** SIGTERM (and SIGCONT) to everything left, SIGKILL when the grace deadline passes. */
  private startDrain(): void {
    const child = this.child!;
    const deadline = child.deadline ?? Date.now() + this.o.grace * 1000;
    const remaining = deadline - Date.now();
    if (remaining <= 0) { this.killLeftovers(); return; }
    const n = this.signalLeftovers(SIGTERM);
    this.signalLeftovers(SIGCONT);
    this.log.info('drain', `child exited, ${n} other process(es) left: sent SIGTERM, SIGKILL in ${(remaining / 1000).toFixed(1)} s`);
    this.report.drainStarted(n, remaining);
    this.drainTimer = setTimeout(() => this.killLeftovers(), remaining);
  }

  /** Transition draining → killing leftovers: SIGKILL to all, then a bounded wait for the kernel. */
  private killLeftovers(): void {
    this.killedLeftovers = true;
    clearTimeout(this.drainTimer);
    this.report.drainKilling(); // logs who is left, and why, before they go
    this.signalLeftovers(SIGKILL);
    this.drainTimer = setTimeout(() => {
      this.report.stuckAfterKill(AFTER_KILL_MS);
      this.finish();
    }, AFTER_KILL_MS);
  }

  /** Sends `signum` to every process tsinit is responsible for; returns how many it targeted. */
  private signalLeftovers(signum: number): number {
    const { core, child } = this;
    if (this.pid1) {
      // kill(-1) reaches every process in the namespace but PID 1 itself.
      const n = procIsOurs() ? listProcesses().filter((p) => p.pid !== 1).length : 1;
      core.kill(-1, signum);
      return n;
    }
    // The child's group in one kill, then each other descendant: every process gets the signal once
    // (a second SIGTERM means "hurry up" to many programs).
    const group = child !== undefined && child.group ? child.pgid : undefined;
    if (group !== undefined) core.kill(-group, signum);
    const descendants = procIsOurs() ? descendantsOf(process.pid) : [];
    for (const p of descendants) if (p.pgid !== group) core.kill(p.pid, signum);
    return descendants.length;
  }

  /** Transition → exited. */
  private finish(): void {
    if (this.state === 'exited') return;
    this.state = 'exited';
    clearTimeout(this.drainTimer);
    const status = this.child!.exitStatus!;
    const code = remapStatus(status.status, this.o.expectExit);
    this.report.disarm();
    this.report.finish(this.o.command[0]!, status, code, code !== status.status);
    this.finishResolve(code);
  }

}
