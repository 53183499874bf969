// An ES module consumer that uses every export of 'tsinit' (checked with tsc --noEmit).
import {
  spawn, Supervised, SpawnError, PIPE_LINGER_MS,
  forwardSignals, DEFAULT_FORWARDED_SIGNALS,
  startReaper, Reaper, isPid1, setSubreaper, isSubreaper,
  signals, signalName, parseSignal, signalTable,
  runInit, parseCommandLine, UsageError,
  type SpawnOptions, type StdioOption, type SupervisedState, type SupervisedEvents,
  type ForwardOptions, type ReaperOptions, type ReapEvent, type ReaperEvents,
  type ExitStatus, type SignalLike, type CliOptions,
} from 'node-tsinit';
import type { Readable, Writable } from 'node:stream';

const stdio: StdioOption = 'pipe';
const options: SpawnOptions = {
  env: { PATH: '/usr/bin' }, cwd: '/', stdio: ['ignore', stdio, 'inherit'], grace: 5, group: true,
  foreground: false, rewrite: { SIGTERM: 'SIGQUIT', SIGHUP: 0 }, killSignal: 'SIGINT',
};
const worker: Supervised = spawn('node', ['worker.js'], options);
const bare: Supervised = spawn('true');
const withOptionsOnly: Supervised = spawn('true', { grace: 1 });
const pid: number = worker.pid;
const pgid: number = worker.pgid;
const state: SupervisedState = worker.state;
const out: Readable | null = worker.stdout;
const err: Readable | null = worker.stderr;
const input: Writable | null = worker.stdin;
const sent: boolean = worker.signal('SIGUSR2') && worker.signal(12);
const stopped: Promise<ExitStatus> = worker.stop({ grace: 1, signal: 'SIGTERM' });
const exited: Promise<ExitStatus> = bare.exited;
worker.on('exit', (s: ExitStatus) => { const code: number | null = s.code; const sig: string | null = s.signal; const st: number = s.status; void [code, sig, st]; });
worker.on('stopping', (i) => { const d: number = i.deadline; const n: string = i.signal; void [d, n]; });
worker.on('escalated', (i) => { const a: number = i.after; const k: 'SIGKILL' = i.signal; void [a, k]; });
const events: keyof SupervisedEvents = 'exit';
exited.catch((e: unknown) => { if (e instanceof SpawnError) { const c: string = e.code; void c; } });

const forward: ForwardOptions = { signals: ['SIGTERM', 10], keepAlive: false };
const unsubscribe: () => void = forwardSignals([worker, bare], forward);
forwardSignals(worker, { signals: 'all' })();
unsubscribe();
const defaults: readonly string[] = DEFAULT_FORWARDED_SIGNALS;

const reaperOptions: ReaperOptions = { subreaper: !isPid1(), exclude: [123], minZombieAgeMs: 50 };
const reaper: Reaper = startReaper(reaperOptions);
reaper.on('reap', (e: ReapEvent) => { const p: number = e.pid; const s: ExitStatus = e.status; void [p, s]; });
const reaperEvent: keyof ReaperEvents = 'reap';
reaper.exclude(456).exclude(789);
const swept: number = reaper.sweep();
const running: boolean = reaper.running;
reaper.stop();
setSubreaper(false);
const sub: boolean = isSubreaper();

const term: number | undefined = signals['SIGTERM'];
const name: string = signalName(34);
const parsed: number | undefined = parseSignal('RTMIN+3');
const table: Record<string, number> = signalTable();
const like: SignalLike = 'SIGHUP';
const linger: number = PIPE_LINGER_MS;

let cli: CliOptions | undefined;
try { cli = parseCommandLine(['--', 'true'], {}); } catch (e) { if (e instanceof UsageError) cli = undefined; }
const init: typeof runInit = runInit;

void [withOptionsOnly, pid, pgid, state, out, err, input, sent, stopped, events, defaults, reaperEvent, swept, running, sub,
  term, name, parsed, table, like, linger, cli, init];

// The types are not `any`: each line below must be a type error.
// @ts-expect-error not a stdio mode
spawn('true', [], { stdio: 'bogus' });
// @ts-expect-error pid is read-only
worker.pid = 3;
// @ts-expect-error signals is a list or 'all'
forwardSignals(worker, { signals: 'some' });
// @ts-expect-error minZombieAgeMs is a number
startReaper({ minZombieAgeMs: '5' });
// @ts-expect-error exited resolves to an ExitStatus, whose status is a number
const notString: Promise<string> = worker.exited;
void notString;

// Restart policies and several services.
import { supervise, superviseAll, parseRestartPolicy, type Service, type ServiceGroup, type RestartInfo, type GroupResult, type RestartPolicy } from 'node-tsinit';
const svc: Service = supervise('node', ['worker.js'], { restart: 'on-failure:3', grace: 5 });
svc.on('restart', (r: RestartInfo) => { const n: number = r.delayMs + r.run + r.status.status; void n; });
const finalStatus: Promise<ExitStatus> = svc.finished;
const policy: RestartPolicy = parseRestartPolicy('always:2');
const grp: ServiceGroup = superviseAll([{ name: 'web', command: 'node', args: ['server.js'], options: { restart: policy } }], { grace: 10 });
const groupEnd: Promise<GroupResult> = grp.finished;
grp.on('restart', (svcName: string, r: RestartInfo) => { void svcName; void r; });
void [finalStatus, groupEnd];
// @ts-expect-error restart is a policy string or a RestartPolicy
supervise('x', [], { restart: 3 });
