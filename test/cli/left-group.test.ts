import { afterEach, expect, it } from 'vitest';
import { killAll, start } from '../support/helpers';

afterEach(killAll);

it('a child that leaves its process group still receives forwarded signals', async () => {
  // The child moves itself into tsinit's own group, so its original group is empty.
  const script = 'setpgrp(0, getpgrp(getppid())) or die "setpgid: $!"; $| = 1; '
    + '$SIG{TERM} = sub { print "GOT-TERM\\n"; exit 0 }; print "READY\\n"; sleep 30;';
  const t = start(['-t', '5', '--', 'perl', '-e', script], { pid1: false });
  await t.waitFor(/READY/);
  t.kill('SIGTERM');
  const r = await t.result;
  expect(r.stdout).toContain('GOT-TERM');
  expect(r.code).toBe(0);
});
