/**
 * tsinit's diagnostics: one line per event on stderr, human or JSON, never
 * stdout (the application owns stdout). Writing never throws, never kills
 * PID 1 and never blocks it: a closed or broken stderr only loses the line,
 * a stalled one (full pipe or socket) loses lines, counted in a notice once
 * stderr takes text again. A human line has its control characters escaped
 * (see {@link escapeControls}); a JSON line has them as JSON escapes (`\n`,
 * `\u001b`, and `\u009b` for the C1 controls JSON.stringify would leave raw).
 * @module
 */
import { constants as fsConstants, fstatSync, openSync, writeSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { native } from '../native';
import type { LogFormat } from './options';

const { EAGAIN, EIO } = osConstants.errno;

/** Severity; a line is written when its level is at most the verbosity. */
export enum Level {
  Warn = 0,
  Info = 1,
  Debug = 2,
  Trace = 3,
}

const LEVEL_NAMES = ['warn', 'info', 'debug', 'trace'] as const;

/** C0 controls, DEL and C1 controls. */
const CONTROLS = /[\u0000-\u001f\u007f-\u009f]/g;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * Escapes control characters (C0, DEL, C1) as `\n`, `\r`, `\t` or `\xHH`, so
 * text from other processes (command lines, names, paths) stays on its own
 * line and cannot drive a terminal. Other characters are kept as they are.
 */
export function escapeControls(text: string): string {
  return text.replace(CONTROLS, (c) => NAMED[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** DEL and C1 controls, which JSON.stringify leaves as they are. */
const JSON_UNESCAPED = /[\u007f-\u009f]/g;

/** JSON.stringify, with DEL and the C1 controls escaped as well (`\u009b`): same value, no raw control byte. */
export function jsonLine(value: unknown): string {
  return JSON.stringify(value).replace(JSON_UNESCAPED, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Extra structured fields of an event (JSON format only, except `msg`). */
export type LogFields = Record<string, unknown>;

/** Writes tsinit's diagnostics. */
export class Logger {
  constructor(
    /** Highest level written. */
    public verbosity: number = 0,
    public format: LogFormat = 'human',
    private readonly fd: number = 2,
  ) {}

  /** The descriptor actually written (see `target`), once chosen. */
  private out: number | undefined;
  /** The non-blocking write, once chosen (see `writer`). */
  private tryWrite: ((fd: number, data: Buffer) => number) | undefined;
  /** Lines lost to a stalled stderr since the last line written whole. */
  private dropped = 0;
  /** The last line was cut short: start the next one on a fresh line. */
  private broken = false;

  /** True when a line at `level` would be written. */
  enabled(level: Level): boolean {
    return level <= this.verbosity;
  }

  /** Logs `msg` for `event` at `level`. */
  log(level: Level, event: string, msg: string, fields?: LogFields): void {
    if (level > this.verbosity) return;
    let line: string;
    if (this.format === 'json') {
      line = jsonLine({ ts: new Date().toISOString(), level: LEVEL_NAMES[level], event, msg, ...fields }) + '\n';
    } else {
      line = `tsinit: ${level === Level.Warn ? 'warning: ' : ''}${escapeControls(msg)}\n`;
    }
    this.write(line);
  }

  warn(event: string, msg: string, fields?: LogFields): void { this.log(Level.Warn, event, msg, fields); }
  info(event: string, msg: string, fields?: LogFields): void { this.log(Level.Info, event, msg, fields); }
  debug(event: string, msg: string, fields?: LogFields): void { this.log(Level.Debug, event, msg, fields); }

  /** Writes an error line regardless of verbosity (usage and start-up errors). */
  error(event: string, msg: string, fields?: LogFields): void {
    if (this.format === 'json') {
      this.write(jsonLine({ ts: new Date().toISOString(), level: 'error', event, msg, ...fields }) + '\n');
    } else {
      this.write(`tsinit: ${escapeControls(msg)}\n`);
    }
  }

  /**
   * Says how many lines were dropped, if any were and stderr takes it now
   * (call before exiting: no later line would carry the notice). Never blocks.
   */
  flush(): void {
    if (this.dropped > 0) this.write('');
  }

  /**
   * The descriptor lines go to. A terminal is opened anew through
   * /proc/self/fd: a new open file description of the same terminal, so
   * O_NONBLOCK applies to tsinit's writes only, never to the child's shared
   * stderr. Everything else, and a terminal that cannot be reopened (no
   * /proc, not allowed), keeps `fd`: the write itself never blocks (see
   * `writer`).
   */
  private target(): number {
    if (this.out !== undefined) return this.out;
    this.out = this.fd;
    try {
      if (fstatSync(this.fd).isCharacterDevice()) {
        this.out = openSync(`/proc/self/fd/${this.fd}`,
          fsConstants.O_WRONLY | fsConstants.O_NONBLOCK | fsConstants.O_NOCTTY); // libuv adds O_CLOEXEC
      }
    } catch {
      // keep writing to fd itself
    }
    return this.out;
  }

  /**
   * The write: the native core's, which never blocks on a socket, a pipe or
   * a terminal whatever the description's flags (stderr is shared with the
   * child, whose description must stay blocking). Only when the native core
   * cannot load (then no child can be started either, and tsinit is about
   * to exit with the error) a plain write.
   */
  private writer(): (fd: number, data: Buffer) => number {
    if (this.tryWrite !== undefined) return this.tryWrite;
    try {
      const core = native();
      this.tryWrite = (fd, data) => core.tryWrite(fd, data);
    } catch {
      this.tryWrite = (fd, data) => {
        try {
          return writeSync(fd, data);
        } catch (err) {
          const n = (err as { errno?: unknown }).errno; // negative in Node
          return typeof n === 'number' && n < 0 ? n : -EIO;
        }
      };
    }
    return this.tryWrite;
  }

  /**
   * Writes `line` (after the dropped-lines notice, if lines were dropped), or
   * drops it when stderr has no room now: nothing is queued, so a stalled
   * reader costs lines, never PID 1's liveness or memory. A line cut short
   * by a full stderr counts as dropped; the next text starts on a new line.
   */
  private write(line: string): void {
    try {
      const fd = this.target();
      const write = this.writer();
      const lead = this.broken ? '\n' : '';
      const notice = this.dropped > 0 ? this.droppedNotice() : '';
      const buf = Buffer.from(lead + notice + line, 'utf8');
      const beforeLine = Buffer.byteLength(lead + notice, 'utf8');
      const boundaries = [0, Buffer.byteLength(lead, 'utf8'), beforeLine, buf.length];
      let off = 0;
      let failed = 0;
      while (off < buf.length) {
        const n = write(fd, off === 0 ? buf : buf.subarray(off));
        if (n <= 0) {
          failed = n === 0 ? -EAGAIN : n;
          break;
        }
        off += n;
      }
      if (off === buf.length) {
        this.dropped = 0;
        this.broken = false;
        return;
      }
      if (off > 0) this.broken = !boundaries.includes(off);
      // A full stderr (EAGAIN): count the line. Anything else (EPIPE, EBADF):
      // nobody can read it; it is lost without a count.
      if (failed !== -EAGAIN) return;
      if (off >= beforeLine) this.dropped = 0; // the notice went out
      if (line !== '') this.dropped++;
    } catch {
      // PID 1 lives on whatever a write does.
    }
  }

  private droppedNotice(): string {
    const msg = `${this.dropped} log line(s) dropped: stderr was full`;
    return this.format === 'json'
      ? JSON.stringify({ ts: new Date().toISOString(), level: 'warn', event: 'log-dropped', msg, dropped: this.dropped }) + '\n'
      : `tsinit: warning: ${msg}\n`;
  }
}
