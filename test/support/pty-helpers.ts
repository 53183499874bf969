/**
 * An interactive bash on a real pseudo-terminal (test/support/fixtures/pty-session.py),
 * driven step by step: for the job-control tests.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const PTY = path.join(__dirname, 'fixtures', 'pty-session.py');

/** One step of a {@link session}: text typed into the terminal, or a pattern awaited on it (seconds). */
export type Step = { send: string; delay?: number } | { expect: string; timeout?: number };

/** Runs an interactive bash on a pty through `steps`; returns the transcript and whether all expectations held. */
export function session(steps: Step[]): { ok: boolean; transcript: string } {
  // The prompt is set by a command whose echo cannot itself match 'PROMPT> '.
  const all: Step[] = [{ send: "PS1='PROMPT''> '\n", delay: 0.3 }, ...steps];
  const r = spawnSync('python3', [PTY, JSON.stringify(all), '--', 'bash', '--norc', '--noprofile', '-i'], {
    env: { ...process.env, TERM: 'dumb' },
    encoding: 'utf8',
    timeout: 40_000,
    killSignal: 'SIGKILL',
  });
  return { ok: r.status === 0, transcript: `${r.stdout}${r.stderr}` };
}
