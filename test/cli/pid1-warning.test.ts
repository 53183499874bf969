/**
 * When PID 1 of tsinit's namespace is a shell, node or a package manager
 * (the `npx tsinit` / `npm start` / shell-form ENTRYPOINT bug), tsinit says
 * so once, naming PID 1 and the ENTRYPOINT to use; otherwise it says nothing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { inNamespace, killAll, run, startBounded, TSINIT } from '../support/helpers';
import { findOnPath } from '../support/pack-helpers';
import { MODES } from '../support/modes';
import { wrapperName } from '../../src/init/pid1-check';

afterEach(killAll);

const WARNING = /tsinit: warning: PID 1 is (\S+) .*ENTRYPOINT \["tsinit", "--"\]/;

/** Runs `argv` as PID 1 of a fresh PID namespace, to its end. */
async function asPid1(argv: readonly string[]): Promise<{ code: number | null; stderr: string }> {
  const r = await startBounded(...inNamespace(argv), { timeoutMs: 20_000 }).result;
  expect(r.timedOut).toBe(false);
  return r;
}

describe('warning when PID 1 is not tsinit but a wrapper', () => {
  it('PID 1 `sh -c "tsinit -- ...; ..."` (not exec): one warning naming sh', async () => {
    const r = await asPid1(['sh', '-c', `"${TSINIT}" -- true; exit $?`]);
    expect(r.code).toBe(0);
    expect(r.stderr.match(new RegExp(WARNING, 'g'))).toHaveLength(1);
    expect(r.stderr.match(WARNING)![1]).toBe('sh');
  });

  it('PID 1 `node wrapper` spawning tsinit: a warning naming node', async () => {
    const wrapper = `require("child_process").spawnSync(${JSON.stringify(TSINIT)}, ["--", "true"], { stdio: "inherit" })`;
    const r = await asPid1([process.execPath, '-e', wrapper]);
    expect(r.stderr.match(WARNING)?.[1]).toBe('node');
  });

  // Not PID 1, tsinit runs outside a fresh namespace: PID 1 is this machine's init.
  it.each(MODES)('tsinit itself %s: no warning', async ({ pid1 }) => {
    const r = await run(['--', 'true'], { pid1 });
    expect(r.code).toBe(0);
    expect(r.stderr).not.toMatch(/PID 1 is/);
  });

  it.skipIf(findOnPath('tini') === undefined)('PID 1 another init (tini): no warning', async () => {
    const r = await asPid1([findOnPath('tini')!, '-s', '--', TSINIT, '--', 'true']);
    expect(r.code).toBe(0);
    expect(r.stderr).not.toMatch(/PID 1 is/);
  });

  it('names npm, npx, yarn, pnpm, shells and node; not inits or tsinit\'s own launcher', () => {
    expect(wrapperName(['npm exec tsinit -- node app.js'])).toBe('npm');
    expect(wrapperName(['/usr/bin/node', '/usr/lib/node_modules/npm/bin/npx-cli.js', 'tsinit'])).toBe('npx');
    expect(wrapperName(['node', '/usr/local/bin/yarn.js', 'start'])).toBe('yarn');
    expect(wrapperName(['/bin/bash', '-c', 'tsinit -- app'])).toBe('bash');
    expect(wrapperName(['node', 'wrapper.js'])).toBe('node');
    expect(wrapperName(['node', '/usr/local/bin/tsinit', '--', 'app'])).toBeUndefined();
    expect(wrapperName(['/sbin/init'])).toBeUndefined();
    expect(wrapperName(['/usr/lib/systemd/systemd', '--system'])).toBeUndefined();
    expect(wrapperName(['/sbin/tini', '--', 'tsinit'])).toBeUndefined();
  });
});
