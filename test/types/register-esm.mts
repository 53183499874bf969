// `import 'tsinit/register'` from an ES module, and its one export.
import 'tsinit/register';
import { reaper } from 'tsinit/register';
import type { Reaper } from 'tsinit';

const r: Reaper | undefined = reaper;
// @ts-expect-error reaper may be undefined (worker threads): must be checked before use
reaper.stop();
void r;
