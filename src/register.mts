/**
 * ESM entry of `node-tsinit/register`: the same module instance as the CommonJS
 * one, so importing both registers once.
 * @module
 */
export { reaper } from './register.js';
