/**
 * What the init says about a stop while it happens and after: survivor
 * diagnoses at a few points of the grace period and at escalation, the
 * timeline line at exit, and the Kubernetes termination message.
 *
 * Timers exist only while a stop or a drain is in progress: an idle init
 * has none.
 * @internal
 * @module
 */
import { describeStatus, type ExitStatus } from './exit-status';
import { Level, type Logger } from './log';
import { procIsOurs, readStat } from './proc';
import { signalName } from './signals';
import {
  bootSeconds, describeSurvivor, diagnose, formatSurvivor, survivorRecord,
  type Responsibility, type SignalTarget, type StopContext, type Survivor,
} from './diagnose';
import { formatTerminationMessage, writeTerminationLog } from './termination-log';
import { wait, type Wait } from './durations';

/** First diagnosis point after the stop signal. */
const FIRST_LOOK_MS = 1000;
/** No diagnosis point closer than this to the next one or to the deadline. */
const MIN_GAP_MS = 400;
/** Restarts kept for the JSON timeline, and shown in the human line. */
const KEPT_RESTARTS = 20;
const SHOWN_RESTARTS = 5;
/** Longest command shown in the timeline line. */
const SHORT_CMD = 48;

/** A stop or a drain being watched. */
interface Phase {
  kind: 'stop' | 'drain';
  ctx: StopContext;
  /** When the signal was sent (ms since the epoch). */
  at: number;
  timers: Wait[];
}

/** What the report needs to know about its settings. */
export interface StopReportOptions {
  /** tsinit's pid and whether it is PID 1. */
  self: number;
  pid1: boolean;
  /** Grace period, seconds. */
  grace: number;
  /** Write the termination message on an unclean exit to this path, or null. */
  terminationLog: string | null;
  /**
   * Whether /proc belongs to this PID namespace (default: checked now).
   * Without it survivors cannot be listed: the report says nothing about
   * them rather than "nothing left" (the init warned once at start-up).
   */
  procUsable?: boolean;
  /** The service a process belongs to (a Procfile's), to name it in every report; undefined when none. */
  serviceOf?: (p: { pid: number; pgid: number }) => string | undefined;
}

const short = (cmd: string): string => (cmd.length > SHORT_CMD ? `${cmd.slice(0, SHORT_CMD - 1)}…` : cmd);
const secs = (ms: number): string => `${(ms / 1000).toFixed(3)} s`;

/** Collects a stop's events, diagnoses survivors, writes the summaries. */
export class StopReport {
  private readonly startedAt = Date.now();
  private phase: Phase | undefined;
  private pgid: number | undefined;
  private signal: { name: string; at: number } | undefined;
  private forward: { as: string | null; target: string; at: number } | undefined;
  private dump: { signal: string; at: number; count: number } | undefined;
  private escalation: { at: number; killed: Survivor[] } | undefined;
  /** `count` undefined: unknown without /proc. */
  private drain: { at: number; count: number | undefined; killed: Survivor[] } | undefined;
  private childExit: { pid: number; at: number; status: ExitStatus } | undefined;
  /** Survivors can be listed (a /proc of this PID namespace). */
  private readonly seeing: boolean;
  /** Runs that ended and were restarted (restart policy), in order. */
  private restartCount = 0;
  private readonly restarts: Array<{ run: number; pid: number; at: number; status: ExitStatus; delayMs: number; who?: string }> = [];

  constructor(private readonly log: Logger, private readonly opts: StopReportOptions) {
    this.seeing = opts.procUsable ?? procIsOurs();
  }

  /** Whether an escalation (SIGKILL at a deadline) happened. */
  get escalated(): boolean {
    return this.escalation !== undefined || (this.drain?.killed.length ?? 0) > 0;
  }

  /** The child's process group, when it has its own (members count as tsinit's even if not descendants). */
  setGroup(pgid: number | undefined): void {
    this.pgid = pgid;
  }

  /** A stop signal (SIGTERM, SIGINT) reached tsinit. The first one counts. */
  signalReceived(name: string, at = Date.now()): void {
    if (this.signal === undefined) this.signal = { name, at };
  }

  /** The stop signal was forwarded (`as` null: dropped by a rewrite). */
  forwarded(as: string | null, target: string, at = Date.now()): void {
    if (this.forward === undefined && this.signal !== undefined) this.forward = { as, target, at };
  }

  /**
   * The child's stop began: `signal` went to `target`. Arms the diagnosis
   * points (1 s after, and half-way to the deadline).
   */
  stopping(signal: number, target: SignalTarget, deadline: number): void {
    if (this.phase !== undefined) return;
    const at = Date.now();
    this.phase = { kind: 'stop', ctx: { signal, target, sentAtBoot: bootSeconds() }, at, timers: [] };
    this.arm(deadline - at);
  }

  /** The child exited: the stop's timers end. */
  childExited(pid: number, status: ExitStatus): void {
    this.childExit = { pid, at: Date.now(), status };
    this.disarm();
  }

  /** The drain began: SIGTERM went to every leftover; SIGKILL comes in `remainingMs`. */
  drainStarted(count: number | undefined, remainingMs: number): void {
    this.disarm();
    const at = Date.now();
    this.drain = { at, count, killed: [] };
    this.phase = { kind: 'drain', ctx: { signal: 15, target: { kind: 'all' }, sentAtBoot: bootSeconds() }, at, timers: [] };
    this.arm(remainingMs);
  }

  /**
   * Run `run` (pid `pid`) ended with `status` and its restart policy starts
   * the next one in `delayMs`; `who` names the service, if any.
   */
  restarted(run: number, pid: number, status: ExitStatus, delayMs: number, who?: string): void {
    this.restartCount++;
    this.restarts.push({ run, pid, at: Date.now(), status, delayMs, who });
    if (this.restarts.length > KEPT_RESTARTS) this.restarts.shift(); // a crash loop keeps only the latest
  }

  /** One clause per restart, for the timeline and the termination message. */
  private restartText(): string | undefined {
    if (this.restartCount === 0) return undefined;
    const shown = this.restarts.slice(-SHOWN_RESTARTS).map((r) =>
      `${r.who === undefined ? '' : `${r.who} `}run ${r.run} (pid ${r.pid}) ${describeStatus(r.status)} at ${secs(r.at - this.startedAt)}, restarted after ${secs(r.delayMs)}`);
    const more = this.restartCount - shown.length;
    return `${this.restartCount} restart(s): ${more > 0 ? `… ${more} earlier, ` : ''}${shown.join(', ')}`;
  }

  /** Stops every diagnosis timer. */
  disarm(): void {
    for (const t of this.phase?.timers ?? []) t.cancel();
    if (this.phase !== undefined) this.phase.timers = [];
  }

  private arm(windowMs: number): void {
    const phase = this.phase!;
    const points: number[] = [];
    for (const p of [FIRST_LOOK_MS, windowMs / 2]) {
      if (p < windowMs - MIN_GAP_MS && points.every((q) => Math.abs(q - p) >= MIN_GAP_MS)) points.push(p);
    }
    for (const p of points) phase.timers.push(wait(p, () => this.progress()));
  }

  /** Lists the survivors of the current phase, or [] when /proc can't tell. */
  private survivors(ctx?: StopContext): Survivor[] {
    const c = ctx ?? this.phase?.ctx;
    if (c === undefined || !this.seeing) return [];
    const r: Responsibility = { self: this.opts.self, pid1: this.opts.pid1, pgid: this.pgid };
    try {
      return diagnose(c, r);
    } catch (err) {
      this.log.debug('stop-progress', `cannot diagnose survivors: ${(err as Error).message}`);
      return [];
    }
  }

  /** A diagnosis point during the grace period. */
  private progress(): void {
    const phase = this.phase;
    if (phase === undefined || !this.seeing) return;
    const list = this.survivors();
    const sig = signalName(phase.ctx.signal);
    const elapsed = Date.now() - phase.at;
    if (list.length === 0) {
      this.log.debug('stop-progress', `nothing left running ${(elapsed / 1000).toFixed(1)} s after ${sig}`, { signal: sig, phase: phase.kind });
      return;
    }
    this.emit(Level.Warn, 'stop-progress', list, sig, elapsed,
      `${list.length} process(es) still running ${(elapsed / 1000).toFixed(1)} s after ${sig}`, { phase: phase.kind });
  }

  /**
   * Logs the survivors as one human line each, or as one JSON event whose
   * `processes` lists them, then `summary` (human: its own line).
   */
  private emit(level: Level, event: string, list: readonly Survivor[], sig: string, elapsedMs: number, summary: string,
    fields: Record<string, unknown> = {}, summaryLine = false): void {
    const { log } = this;
    const trace = log.enabled(Level.Trace);
    if (log.format === 'json') {
      log.log(level, event, summary, {
        signal: sig, elapsed: Math.round(elapsedMs) / 1000, ...fields,
        processes: list.map((s) => this.withService(survivorRecord(s, trace), s)),
      });
      return;
    }
    for (const s of list) {
      log.log(level, event, `${this.serviceLabel(s)}${formatSurvivor(s, sig, elapsedMs)}`);
      if (trace && s.evidence !== undefined) {
        const e = s.evidence;
        log.log(Level.Trace, event, `  pid ${s.pid}: SigIgn ${e.sigIgn} SigCgt ${e.sigCgt} blocked-in-all-threads ${e.sigBlkAll} pending ${e.sigPnd}`);
      }
    }
    if (summaryLine) log.log(level, event, summary);
  }

  /**
   * The grace deadline passed and `dumpSignal` is about to go to the
   * survivors. Returns them (the init sends the signal to those outside the child's group).
   */
  dumping(dumpSignal: string, seconds: number): Survivor[] {
    this.disarm();
    const phase = this.phase;
    const list = this.survivors();
    const sig = phase === undefined ? 'the stop signal' : signalName(phase.ctx.signal);
    const elapsed = phase === undefined ? 0 : Date.now() - phase.at;
    this.dump = { signal: dumpSignal, at: Date.now(), count: list.filter((s) => s.cause !== 'zombie').length };
    const to = this.seeing ? ` to ${this.dump.count} process(es)` : '';
    this.emit(Level.Warn, 'dump', list, sig, elapsed,
      `grace period of ${this.opts.grace} s over: sending ${dumpSignal}${to} for a dump, ${seconds === Infinity ? 'no SIGKILL (never)' : `SIGKILL in ${seconds} s`}`,
      { dumpSignal, seconds }, true);
    return list;
  }

  /**
   * SIGKILL is about to go to the child's group: diagnoses and logs the
   * survivors, and returns them (the init kills those outside the group).
   */
  escalating(childTarget: string): Survivor[] {
    this.disarm();
    const phase = this.phase;
    const list = this.survivors();
    const sig = phase === undefined ? 'the stop signal' : signalName(phase.ctx.signal);
    const elapsed = phase === undefined ? 0 : Date.now() - phase.at;
    const killed = list.filter((s) => s.cause !== 'zombie');
    this.escalation = { at: Date.now(), killed };
    const others = killed.filter((s) => !this.reached(s)).length;
    const why = this.dump === undefined
      ? `grace period of ${this.opts.grace} s over`
      : `${((Date.now() - this.dump.at) / 1000).toFixed(1)} s after ${this.dump.signal}`;
    this.emit(Level.Warn, 'escalate', list, sig, elapsed,
      `${why}: sent SIGKILL to ${childTarget}${others > 0 ? ` and ${others} other process(es)` : ''}`,
      { killed: killed.map((s) => s.pid) }, true);
    return list;
  }

  /** Whether the child's own signals reach `s` (its group, or the child itself), so the init need not signal it alone. */
  reached(s: Survivor): boolean {
    const t = this.phase?.ctx.target;
    if (t === undefined) return false;
    return t.kind === 'group' ? s.pgid === t.pgid : t.kind === 'pid' ? s.pid === t.pid : true;
  }

  /**
   * The drain's deadline passed and SIGKILL is about to go to every leftover:
   * logs the survivors not already killed at the child's escalation.
   */
  drainKilling(): Survivor[] {
    this.disarm();
    const phase = this.phase;
    const list = this.survivors(phase?.ctx ?? { signal: 15, target: { kind: 'all' } });
    const already = new Set((this.escalation?.killed ?? []).map((s) => `${s.pid}:${s.starttime}`));
    const fresh = list.filter((s) => !already.has(`${s.pid}:${s.starttime}`));
    const killed = fresh.filter((s) => s.cause !== 'zombie');
    if (this.drain === undefined) this.drain = { at: Date.now(), count: 0, killed };
    else this.drain.killed = killed;
    if (fresh.length > 0) {
      const sig = phase?.kind === 'drain' ? 'SIGTERM' : signalName(phase?.ctx.signal ?? 15);
      const elapsed = phase === undefined ? 0 : Date.now() - phase.at;
      this.emit(Level.Warn, 'escalate', fresh, sig, elapsed,
        `${killed.length} process(es) outlived the grace period after the child exited: sent SIGKILL`,
        { killed: killed.map((s) => s.pid), phase: 'drain' }, true);
    }
    return fresh;
  }

  /** Processes still there `ms` after the final SIGKILL: say which, and why (D state, most likely). */
  stuckAfterKill(ms: number): void {
    const list = this.survivors({ signal: 9, target: { kind: 'all' } });
    this.emit(Level.Warn, 'exit', list, 'SIGKILL', ms,
      `${list.length === 0 ? 'processes' : `${list.length} process(es)`} left ${(ms / 1000).toFixed(1)} s after SIGKILL did not go away; exiting anyway`,
      {}, true);
  }

  /** The exit: the timeline line (-v) and, on an unclean exit, the termination message. */
  finish(program: string, status: ExitStatus, code: number, expectExitApplied: boolean): void {
    const end = Date.now();
    const path = this.opts.terminationLog;
    const message = path !== null && (code !== 0 || this.escalated);
    // Nothing to say on a clean exit at the default verbosity: skip building
    // the line (its timestamps alone make V8 load the time zone, on PID 1's
    // exit path).
    if (!message && !this.log.enabled(Level.Info)) return;
    const { line, fields } = this.timeline(status, code, expectExitApplied, end);
    this.log.info('timeline', line, fields);
    if (message) {
      const killed = [...(this.escalation?.killed ?? []), ...(this.drain?.killed ?? [])];
      const restarts = this.restartText();
      const text = formatTerminationMessage({
        outcome: `${program} ended: ${describeStatus(status)}${restarts === undefined ? '' : ` after ${this.restartCount} restart(s)`}`,
        status: code,
        stop: this.signal === undefined && !this.escalated && restarts === undefined ? undefined : line,
        survivors: killed.map((s) => `${this.serviceLabel(s)}pid ${s.pid} ${s.cmd} — ${describeSurvivor(s)}`),
      });
      if (writeTerminationLog(path, text)) this.log.debug('termination-log', `wrote ${path}`);
    }
  }

  /** The exit when PROGRAM never started: only the termination message. */
  finishWithoutChild(message: string, code: number): void {
    if (this.opts.terminationLog === null || code === 0) return;
    writeTerminationLog(this.opts.terminationLog, formatTerminationMessage({ outcome: message, status: code }));
  }

  /** The one-line summary, and its JSON fields. */
  private timeline(status: ExitStatus, code: number, expectExitApplied: boolean, end: number): { line: string; fields: Record<string, unknown> } {
    const parts: string[] = [];
    const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());
    const s = this.signal;
    const rel = (at: number): string => (s === undefined ? `at ${secs(at - this.startedAt)}` : `at +${secs(at - s.at)}`);
    const killedList = (list: readonly Survivor[]): string =>
      list.length === 0 ? 'nothing left' : list.map((p) => `${this.serviceLabel(p)}pid ${p.pid} ${short(p.cmd)}`).join(', ');
    // Without /proc nobody can be listed: say what was sent, not who it killed.
    const killed = (list: readonly Survivor[]): string =>
      this.seeing ? `killed ${list.length} (${killedList(list)})` : 'sent (who was left is unknown without /proc)';
    const restarts = this.restartText();
    if (restarts !== undefined) parts.push(restarts);
    if (s !== undefined) {
      let text = `${s.name} came ${secs(s.at - this.startedAt)} after start`;
      const f = this.forward;
      if (f !== undefined) text += f.as === null ? ', dropped by --rewrite' : `, forwarded as ${f.as} to ${f.target} ${rel(f.at)}`;
      parts.push(text);
    }
    if (this.dump !== undefined) {
      parts.push(`grace of ${this.opts.grace} s over ${rel(this.dump.at)}: ${this.dump.signal}${this.seeing ? ` to ${this.dump.count} process(es)` : ''} for a dump`);
    }
    if (this.escalation !== undefined) {
      const head = this.dump === undefined ? `grace of ${this.opts.grace} s over ${rel(this.escalation.at)}: SIGKILL` : `SIGKILL ${rel(this.escalation.at)}`;
      parts.push(`${head} ${killed(this.escalation.killed)}`);
    } else if (s !== undefined) {
      parts.push('no escalation');
    }
    const c = this.childExit;
    if (c !== undefined) {
      const who = this.opts.serviceOf?.({ pid: c.pid, pgid: c.pid });
      parts.push(`${who === undefined ? 'child' : `service ${who}`} pid ${c.pid} exited ${rel(c.at)}: ${describeStatus(c.status)}`);
    }
    const d = this.drain;
    if (d !== undefined && (d.count === undefined || d.count > 0)) {
      parts.push(`${d.count ?? 'the'} leftover(s) got SIGTERM ${rel(d.at)}` +
        (d.killed.length > 0 ? `, SIGKILL killed ${d.killed.length} (${killedList(d.killed)})` : ''));
    } else if (d !== undefined && d.killed.length > 0) {
      parts.push(`SIGKILL killed ${d.killed.length} leftover(s) ${rel(d.at)} (${killedList(d.killed)})`);
    }
    if (s !== undefined) parts.push(`stop took ${secs(end - s.at)}`);
    parts.push(`tsinit exits ${code}${expectExitApplied ? ' (--expect-exit)' : ''}`);
    const brief = (list: readonly Survivor[]): Array<Record<string, unknown>> => list.map((p) => this.withService({ pid: p.pid, cmd: p.cmd, cause: p.cause }, p));
    return {
      line: `timeline: ${parts.join('; ')}`,
      fields: {
        signal: s?.name ?? null,
        signalAt: iso(s?.at),
        forwardedAs: this.forward?.as ?? null,
        forwardedAt: iso(this.forward?.at),
        target: this.forward?.target ?? null,
        dump: this.dump === undefined ? null : { signal: this.dump.signal, at: iso(this.dump.at), count: this.dump.count },
        escalated: this.escalated,
        escalatedAt: iso(this.escalation?.at),
        killed: brief([...(this.escalation?.killed ?? []), ...(this.drain?.killed ?? [])]),
        childExitAt: iso(c?.at),
        restartCount: this.restartCount,
        restarts: this.restarts.map((r) => ({ run: r.run, pid: r.pid, at: iso(r.at), status: r.status.status, delayMs: r.delayMs, ...(r.who === undefined ? {} : { service: r.who }) })),
        status: status.status,
        meaning: describeStatus(status),
        stopSeconds: s === undefined ? null : (end - s.at) / 1000,
        exitCode: code,
      },
    };
  }

  /** `service web: ` for a process of a named service, else ''. */
  private serviceLabel(p: { pid: number; pgid: number }): string {
    const name = this.opts.serviceOf?.(p);
    return name === undefined ? '' : `service ${name}: `;
  }

  /** A JSON record with the process's service added, when it has one. */
  private withService(rec: Record<string, unknown>, p: { pid: number; pgid: number }): Record<string, unknown> {
    const name = this.opts.serviceOf?.(p);
    return name === undefined ? rec : { service: name, ...rec };
  }

  /** The session of `pid` (to tell setsid from setpgid in a diagnosis). */
  static sessionOf(pid: number): number | undefined {
    return readStat(pid)?.sid;
  }
}
