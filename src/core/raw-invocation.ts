/**
 * tsinit's own invocation as bytes. Node decodes process.argv and
 * process.env as UTF-8, turning bytes that are not UTF-8 into U+FFFD; the
 * kernel keeps what the process was executed with in /proc/self/cmdline and
 * /proc/self/environ. The CLI parses its options from the decoded strings
 * (options are ASCII) and hands the child's program, arguments and
 * environment on from these bytes, so they arrive exactly as given.
 * @module
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { isUtf8 } from 'node:buffer';

/** Environment variables the bin wrapper uses to carry state past `exec node`. */
export const STASHED_NODE_OPTIONS = '__TSINIT_NODE_OPTIONS';
export const STASHED_PPID = '__TSINIT_PPID';
/** The descriptors tsinit inherited, recorded by the bin (see inherited-fds.ts, whose INHERITED_FDS_VARIABLE names it too). */
const STASHED_FDS = '__TSINIT_FDS';
/** Start-up signals and raised limits (see startup.ts, which names them too). */
export const STASHED_SIGNALS = '__TSINIT_SIGNALS';
export const STASHED_LIMITS = '__TSINIT_RLIMITS';
/**
 * Set by the bin's launcher (native/launch.c), which preloads the addon into
 * Node: the caller's signal mask (the addon's constructor unsets it), and the
 * caller's LD_PRELOAD as `x<value>`, or empty when the caller had none.
 */
export const LAUNCHED = '__TSINIT_BLOCKED';
export const STASHED_LD_PRELOAD = '__TSINIT_LD_PRELOAD';
/** Every variable the bin uses to carry state past `exec node`: none reaches the child. */
export const PRIVATE: readonly string[] = [STASHED_NODE_OPTIONS, STASHED_PPID, STASHED_FDS, STASHED_SIGNALS, STASHED_LIMITS, LAUNCHED,
  STASHED_LD_PRELOAD];
/**
 * Variables the bin or its launcher changed for tsinit itself, each with the
 * variable holding the caller's value: `x<value>` (the 'x' keeps set-but-empty
 * distinct from unset), or empty for unset. The child gets the caller's value.
 */
export const STASHED: ReadonlyArray<{ name: string; stash: string }> = [
  { name: 'NODE_OPTIONS', stash: STASHED_NODE_OPTIONS },
  { name: 'LD_PRELOAD', stash: STASHED_LD_PRELOAD },
];

const NUL = 0;
const EQUALS = 0x3d;

/** The entries of a NUL-separated block (/proc/PID/cmdline, environ); the final NUL ends the last entry. */
export function splitNul(block: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (let i = block.indexOf(NUL); i !== -1; i = block.indexOf(NUL, start)) {
    out.push(block.subarray(start, i));
    start = i + 1;
  }
  if (start < block.length) out.push(block.subarray(start));
  return out;
}

function readBlock(name: 'cmdline' | 'environ'): Buffer[] | undefined {
  try {
    return splitNul(readFileSync(`/proc/self/${name}`));
  } catch {
    return undefined;
  }
}

/** tsinit's invocation as it was executed. */
export interface RawInvocation {
  /** /proc/self/cmdline: node, its options, the script, then tsinit's arguments. */
  cmdline: Buffer[];
  /** tsinit's arguments (what process.argv.slice(2) decodes), exact bytes. */
  args: Buffer[];
  /** The environment as it was at exec, entry by entry (not what process.env holds since). */
  env: Buffer[];
}

/**
 * Reads this process's arguments and environment as bytes, or undefined when
 * /proc cannot tell them. `decodedArgs` is process.argv.slice(2): they are
 * the last entries of /proc/self/cmdline, and each must decode to its string
 * (a check that /proc/self is this process as Node saw it). /proc/self
 * names the reading process in any /proc where it is visible at all, so a
 * /proc of another PID namespace serves too.
 */
export function readRawInvocation(decodedArgs: readonly string[] = process.argv.slice(2)): RawInvocation | undefined {
  const cmdline = readBlock('cmdline');
  const env = readBlock('environ');
  if (cmdline === undefined || env === undefined || cmdline.length < decodedArgs.length + 2) return undefined;
  const args = cmdline.slice(cmdline.length - decodedArgs.length);
  if (!args.every((b, i) => b.toString('utf8') === decodedArgs[i])) return undefined;
  return { cmdline, args, env };
}

/** The name part of an environment entry (all of it when there is no '='). */
function entryName(entry: Buffer): Buffer {
  const eq = entry.indexOf(EQUALS);
  return eq === -1 ? entry : entry.subarray(0, eq);
}

function isNamed(entry: Buffer, name: string): boolean {
  const n = entryName(entry);
  return n.length === name.length && n.toString('latin1') === name;
}

/**
 * The child's environment from tsinit's raw one, entry by entry: the bin
 * wrapper's private variables removed, NODE_OPTIONS and LD_PRELOAD restored
 * exactly as the caller set them (set-but-empty stays set, unset stays
 * unset) where the wrapper stashed them. Everything else passes unchanged,
 * duplicates and entries without '=' included, as execve gave them.
 */
export function childEnvironmentEntries(env: readonly Buffer[]): Buffer[] {
  const stashes = STASHED.map(({ name, stash }) => ({ name, entry: env.find((e) => isNamed(e, stash)), stash }));
  const out: Buffer[] = [];
  for (const e of env) {
    const restored = stashes.find((s) => s.entry === e);
    if (restored !== undefined) {
      // NAME=x<value>, or NAME= when the caller had none.
      const value = e.subarray(restored.stash.length + 1);
      if (value[0] === 0x78 /* x */) out.push(Buffer.concat([Buffer.from(`${restored.name}=`), value.subarray(1)]));
      continue;
    }
    if (PRIVATE.some((name) => isNamed(e, name))) continue;
    if (stashes.some((s) => s.entry !== undefined && isNamed(e, s.name))) continue;
    out.push(e);
  }
  return out;
}

/** True when a string holds U+FFFD, the trace of bytes that were not UTF-8. */
export function hasReplacement(s: string): boolean {
  return s.includes('\uFFFD');
}

/**
 * PATH as this process's C library sees it, for a lookup that must match
 * execvp's: the bytes at exec when process.env.PATH still decodes from them
 * (nobody changed it since), else process.env.PATH.
 */
export function searchPath(): Buffer | string {
  const decoded = process.env['PATH'] ?? '/usr/local/bin:/bin:/usr/bin';
  if (!hasReplacement(decoded)) return decoded;
  const entry = readBlock('environ')?.find((e) => isNamed(e, 'PATH'));
  const raw = entry?.subarray(5);
  return raw !== undefined && raw.toString('utf8') === decoded ? raw : decoded;
}

/** How the bin restarts `node bin/tsinit` in place without NODE_OPTIONS. */
export interface RestartRequest {
  file: Buffer | string;
  argv: Array<Buffer | string>;
  envp: Array<Buffer | string>;
  /** The same as text, when text says it exactly (for process.execve, which takes strings only). */
  text?: { file: string; argv: string[]; env: Record<string, string> };
}

/**
 * The exec that starts this `node bin/tsinit` again without NODE_OPTIONS
 * (stashed for the child as the bin's sh lines would): the same command
 * line byte for byte, each of `flags` (the bin's: --disable-sigusr1 where
 * Node has it, --max-semi-space-size=1) added before the script unless
 * already there, and the environment as executed. Without /proc, the decoded
 * strings.
 */
export function restartRequest(flags: readonly string[], env: NodeJS.ProcessEnv = process.env): RestartRequest {
  const stashEntry = (value: Buffer | string): Buffer => Buffer.concat([Buffer.from(`${STASHED_NODE_OPTIONS}=x`), Buffer.from(value)]);
  const raw = readRawInvocation();
  let file: Buffer | string = process.execPath;
  let argv: Array<Buffer | string>;
  let envp: Buffer[];
  if (raw !== undefined) {
    try { file = readlinkSync('/proc/self/exe', { encoding: 'buffer' }); } catch { /* keep execPath */ }
    const rest = raw.cmdline.slice(1);
    const given = rest.slice(0, rest.length - raw.args.length).map((b) => b.toString());
    argv = [file, ...flags.filter((f) => !given.includes(f)), ...rest];
    const nodeOptions = raw.env.find((e) => isNamed(e, 'NODE_OPTIONS'));
    envp = raw.env.filter((e) => !isNamed(e, 'NODE_OPTIONS'));
    if (nodeOptions !== undefined) envp.push(stashEntry(nodeOptions.subarray('NODE_OPTIONS='.length)));
    // Set or changed by the bin in process.env, which /proc/self/environ does not show.
    for (const name of [STASHED_PPID, STASHED_FDS, STASHED_SIGNALS]) {
      const value = env[name];
      if (value === undefined) continue;
      envp = envp.filter((e) => !isNamed(e, name));
      envp.push(Buffer.from(`${name}=${value}`));
    }
  } else {
    const execArgv = [...flags.filter((f) => !process.execArgv.includes(f)), ...process.execArgv];
    argv = [process.execPath, ...execArgv, process.argv[1]!, ...process.argv.slice(2)];
    envp = [];
    for (const [k, v] of Object.entries(env)) {
      if (v === undefined) continue;
      if (k === 'NODE_OPTIONS') envp.push(stashEntry(v));
      else envp.push(Buffer.from(`${k}=${v}`));
    }
  }
  return { file, argv, envp, text: asText(file, argv, envp) };
}

/** The request as strings, or undefined when strings would change a byte, an entry without '=' or a duplicate. */
function asText(file: Buffer | string, argv: ReadonlyArray<Buffer | string>, envp: readonly Buffer[]): RestartRequest['text'] {
  const exact = (b: Buffer | string): boolean => typeof b === 'string' || isUtf8(b);
  if (!exact(file) || !argv.every(exact) || !envp.every(exact)) return undefined;
  const env: Record<string, string> = {};
  for (const e of envp) {
    const s = e.toString('utf8');
    const eq = s.indexOf('=');
    if (eq <= 0 || Object.prototype.hasOwnProperty.call(env, s.slice(0, eq))) return undefined;
    env[s.slice(0, eq)] = s.slice(eq + 1);
  }
  return { file: file.toString(), argv: argv.map((a) => a.toString()), env };
}
