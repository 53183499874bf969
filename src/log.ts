/**
 * tsinit's diagnostics: one line per event on stderr, human or JSON, never
 * stdout (the application owns stdout). Writing never throws and never kills
 * PID 1: a closed or broken stderr only loses the line. A human line has its
 * control characters escaped (see {@link escapeControls}); a JSON line has
 * them as JSON escapes (`\n`, `\u001b`, and `\u009b` for the C1 controls
 * JSON.stringify would leave raw).
 * @module
 */
import { constants as fsConstants, fstatSync, openSync, writeSync } from 'node:fs';
import type { LogFormat } from './options';

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
  /** Lines lost to a full pipe since the last successful write. */
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
   * The descriptor lines go to. A pipe or a terminal is opened anew through
   * /proc/self/fd: a new open file description of the same pipe, so
   * O_NONBLOCK applies to tsinit's writes only, never to the child's shared
   * stderr. A full pipe (a stalled log reader) then costs lines, not PID 1's
   * liveness. Files, sockets and anything that can't be reopened keep `fd`.
   */
  private target(): number {
    if (this.out !== undefined) return this.out;
    this.out = this.fd;
    try {
      const st = fstatSync(this.fd);
      if (st.isFIFO() || st.isCharacterDevice()) {
        this.out = openSync(`/proc/self/fd/${this.fd}`,
          fsConstants.O_WRONLY | fsConstants.O_NONBLOCK | fsConstants.O_NOCTTY); // libuv adds O_CLOEXEC
      }
    } catch {
      // keep writing to fd itself
    }
    return this.out;
  }

  private write(line: string): void {
    try {
      const fd = this.target();
      let text = line;
      if (this.dropped > 0) text = `${this.droppedNotice()}${text}`;
      if (this.broken) text = `\n${text}`; // end the line cut short first
      const buf = Buffer.from(text, 'utf8');
      let off = 0;
      try {
        while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
        this.dropped = 0;
        this.broken = false;
      } catch (err) {
        // EAGAIN: the reader is behind. Drop the line rather than wait.
        if (off > 0) this.broken = true;
        if ((err as { code?: string }).code === 'EAGAIN') this.dropped++;
      }
    } catch {
      // EPIPE, EBADF: the line is lost, PID 1 lives on.
    }
  }

  private droppedNotice(): string {
    const msg = `${this.dropped} log line(s) dropped: stderr was full`;
    return this.format === 'json'
      ? JSON.stringify({ ts: new Date().toISOString(), level: 'warn', event: 'log-dropped', msg, dropped: this.dropped }) + '\n'
      : `tsinit: warning: ${msg}\n`;
  }
}
