/**
 * tsinit's diagnostics: one line per event on stderr, human or JSON, never
 * stdout (the application owns stdout). Writing never throws and never kills
 * PID 1: a closed or broken stderr only loses the line.
 * @module
 */
import { writeSync } from 'node:fs';
import type { LogFormat } from './options';

/** Severity; a line is written when its level is at most the verbosity. */
export enum Level {
  Warn = 0,
  Info = 1,
  Debug = 2,
  Trace = 3,
}

const LEVEL_NAMES = ['warn', 'info', 'debug', 'trace'] as const;

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

  /** True when a line at `level` would be written. */
  enabled(level: Level): boolean {
    return level <= this.verbosity;
  }

  /** Logs `msg` for `event` at `level`. */
  log(level: Level, event: string, msg: string, fields?: LogFields): void {
    if (level > this.verbosity) return;
    let line: string;
    if (this.format === 'json') {
      line = JSON.stringify({ ts: new Date().toISOString(), level: LEVEL_NAMES[level], event, msg, ...fields }) + '\n';
    } else {
      line = `tsinit: ${level === Level.Warn ? 'warning: ' : ''}${msg}\n`;
    }
    this.write(line);
  }

  warn(event: string, msg: string, fields?: LogFields): void { this.log(Level.Warn, event, msg, fields); }
  info(event: string, msg: string, fields?: LogFields): void { this.log(Level.Info, event, msg, fields); }
  debug(event: string, msg: string, fields?: LogFields): void { this.log(Level.Debug, event, msg, fields); }

  /** Writes an error line regardless of verbosity (usage and start-up errors). */
  error(event: string, msg: string, fields?: LogFields): void {
    if (this.format === 'json') {
      this.write(JSON.stringify({ ts: new Date().toISOString(), level: 'error', event, msg, ...fields }) + '\n');
    } else {
      this.write(`tsinit: ${msg}\n`);
    }
  }

  private write(line: string): void {
    try {
      writeSync(this.fd, line);
    } catch {
      // EPIPE, EBADF, EAGAIN: the line is lost, PID 1 lives on.
    }
  }
}
