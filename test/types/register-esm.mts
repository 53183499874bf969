// `import 'node-tsinit/register'` from an ES module, and its one export.
import 'node-tsinit/register';
import { reaper } from 'node-tsinit/register';
import type { Reaper } from 'node-tsinit';

const r: Reaper | undefined = reaper;
// @ts-expect-error reaper may be undefined (worker threads): must be checked before use
reaper.stop();
void r;
