/**
 * Bytes are passed on exactly: the child's arguments, its environment values
 * and the program's path reach it byte for byte, non-UTF-8 bytes included
 * (Node decodes process.argv and process.env as UTF-8, which would turn
 * `\xff` into U+FFFD). Proven as PID 1, through /bin/sh and through the
 * `node bin/tsinit` re-exec path, by reading the child's own
 * /proc/PID/cmdline and /proc/PID/environ.
 *
 * The harness spawns with strings only, so the bytes are made inside the
 * namespace by a wrapper shell (`printf %b` with octal escapes).
 */
import { copyFileSync, chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node-tsinit';
import { fetchedNodeBin, killAll, run } from '../support/helpers';
import { tempDir } from '../support/fixtures/util';

afterEach(killAll);

const NODE22_VERSION = '22.23.5';
const NODE22 = fetchedNodeBin(NODE22_VERSION);

/** `\0ooo` escapes for every byte, as `printf %b` reads them. */
function octal(b: Buffer): string {
  return [...b].map((c) => `\\0${c.toString(8).padStart(3, '0')}`).join('');
}

/** A wrapper shell's line that sets NAME to the exact bytes of `value` and exports it. */
function exportBytes(name: string, value: Buffer): string {
  return `${name}=$(printf %b '${octal(value)}'; echo x); ${name}=\${${name}%x}; export ${name}; `;
}

/**
 * A wrap for the harness: exports `env` (exact bytes), decodes each of
 * tsinit's arguments from the escapes made by {@link arg}, and execs
 * `launcher` tsinit ARGS (launcher empty: tsinit through its own /bin/sh
 * lines; ['node']: `node bin/tsinit`).
 */
function byteWrap(env: Record<string, Buffer>, launcher: readonly string[] = []): string[] {
  const exports = Object.entries(env).map(([k, v]) => exportBytes(k, v)).join('');
  const decode = 'n=$#; for a do b=$(printf %b "$a"; echo x); set -- "$@" "${b%x}"; done; shift $n; ';
  return ['sh', '-c', `${exports}${decode}exec ${launcher.join(' ')} "$0" "$@"`];
}

/** One of tsinit's arguments as the wrap expects it (escaped bytes). */
const arg = (b: Buffer | string): string => octal(Buffer.isBuffer(b) ? b : Buffer.from(b));

/** A child shell script that prints its own cmdline and environ in hex, one line each. */
const SHOW_RAW = 'od -An -tx1 -v /proc/$$/cmdline | tr -d " \\n"; echo; od -An -tx1 -v /proc/$$/environ | tr -d " \\n"; echo';

interface Raw { argv: Buffer[]; env: Buffer[] }

function parseRaw(stdout: string): Raw {
  const [argvHex, envHex] = stdout.split('\n');
  const split = (hex: string | undefined): Buffer[] => {
    const b = Buffer.from(hex ?? '', 'hex');
    const out: Buffer[] = [];
    let start = 0;
    for (let i = 0; i < b.length; i++) if (b[i] === 0) { out.push(b.subarray(start, i)); start = i + 1; }
    return out;
  };
  return { argv: split(argvHex), env: split(envHex) };
}

function envValue(raw: Raw, name: string): Buffer | undefined {
  const prefix = Buffer.from(`${name}=`);
  const e = raw.env.find((x) => x.subarray(0, prefix.length).equals(prefix));
  return e?.subarray(prefix.length);
}

const FF = Buffer.from([0xff]);
const AFFB = Buffer.from([0x61, 0xff, 0x62]);
const LONE_C3 = Buffer.from([0xc3]);
/** Valid UTF-8 too must stay as it is. */
const UTF8 = Buffer.from('é€😀', 'utf8');
const SAMPLES = [FF, AFFB, LONE_C3, UTF8];

let dir: string;
/** A directory named with \xff, holding a script with `#!`, one without, and a copy of od. */
let odd: Buffer;
beforeAll(() => {
  dir = tempDir();
  odd = Buffer.concat([Buffer.from(`${dir}/d`), FF, Buffer.from('x')]);
  mkdirSync(odd);
  const file = (name: string): Buffer => Buffer.concat([odd, Buffer.from(`/${name}`)]);
  writeFileSync(file('show'), `#!/bin/sh\n${SHOW_RAW}\n`);
  chmodSync(file('show'), 0o755);
  writeFileSync(file('noshebang'), `${SHOW_RAW}\n`);
  chmodSync(file('noshebang'), 0o755);
  copyFileSync('/usr/bin/od', file('od'));
});

const ways: { how: string; launcher: string[] | undefined; env?: Record<string, string | undefined> }[] = [
  { how: 'through /bin/sh', launcher: [] },
  { how: 'as `node bin/tsinit` with NODE_OPTIONS set (re-exec in place)', launcher: ['node'], env: { NODE_OPTIONS: '--no-warnings' } },
  ...(NODE22.bin ? [{
    how: `as \`node bin/tsinit\` on Node ${NODE22_VERSION} with NODE_OPTIONS set (re-exec in place)`,
    launcher: [`${NODE22.bin}/node`], env: { NODE_OPTIONS: '--no-warnings' },
  }] : []),
];

describe('bytes reach the child exactly', () => {
  for (const { how, launcher, env } of ways) {
    it(`non-UTF-8 bytes in arguments reach the child unchanged, ${how}`, async () => {
      const r = await run(['--', 'sh', '-c', SHOW_RAW, 'sh', ...SAMPLES.map(arg)], { wrap: byteWrap({}, launcher), env });
      expect(r.code, r.stderr).toBe(0);
      expect(parseRaw(r.stdout).argv.slice(-SAMPLES.length).map((b) => b.toString('hex'))).toEqual(SAMPLES.map((b) => b.toString('hex')));
    });

    it(`non-UTF-8 bytes in environment values reach the child unchanged, ${how}`, async () => {
      const vars = { BYTES_FF: FF, BYTES_AFFB: AFFB, BYTES_C3: LONE_C3, BYTES_UTF8: UTF8 };
      const r = await run(['--', 'sh', '-c', SHOW_RAW], { wrap: byteWrap(vars, launcher), env });
      expect(r.code, r.stderr).toBe(0);
      const raw = parseRaw(r.stdout);
      for (const [name, value] of Object.entries(vars)) expect(envValue(raw, name)?.toString('hex'), name).toBe(value.toString('hex'));
      // The wrapper's private variables stay tsinit's, NODE_OPTIONS is the caller's again.
      expect(raw.env.filter((e) => e.toString('latin1').startsWith('__TSINIT_'))).toEqual([]);
      if (env?.NODE_OPTIONS !== undefined) expect(envValue(raw, 'NODE_OPTIONS')?.toString()).toBe(env.NODE_OPTIONS);
    });

    it(`a program under a directory named with \\xff runs (script and binary), ${how}`, async () => {
      const script = Buffer.concat([odd, Buffer.from('/show')]);
      const r = await run(['--', arg(script), arg(AFFB)], { wrap: byteWrap({}, launcher), env });
      expect(r.code, r.stderr).toBe(0);
      // The kernel runs `/bin/sh SCRIPT ARGS`: the script's path as given, then the argument.
      expect(parseRaw(r.stdout).argv.slice(-2).map((b) => b.toString('hex'))).toEqual([script.toString('hex'), AFFB.toString('hex')]);

      const od = Buffer.concat([odd, Buffer.from('/od')]);
      const r2 = await run(['--', arg(od), '-An', '-tx1', '-v', '/proc/self/cmdline'], { wrap: byteWrap({}, launcher), env });
      expect(r2.code, r2.stderr).toBe(0);
      const argv0 = parseRaw(r2.stdout.replace(/[ \n]/g, '')).argv[0];
      expect(argv0?.toString('hex')).toBe(od.toString('hex'));
    });
  }

  it('a script without #! under a directory named with \\xff runs through /bin/sh, by path and through PATH', async () => {
    const script = Buffer.concat([odd, Buffer.from('/noshebang')]);
    const r = await run(['--', arg(script), arg(FF)], { wrap: byteWrap({}) });
    expect(r.code, r.stderr).toBe(0);
    expect(parseRaw(r.stdout).argv.slice(-2).map((b) => b.toString('hex'))).toEqual([script.toString('hex'), FF.toString('hex')]);

    // PATH names the odd directory: the lookup and the /bin/sh retry keep its bytes.
    const path = Buffer.concat([odd, Buffer.from(':/usr/bin:/bin')]);
    const r2 = await run(['--', 'noshebang', arg(LONE_C3)], { wrap: byteWrap({ PATH: path }) });
    expect(r2.code, r2.stderr).toBe(0);
    expect(parseRaw(r2.stdout).argv.slice(-2).map((b) => b.toString('hex'))).toEqual([script.toString('hex'), LONE_C3.toString('hex')]);
  });

  it('a program that does not exist under a \\xff path is still "not found" (127), named in the error', async () => {
    const missing = Buffer.concat([odd, Buffer.from('/missing')]);
    const r = await run(['--', arg(missing)], { wrap: byteWrap({}) });
    expect(r.code).toBe(127);
    expect(r.stderr).toMatch(/missing': not found/);
  });
});

describe('the library passes Buffers on exactly', () => {
  it('spawn() takes a Buffer program path, Buffer arguments and Buffer environment values', async () => {
    const script = Buffer.concat([odd, Buffer.from('/show')]);
    const s = spawn(script, [AFFB, 'plain', LONE_C3], { env: { PATH: '/usr/bin:/bin', BYTES: FF }, stdio: ['ignore', 'pipe', 'inherit'], grace: 1 });
    let out = '';
    for await (const chunk of s.stdout!) out += String(chunk);
    expect((await s.exited).code).toBe(0);
    const raw = parseRaw(out);
    expect(raw.argv.slice(-4).map((b) => b.toString('hex'))).toEqual([script, AFFB, Buffer.from('plain'), LONE_C3].map((b) => b.toString('hex')));
    expect(envValue(raw, 'BYTES')?.toString('hex')).toBe('ff');
  });

  it('spawn() takes the environment as a block of entries, passed on one by one (duplicates and non-UTF-8 names too)', async () => {
    const odd = Buffer.from([0x4e, 0xff, 0x3d, 0x31]); // N\xff=1
    const s = spawn('sh', ['-c', SHOW_RAW], { env: ['A=1', odd, 'A=2', Buffer.from('NOEQUALS')], stdio: ['ignore', 'pipe', 'inherit'], grace: 1 });
    let out = '';
    for await (const chunk of s.stdout!) out += String(chunk);
    expect((await s.exited).code).toBe(0);
    expect(parseRaw(out).env.map((b) => b.toString('hex'))).toEqual([Buffer.from('A=1'), odd, Buffer.from('A=2'), Buffer.from('NOEQUALS')].map((b) => b.toString('hex')));
  });
});
