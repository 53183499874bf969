/**
 * The end of life the CLI's two inits share (one child, or a Procfile's
 * services): once what tsinit ran has ended, every process left — as PID 1
 * every process of the namespace, otherwise tsinit's descendants — gets
 * SIGTERM (and SIGCONT when one is stopped), SIGKILL at the grace deadline,
 * then a bounded wait for the kernel before the init exits anyway.
 *
 *   (processes left) ─start─▶ draining ─deadline─▶ killing ─AFTER_KILL_MS─▶ finish
 *
 * The init calls {@link LeftoverDrain.onLeft} after each waitpid sweep that
 * found processes left, and finishes by itself when a sweep finds none.
 * @internal
 * @module
 */
import { wait, describeIn, type Wait } from '../durations';
import type { Logger } from './log';
import { continueIfStopped } from '../diagnosis/proc';
import { responsibleStopped, signalResponsible } from '../diagnosis/targets';
import { SIGCONT, SIGKILL, SIGTERM } from '../signals';
import type { StopReport } from './stop-report';

/** After the final SIGKILL, how long to wait for the kernel before exiting anyway. */
const AFTER_KILL_MS = 5000;

/** What a {@link LeftoverDrain} needs from its init. */
export interface LeftoverDrainOptions {
  pid1: boolean;
  report: StopReport;
  log: Logger;
  /** A process group signalled in one kill before the others (the child's own), if any. */
  group: () => number | undefined;
  /** Seconds from the leftovers' SIGTERM to their SIGKILL, when no stop deadline stands already. */
  grace: number;
  /** What ended, for the log line: `child exited`, `services ended`. */
  what: string;
  /** Called once the kill's bounded wait is over (the init then exits). */
  finish: () => void;
}

/** The drain of the processes left at the end, from SIGTERM to the bounded wait after SIGKILL. */
export class LeftoverDrain {
  private timer: Wait | undefined;
  private killed = false;
  /** Whether the listing the last signal() made showed a stopped process (undefined: it made none). */
  private listedStopped: boolean | undefined;

  constructor(private readonly o: LeftoverDrainOptions) {}

  /**
   * A sweep found processes left: the drain begins (once), its SIGKILL due at
   * `deadline` (ms since the epoch: a stop's deadline that stands), else the
   * grace after the SIGTERM is sent (listing thousands of processes takes a
   * while; it must not eat the grace).
   */
  onLeft(deadline: number | undefined): void {
    if (this.timer === undefined && !this.killed) this.start(deadline);
  }

  /** The init is exiting: no timer of the drain's may fire. */
  cancel(): void {
    this.timer?.cancel();
  }

  /**
   * `signum` to everything left, then SIGCONT if one of them is stopped (it
   * could not act on `signum` otherwise). Returns how many were targeted
   * (undefined when /proc cannot tell).
   */
  stopAll(signum: number): number | undefined {
    const n = this.signal(signum, true);
    // The first look is the listing signal() just made; a second one, later, reads /proc again.
    let listed = this.listedStopped;
    continueIfStopped(() => {
      const known = listed;
      listed = undefined;
      return known ?? responsibleStopped(this.o.pid1);
    }, () => this.signal(SIGCONT));
    return n;
  }

  /** Transition → draining: SIGTERM to everything left, SIGKILL when the deadline passes. */
  private start(deadline: number | undefined): void {
    if (deadline !== undefined && deadline - Date.now() <= 0) { this.kill(); return; }
    const n = this.stopAll(SIGTERM);
    // Signalling and listing thousands takes a while: a standing deadline stands, time what is left of it now.
    const remaining = Math.max(0, (deadline ?? Date.now() + this.o.grace * 1000) - Date.now());
    this.o.log.info('drain', `${this.o.what}, ${n ?? 'other'} ${n === undefined ? '' : 'other '}process(es) left: sent SIGTERM, SIGKILL ${describeIn(remaining / 1000)}`);
    this.o.report.drainStarted(n, remaining);
    this.timer = wait(remaining, () => this.kill());
  }

  /** Transition draining → killing: SIGKILL to all, then a bounded wait for the kernel. */
  private kill(): void {
    this.killed = true;
    this.timer?.cancel();
    this.o.report.drainKilling(); // takes the last look before the deadline: reads nothing
    this.signal(SIGKILL);
    this.o.report.drainKilled(); // then says who was left, and why
    this.timer = wait(AFTER_KILL_MS, () => this.o.report.stuckAfterKill(AFTER_KILL_MS, this.o.finish));
  }

  /**
   * Sends `signum` to every process tsinit is responsible for (see
   * targets.ts); returns how many it targeted when `count`. Its listing, if
   * it made one, also notes whether one of them is stopped.
   */
  private signal(signum: number, count = false): number | undefined {
    const r = signalResponsible(this.o.pid1, this.o.group(), signum, count);
    this.listedStopped = r.stopped;
    return r.count;
  }

}
