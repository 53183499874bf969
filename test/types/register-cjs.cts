// `require('tsinit/register')` from CommonJS.
import register = require('tsinit/register');
import type { Reaper } from 'tsinit';

const r: Reaper | undefined = register.reaper;
void r;
