/**
 * The library as one file. scripts/build/bundle.mjs bundles this module into
 * dist/library.cjs and makes dist/index.js, dist/index.mjs, dist/register.js
 * and dist/register.mjs thin entries over it: loading one file is several
 * milliseconds faster than resolving and loading each module, and every
 * entry shares the one instance (one signal hub, one owner of waitpid).
 * A build by tsc alone (no bundle) keeps the same entries, one file per module.
 * @internal
 * @module
 */
import * as api from './index';

export { api };

/**
 * The `node-tsinit/register` module: evaluated (so registering) on the first
 * call only, from this same bundle.
 */
export function register(): typeof import('./register') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('./register') as typeof import('./register');
}
