/**
 * The termination log as an attack surface and under faults: a symlink, a
 * FIFO or a directory at its path, text from other processes that tries to
 * start lines of its own, a full filesystem, a file-size limit. Real files,
 * real tsinit runs (as PID 1 unless the case needs a mount namespace or an
 * rlimit around tsinit itself).
 */
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, lstatSync, mkdirSync, openSync, readFileSync, readSync, rmSync, symlinkSync, writeFileSync, constants as fsConstants } from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { escapeControls, jsonLine, Logger } from '../../src/init/log';
import { formatTerminationMessage, writeTerminationLog } from '../../src/init/termination-log';
import { killAll, run, start, startBounded, TSINIT } from '../support/helpers';
import { tempDir } from '../support/fixtures/util';

afterEach(killAll);
const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

function dir(): string {
  const d = tempDir();
  dirs.push(d);
  return d;
}

/** A logger writing human lines to a file; returns it and a reader of what it wrote. */
function fileLogger(d: string): { log: Logger; text: () => string } {
  const file = path.join(d, 'stderr');
  const fd = openSync(file, 'w');
  return { log: new Logger(2, 'human', fd), text: () => { closeSync(fd); return readFileSync(file, 'utf8'); } };
}

const INJECTED = '\nroot::0:0::/:/bin/sh';

describe('escaping text from other processes', () => {
  it('control characters become \\n, \\r, \\t or \\xHH; other text is kept', () => {
    expect(escapeControls(`a${INJECTED}`)).toBe('a\\nroot::0:0::/:/bin/sh');
    expect(escapeControls('\x1b[31mred\r\t\x7f\u009b2J\u0000')).toBe('\\x1b[31mred\\r\\t\\x7f\\x9b2J\\x00');
    expect(escapeControls('wörker — …')).toBe('wörker — …');
  });

  it('a JSON line carries no raw control character, and parses back to the same text', () => {
    const value = { cmd: `x${INJECTED}\x1b[0m\u0085\u009b\x7f` };
    const line = jsonLine(value);
    expect(line).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
    expect(JSON.parse(line)).toEqual(value);
  });

  it('the termination message keeps each survivor on one line', () => {
    const text = formatTerminationMessage({
      outcome: 'app ended: exit 137 = killed by SIGKILL', status: 137, stop: `timeline: SIGKILL killed 1 (pid 9 sleep${INJECTED})`,
      survivors: [{ line: `pid 9 sleep x${INJECTED} — ignores SIGTERM`, cause: 'ignores SIGTERM' }],
    });
    expect(text.split('\n').filter((l) => l.startsWith('root:'))).toEqual([]);
    expect(text).toContain('pid 9 sleep x\\nroot::0:0::/:/bin/sh — ignores SIGTERM\n');
  });

  it('a long list ends with the rest counted by cause', () => {
    const survivors = Array.from({ length: 20 }, (_, i) => ({ line: `pid ${i + 2} ${'w'.repeat(300)} — ignores SIGTERM`, cause: 'ignores SIGTERM' }));
    const text = formatTerminationMessage({
      outcome: 'app ended: exit 137 = killed by SIGKILL', status: 137, survivors,
      more: { count: 9980, causes: new Map([['ignores SIGTERM', 9950], ['stopped', 30]]) },
    });
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(4096);
    expect(text).toContain('killed at the grace deadline (10,000):\n');
    expect(text).toMatch(/\n… and 9,9\d\d more: 9,9\d\d ignores SIGTERM, 30 stopped\n$/);
  });
});

describe('what is at the path', () => {
  it('a symlink: its target is untouched and a warning names the path', () => {
    const d = dir();
    const target = path.join(d, 'passwd');
    writeFileSync(target, 'root:x:0:0::/root:/bin/sh\n');
    const link = path.join(d, 'termination-log');
    symlinkSync(target, link);
    const { log, text } = fileLogger(d);
    expect(writeTerminationLog(link, 'tsinit: app ended: exit 3\n', log)).toBe(false);
    expect(readFileSync(target, 'utf8')).toBe('root:x:0:0::/root:/bin/sh\n');
    expect(text()).toBe(`tsinit: warning: termination log ${link} is a symbolic link: not written\n`);
  });

  it('a FIFO (with or without a reader) or a directory: not written, no hang, a warning', () => {
    const d = dir();
    const fifo = path.join(d, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const { log, text } = fileLogger(d);
    const t0 = Date.now();
    expect(writeTerminationLog(fifo, 'x\n', log)).toBe(false);
    const reader = openSync(fifo, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
    try {
      expect(writeTerminationLog(fifo, 'x\n', log)).toBe(false);
      expect(readSync(reader, Buffer.alloc(16))).toBe(0); // nothing came through
    } catch (err) {
      expect((err as { code?: string }).code).toBe('EAGAIN'); // empty, writer-less FIFO
    } finally {
      closeSync(reader);
    }
    const sub = path.join(d, 'sub');
    mkdirSync(sub);
    expect(writeTerminationLog(sub, 'x\n', log)).toBe(false);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(text()).toBe([
      `tsinit: warning: termination log ${fifo} is not a regular file: not written`,
      `tsinit: warning: termination log ${fifo} is not a regular file: not written`,
      `tsinit: warning: termination log ${sub} is not a regular file: not written`, '',
    ].join('\n'));
    expect(lstatSync(sub).isDirectory()).toBe(true);
  });

  it('tsinit as PID 1 with a symlink at TSINIT_TERMINATION_LOG: the target keeps its content, the exit status is the child\'s', async () => {
    const d = dir();
    const target = path.join(d, 'shadow');
    writeFileSync(target, 'precious\n');
    const link = path.join(d, 'termination-log');
    symlinkSync(target, link);
    const r = await run(['sh', '-c', 'exit 3'], { env: { TSINIT_TERMINATION_LOG: link } });
    expect(r.code).toBe(3);
    expect(readFileSync(target, 'utf8')).toBe('precious\n');
    expect(r.stderr).toContain(`tsinit: warning: termination log ${link} is a symbolic link: not written\n`);
  });

  it('tsinit as PID 1 with a FIFO nobody reads at TSINIT_TERMINATION_LOG: exits at once with the child\'s status', async () => {
    const d = dir();
    const fifo = path.join(d, 'termination-log');
    execFileSync('mkfifo', [fifo]);
    const r = await run(['sh', '-c', 'exit 4'], { env: { TSINIT_TERMINATION_LOG: fifo }, timeoutMs: 10_000 });
    expect(r.timedOut).toBe(false);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain(`termination log ${fifo} is not a regular file`);
  });
});

describe('a survivor whose command line carries a line of its own', () => {
  const ESC = '\x1b[2J';
  // perl ignores SIGTERM and sleeps; its last argument starts a passwd-like line and clears a terminal.
  const child = ['sh', '-c', `trap '' TERM; perl -e '$SIG{TERM} = "IGNORE"; print STDERR "ready\\n"; sleep 1000' "x$(printf '${INJECTED.replace('\n', '\\n')}')$(printf '\\033[2J')" & wait`];

  it('shows it escaped, on one line, in the termination message and the human log', async () => {
    const d = dir();
    const file = path.join(d, 'termination-log');
    writeFileSync(file, '');
    const t = start(['-t', '1', ...child], { env: { TSINIT_TERMINATION_LOG: file }, timeoutMs: 30_000 });
    await t.waitFor(/^ready$/m, 20_000);
    t.kill('SIGTERM');
    const r = await t.result;
    expect(r.code).toBe(137);
    const message = readFileSync(file, 'utf8');
    const escaped = 'x\\nroot::0:0::/:/bin/sh\\x1b[2J';
    expect(message).toMatch(new RegExp(`^pid \\d+ perl -e .* ${escaped.replace(/[\\[\]]/g, '\\$&')} — ignores SIGTERM$`, 'm'));
    expect(r.stderr).toMatch(new RegExp(`^tsinit: warning: still running [\\d.]+ s after SIGTERM: pid \\d+ perl -e .* ${escaped.replace(/[\\[\]]/g, '\\$&')} — ignores SIGTERM$`, 'm'));
    for (const text of [message, r.stderr]) {
      expect(text.split('\n').filter((l) => l.startsWith('root:'))).toEqual([]);
      expect(text).not.toContain(ESC);
    }
  });

  it('JSON keeps the exact command line, escaped the JSON way', async () => {
    const t = start(['-t', '1', '--log-format', 'json', ...child], { timeoutMs: 30_000 });
    await t.waitFor(/^ready$/m, 20_000);
    t.kill('SIGTERM');
    const r = await t.result;
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('{'));
    expect(lines.every((l) => !/[\u0000-\u001f\u007f-\u009f]/.test(l))).toBe(true);
    const escalate = lines.map((l) => JSON.parse(l) as { event: string; processes?: Array<{ cmd: string }> }).find((e) => e.event === 'escalate')!;
    expect(escalate.processes!.map((p) => p.cmd)).toContainEqual(expect.stringContaining(`x${INJECTED}${ESC}`));
  });
});

describe('a write that fails', () => {
  /** Runs a shell script in a mount namespace of its own (tsinit inside it is not PID 1). */
  function inMountNamespace(script: string): ReturnType<typeof startBounded> {
    return startBounded('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script], { timeoutMs: 20_000 });
  }

  it('on a full filesystem: the previous content stays, and a warning names the path and ENOSPC', async () => {
    const d = dir();
    const mnt = path.join(d, 'mnt');
    mkdirSync(mnt);
    const log = path.join(mnt, 'termination-log');
    // One 4 KiB page in all: the empty log holds none, the filler takes it.
    const b = inMountNamespace(`set -e
mount -t tmpfs -o size=4k tmpfs ${mnt}
: > ${log}
head -c 100000 /dev/zero > ${mnt}/fill 2>/dev/null || true
TSINIT_TERMINATION_LOG=${log} ${TSINIT} sh -c 'exit 3' || echo "status $?"
echo "content [$(cat ${log})]"`);
    const r = await b.result;
    expect(r.stdout).toContain('status 3\n');
    expect(r.stdout).toContain('content []\n');
    expect(r.stderr).toContain(`tsinit: warning: cannot write termination log ${log}: ENOSPC; its previous content is kept\n`);
  });

  it('on a full filesystem, a message that fits where the previous one was is written in its place', async () => {
    const d = dir();
    const mnt = path.join(d, 'mnt');
    mkdirSync(mnt);
    const log = path.join(mnt, 'termination-log');
    const b = inMountNamespace(`set -e
mount -t tmpfs -o size=4k tmpfs ${mnt}
echo 'the application wrote this before it failed' > ${log}
head -c 100000 /dev/zero > ${mnt}/fill 2>/dev/null || true
TSINIT_TERMINATION_LOG=${log} ${TSINIT} sh -c 'exit 3' || echo "status $?"
echo "content [$(cat ${log})]"`);
    const r = await b.result;
    expect(r.stdout).toContain('status 3\n');
    expect(r.stdout).toContain('content [tsinit: sh ended: exit 3; tsinit exits 3]\n');
    expect(r.stderr).toBe('');
  });

  it('past the file-size limit: the file holds the part written, cut there, and a warning says so', async () => {
    const d = dir();
    const log = path.join(d, 'termination-log');
    writeFileSync(log, `${'previous message '.repeat(10)}\n`);
    const r = await run(['sh', '-c', 'exit 3'], { pid1: false, wrap: ['prlimit', '--fsize=20', '--'], env: { TSINIT_TERMINATION_LOG: log } });
    expect(r.code).toBe(3);
    const full = 'tsinit: sh ended: exit 3; tsinit exits 3\n';
    expect(readFileSync(log, 'utf8')).toBe(full.slice(0, 20));
    expect(r.stderr).toContain(`tsinit: warning: termination log ${log}: wrote only 20 of ${full.length} bytes: EFBIG\n`);
  });

  it('a missing file is not created and not warned about', async () => {
    const d = dir();
    const log = path.join(d, 'absent');
    const r = await run(['sh', '-c', 'exit 3'], { env: { TSINIT_TERMINATION_LOG: log } });
    expect(r.code).toBe(3);
    expect(existsSync(log)).toBe(false);
    expect(r.stderr).toBe('');
  });
});
