/**
 * Output of several services through one stdout and one stderr, each line
 * prefixed with its service's name (`web    | `), as foreman does.
 *
 * - Bytes, not text: lines are split on 0x0A only, nothing is decoded.
 * - A line is written whole: each write to a destination holds complete
 *   lines of one service, and writes to a destination never overlap, so two
 *   services' lines never interleave inside a line.
 * - Bounded memory: while a service's lines wait to be written its pipe is
 *   not read (it fills, and the service blocks in write); a line longer than
 *   {@link MAX_LINE} is cut there (the rest continues on a new prefixed line).
 * - A last line without a newline is written, newline added, when the
 *   service's stream ends.
 * - Writes go through the thread pool (fs.write), so a slow stdout never
 *   stalls the event loop that forwards signals and keeps deadlines.
 * @module
 */
import { write as fsWrite } from 'node:fs';
import type { Readable } from 'node:stream';

/** Longest line kept whole; longer lines are cut into pieces of this size. */
export const MAX_LINE = 1024 * 1024;

const NL = 0x0a;

/**
 * Splits `pending + chunk` into complete lines (each given `prefix`) and the
 * unfinished rest. A rest longer than `maxLine` is cut off as a line of its
 * own (newline added). Pure.
 * @returns `out` the bytes to write (null when nothing is complete), `rest` the unfinished line.
 */
export function prefixLines(prefix: Buffer, pending: Buffer, chunk: Buffer, maxLine = MAX_LINE): { out: Buffer | null; rest: Buffer } {
  const parts: Buffer[] = [];
  let start = 0;
  let carry = pending;
  for (;;) {
    const nl = chunk.indexOf(NL, start);
    if (nl < 0) break;
    parts.push(prefix, carry, chunk.subarray(start, nl + 1));
    carry = EMPTY;
    start = nl + 1;
  }
  let rest = carry.length === 0 ? chunk.subarray(start) : Buffer.concat([carry, chunk.subarray(start)]);
  while (rest.length > maxLine) {
    parts.push(prefix, rest.subarray(0, maxLine), NEWLINE);
    rest = rest.subarray(maxLine);
  }
  // Copy the rest: it must not pin the (possibly large) chunk it came from.
  return { out: parts.length === 0 ? null : Buffer.concat(parts), rest: rest.length === 0 ? EMPTY : Buffer.from(rest) };
}

/** The last unfinished line with its prefix and a newline, or null when there is none. Pure. */
export function flushLine(prefix: Buffer, rest: Buffer): Buffer | null {
  return rest.length === 0 ? null : Buffer.concat([prefix, rest, NEWLINE]);
}

const EMPTY = Buffer.alloc(0);
const NEWLINE = Buffer.from('\n');

/** `name` padded to `width`, then ` | `, as foreman prints it. Pure. */
export function linePrefix(name: string, width: number): Buffer {
  return Buffer.from(`${name.padEnd(width)} | `);
}

/**
 * One destination file descriptor written in order, one write at a time.
 * Errors other than EAGAIN/EINTR (EPIPE: nobody reads) drop the output;
 * the services keep running.
 */
export class OutputSink {
  private queue: Array<{ buf: Buffer; done: () => void }> = [];
  private busy = false;
  private broken: string | undefined;
  private idleWaiters: Array<() => void> = [];
  /** Bytes written so far. */
  written = 0;

  constructor(readonly fd: number, private readonly onError?: (code: string) => void) {}

  /** Queues `buf`; `done` runs once it is written (or dropped). */
  write(buf: Buffer, done: () => void): void {
    if (this.broken !== undefined) { done(); return; }
    this.queue.push({ buf, done });
    if (!this.busy) this.next();
  }

  /** Resolves when nothing is queued or being written. */
  idle(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private next(): void {
    const item = this.queue.shift();
    if (item === undefined) {
      this.busy = false;
      for (const w of this.idleWaiters.splice(0)) w();
      return;
    }
    this.busy = true;
    this.writeAll(item.buf, 0, () => { item.done(); this.next(); });
  }

  private writeAll(buf: Buffer, off: number, done: () => void): void {
    if (off >= buf.length || this.broken !== undefined) { done(); return; }
    fsWrite(this.fd, buf, off, buf.length - off, null, (err, n) => {
      if (err !== null) {
        const code = err.code ?? 'EIO';
        // A non-blocking stdout that is full: try again shortly.
        if (code === 'EAGAIN' || code === 'EINTR') { setTimeout(() => this.writeAll(buf, off, done), 10); return; }
        this.broken = code;
        this.onError?.(code);
        for (const q of this.queue.splice(0)) q.done();
        done();
        return;
      }
      this.written += n;
      this.writeAll(buf, off + n, done);
    });
  }
}

/**
 * Copies `source` line by line into `sink`, each line prefixed. Reading
 * pauses while a write is pending. `ended` resolves once the last line is
 * written.
 */
export function pipeLines(source: Readable, sink: OutputSink, prefix: Buffer, maxLine = MAX_LINE): Promise<void> {
  return new Promise((resolve) => {
    let rest: Buffer = EMPTY;
    let pendingWrites = 0;
    let ended = false;
    const maybeDone = (): void => { if (ended && pendingWrites === 0) resolve(); };
    const push = (buf: Buffer): void => {
      pendingWrites++;
      source.pause();
      sink.write(buf, () => {
        pendingWrites--;
        if (pendingWrites === 0 && !ended) source.resume();
        maybeDone();
      });
    };
    source.on('data', (chunk: Buffer) => {
      const r = prefixLines(prefix, rest, chunk, maxLine);
      rest = r.rest;
      if (r.out !== null) push(r.out);
    });
    const finish = (): void => {
      if (ended) return;
      const last = flushLine(prefix, rest);
      rest = EMPTY;
      if (last !== null) push(last);
      ended = true;
      maybeDone();
    };
    source.on('end', finish);
    source.on('close', finish);
    source.on('error', () => { /* EIO and the like: 'close' follows */ });
  });
}
