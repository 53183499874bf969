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
import { describeStatus, type ExitStatus } from '../exit-status';
import { Level, type Logger } from './log';
import { procIsOurs, readStat } from '../diagnosis/proc';
import { SIGKILL, SIGTERM, signalName } from '../signals';
import {
  bootSeconds, causeLabel, describeSurvivor, formatCauses, formatCount, formatSurvivor, survivorRecord,
  type SignalTarget, type StopContext, type Survivor,
} from '../diagnosis/diagnose';
import type { Responsibility } from '../diagnosis/targets';
import { Survey, type Look } from '../diagnosis/survey';
import type { Outsider } from '../diagnosis/targets';
import { formatTerminationMessage, writeTerminationLog } from './termination-log';
import { wait, type Wait } from '../durations';

/** First diagnosis point after the stop signal. */
const FIRST_LOOK_MS = 1000;
/** No diagnosis point closer than this to the next one or to the deadline. */
const MIN_GAP_MS = 400;
/** The last look before a deadline begins at least this long before it... */
const MIN_LEAD_MS = 60;
/** ...and this long before it while no look has been timed yet. */
const DEFAULT_LEAD_MS = 150;
/** Restarts kept for the JSON timeline, and shown in the human line. */
const KEPT_RESTARTS = 20;
const SHOWN_RESTARTS = 5;
/** The look at what outlived the final SIGKILL is cut short after this. */
const STUCK_LOOK_MS = 1000;
/** Longest command shown in the timeline line. */
const SHORT_CMD = 48;
/** Processes named in the timeline line (the rest are counted). */
const TIMELINE_NAMED = 10;

/** A stop or a drain being watched. */
interface Phase {
  kind: 'stop' | 'drain';
  ctx: StopContext;
  /** When the signal was sent (ms since the epoch). */
  at: number;
  /** The deadline the last look must be done by (ms since the epoch). */
  deadline: number;
  /** Timers of the progress looks (durations' wait: a deadline may be Infinity or past setTimeout's ceiling). */
  timers: Wait[];
  /** Timer of the last look before the deadline. */
  finalTimer: Wait | undefined;
  finalStarted: boolean;
  /** The look under way, and a look due while it runs. */
  running: { survey: Survey; purpose: 'progress' | 'final' } | undefined;
  queued: 'progress' | 'final' | undefined;
  /** The latest look that examined every process. */
  last: Look | undefined;
}

/** What a SIGKILL at a deadline killed, as far as the last look before it saw. */
interface Killed {
  /** The first ones, in full. */
  listed: Survivor[];
  /** How many in all (listed included). */
  count: number;
  /** Those beyond `listed`, by cause label (`ignores SIGTERM`). */
  more: Map<string, number>;
}

const NOTHING_KILLED: Killed = { listed: [], count: 0, more: new Map() };

/** A deadline's look, held until the log line is written (after the kill). */
interface Taken {
  look: Look | undefined;
  sig: string;
  elapsed: number;
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

/** The live survivors of a look: what a SIGKILL then kills. */
function killedOf(look: Look | undefined, sig: string): Killed {
  if (look === undefined) return NOTHING_KILLED;
  const more = new Map<string, number>();
  for (const [cause, n] of look.more) {
    if (cause === 'zombie') continue;
    const label = causeLabel(cause, sig);
    more.set(label, (more.get(label) ?? 0) + n);
  }
  return { listed: look.listed.filter((s) => s.cause !== 'zombie'), count: look.live, more };
}

/**
 * Collects a stop's events, diagnoses survivors, writes the summaries.
 *
 * The diagnosis never holds a deadline up: looks run in slices (see
 * {@link Survey}) during the grace period — 1 s after the signal, half-way,
 * and a last one timed to end just before the deadline — and at the
 * deadline the signal goes first, described by the latest complete look.
 */
export class StopReport {
  private readonly startedAt = Date.now();
  private phase: Phase | undefined;
  private pgid: number | undefined;
  private signal: { name: string; at: number } | undefined;
  private forward: { as: string | null; target: string; at: number } | undefined;
  private dump: { signal: string; at: number; count: number } | undefined;
  private escalation: { at: number; killed: Killed; taken: Taken; outsiders: number } | undefined;
  /** `count` undefined: unknown without /proc. */
  private drain: { at: number; count: number | undefined; killed: Killed; taken?: Taken; killAt?: number } | undefined;
  private childExit: { pid: number; at: number; status: ExitStatus } | undefined;
  private stuck: Survey | undefined;
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
    return this.escalation !== undefined || (this.drain?.killed.count ?? 0) > 0;
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
   * The child's stop began: `signal` went to `target`. Arms the looks
   * (1 s after, half-way to the deadline, and just before it).
   */
  stopping(signal: number, target: SignalTarget, deadline: number): void {
    if (this.phase !== undefined) return;
    this.phase = this.newPhase('stop', { signal, target, sentAtBoot: bootSeconds() }, deadline);
    this.arm(true);
  }

  /** The child exited: the stop's looks end. */
  childExited(pid: number, status: ExitStatus): void {
    this.childExit = { pid, at: Date.now(), status };
    this.disarm();
  }

  /** The drain began: SIGTERM went to every leftover; SIGKILL comes in `remainingMs`. */
  drainStarted(count: number | undefined, remainingMs: number): void {
    this.disarm();
    const at = Date.now();
    this.drain = { at, count, killed: NOTHING_KILLED };
    this.phase = this.newPhase('drain', { signal: SIGTERM, target: { kind: 'all' }, sentAtBoot: bootSeconds() }, at + remainingMs);
    this.arm(true);
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

  /** Stops every look and its timers. */
  disarm(): void {
    const phase = this.phase;
    if (phase === undefined) return;
    for (const t of phase.timers) t.cancel();
    phase.timers = [];
    phase.finalTimer?.cancel();
    phase.finalTimer = undefined;
    phase.running?.survey.cancel();
    phase.running = undefined;
    phase.queued = undefined;
    this.stuck?.cancel();
    this.stuck = undefined;
  }

  private newPhase(kind: Phase['kind'], ctx: StopContext, deadline: number): Phase {
    return {
      kind, ctx, at: Date.now(), deadline, timers: [], finalTimer: undefined, finalStarted: false,
      running: undefined, queued: undefined, last: undefined,
    };
  }

  /** Arms the progress looks (when `progress`) and the last look before the phase's deadline. */
  private arm(progress: boolean): void {
    const phase = this.phase!;
    const windowMs = phase.deadline - Date.now();
    if (progress) {
      const points: number[] = [];
      for (const p of [FIRST_LOOK_MS, windowMs / 2]) {
        if (p < windowMs - MIN_GAP_MS && points.every((q) => Math.abs(q - p) >= MIN_GAP_MS)) points.push(p);
      }
      for (const p of points) phase.timers.push(wait(p, () => this.requestLook(phase, 'progress')));
    }
    this.planFinal(phase, DEFAULT_LEAD_MS);
  }

  /** (Re)times the last look before the deadline to begin `leadMs` before it. */
  private planFinal(phase: Phase, leadMs: number): void {
    if (phase.finalStarted) return;
    phase.finalTimer?.cancel();
    phase.finalTimer = wait(Math.max(0, phase.deadline - leadMs - Date.now()), () => {
      phase.finalTimer = undefined;
      phase.finalStarted = true;
      this.requestLook(phase, 'final');
    });
  }

  /** Whether tsinit can read /proc as its own namespace's. */
  private canLook(): boolean {
    return this.seeing; // without it the init warned once at start-up: nothing more to say
  }

  private responsibility(): Responsibility {
    return { self: this.opts.self, pid1: this.opts.pid1, pgid: this.pgid };
  }

  /** Starts a look, or queues it behind the one under way (a last look wins over a progress one). */
  private requestLook(phase: Phase, purpose: 'progress' | 'final'): void {
    if (this.phase !== phase) return;
    if (phase.running !== undefined) {
      if (phase.queued !== 'final') phase.queued = purpose;
      return;
    }
    if (!this.canLook()) return;
    const survey = new Survey(phase.ctx, this.responsibility(), (look) => this.lookDone(phase, purpose, look));
    phase.running = { survey, purpose };
  }

  private lookDone(phase: Phase, purpose: 'progress' | 'final', look: Look): void {
    if (this.phase !== phase) return;
    phase.running = undefined;
    phase.last = look;
    if (purpose === 'progress') this.progress(phase, look);
    // Time the last look by what this one took, so it ends before the deadline.
    this.planFinal(phase, Math.max(MIN_LEAD_MS, (look.endedAt! - look.startedAt) * 1.5 + 20));
    const queued = phase.queued;
    phase.queued = undefined;
    if (queued !== undefined) this.requestLook(phase, queued);
  }

  /**
   * At a deadline: ends the phase's looks and returns the latest complete
   * one, or what the one under way found so far. Reads nothing.
   */
  private take(): Taken {
    const phase = this.phase;
    if (phase === undefined) return { look: undefined, sig: 'the stop signal', elapsed: 0 };
    const partial = phase.running?.survey.cancel();
    phase.running = undefined;
    this.disarm();
    const look = phase.last ?? partial;
    return { look, sig: signalName(phase.ctx.signal), elapsed: (look?.endedAt ?? Date.now()) - phase.at };
  }

  /** A progress look ended: log what it found. */
  private progress(phase: Phase, look: Look): void {
    const sig = signalName(phase.ctx.signal);
    const elapsed = look.endedAt! - phase.at;
    if (look.count === 0) {
      this.log.debug('stop-progress', `nothing left running ${(elapsed / 1000).toFixed(1)} s after ${sig}`, { signal: sig, phase: phase.kind });
      return;
    }
    this.emit(Level.Warn, 'stop-progress', { look, sig, elapsed },
      `${formatCount(look.count)} process(es) still running ${(elapsed / 1000).toFixed(1)} s after ${sig}`, { phase: phase.kind });
  }

  /**
   * Logs the listed survivors as one human line each, then the rest counted
   * by cause (and `summary` on its own line when `summaryLine`); or one JSON
   * event whose `processes` lists them and `more` counts the rest.
   */
  private emit(level: Level, event: string, taken: Taken, summary: string,
    fields: Record<string, unknown> = {}, summaryLine = false): void {
    const { log } = this;
    const { look, sig, elapsed } = taken;
    const listed = look?.listed ?? [];
    const beyond = look === undefined ? 0 : look.count - listed.length;
    const labels = new Map<string, number>();
    for (const [cause, n] of look?.more ?? []) labels.set(causeLabel(cause, sig), (labels.get(causeLabel(cause, sig)) ?? 0) + n);
    const unexamined = look?.unexamined ?? 0;
    const trace = log.enabled(Level.Trace);
    if (log.format === 'json') {
      const extra: Record<string, unknown> = {};
      if (look !== undefined) extra['total'] = look.count;
      if (beyond > 0) extra['more'] = { count: beyond, causes: Object.fromEntries([...look!.more]) };
      if (unexamined !== 0) extra['unexamined'] = unexamined;
      log.log(level, event, summary, {
        signal: sig, elapsed: Math.round(elapsed) / 1000, ...fields, ...extra,
        processes: listed.map((s) => this.withService(survivorRecord(s, trace), s)),
      });
      return;
    }
    for (const s of listed) {
      log.log(level, event, `${this.serviceLabel(s)}${formatSurvivor(s, sig, elapsed)}`);
      if (trace && s.evidence !== undefined) {
        const e = s.evidence;
        log.log(Level.Trace, event, `  pid ${s.pid}: SigIgn ${e.sigIgn} SigCgt ${e.sigCgt} blocked-in-all-threads ${e.sigBlkAll} pending ${e.sigPnd}`);
      }
    }
    if (beyond > 0) log.log(level, event, `… and ${formatCount(beyond)} more: ${formatCauses(labels)}`);
    if (unexamined > 0) log.log(level, event, `… ${formatCount(unexamined)} process(es) not examined before the deadline`);
    else if (unexamined < 0) log.log(level, event, '… the processes were not examined before the deadline');
    if (summaryLine) log.log(level, event, summary);
  }

  /**
   * The grace deadline passed and `dumpSignal` is about to go to the
   * survivors. Returns those the child's signals do not reach (the init
   * sends them the signal one by one); the last look before SIGKILL is armed.
   */
  dumping(dumpSignal: string, seconds: number): Outsider[] {
    const taken = this.take();
    const look = taken.look;
    this.dump = { signal: dumpSignal, at: Date.now(), count: look?.live ?? 0 };
    this.emit(Level.Warn, 'dump', taken,
      `grace period of ${this.opts.grace} s over: sending ${dumpSignal}${this.seeing ? ` to ${formatCount(this.dump.count)} process(es)` : ''} for a dump, ${seconds === Infinity ? 'no SIGKILL (never)' : `SIGKILL in ${seconds} s`}`,
      { dumpSignal, seconds }, true);
    const phase = this.phase;
    if (phase !== undefined) {
      phase.deadline = Date.now() + seconds * 1000;
      phase.last = undefined;
      phase.finalStarted = false;
      this.arm(false);
    }
    return look?.outsiders ?? [];
  }

  /**
   * SIGKILL is about to go to the child's group. Reads nothing: returns the
   * processes outside the group that the last look found (the init kills
   * them right after the group); {@link escalationSent} writes the log lines.
   */
  escalating(): Outsider[] {
    const taken = this.take();
    const killed = killedOf(taken.look, taken.sig);
    const outsiders = taken.look?.outsiders ?? [];
    this.escalation = { at: Date.now(), killed, taken, outsiders: outsiders.length };
    return outsiders;
  }

  /** SIGKILL went to the child's group (`childTarget`) and the outsiders: log who they were and why. */
  escalationSent(childTarget: string): void {
    const e = this.escalation;
    if (e === undefined) return;
    const why = this.dump === undefined
      ? `grace period of ${this.opts.grace} s over`
      : `${((e.at - this.dump.at) / 1000).toFixed(1)} s after ${this.dump.signal}`;
    this.emit(Level.Warn, 'escalate', e.taken,
      `${why}: sent SIGKILL to ${childTarget}${e.outsiders > 0 ? ` and ${formatCount(e.outsiders)} other process(es)` : ''}`,
      { killed: e.killed.listed.map((s) => s.pid), killedCount: e.killed.count }, true);
  }

  /**
   * The drain's deadline passed and SIGKILL is about to go to every
   * leftover. Reads nothing; {@link drainKilled} logs who they were. After
   * an escalation (no drain of its own) there is nothing new to say.
   */
  drainKilling(): void {
    const killAt = Date.now();
    if (this.phase?.kind !== 'drain') {
      this.disarm();
      if (this.drain === undefined) this.drain = { at: killAt, count: 0, killed: NOTHING_KILLED, killAt };
      return;
    }
    const taken = this.take();
    const killed = killedOf(taken.look, taken.sig);
    if (this.drain === undefined) this.drain = { at: killAt, count: 0, killed, taken, killAt };
    else Object.assign(this.drain, { killed, taken, killAt });
  }

  /** SIGKILL went to every leftover: log the survivors of the drain's last look. */
  drainKilled(): void {
    const d = this.drain;
    if (d?.taken === undefined) return;
    // No look finished before the deadline (a loaded machine), or the one under way saw nobody yet.
    if (d.taken.look === undefined || (d.taken.look.count === 0 && (d.taken.look.unexamined ?? 0) !== 0)) {
      // The kill still happened: say so.
      if (this.seeing && d.count !== 0) {
        this.log.warn('escalate', 'process(es) outlived the grace period after the child exited: sent SIGKILL (which ones is unknown: no look at them finished before the deadline)', { phase: 'drain' });
      }
      return;
    }
    if (d.taken.look.count === 0) return;
    this.emit(Level.Warn, 'escalate', d.taken,
      `${formatCount(d.killed.count)} process(es) outlived the grace period after the child exited: sent SIGKILL`,
      { killed: d.killed.listed.map((s) => s.pid), killedCount: d.killed.count, phase: 'drain' }, true);
  }

  /**
   * Processes still there `ms` after the final SIGKILL: say which, and why
   * (D state, most likely), then call `done`. The look is cut short after
   * {@link STUCK_LOOK_MS}.
   */
  stuckAfterKill(ms: number, done: () => void): void {
    this.disarm();
    let finished = false;
    const report = (look: Look | undefined): void => {
      if (finished) return;
      finished = true;
      clearTimeout(cap);
      this.stuck = undefined;
      const n = look?.count ?? 0;
      this.emit(Level.Warn, 'exit', { look, sig: 'SIGKILL', elapsed: ms },
        `${n === 0 ? 'processes' : `${formatCount(n)} process(es)`} left ${(ms / 1000).toFixed(1)} s after SIGKILL did not go away; exiting anyway`,
        {}, true);
      done();
    };
    const cap = setTimeout(() => report(this.stuck?.cancel()), STUCK_LOOK_MS);
    if (!this.seeing) { report(undefined); return; }
    this.stuck = new Survey({ signal: SIGKILL, target: { kind: 'all' } }, this.responsibility(), report);
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
      const all = [this.escalation?.killed, this.drain?.killed].filter((k): k is Killed => k !== undefined);
      const more = new Map<string, number>();
      let moreCount = 0;
      for (const k of all) {
        for (const [label, n] of k.more) { more.set(label, (more.get(label) ?? 0) + n); moreCount += n; }
      }
      const restarts = this.restartText();
      const sigOf = (k: Killed): string => (k === this.escalation?.killed ? this.escalation.taken.sig : this.drain?.taken?.sig ?? 'SIGTERM');
      const text = formatTerminationMessage({
        outcome: `${program} ended: ${describeStatus(status)}${restarts === undefined ? '' : ` after ${this.restartCount} restart(s)`}`,
        status: code,
        stop: this.signal === undefined && !this.escalated && restarts === undefined ? undefined : line,
        survivors: all.flatMap((k) => k.listed.map((s) => ({ line: `${this.serviceLabel(s)}pid ${s.pid} ${s.cmd} — ${describeSurvivor(s)}`, cause: causeLabel(s.cause, sigOf(k)) }))),
        more: moreCount > 0 ? { count: moreCount, causes: more } : undefined,
      });
      this.writeMessage(path, text);
    }
  }

  /** The exit when PROGRAM never started: only the termination message. */
  finishWithoutChild(message: string, code: number): void {
    if (this.opts.terminationLog === null || code === 0) return;
    this.writeMessage(this.opts.terminationLog, formatTerminationMessage({ outcome: message, status: code }));
  }

  private writeMessage(path: string, text: string): void {
    if (writeTerminationLog(path, text, this.log)) this.log.debug('termination-log', `wrote ${path}`);
  }

  /** The one-line summary, and its JSON fields. */
  private timeline(status: ExitStatus, code: number, expectExitApplied: boolean, end: number): { line: string; fields: Record<string, unknown> } {
    const parts: string[] = [];
    const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());
    const s = this.signal;
    const rel = (at: number): string => (s === undefined ? `at ${secs(at - this.startedAt)}` : `at +${secs(at - s.at)}`);
    const killedList = (k: Killed): string => {
      if (k.count === 0) return 'nothing left';
      const named = k.listed.slice(0, TIMELINE_NAMED);
      const rest = k.count - named.length;
      return named.map((p) => `${this.serviceLabel(p)}pid ${p.pid} ${short(p.cmd)}`).concat(rest > 0 ? [`… and ${formatCount(rest)} more`] : []).join(', ');
    };
    // Without /proc nobody can be listed: say what was sent, not who it killed.
    const killed = (k: Killed): string =>
      this.seeing ? `killed ${formatCount(k.count)} (${killedList(k)})` : 'sent (who was left is unknown without /proc)';
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
      parts.push(`${d.count === undefined ? 'the' : formatCount(d.count)} leftover(s) got SIGTERM ${rel(d.at)}` +
        (d.killAt !== undefined ? `, SIGKILL ${rel(d.killAt)}` : '') +
        (d.killed.count > 0 ? ` killed ${formatCount(d.killed.count)} (${killedList(d.killed)})` : ''));
    } else if (d !== undefined && d.killed.count > 0) {
      parts.push(`SIGKILL killed ${formatCount(d.killed.count)} leftover(s) ${rel(d.at)} (${killedList(d.killed)})`);
    }
    if (s !== undefined) parts.push(`stop took ${secs(end - s.at)}`);
    parts.push(`tsinit exits ${code}${expectExitApplied ? ' (--expect-exit)' : ''}`);
    const brief = (list: readonly Survivor[]): Array<Record<string, unknown>> => list.map((p) => this.withService({ pid: p.pid, cmd: p.cmd, cause: p.cause }, p));
    const killedAll = [this.escalation?.killed ?? NOTHING_KILLED, this.drain?.killed ?? NOTHING_KILLED];
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
        killed: brief(killedAll.flatMap((k) => k.listed)),
        killedCount: killedAll[0]!.count + killedAll[1]!.count,
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
