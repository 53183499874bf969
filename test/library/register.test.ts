/**
 * `node-tsinit/register`: the one import line for an app that is PID 1.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { killNodes, runJson, sleep, startNode } from '../support/library-helpers';

afterEach(killNodes);

interface PuppeteerResult { pid: number; zombies: number; browserExit: string | null }

describe('the Puppeteer shape: an app as PID 1 whose child leaves double-forked grandchildren', () => {
  it('without node-tsinit/register, zombies pile up', async () => {
    const r = await runJson<PuppeteerResult>('puppeteer.cjs', ['0']);
    expect(r.pid).toBe(1);
    expect(r.zombies).toBe(10);
    expect(r.browserExit).toBe('SIGTERM'); // child_process still works, of course
  });

  it('with require(\'node-tsinit/register\'), none are left and the browser\'s exit event still comes', async () => {
    const r = await runJson<PuppeteerResult>('puppeteer.cjs', ['1']);
    expect(r.pid).toBe(1);
    expect(r.zombies).toBe(0);
    expect(r.browserExit).toBe('SIGTERM');
  });

  it('with import \'node-tsinit/register\' in an ES module app, none are left', async () => {
    const r = await runJson<PuppeteerResult>('puppeteer.mjs');
    expect(r.pid).toBe(1);
    expect(r.zombies).toBe(0);
    expect(r.browserExit).toBe('SIGTERM');
  });
});

describe('signals of an app that is PID 1', () => {
  it('control: without register, PID 1 survives SIGTERM', async () => {
    const app = startNode('register-signals.cjs', ['0', 'none']);
    await app.waitFor(/ready/);
    await app.kill('SIGTERM');
    const ended = await Promise.race([app.result.then(() => true), sleep(1500).then(() => false)]);
    expect(ended).toBe(false);
  });

  for (const [sig, status] of [['SIGTERM', 143], ['SIGINT', 130], ['SIGHUP', 129]] as const) {
    it(`with register and no listener, ${sig} ends it with status ${status}`, async () => {
      const app = startNode('register-signals.cjs', ['1', 'none']);
      await app.waitFor(/ready/);
      await app.kill(sig);
      const r = await app.result;
      expect(r.timedOut).toBe(false);
      expect(r.code).toBe(status);
    });
  }

  it('with register imported from an ES module, SIGTERM ends it with status 143', async () => {
    const app = startNode('register-signals.mjs');
    await app.waitFor(/ready/);
    await app.kill('SIGTERM');
    expect((await app.result).code).toBe(143);
  });

  it('the app\'s own SIGTERM listener stays in charge', async () => {
    const app = startNode('register-signals.cjs', ['1', 'listener']);
    await app.waitFor(/ready/);
    await app.kill('SIGTERM');
    const r = await app.result;
    expect(r.stdout).toContain('graceful shutdown');
    expect(r.code).toBe(0); // the app's choice, not 143
  });

  it('a listener the app adds after the import stays in charge', async () => {
    const app = startNode('register-signals.cjs', ['1', 'later']);
    await app.waitFor(/ready/);
    await app.kill('SIGTERM');
    const r = await app.result;
    expect(r.stdout).toContain('graceful shutdown');
    expect(r.code).toBe(0);
  });

  it('a once listener handles the first SIGTERM; the second ends the app with 143, as Node would', async () => {
    const app = startNode('register-signals.cjs', ['1', 'once']);
    await app.waitFor(/ready/);
    await app.kill('SIGTERM');
    await app.waitFor(/handled once/);
    await sleep(300);
    expect(app.proc.exitCode).toBe(null); // still running: the app handled it
    await app.kill('SIGTERM');
    expect((await app.result).code).toBe(143);
  });

  it('forwardSignals() stays in charge of the signals it forwards: the child stops, then the app ends as it chooses', async () => {
    const app = startNode('register-signals.cjs', ['1', 'forward']);
    await app.waitFor(/ready/);
    await app.kill('SIGTERM');
    const r = await app.result;
    expect(r.stdout).toContain('child ended 7');
    expect(r.code).toBe(0);
  });

  it('a listener that removes itself and re-raises the signal (signal-exit style) ends the app with 143', async () => {
    const app = startNode('register-signals.cjs', ['1', 'reraise']);
    await app.waitFor(/ready/);
    await app.kill('SIGTERM');
    const r = await app.result;
    expect(r.stdout).toContain('cleanup');
    expect(r.code).toBe(143);
  });
});
