/**
 * A Procfile of services (--procfile): the parser and the line prefixer as
 * pure functions, then tsinit as PID 1 of a fresh PID namespace running
 * three services: whole prefixed lines (bytes, partial last lines, long
 * lines from two services at once), HUP to all, foreman's exit rule, one
 * stop with one deadline, a root without /bin/sh, malformed files.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { inNamespace, killAll, ROOT, run, sleep, start, startBounded } from '../support/helpers';
import { tempDir } from '../support/fixtures/util';
import { commandArgv, nameWidth, parseProcfile, ProcfileError } from '../../src/init/procfile';
import { flushLine, linePrefix, OutputSink, pipeLines, prefixLines } from '../../src/init/prefix';
import { native } from '../../src/native';
import { parseCommandLine, USAGE } from '../../src/init/options';

afterEach(killAll);

let dir: string;
let seq = 0;
beforeAll(() => { dir = tempDir(); });

/** Writes a Procfile and returns its path. */
function procfile(text: string): string {
  const file = path.join(dir, `Procfile.${++seq}`);
  writeFileSync(file, text);
  return file;
}

/** Runs tsinit with its stdout redirected to a file (to see the exact bytes); returns that file. */
function toFile(): { wrap: string[]; file: string } {
  const file = path.join(dir, `stdout.${++seq}`);
  return { wrap: ['sh', '-c', `exec "$@" > ${file}`, 'sh'], file };
}

function procfileError(text: string): ProcfileError {
  try {
    parseProcfile(text, 'Procfile');
  } catch (err) {
    expect(err).toBeInstanceOf(ProcfileError);
    return err as ProcfileError;
  }
  throw new Error('expected a ProcfileError');
}

describe('Procfile parser (pure)', () => {
  it("reads foreman's format: comments, blank lines, CRLF, spaces around the colon, colons in commands", () => {
    const entries = parseProcfile('# app\n\nweb: node server.js --port 80\r\n  worker :  sh -c "a: b"\n   # indented comment\nclock_2-x:sleep 1\n');
    expect(entries).toEqual([
      { name: 'web', command: 'node server.js --port 80', line: 3 },
      { name: 'worker', command: 'sh -c "a: b"', line: 4 },
      { name: 'clock_2-x', command: 'sleep 1', line: 6 },
    ]);
    expect(nameWidth(entries)).toBe(9);
  });

  it('a malformed line is an error naming the file and the line', () => {
    expect(procfileError('web: a\nthis is not a service\n').message).toBe("Procfile:2: expected 'name: command', got 'this is not a service'");
    expect(procfileError('web: a\n\nw.b: x\n')).toMatchObject({ line: 3, message: expect.stringMatching(/^Procfile:3: invalid service name 'w\.b'/) });
    expect(procfileError('web:\n').message).toBe("Procfile:1: service 'web' has no command");
    expect(procfileError('a: x\nb: y\na: z\n').message).toBe("Procfile:3: duplicate service name 'a' (first on line 1)");
    expect(procfileError(': x\n').line).toBe(1);
    expect(procfileError('# nothing\n\n').message).toMatch(/no services/);
  });

  it('commands run through /bin/sh -c, or split on whitespace without a shell', () => {
    expect(commandArgv('echo "a b" > f', true)).toEqual(['/bin/sh', '-c', 'echo "a b" > f']);
    expect(commandArgv('  /bin/echo  a\tb ', false)).toEqual(['/bin/echo', 'a', 'b']);
  });
});

describe('options (pure)', () => {
  it('--procfile replaces PROGRAM; both on the command line is a usage error; a PROGRAM wins over TSINIT_PROCFILE', () => {
    expect(parseCommandLine(['--procfile', 'P'])).toMatchObject({ procfile: 'P', command: [], prefix: true });
    expect(parseCommandLine(['--no-prefix', '--procfile=P'])).toMatchObject({ procfile: 'P', prefix: false });
    expect(parseCommandLine([], { TSINIT_PROCFILE: 'P', TSINIT_PREFIX: '0' })).toMatchObject({ procfile: 'P', prefix: false });
    expect(parseCommandLine(['node', 'app.js'], { TSINIT_PROCFILE: 'P' })).toMatchObject({ procfile: null, command: ['node', 'app.js'] });
    expect(() => parseCommandLine(['--procfile', 'P', '--', 'true'])).toThrow(/exclude each other/);
    expect(parseCommandLine(['--', 'prog', '--procfile', 'x'], { TSINIT_PROCFILE: 'P' })).toMatchObject({ procfile: null, command: ['prog', '--procfile', 'x'] });
    expect(() => parseCommandLine([])).toThrow(/missing PROGRAM to run \(or --procfile FILE\)/);
    expect(USAGE).toMatch(/--procfile FILE/);
    expect(USAGE).toMatch(/--no-prefix/);
    expect(USAGE).toMatch(/--restart POLICY/);
  });
});

describe('line prefixer (pure)', () => {
  const p = linePrefix('web', 6);
  it('prefixes complete lines, keeps the unfinished rest, passes bytes through undecoded', () => {
    expect(p.toString()).toBe('web    | ');
    const bytes = Buffer.from([0x61, 0xff, 0xfe, 0x0a, 0x62]);
    const r = prefixLines(p, Buffer.from('x'), bytes);
    expect(r.out).toEqual(Buffer.concat([p, Buffer.from([0x78, 0x61, 0xff, 0xfe, 0x0a])]));
    expect(r.rest).toEqual(Buffer.from('b'));
    expect(prefixLines(p, r.rest, Buffer.from('cd')).out).toBeNull();
    expect(flushLine(p, Buffer.from('bcd'))).toEqual(Buffer.from('web    | bcd\n'));
    expect(flushLine(p, Buffer.alloc(0))).toBeNull();
    expect(prefixLines(p, Buffer.alloc(0), Buffer.from('1\n2\n3\n')).out!.toString()).toBe('web    | 1\nweb    | 2\nweb    | 3\n');
  });

  it('a line longer than the limit is cut there, never kept whole without bound', () => {
    const r = prefixLines(p, Buffer.alloc(0), Buffer.alloc(25, 'a'), 10);
    expect(r.out!.toString()).toBe(`web    | ${'a'.repeat(10)}\nweb    | ${'a'.repeat(10)}\n`);
    expect(r.rest.toString()).toBe('aaaaa');
  });

  it('reading pauses while the destination is not drained: memory stays bounded', async () => {
    const [r, w] = native().pipe();
    try {
      const source = new PassThrough({ highWaterMark: 64 * 1024 });
      const sink = new OutputSink(w);
      const ended = pipeLines(source, sink, p);
      const line = Buffer.alloc(1023, 'z');
      let offered = 0;
      // Offer 8 MiB while nobody reads the pipe (64 KiB of kernel buffer).
      for (let i = 0; i < 8192; i++) {
        offered += 1024;
        if (!source.write(Buffer.concat([line, Buffer.from('\n')]))) break;
      }
      await sleep(300);
      expect(source.isPaused()).toBe(true);
      // The source stopped accepting long before 8 MiB: backpressure reached the writer.
      expect(offered).toBeLessThan(1024 * 1024);
      // Drain the pipe, end the source: every line comes out whole.
      const reader = startBounded('cat', [`/proc/${process.pid}/fd/${r}`]);
      source.end();
      await ended;
      await sink.idle();
      closeSync(w);
      const res = await reader.result;
      const lines = res.stdout.split('\n').filter((l) => l !== '');
      expect(lines.length).toBe(offered / 1024);
      for (const l of lines) expect(l).toBe(`web    | ${line.toString()}`);
    } finally {
      try { closeSync(r); } catch { /* closed */ }
    }
  });
});

describe('--procfile as PID 1', () => {
  it('three services: every line arrives whole, prefixed with padded names; bytes undecoded; a partial last line flushed', async () => {
    const m = path.join(dir, `m${++seq}`);
    // web ends first, once the others have written (their markers), so nothing is cut short.
    const pf = procfile([
      `web: printf "one\\ntwo\\n"; printf "\\377\\376 raw\\n"; until [ -e ${m}.w ] && [ -e ${m}.d ]; do sleep 0.02; done; printf "no newline"`,
      `worker_long: echo "to stderr" >&2; echo out; touch ${m}.w; sleep 10`,
      `db: echo db-up; touch ${m}.d; sleep 10`,
    ].join('\n'));
    const { wrap, file } = toFile();
    const r = await run(['--procfile', pf], { wrap });
    expect(r.code).toBe(0); // web ended first, with 0
    const out = readFileSync(file).toString('latin1').split('\n');
    expect(out).toEqual(expect.arrayContaining([
      'web         | one', 'web         | two', 'web         | \xff\xfe raw', 'web         | no newline',
      'worker_long | out', 'db          | db-up',
    ]));
    expect(out.filter((l) => l !== '').every((l) => /^(web {8}|worker_long|db {9}) \| /.test(l))).toBe(true);
    expect(r.stderr).toMatch(/^worker_long \| to stderr$/m);
  });

  it('two services writing long lines at once never interleave inside a line', async () => {
    // Each line leaves the service in many writes (tr's chunks, then echo's newline).
    const gen = (ch: string): string => `for i in $(seq 60); do head -c 100000 /dev/zero | tr '\\0' ${ch}; echo; done`;
    // Each waits for the other to finish writing before it ends (the first to end stops the other).
    const m = path.join(dir, `m${++seq}`);
    const pf = procfile(`a: ${gen('a')}; touch ${m}.a; until [ -e ${m}.b ]; do sleep 0.02; done\n` +
      `b: ${gen('b')}; touch ${m}.b; until [ -e ${m}.a ]; do sleep 0.02; done\n`);
    const { wrap, file } = toFile();
    const r = await run(['--procfile', pf], { wrap });
    expect(r.code).toBe(0);
    const lines = readFileSync(file, 'latin1').split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(120);
    for (const l of lines) expect(l === `a | ${'a'.repeat(100_000)}` || l === `b | ${'b'.repeat(100_000)}`).toBe(true);
  });

  it('each service leads its own process group and starts with a clean signal state', async () => {
    const probe = (n: string): string => `${n}: exec awk '/^Sig(Blk|Ign)/ { print } END { getline s < "/proc/self/stat"; split(s, f, " "); print "pid", f[1], "pgid", f[5]; fflush(); system("sleep 1") }' /proc/self/status`;
    // Each probe prints, then lives on for a second, so the first to end cannot stop the other before it printed.
    const pf = procfile(`${probe('a')}\n${probe('b')}\n`);
    const r = await run(['-r', 'HUP:0', '--procfile', pf], { wrap: ['sh', '-c', 'trap "" HUP USR1; exec "$@"', 'sh'] });
    expect(r.code).toBe(0);
    for (const n of ['a', 'b']) {
      expect(r.stdout).toMatch(new RegExp(`^${n} \\| SigBlk:\\s+0000000000000000$`, 'm'));
      expect(r.stdout).toMatch(new RegExp(`^${n} \\| SigIgn:\\s+0000000000000000$`, 'm'));
      const m = new RegExp(`^${n} \\| pid (\\d+) pgid (\\d+)$`, 'm').exec(r.stdout);
      expect(m, r.stdout).not.toBeNull();
      expect(m![1]).toBe(m![2]);
    }
  });

  it('--no-prefix passes output through untouched', async () => {
    const m = path.join(dir, `m${++seq}`);
    const pf = procfile(`a: printf "raw\\n"; until [ -e ${m} ]; do sleep 0.02; done\nb: printf "partial"; touch ${m}; sleep 10\n`);
    const r = await run(['--no-prefix', '--procfile', pf]);
    expect(r.code).toBe(0);
    // Bytes as written, in whatever order they came: no prefix, no newline added to 'partial'.
    expect(r.stdout.length).toBe('raw\npartial'.length);
    expect(r.stdout).toContain('raw\n');
    expect(r.stdout).toContain('partial');
    expect(r.stdout).not.toMatch(/\|/);
  });

  /** A service that reports HUP and TERM; it touches `${dir}/ready.NAME` once its traps are set. */
  const trapper = (name: string, onTerm = `echo "${name} got TERM"; exit 0`): string =>
    `${name}: trap 'echo "${name} got HUP"' HUP; trap '${onTerm}' TERM; echo "${name} ready $$"; touch ${dir}/ready.${name}; while :; do sleep 0.05; done`;

  it('HUP reaches all three services; TERM stops them all', async () => {
    const pf = procfile([trapper('a'), trapper('b'), trapper('c')].join('\n'));
    const h = start(['-v', '--procfile', pf]);
    for (const n of ['a', 'b', 'c']) await h.waitFor(new RegExp(`^${n} \\| ${n} ready`, 'm'));
    h.kill('SIGHUP');
    for (const n of ['a', 'b', 'c']) await h.waitFor(new RegExp(`^${n} \\| ${n} got HUP$`, 'm'));
    h.kill('SIGTERM');
    const r = await h.result;
    expect(r.code).toBe(0);
    for (const n of ['a', 'b', 'c']) expect(r.stdout).toMatch(new RegExp(`^${n} \\| ${n} got TERM$`, 'm'));
    expect(r.stderr).toMatch(/received SIGHUP: sent SIGHUP to the process groups of 3 service\(s\)/);
  });

  it("one service's exit stops the others, and tsinit exits with that service's status", async () => {
    for (const n of ['a', 'c']) rmSync(path.join(dir, `ready.${n}`), { force: true }); // left by an earlier case
    const pf = procfile([trapper('a'), `quitter: until [ -e ${dir}/ready.a ] && [ -e ${dir}/ready.c ]; do sleep 0.02; done; exit 7`, trapper('c')].join('\n'));
    const h = start(['-v', '--procfile', pf]);
    const r = await h.result;
    expect(r.code).toBe(7);
    expect(r.stdout).toMatch(/^a +\| a got TERM$/m);
    expect(r.stdout).toMatch(/^c +\| c got TERM$/m);
    expect(r.stderr).toMatch(/service quitter ended: sending SIGTERM to the 2 other service\(s\)/);
    expect(r.stderr).toMatch(/timeline: .*tsinit exits 7/);
  });

  it('-e applies to the deciding status', async () => {
    const r = await run(['-e', '7', '--procfile', procfile('a: exit 7\nb: sleep 5\n')]);
    expect(r.code).toBe(0);
  });

  it('TERM stops every service with one deadline: one that ignores TERM gets SIGKILL at the grace; the first line decides the status', async () => {
    const pf = procfile([trapper('stubborn', ''), trapper('b'), trapper('c')].join('\n'));
    const h = start(['-t', '1', '--procfile', pf]);
    for (const n of ['stubborn', 'b', 'c']) await h.waitFor(new RegExp(`^${n} +\\| ${n} ready`, 'm'));
    const t0 = Date.now();
    h.kill('SIGTERM');
    const r = await h.result;
    const elapsed = Date.now() - t0;
    expect(r.code).toBe(137); // stubborn's, on the first line
    expect(elapsed).toBeGreaterThanOrEqual(900);
    expect(elapsed).toBeLessThan(6000);
    expect(r.stdout).toMatch(/^b +\| b got TERM$/m);
    expect(r.stdout).toMatch(/^c +\| c got TERM$/m);
    // The diagnosis names the service of the process that outlived the grace.
    expect(r.stderr).toMatch(/service stubborn: still running \d\.\d s after SIGTERM: pid \d+ .*ignores SIGTERM/);
  });

  it('with a restart policy, a service that fails is restarted instead of stopping the others', async () => {
    const counter = path.join(dir, `count.${++seq}`);
    writeFileSync(counter, '0');
    const pf = procfile(`flaky: n=$(($(cat ${counter}) + 1)); echo $n > ${counter}; echo "run $n"; [ $n -ge 3 ] && exit 0; exit 1\nother: sleep 5\n`);
    const r = await run(['-v', '--restart', 'on-failure', '--procfile', pf]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^flaky \| run 3$/m);
    expect(r.stderr).toMatch(/service flaky \(run 1, pid \d+\) ended: exit 1 .*run 2 starts in 100 ms/);
    expect(r.stderr).toMatch(/timeline: 2 restart\(s\): flaky run 1/);
  });

  it('a malformed Procfile is a usage error naming the line, and nothing starts', async () => {
    const marker = path.join(dir, `started.${++seq}`);
    const pf = procfile(`ok: touch ${marker}\n# fine\nnot a service line\n`);
    const r = await run(['--procfile', pf]);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe(`tsinit: ${pf}:3: expected 'name: command', got 'not a service line'`);
    await sleep(200);
    expect(existsSync(marker)).toBe(false);
    const missing = await run(['--procfile', path.join(dir, 'nope')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read Procfile .*ENOENT/);
    const both = await run(['--procfile', pf, '--', 'true']);
    expect(both.code).toBe(2);
  });

  it('a SIGTERM recorded during start-up reaches every service once they run', async () => {
    // `node bin/tsinit` (no sh lines to reset it): the start-up record as the bin leaves it.
    const pf = procfile("a: trap 'echo a got TERM; exit 0' TERM; while :; do sleep 0.05; done\nb: trap 'echo b got TERM; exit 0' TERM; while :; do sleep 0.05; done\n");
    const r = await run(['-v', '-t', '10', '--procfile', pf], { wrap: [process.execPath], env: { __TSINIT_SIGNALS: 'TERM' } });
    // Each service got it: handled (exit 0) or, when it came before the trap was set, by default (143).
    expect([0, 143]).toContain(r.code);
    expect(r.stderr).toMatch(/received SIGTERM|sent SIGTERM/);
    expect(r.ms).toBeLessThan(8000); // the loops never end by themselves: without the record, the harness's 20 s
  });

  it('TSINIT_PROCFILE names the file', async () => {
    const r = await run([], { env: { TSINIT_PROCFILE: procfile('only: echo hi\n') } });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('only | hi\n');
  });
});

describe('--procfile in a root without /bin/sh', () => {
  let root: string;
  beforeAll(() => {
    // A minimal root: node and the libraries ldd lists, the package, /bin/echo and /bin/sleep; no shell.
    root = path.join(tempDir(), 'root');
    const put = (src: string, dst = src): void => {
      const to = path.join(root, dst);
      if (existsSync(to)) return;
      mkdirSync(path.dirname(to), { recursive: true });
      try { linkSync(src, to); } catch { copyFileSync(src, to); }
    };
    const node = execFileSync('readlink', ['-f', process.execPath], { encoding: 'utf8' }).trim();
    const bins = [node, '/bin/echo', '/bin/sleep'].map((b) => execFileSync('readlink', ['-f', b], { encoding: 'utf8' }).trim());
    for (const b of bins) {
      put(b);
      for (const m of execFileSync('ldd', [b], { encoding: 'utf8' }).matchAll(/(\/\S+) \(0x/g)) put(execFileSync('readlink', ['-f', m[1]!], { encoding: 'utf8' }).trim(), m[1]!);
    }
    put(node, '/usr/bin/node');
    put(bins[1]!, '/bin/echo');
    put(bins[2]!, '/bin/sleep');
    // What the package ships (all of dist/), as an install would lay it out.
    const dist = readdirSync(path.join(ROOT, 'dist'), { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile()).map((e) => path.relative(ROOT, path.join(e.parentPath, e.name)));
    for (const f of ['package.json', 'bin/tsinit', ...dist, 'build/Release/tsinit.node']) put(path.join(ROOT, f), `/app/${f}`);
    mkdirSync(path.join(root, 'dev'), { recursive: true });
    mkdirSync(path.join(root, 'proc'), { recursive: true });
    execFileSync('mknod', ['-m', '666', path.join(root, 'dev', 'null'), 'c', '1', '3']);
    writeFileSync(path.join(root, 'Procfile'), 'hello: /bin/echo hello  from\tno-shell\nsleeper: /bin/sleep 5\n');
    writeFileSync(path.join(root, 'Procfile.bad'), 'sleeper: /bin/sleep 5\nmissing: /bin/nonexistent --flag\n');
    expect(existsSync(path.join(root, 'bin', 'sh'))).toBe(false);
  });

  it('commands are split on whitespace and run directly; the first to end decides', async () => {
    const b = startBounded(...inNamespace([
      '/usr/bin/node', '/app/bin/tsinit', '-v', '--procfile', '/Procfile'], { root }), { env: { PATH: '/bin:/usr/bin' } });
    const r = await b.result;
    expect(r.stderr).toMatch(/\/bin\/sh not found: each command is split on whitespace/);
    expect(r.stdout).toBe('hello   | hello from no-shell\n');
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/service sleeper \(pid \d+\) ended: exit 143 = killed by SIGTERM/);
  });

  it('a command that cannot be run is reported with its service; tsinit exits 127 and stops the others', async () => {
    const b = startBounded(...inNamespace([
      '/usr/bin/node', '/app/bin/tsinit', '--procfile', '/Procfile.bad'], { root }), { env: { PATH: '/bin:/usr/bin' } });
    const r = await b.result;
    expect(r.code).toBe(127);
    expect(r.stderr).toMatch(/^tsinit: service missing: cannot run '\/bin\/nonexistent': not found$/m);
    expect(r.ms).toBeLessThan(4000); // the sleeper did not hold tsinit for its 5 s
  });
});
