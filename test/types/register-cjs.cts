// `require('node-tsinit/register')` from CommonJS.
import register = require('node-tsinit/register');
import type { Reaper } from 'node-tsinit';

const r: Reaper | undefined = register.reaper;
void r;
