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
import { writev as fsWritev } from 'node:fs';
import type { Readable } from 'node:stream';

/** Longest line kept whole; longer lines are cut into pieces of this size. */
const MAX_LINE = 1024 * 1024;

/** Bytes of one service's output that may wait to be written before its pipe is no longer read. */
const MAX_PENDING = 256 * 1024;

const NL = 0x0a;

/**
 * Splits `pending + chunk` into complete lines (each given `prefix`) and the
 * unfinished rest. A rest longer than `maxLine` is cut off as a line of its
 * own (newline added). Pure.
 * @returns `out` the bytes to write (null when nothing is complete), `rest` the unfinished line.
 */
export function prefixLines(prefix: Buffer, pending: Buffer, chunk: Buffer, maxLine = MAX_LINE): { out: Buffer | null; rest: Buffer } {
  // One pass for the line ends, one allocation, then copies: the per-line cost is two memcpy calls.
  const ends: number[] = [];
  for (let i = chunk.indexOf(NL); i >= 0; i = chunk.indexOf(NL, i + 1)) ends.push(i);
  const tail = ends.length === 0 ? 0 : ends[ends.length - 1]! + 1;
  let rest = ends.length === 0 ? (pending.length === 0 ? chunk : Buffer.concat([pending, chunk])) : chunk.subarray(tail);
  const cuts = rest.length > maxLine ? Math.floor((rest.length - 1) / maxLine) : 0;
  const size = ends.length === 0 ? 0 : pending.length + tail + ends.length * prefix.length;
  const out = Buffer.allocUnsafe(size + cuts * (prefix.length + maxLine + 1));
  let o = 0;
  let start = 0;
  for (let k = 0; k < ends.length; k++) {
    o += prefix.copy(out, o);
    if (k === 0 && pending.length > 0) o += pending.copy(out, o);
    o += chunk.copy(out, o, start, ends[k]! + 1);
    start = ends[k]! + 1;
  }
  // An unfinished line longer than the limit goes out in pieces of the limit.
  for (let c = 0; c < cuts; c++) {
    o += prefix.copy(out, o);
    o += rest.copy(out, o, 0, maxLine);
    out[o++] = NL;
    rest = rest.subarray(maxLine);
  }
  // Copy the rest: it must not pin the (possibly large) chunk it came from.
  return { out: o === 0 ? null : out.subarray(0, o), rest: rest.length === 0 ? EMPTY : Buffer.from(rest) };
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

  /** Writes everything queued so far in one writev (each item holds whole lines, so the order of lines is kept). */
  private next(): void {
    const items = this.queue.splice(0);
    if (items.length === 0) {
      this.busy = false;
      for (const w of this.idleWaiters.splice(0)) w();
      return;
    }
    this.busy = true;
    this.writeAll(items.map((i) => i.buf), () => { for (const i of items) i.done(); this.next(); });
  }

  private writeAll(bufs: Buffer[], done: () => void): void {
    while (bufs.length > 0 && bufs[0]!.length === 0) bufs.shift();
    if (bufs.length === 0 || this.broken !== undefined) { done(); return; }
    // IOV_MAX is 1024 on Linux.
    const batch = bufs.length > 1024 ? bufs.slice(0, 1024) : bufs;
    fsWritev(this.fd, batch, (err, n) => {
      if (err !== null) {
        const code = err.code ?? 'EIO';
        // A non-blocking stdout that is full: try again shortly.
        if (code === 'EAGAIN' || code === 'EINTR') { setTimeout(() => this.writeAll(bufs, done), 10); return; }
        this.broken = code;
        this.onError?.(code);
        for (const q of this.queue.splice(0)) q.done();
        done();
        return;
      }
      this.written += n;
      // Drop what was written; a partly written buffer continues from where the kernel stopped.
      let left = n;
      while (left > 0 && bufs.length > 0) {
        const b = bufs[0]!;
        if (b.length <= left) { left -= b.length; bufs.shift(); } else { bufs[0] = b.subarray(left); left = 0; }
      }
      this.writeAll(bufs, done);
    });
  }
}

/**
 * Copies `source` line by line into `sink`, each line prefixed. Reading
 * pauses while more than `maxPending` bytes wait to be written. Resolves
 * once the last line is written.
 */
export function pipeLines(source: Readable, sink: OutputSink, prefix: Buffer, maxLine = MAX_LINE, maxPending = MAX_PENDING): Promise<void> {
  return new Promise((resolve) => {
    let rest: Buffer = EMPTY;
    let pendingWrites = 0;
    let pendingBytes = 0;
    let paused = false;
    let ended = false;
    const maybeDone = (): void => { if (ended && pendingWrites === 0) resolve(); };
    const push = (buf: Buffer): void => {
      pendingWrites++;
      pendingBytes += buf.length;
      if (pendingBytes > maxPending && !paused) { paused = true; source.pause(); }
      sink.write(buf, () => {
        pendingWrites--;
        pendingBytes -= buf.length;
        if (paused && pendingBytes <= maxPending && !ended) { paused = false; source.resume(); }
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
