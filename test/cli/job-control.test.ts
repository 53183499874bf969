/**
 * Job control on a real pseudo-terminal, driven by an interactive bash
 * (test/support/fixtures/pty-session.py), and stop/continue signals sent by hand.
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { killAll, sleep, start, TSINIT } from '../support/helpers';
import { session } from '../support/pty-helpers';
import { MODES } from '../support/modes';

afterEach(killAll);

/** A child that prints its terminal's foreground group and its own group, then reads the terminal. */
const SHOW_FG = `${TSINIT} -- sh -c 'echo FG $(cut -d" " -f8 /proc/$$/stat) $(cut -d" " -f5 /proc/$$/stat); exec cat'\n`;

function stateOf(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]!;
}

async function waitState(pid: number, want: RegExp, ms = 5000): Promise<string> {
  let s = '';
  for (const until = Date.now() + ms; Date.now() < until; await sleep(20)) {
    s = stateOf(pid);
    if (want.test(s)) return s;
  }
  return s;
}

function childOf(pid: number): number {
  const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ').filter(Boolean);
  return Number(kids[0]);
}

async function firstChild(pid: number): Promise<number> {
  for (let i = 0; i < 300; i++) {
    const c = childOf(pid);
    if (c > 0) return c;
    await sleep(10);
  }
  throw new Error(`no child of ${pid}`);
}

describe('job control in an interactive shell', () => {
  it('program is the terminal foreground group; Ctrl-Z gives the shell its prompt back; fg resumes it in the foreground', () => {
    const { ok, transcript } = session([
      { expect: 'PROMPT> ' },
      { send: SHOW_FG },
      { expect: 'FG (\\d+) \\1\\b' },
      { send: '\x1a', delay: 0.5 },
      { expect: 'Stopped' },
      { expect: 'PROMPT> ' },
      { send: 'jobs\n' },
      { expect: 'Stopped' },
      { send: 'fg\n' },
      // cat only gets the line when it is again the foreground group (else SIGTTIN stops it)
      { send: 'hello-after-fg\n', delay: 0.5 },
      { expect: 'hello-after-fg\\r?\\nhello-after-fg' },
      { send: '\x04' },
      { expect: 'PROMPT> ' },
      { send: 'echo EXIT=$?\n' },
      { expect: 'EXIT=0' },
    ]);
    expect(transcript, transcript).toMatch(/FG (\d+) \1\b/);
    expect(ok, transcript).toBe(true);
  });

  it('Ctrl-C reaches the program as SIGINT and tsinit exits 130', () => {
    const { ok, transcript } = session([
      { expect: 'PROMPT> ' },
      { send: `${TSINIT} -- sleep 30\n` },
      { send: '\x03', delay: 1.0 },
      { expect: 'PROMPT> ' },
      { send: 'echo EXIT=$?\n' },
      { expect: 'EXIT=130' },
    ]);
    expect(ok, transcript).toBe(true);
  });

  it('started in the background, tsinit does not take the terminal from the shell', () => {
    const { ok, transcript } = session([
      { expect: 'PROMPT> ' },
      { send: `${TSINIT} -- sh -c 'echo BG $(cut -d" " -f8 /proc/$$/stat) $(cut -d" " -f5 /proc/$$/stat); sleep 2' &\n` },
      { expect: 'BG (\\d+) (\\d+)' },
      { send: 'echo SHELL-STILL-HERE\n' },
      { expect: 'SHELL-STILL-HERE\\r?\\n' },
      { send: 'wait; echo EXIT=$?\n' },
      { expect: 'EXIT=0' },
    ]);
    expect(ok, transcript).toBe(true);
    const m = /BG (\d+) (\d+)/.exec(transcript)!;
    expect(m[1]).not.toBe(m[2]);
  });
});

describe('stop and continue signals sent to tsinit', () => {
  it.each(MODES)('SIGTSTP to tsinit stops the child group, and tsinit itself only when not PID 1; SIGCONT resumes what stopped, %s', async ({ pid1 }) => {
    const t = start(['--', 'sh', '-c', 'sleep 30 & wait'], { pid1 });
    const pid = await t.tsinitPid();
    const child = await firstChild(pid);
    await sleep(300);
    process.kill(pid, 'SIGTSTP');
    expect(await waitState(child, /^T$/)).toBe('T');
    // As PID 1 tsinit keeps running; otherwise it stops with its child, as a shell's job does.
    if (pid1) expect(stateOf(pid)).toMatch(/^[RS]$/);
    else expect(await waitState(pid, /^T$/)).toBe('T');
    process.kill(pid, 'SIGCONT');
    expect(await waitState(child, /^[RS]$/)).toMatch(/^[RS]$/);
    expect(await waitState(pid, /^[RS]$/)).toMatch(/^[RS]$/);
    process.kill(pid, 'SIGTERM');
    const r = await t.result;
    expect(r.code).toBe(143);
  });
});
