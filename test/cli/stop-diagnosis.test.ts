/**
 * Stop diagnosis end to end: real processes that survive a SIGTERM in each
 * way, tsinit as PID 1, its JSON log read back.
 */
import { spawn as spawnProcess, execFileSync } from 'node:child_process';
import { closeSync, constants as fsConstants, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { inNamespace, killAll, start, TSINIT } from '../support/helpers';

afterEach(killAll);

interface LogEvent {
  ts: string;
  level: string;
  event: string;
  msg: string;
  processes?: Array<{ pid: number; ppid: number; pgid: number; state: string; cmd: string; cause: string; wchan?: string }>;
  [k: string]: unknown;
}

/** The JSON events among stderr's lines (the children may write other lines there). */
function events(stderr: string): LogEvent[] {
  return stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogEvent);
}

const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

function tempDir(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'tsinit-stop-'));
  dirs.push(d);
  return d;
}

function script(body: string): string {
  const file = path.join(tempDir(), 'child.sh');
  writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return file;
}

/** clone(CLONE_VM|CLONE_VFORK|SIGCHLD) by syscall number: the parent waits in state D until the child execs or exits. */
const CLONE_SYSCALL: Record<string, number> = { x64: 56, arm64: 220 };
const vforkAvailable = CLONE_SYSCALL[process.arch] !== undefined;

/**
 * Every way a process outlives SIGTERM, each marked by a distinct command
 * line. Each one creates a file in $R once its signal state is set, and the
 * script says "ready" on stderr when all have: a loaded machine can't make
 * the SIGTERM come too early.
 */
const SURVIVORS = `
(trap '' TERM; : > "$R/1"; exec sleep 1001) &
perl -MPOSIX -e '$SIG{TERM} = "DEFAULT"; sigprocmask(SIG_BLOCK, POSIX::SigSet->new(SIGTERM)); open(my $f, ">", "$ENV{R}/2"); exec "sleep", "1002"' &
perl -e '$SIG{TERM} = sub { sleep 1000 }; open(my $f, ">", "$ENV{R}/3"); sleep 1000 while 1' handler-1003 &
perl -e '$SIG{TERM} = sub { select(undef, undef, undef, 0.3); kill "STOP", $$ }; open(my $f, ">", "$ENV{R}/4"); sleep 1000 while 1' stopper-1004 &
setsid sh -c ': > "$R/5"; exec sleep 1005' &
perl -e '$SIG{TERM} = "IGNORE"; defined(my $k = fork) or die; $k or exec "true"; open(my $f, ">", "$ENV{R}/6"); exec "sleep", "1006"' &
${vforkAvailable ? `perl -e '$SIG{TERM} = "IGNORE"; $0 = "vfork-parent-1007"; open(my $f, ">", "$ENV{R}/7"); if (syscall(${CLONE_SYSCALL[process.arch]}, 0x4000|0x100|17, 0, 0, 0, 0) == 0) { sleep 60; require POSIX; POSIX::_exit(0) } sleep 100' &` : ': > "$R/7"'}
trap '' TERM
while [ "$(ls "$R" | wc -l)" -lt 7 ]; do sleep 0.05; done
echo ready >&2
wait
`;

/** Time allowed for the children to get ready on a loaded machine. */
const READY_MS = 30_000;

describe('stop diagnosis', () => {
  it('names the cause of every survivor, kills exactly them at the deadline, and writes nothing to stdout', async () => {
    const t = start(['-vv', '--log-format', 'json', '-t', '5', script(SURVIVORS)], { env: { R: tempDir() }, timeoutMs: 55_000 });
    await t.waitFor(/^ready$/m, READY_MS);
    t.kill('SIGTERM');
    const r = await t.result;
    const all = events(r.stderr);
    // Looks during the grace (1 s after and half-way), then at the deadline: the causes are read there.
    expect(all.filter((e) => e.event === 'stop-progress').length).toBeGreaterThanOrEqual(1);
    const escalate = all.find((e) => e.event === 'escalate')!;
    const procs = escalate.processes!;
    const byCmd = (re: RegExp): (typeof procs)[number] | undefined => procs.find((p) => re.test(p.cmd));

    expect(byCmd(/^\/bin\/sh .*child\.sh$/)?.cause).toBe('ignores');
    expect(byCmd(/^sleep 1001$/)?.cause).toBe('ignores');
    expect(byCmd(/^sleep 1002$/)?.cause).toBe('blocks');
    expect(byCmd(/handler-1003$/)?.cause).toBe('handling');
    expect(byCmd(/stopper-1004$/)).toMatchObject({ cause: 'stopped', state: 'T' });
    expect(byCmd(/^sleep 1005$/)?.cause).toBe('outside-group');
    const parent = byCmd(/^sleep 1006$/)!;
    expect(parent.cause).toBe('ignores');
    expect(procs.find((p) => p.ppid === parent.pid)).toMatchObject({ cause: 'zombie', state: 'Z' });
    if (vforkAvailable) {
      const d = procs.find((p) => /vfork-parent-1007/.test(p.cmd) && p.cause === 'uninterruptible');
      expect(d).toMatchObject({ state: 'D' });
      expect(typeof d?.wchan).toBe('string');
    }
    // Every process listed is there for a reason: no 'unknown'.
    expect(procs.filter((p) => p.cause === 'unknown')).toEqual([]);

    // At the deadline: the survivors (zombies aside) are exactly what SIGKILL killed.
    expect(escalate.level).toBe('warn');
    const killed = new Set(escalate['killed'] as number[]);
    expect([...killed].sort()).toEqual(escalate.processes!.filter((p) => p.cause !== 'zombie').map((p) => p.pid).sort());
    const diedByKill = all.filter((e) => e.event === 'reap' && /killed by SIGKILL/.test(e.msg)).map((e) => e['pid'] as number);
    for (const pid of diedByKill) expect(killed.has(pid)).toBe(true);
    expect(r.code).toBe(137); // the child itself ignored SIGTERM: SIGKILL ended it
    expect(r.stdout).toBe('');
  });

  it('escalation sends SIGKILL only to the processes that survived SIGTERM', async () => {
    const child = script(`
sleep 2001 &
(trap '' TERM; : > "$R/1"; exec sleep 2002) &
setsid sh -c ': > "$R/2"; exec sleep 2003' &
trap '' TERM
while [ "$(ls "$R" | wc -l)" -lt 2 ]; do sleep 0.05; done
echo ready >&2
wait
`);
    const t = start(['-vv', '--log-format', 'json', '-t', '2', child], { env: { R: tempDir() }, timeoutMs: 50_000 });
    await t.waitFor(/^ready$/m, READY_MS);
    t.kill('SIGTERM');
    const r = await t.result;
    const all = events(r.stderr);
    const escalate = all.find((e) => e.event === 'escalate')!;
    expect(escalate.processes!.map((p) => p.cmd).sort()).toEqual([expect.stringMatching(/child\.sh$/), 'sleep 2002', 'sleep 2003']);
    const bySig = new Map(all.filter((e) => e.event === 'reap').map((e) => [e['pid'] as number, e.msg]));
    for (const p of escalate.processes!.filter((q) => q.cmd.startsWith('sleep'))) {
      expect(bySig.get(p.pid)).toMatch(/killed by SIGKILL/);
    }
    expect(r.code).toBe(137);
  });

  it('--dump SIGQUIT:1 sends SIGQUIT at the deadline and SIGKILL about 1 s later', async () => {
    const child = ['perl', '-MTime::HiRes=time', '-e',
      '$| = 1; $SIG{TERM} = sub { printf "term %.3f\\n", time }; $SIG{QUIT} = sub { printf "quit %.3f\\n", time }; ' +
      'print STDERR "ready\\n"; sleep 1 while 1'];
    const t = start(['-v', '--log-format', 'json', '-t', '1', '--dump', 'SIGQUIT:1', ...child], { timeoutMs: 50_000 });
    await t.waitFor(/^ready$/m, READY_MS);
    t.kill('SIGTERM');
    const r = await t.result;
    const all = events(r.stderr);
    const at = (name: string): number => Date.parse(all.find((e) => e.event === name)!.ts);
    const termAt = Number(/^term (\S+)$/m.exec(r.stdout)![1]) * 1000;
    const quitAt = Number(/^quit (\S+)$/m.exec(r.stdout)![1]) * 1000;
    const dump = all.find((e) => e.event === 'dump')!;
    expect(dump.processes!.map((p) => p.cause)).toEqual(['handling']);
    // SIGQUIT after the 1 s grace (not before), SIGKILL after the 1 s dump wait (generous margins).
    expect(quitAt - termAt).toBeGreaterThan(800);
    expect(quitAt - termAt).toBeLessThan(4000);
    expect(at('escalate') - quitAt).toBeGreaterThan(700);
    expect(at('escalate') - quitAt).toBeLessThan(4000);
    expect(r.code).toBe(137);
    expect(r.stdout.match(/^quit /gm)).toHaveLength(1);
  });

  it('looks at the survivors 1 s after the stop signal, half-way through the grace, and just before the deadline (-t 4)', async () => {
    const t = start(['-v', '--log-format', 'json', '-t', '4', 'sh', '-c', 'trap "" TERM; echo ready >&2; exec sleep 100'], { timeoutMs: 50_000 });
    await t.waitFor(/^ready$/m, READY_MS);
    t.kill('SIGTERM');
    const r = await t.result;
    expect(r.code).toBe(137);
    const all = events(r.stderr);
    const forwardedAt = Date.parse(all.find((e) => e.event === 'forward')!.ts);
    // Each progress look is logged as it ends; `elapsed` is when it ended, in s after the signal.
    const looks = all.filter((e) => e.event === 'stop-progress');
    expect(looks.map((e) => e.processes!.map((p) => p.cause)), r.stderr).toEqual([['ignores'], ['ignores']]);
    const [first, half] = looks.map((e) => Date.parse(e.ts) - forwardedAt) as [number, number];
    // Generous margins for a loaded 2-core machine; the three points are 1 s, 2 s and ~3.85 s.
    expect(first).toBeGreaterThanOrEqual(950);
    expect(first).toBeLessThan(1700);
    expect(half).toBeGreaterThanOrEqual(1950);
    expect(half).toBeLessThan(2700);
    // The survivors SIGKILL names come from the last look, which ended just before the deadline.
    const escalate = all.find((e) => e.event === 'escalate')!;
    const lastLook = (escalate['elapsed'] as number) * 1000;
    expect(lastLook).toBeGreaterThan(3300);
    expect(lastLook).toBeLessThanOrEqual(4000);
    expect(escalate.processes!.map((p) => p.cause)).toEqual(['ignores']);
    const killedAt = Date.parse(escalate.ts) - forwardedAt;
    expect(killedAt).toBeGreaterThanOrEqual(3950);
    expect(killedAt).toBeLessThan(5000);
  });

  it('-v ends with one timeline line: signal, forwarding, how the child ended, stop time', async () => {
    const t = start(['-v', 'sh', '-c', 'echo ready >&2; exec sleep 100'], { timeoutMs: 50_000 });
    await t.waitFor(/^ready$/m, READY_MS);
    t.kill('SIGTERM');
    const r = await t.result;
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('tsinit: timeline: '));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^tsinit: timeline: SIGTERM came \d+\.\d{3} s after start, forwarded as SIGTERM to process group \d+ at \+\d+\.\d{3} s; no escalation; child pid \d+ exited at \+\d+\.\d{3} s: exit 143 = killed by SIGTERM; stop took \d+\.\d{3} s; tsinit exits 143$/);
    expect(r.stdout).toBe('');
  });

  it('without -v a clean stop prints nothing at all', async () => {
    const t = start(['sh', '-c', 'echo ready >&2; exec sleep 100'], { timeoutMs: 50_000 });
    await t.waitFor(/^ready$/m, READY_MS);
    t.kill('SIGTERM');
    const r = await t.result;
    expect(r.code).toBe(143);
    expect(r.stderr).toBe('ready\n');
    expect(r.stdout).toBe('');
  });
});

describe('termination log', () => {
  const stubborn = ['sh', '-c', 'trap "" TERM; echo ready >&2; sleep 1001 & wait'];

  it('after an escalation it holds the status, its meaning, and the survivors with their causes', async () => {
    const file = path.join(tempDir(), 'termination-log');
    writeFileSync(file, '');
    const t = start(['-t', '1', ...stubborn], { env: { TSINIT_TERMINATION_LOG: file }, timeoutMs: 50_000 });
    await t.waitFor(/^ready$/m, READY_MS);
    t.kill('SIGTERM');
    const r = await t.result;
    expect(r.code).toBe(137);
    const text = readFileSync(file, 'utf8');
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(4096);
    expect(text).toMatch(/^tsinit: sh ended: exit 137 = killed by SIGKILL; tsinit exits 137\n/);
    expect(text).toMatch(/^pid \d+ sh -c .* — ignores SIGTERM$/m);
    expect(text).toMatch(/^pid \d+ sleep 1001 — ignores SIGTERM$/m);
  });

  it('is left alone on a clean exit, with --no-termination-log, and when the file does not exist', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'termination-log');
    writeFileSync(file, '');
    const clean = await start(['sh', '-c', 'exit 0'], { env: { TSINIT_TERMINATION_LOG: file } }).result;
    expect(clean.code).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe('');

    const t = start(['--no-termination-log', '-t', '1', ...stubborn], { env: { TSINIT_TERMINATION_LOG: file }, timeoutMs: 50_000 });
    await t.waitFor(/^ready$/m, READY_MS);
    t.kill('SIGTERM');
    expect((await t.result).code).toBe(137);
    expect(readFileSync(file, 'utf8')).toBe('');

    const missing = path.join(dir, 'absent');
    expect((await start(['sh', '-c', 'exit 3'], { env: { TSINIT_TERMINATION_LOG: missing } }).result).code).toBe(3);
    expect(existsSync(missing)).toBe(false);
  });

  it('an exit code other than 0 is unclean, unless --expect-exit maps it to 0', async () => {
    const file = path.join(tempDir(), 'termination-log');
    writeFileSync(file, '');
    expect((await start(['-e', '3', 'sh', '-c', 'exit 3'], { env: { TSINIT_TERMINATION_LOG: file } }).result).code).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe('');
    expect((await start(['sh', '-c', 'exit 3'], { env: { TSINIT_TERMINATION_LOG: file } }).result).code).toBe(3);
    expect(readFileSync(file, 'utf8')).toBe('tsinit: sh ended: exit 3; tsinit exits 3\n');
  });
});

describe('logging never blocks PID 1', () => {
  it('with stderr a full pipe nobody reads, tsinit still forwards SIGTERM and exits with the child', async () => {
    // A FIFO opened read-write here and never read: once full, a blocking write would hang forever.
    const fifo = path.join(tempDir(), 'stderr');
    execFileSync('mkfifo', [fifo]);
    const fd = openSync(fifo, fsConstants.O_RDWR);
    const child = script(`
head -c 70000 /dev/zero >&2 &
sleep 0.5
exec 2>/dev/null
trap 'echo got-term; exit 3' TERM
echo filled
while :; do sleep 0.1; done
`);
    const p = spawnProcess(...inNamespace([TSINIT, '-vvv', child]),
      { stdio: ['ignore', 'pipe', fd], detached: true });
    closeSync(fd);
    try {
      let out = '';
      const exited = new Promise<number | null>((resolve) => p.on('close', (code) => resolve(code)));
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`child never filled the pipe: ${out}`)), 10_000);
        p.stdout!.on('data', (d: Buffer) => { out += d.toString(); if (out.includes('filled')) { clearTimeout(timer); resolve(); } });
      });
      const tsinit = Number(readFileSync(`/proc/${p.pid}/task/${p.pid}/children`, 'utf8').trim().split(' ')[0]);
      process.kill(tsinit, 'SIGTERM');
      const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('hung'), 10_000))]);
      expect(code).toBe(3);
      expect(out).toContain('got-term');
    } finally {
      try { process.kill(-p.pid!, 'SIGKILL'); } catch { /* gone */ }
    }
  });
});
