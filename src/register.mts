/**
 * ESM entry of `node-tsinit/register`: the same module instance as the CommonJS
 * one, so importing both registers once. The build (scripts/build/bundle.mjs)
 * replaces the emitted register.mjs with one over dist/library.cjs.
 * @module
 */
export { reaper } from './register.js';
