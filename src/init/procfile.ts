/**
 * Procfiles, in foreman's format: one `name: command` per line; `#`
 * comments and blank lines are ignored; names are `[A-Za-z0-9_-]+` and
 * unique. Pure: text in, services or a {@link ProcfileError} naming the line out.
 * @module
 */

/** One service of a Procfile. */
export interface ProcfileEntry {
  /** The service's name. */
  name: string;
  /** The command as written (run through `/bin/sh -c`, or split on whitespace without a shell). */
  command: string;
  /** Its line number (1-based). */
  line: number;
}

/** A Procfile that cannot be used; `line` is 0 when the whole file is at fault. */
export class ProcfileError extends Error {
  constructor(message: string, readonly line: number) {
    super(message);
    this.name = 'ProcfileError';
  }
}

const NAME = /^[A-Za-z0-9_-]+$/;

/**
 * Parses a Procfile's text (`file` names it in messages).
 * @throws {ProcfileError} on a line that is not `name: command`, a bad or duplicate name, an empty command, or no service at all.
 */
export function parseProcfile(text: string, file = 'Procfile'): ProcfileEntry[] {
  const out: ProcfileEntry[] = [];
  const seen = new Map<string, number>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const n = i + 1;
    const raw = lines[i]!.replace(/\r$/, '');
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const at = `${file}:${n}`;
    if (raw.includes('\0')) throw new ProcfileError(`${at}: NUL byte in line`, n);
    const colon = trimmed.indexOf(':');
    if (colon < 0) throw new ProcfileError(`${at}: expected 'name: command', got '${clip(trimmed)}'`, n);
    const name = trimmed.slice(0, colon).trim();
    const command = trimmed.slice(colon + 1).trim();
    if (!NAME.test(name)) throw new ProcfileError(`${at}: invalid service name '${clip(name)}': use letters, digits, '_' and '-'`, n);
    if (command === '') throw new ProcfileError(`${at}: service '${name}' has no command`, n);
    const first = seen.get(name);
    if (first !== undefined) throw new ProcfileError(`${at}: duplicate service name '${name}' (first on line ${first})`, n);
    seen.set(name, n);
    out.push({ name, command, line: n });
  }
  if (out.length === 0) throw new ProcfileError(`${file}: no services (expected lines of 'name: command')`, 0);
  return out;
}

/**
 * How a command runs: `['/bin/sh', '-c', command]` when a shell exists,
 * else the command split on whitespace (no quoting, no expansion).
 */
export function commandArgv(command: string, haveShell: boolean, shell = '/bin/sh'): [string, ...string[]] {
  if (haveShell) return [shell, '-c', command];
  const words = command.split(/[ \t]+/).filter((w) => w !== '');
  return words as [string, ...string[]];
}

/** Width to pad names to: the longest name. */
export function nameWidth(entries: readonly { name: string }[]): number {
  return entries.reduce((w, e) => Math.max(w, e.name.length), 0);
}

function clip(s: string): string {
  return s.length > 60 ? `${s.slice(0, 59)}…` : s;
}
