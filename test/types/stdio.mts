// The stream types follow `stdio` (checked with tsc --noEmit, strict), as
// @types/node's do for child_process: 'pipe' gives a non-null stream, anything
// else null, a value not known until run time a stream or null.
import { spawn, type Supervised, type SpawnOptions, type StdioSpec } from 'node-tsinit';
import type { Readable, Writable } from 'node:stream';

// 'pipe' for all three: used without `!` or a null check.
const piped = spawn('cat', [], { stdio: 'pipe' });
piped.stdout.on('data', (chunk: Buffer) => process.stdout.write(chunk));
piped.stderr.on('data', (chunk: Buffer) => process.stderr.write(chunk));
piped.stdin.end('input');
const out: Readable = piped.stdout;
const input: Writable = piped.stdin;

// One entry each: only the piped one is a stream.
const mixed = spawn('node', ['worker.js'], { stdio: ['ignore', 'inherit', 'pipe'], grace: 10 });
mixed.stderr.on('data', (chunk: Buffer) => process.stderr.write(chunk));
const noStdin: null = mixed.stdin;
const noStdout: null = mixed.stdout;
// @ts-expect-error stdout is inherited: there is no stream
mixed.stdout.on('data', () => {});

// A descriptor number is not a pipe.
const toFd = spawn('date', [], { stdio: ['ignore', 1, 2] });
const fdOut: null = toFd.stdout;

// The (command, options) form follows stdio too.
const short = spawn('ls', { stdio: 'pipe' });
short.stdout.pipe(process.stdout);

// No stdio, 'inherit' or 'ignore': null; using the stream needs a check.
const plain = spawn('true');
const inherited = spawn('true', [], { stdio: 'inherit' });
const ignored = spawn('true', { stdio: 'ignore', grace: 1 });
// @ts-expect-error stdio defaults to 'inherit': no stream
plain.stdout.on('data', () => {});
// @ts-expect-error stdio 'inherit': no stream
inherited.stdout.on('data', () => {});
// @ts-expect-error stdio 'ignore': no stream
ignored.stderr.on('data', () => {});

// Options built apart as SpawnOptions: a stream or null, so a check is needed.
const options: SpawnOptions = { stdio: 'pipe' };
const wide = spawn('true', [], options);
// @ts-expect-error SpawnOptions' stdio may be anything: stdout may be null
wide.stdout.on('data', () => {});
wide.stdout?.on('data', () => {});
const maybe: Readable | null = wide.stdout;

// A mode known only at run time.
const mode: 'pipe' | 'inherit' = process.env['QUIET'] ? 'pipe' : 'inherit';
const runtime = spawn('true', [], { stdio: mode });
// @ts-expect-error may be inherited: stdout may be null
runtime.stdout.on('data', () => {});

// Every Supervised fits the unparameterised type (arrays of mixed children).
const all: Supervised[] = [piped, mixed, toFd, plain, wide, runtime];
const spec: StdioSpec = ['pipe', 3, 'ignore'];

// Options that spawn does not take are type errors too (and TypeErrors at run time).
// @ts-expect-error no shell: spawn('sh', ['-c', ...])
spawn('echo hi', [], { shell: true });
// @ts-expect-error typo
spawn('true', [], { gracee: 5 });
// @ts-expect-error timeout is milliseconds, a number
spawn('true', [], { timeout: '5s' });
spawn('sleep', ['30'], { timeout: 500, signal: AbortSignal.timeout(1000), killSignal: 'SIGINT' });

void [out, input, noStdin, noStdout, fdOut, maybe, all, spec];
