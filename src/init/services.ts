/**
 * The init of a Procfile: tsinit as PID 1 (or a subreaper) around several
 * services instead of one child. The CLI runs it for `--procfile FILE`.
 *
 *   starting ─spawn all─▶ running ─(a service ends for good, or TERM/INT)─▶ stopping
 *   stopping: every service gets the stop signal, one grace deadline, SIGKILL to what is left
 *   ─(all services ended)─▶ draining (the leftovers rule, as for one child) ─▶ exited
 *
 * Each service runs in its own process group with the clean child state of
 * `spawn`; other signals (HUP, USR1, ...) go to every service's group. The
 * status is that of the service that ended first, or on a stop that of the
 * service on the Procfile's first line; `--expect-exit` applies to it.
 * @module
 */
import { accessSync, constants as fsConstants, readFileSync } from 'node:fs';
import { claimAllChildren, sweep } from '../core/children';
import { describeStatus, remapStatus, spawnFailureStatus, type ExitStatus } from '../exit-status';
import { admitSignal, logReaped, prepareInit } from './setup';
import { childEnvironment } from './init';
import type { Logger } from './log';
import { native } from '../native';
import { UsageError, type CliOptions } from './options';
import { linePrefix, OutputSink, pipeLines } from './prefix';
import { readStat } from '../diagnosis/proc';
import { commandArgv, nameWidth, parseProcfile, ProcfileError, type ProcfileEntry } from './procfile';
import { superviseAll, type ServiceGroup } from '../supervise/service';
import { STOP_SIGNALS, signalName, SIGSTOP, toSignalNumber, JOB_CONTROL_STOPS } from '../signals';
import { LeftoverDrain } from './leftovers';
import { StopReport } from './stop-report';
import { SpawnError } from '../supervise/spawn';
import { PIPE_LINGER_MS } from '../supervise/supervised';
import { terminationLogPath } from './termination-log';


/** Process groups remembered for naming services in diagnoses (current runs and recent ones). */
const MAX_GROUPS = 1000;

/** Where the shell is looked for. */
const SHELL = '/bin/sh';

/** Whether `/bin/sh` exists and can be executed (else commands are split on whitespace). */
export function haveShell(shell = SHELL): boolean {
  try {
    accessSync(shell, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Reads and parses the Procfile at `file`.
 * @throws {UsageError} when it cannot be read or a line is malformed (the message names the line).
 */
export function loadProcfile(file: string): ProcfileEntry[] {
  let text: string;
  try {
    text = readFileSync(file, 'latin1'); // bytes as they are; names are ASCII, commands go to exec unchanged
  } catch (err) {
    throw new UsageError(`cannot read Procfile '${file}': ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    return parseProcfile(text, file);
  } catch (err) {
    if (err instanceof ProcfileError) throw new UsageError(err.message);
    throw err;
  }
}

/** Runs the services of `entries` as an init would and resolves with the status tsinit should exit with. */
export function runServices(o: CliOptions, entries: readonly ProcfileEntry[], log: Logger,
  env: Readonly<Record<string, string | undefined>> = process.env, onSpawned?: (pid: number) => void): Promise<number> {
  return new ServicesInit(o, entries, log, env, onSpawned).run();
}

type State = 'starting' | 'running' | 'stopping' | 'draining' | 'exited';

class ServicesInit {
  private state: State = 'starting';
  private group: ServiceGroup | undefined;
  private readonly core = native();
  private readonly pid1 = process.pid === 1;
  private pending: number[] = [];
  private finishResolve!: (code: number) => void;
  private report!: StopReport;
  /** Process group (= first pid of a run) → service name; every run of every service. */
  private readonly groups = new Map<number, string>();
  private readonly sinks: OutputSink[] = [];
  /** Output copies still running (each run of each service adds its two). */
  private readonly outputs = new Set<Promise<void>>();
  private result: { name: string; status: ExitStatus } | undefined;
  /** What is left when every service is gone: SIGTERM, SIGKILL at the deadline (see leftovers.ts). */
  private drain!: LeftoverDrain;
  private escalated = false;

  constructor(
    private readonly o: CliOptions,
    private readonly entries: readonly ProcfileEntry[],
    private readonly log: Logger,
    private readonly env: Readonly<Record<string, string | undefined>>,
    private readonly onSpawned?: (pid: number) => void,
  ) {}

  run(): Promise<number> {
    const done = new Promise<number>((resolve) => { this.finishResolve = resolve; });
    this.report = new StopReport(this.log, {
      self: process.pid, pid1: this.pid1, grace: this.o.grace,
      terminationLog: this.o.terminationLog ? terminationLogPath(this.env) : null,
      serviceOf: (p) => this.serviceOf(p),
    });
    this.drain = new LeftoverDrain({
      pid1: this.pid1, report: this.report, log: this.log, grace: this.o.grace, what: 'services ended',
      group: () => undefined, // each service's group is among tsinit's descendants
      finish: () => { void this.finish(); },
    });
    this.pending.push(...prepareInit(this.o, this.env, this.log, this.pid1, (signum) => this.onSignal(signum)));
    claimAllChildren((pid, ev) => logReaped(this.log, this.o.warnOnReap, pid, ev), (more) => this.onSwept(more));
    if (!this.start()) return done;
    for (const signum of this.pending.splice(0)) this.onSignal(signum);
    return done;
  }

  /** The service of a process: by its group, else by its nearest ancestor that leads a service's group. */
  private serviceOf(p: { pid: number; pgid: number }): string | undefined {
    const byGroup = this.groups.get(p.pgid);
    if (byGroup !== undefined) return byGroup;
    let pid = p.pid;
    for (let i = 0; i < 64 && pid > 1; i++) {
      const name = this.groups.get(pid);
      if (name !== undefined) return name;
      const st = readStat(pid);
      if (st === undefined) return undefined;
      pid = st.ppid;
    }
    return undefined;
  }

  /** Transition starting → running: every service started, or none (a service that cannot start stops the others). */
  private start(): boolean {
    const { o, log } = this;
    const shell = haveShell();
    if (!shell) log.info('spawn', `${SHELL} not found: each command is split on whitespace and run directly`);
    const width = nameWidth(this.entries);
    const prefixes = new Map(this.entries.map((e) => [e.name, linePrefix(e.name, width)]));
    const out = new OutputSink(1, (code) => log.warn('output', `cannot write the services' stdout (${code}): their output is dropped from now on`));
    const err = new OutputSink(2, (code) => log.warn('output', `cannot write the services' stderr (${code}): their output is dropped from now on`));
    this.sinks.push(out, err);
    const env = childEnvironment(this.env);
    const specs = this.entries.map((e) => {
      const [file, ...args] = commandArgv(e.command, shell, SHELL);
      return {
        name: e.name, command: file, args,
        options: {
          env, group: true, rewrite: o.rewrite, restart: o.restart,
          stdio: o.prefix ? ['ignore', 'pipe', 'pipe'] as const : ['ignore', 'inherit', 'inherit'] as const,
          dump: o.dumpSignal === null ? undefined : { signal: o.dumpSignal, seconds: o.dumpSeconds },
        },
      };
    });
    try {
      this.group = superviseAll(specs, { grace: o.grace });
    } catch (e) {
      if (!(e instanceof SpawnError)) throw e;
      const which = (e as SpawnError & { service?: string }).service;
      log.error('spawn-error', `${which === undefined ? '' : `service ${which}: `}${e.message}`, { code: e.code, program: e.path, service: which });
      this.state = 'exited';
      const code = spawnFailureStatus(e.code);
      this.report.finishWithoutChild(e.message, code);
      this.finishResolve(code);
      return false;
    }
    const group = this.group;
    this.state = 'running';
    group.on('spawn', (name, child, run) => {
      this.groups.set(child.pgid, name);
      // A crash loop must not grow the map without bound: the oldest runs' groups go first.
      if (this.groups.size > MAX_GROUPS) this.groups.delete(this.groups.keys().next().value!);
      this.onSpawned?.(child.pid);
      log.info('spawn', `started service ${name}${run > 1 ? ` (run ${run})` : ''} as pid ${child.pid} in its own process group`,
        { service: name, pid: child.pid, pgid: child.pgid, run });
      const prefix = prefixes.get(name)!;
      for (const [stream, sink] of [[child.stdout, out], [child.stderr, err]] as const) {
        if (stream === null) continue;
        const copying = pipeLines(stream, sink, prefix);
        this.outputs.add(copying);
        void copying.then(() => this.outputs.delete(copying));
      }
      child.on('escalating', () => this.onEscalating());
      child.on('exit', (status) => {
        if (group.services.get(name)?.state === 'restarting') return; // the restart line said it
        log.info('exit', `service ${name} (pid ${child.pid}) ended: ${describeStatus(status)}`,
          { service: name, pid: child.pid, status: status.status, code: status.code, signal: status.signal });
      });
    });
    group.on('restart', (name, r) => {
      this.report.restarted(r.run, r.pid, r.status, r.delayMs, name);
      log.info('restart', `service ${name} (run ${r.run}, pid ${r.pid}) ended: ${describeStatus(r.status)} after ${(r.ranMs / 1000).toFixed(3)} s; run ${r.run + 1} starts in ${r.delayMs} ms (restart ${r.count}${o.restart.max === null ? '' : ` of ${o.restart.max}`})`,
        { service: name, run: r.run, pid: r.pid, status: r.status.status, code: r.status.code, signal: r.status.signal, delayMs: r.delayMs, next: r.run + 1, restarts: r.count });
    });
    for (const [name, svc] of group.services) {
      svc.on('exhausted', (x) => log.warn('restart', `service ${name} ended: ${describeStatus(x.status)}; restart policy used up after ${x.count} restart(s)`,
        { service: name, status: x.status.status, restarts: x.count }));
    }
    group.on('stopping', (info) => {
      if (this.state === 'running') this.state = 'stopping';
      if (info.cause === 'exit') {
        const others = [...group.services.values()].filter((s) => s.state !== 'exited').length;
        log.info('stop', `service ${info.name} ended: sending ${info.signal} to the ${others} other service(s), SIGKILL in ${o.grace} s`, { service: info.name, signal: info.signal });
      }
      this.report.stopping(toSignalNumber(info.signal), { kind: 'all' }, info.deadline);
    });
    void group.finished.then((r) => {
      this.result = { name: r.name, status: r.status };
      this.state = 'draining';
      this.report.childExited(group.services.get(r.name)?.current?.pid ?? 0, r.status);
      sweep(); // the last SIGCHLD may have come before the pipes ended
    });
    return true;
  }

  /** Every signal tsinit receives (SIGCHLD and the faults excepted). */
  private onSignal(signum: number): void {
    const { group, log } = this;
    const live = this.state === 'running' || this.state === 'stopping';
    const when = { starting: this.state === 'starting', live, state: this.state, gone: 'the services are gone' };
    if (!admitSignal(signum, when, this.pending, log) || group === undefined) return;
    const name = signalName(signum);
    const stop = STOP_SIGNALS.has(signum);
    if (stop) this.report.signalReceived(name);
    const n = group.forward(signum);
    const rewritten = this.o.rewrite.get(signum);
    const as = rewritten === undefined ? name : rewritten === 0 ? null : signalName(rewritten);
    if (stop) this.report.forwarded(as, `the process groups of ${n} service(s)`);
    if (as === null) log.info('forward', `received ${name}: dropped by rewrite`, { signal: name });
    else log.info('forward', `received ${name}: sent ${as} to the process groups of ${n} service(s)`, { signal: name, sent: as, services: n });
    if (JOB_CONTROL_STOPS.has(signum) && !this.pid1) this.core.kill(process.pid, SIGSTOP);
  }

  /** The first service whose grace ran out: list the survivors once, naming their services. */
  private onEscalating(): void {
    if (this.escalated) return;
    this.escalated = true;
    // The groups get SIGKILL from the services themselves; the report logs who was left.
    this.report.escalating();
    this.report.escalationSent("every service's process group");
  }


  /** After each waitpid sweep: once every service ended, finish when nothing is left, else drain what is. */
  private onSwept(more: boolean): void {
    if (this.state !== 'draining') return;
    if (!more) { void this.finish(); return; }
    this.drain.onLeft(this.group?.deadline);
  }

  /** Transition → exited, once the services' output is written. */
  private async finish(): Promise<void> {
    if (this.state === 'exited') return;
    this.state = 'exited';
    this.drain.cancel();
    // A pipe still held open by some process that escaped must not hold the exit back for long.
    let linger: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all([...this.outputs]), new Promise<void>((r) => { linger = setTimeout(r, PIPE_LINGER_MS); })]);
    clearTimeout(linger);
    await Promise.all(this.sinks.map((s) => s.idle()));
    const { name, status } = this.result!;
    const code = remapStatus(status.status, this.o.expectExit);
    this.report.disarm();
    this.report.finish(`service ${name}`, status, code, code !== status.status);
    this.finishResolve(code);
  }
}
