/**
 * The command line and its environment twins (src/init/options.ts), as pure
 * functions: getopt-style clustering, where options stop, every env twin,
 * precedence, and malformed values as usage errors.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_GRACE_SECONDS, parseCommandLine, UsageError, USAGE } from '../../src/init/options';

const parse = parseCommandLine;

function usageError(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return err as UsageError;
  }
  throw new Error('expected a UsageError, nothing was thrown');
}

describe('defaults', () => {
  it('grace defaults to 30 s, forwarding to the group, no subreaper, no rewrites, verbosity 0', () => {
    const o = parse(['app']);
    expect(DEFAULT_GRACE_SECONDS).toBe(30);
    expect(o.grace).toBe(30);
    expect(o.group).toBe(true);
    expect(o.subreaper).toBe(false);
    expect(o.expectExit.size).toBe(0);
    expect(o.rewrite.size).toBe(0);
    expect(o.pdeathsig).toBeNull();
    expect(o.verbosity).toBe(0);
    expect(o.warnOnReap).toBe(false);
    expect(o.action).toBe('run');
    expect(o.command).toEqual(['app']);
  });
});

describe('short options cluster as getopt does', () => {
  it('-vvv counts three', () => {
    expect(parse(['-vvv', 'app']).verbosity).toBe(3);
  });
  it('-v -v counts two, and verbosity is capped at 3', () => {
    expect(parse(['-v', '-v', 'app']).verbosity).toBe(2);
    expect(parse(['-vvvvv', 'app']).verbosity).toBe(3);
  });
  it('-sg sets subreaper and group', () => {
    const o = parse(['-c', '-sg', 'app']);
    expect(o.subreaper).toBe(true);
    expect(o.group).toBe(true);
  });
  it('-e143 takes the rest of the cluster as its value', () => {
    expect([...parse(['-e143', 'app']).expectExit]).toEqual([143]);
  });
  it('-e 143 takes the next argument as its value', () => {
    const o = parse(['-e', '143', 'app']);
    expect([...o.expectExit]).toEqual([143]);
    expect(o.command).toEqual(['app']);
  });
  it('-vse130 mixes flags with a trailing valued option', () => {
    const o = parse(['-vse130', 'app']);
    expect(o.verbosity).toBe(1);
    expect(o.subreaper).toBe(true);
    expect([...o.expectExit]).toEqual([130]);
  });
  it('-t2.5 and -t 2.5 both give a fractional grace', () => {
    expect(parse(['-t2.5', 'app']).grace).toBe(2.5);
    expect(parse(['-t', '2.5', 'app']).grace).toBe(2.5);
    expect(parse(['-t', '.5', 'app']).grace).toBe(0.5);
    expect(parse(['-t', '0', 'app']).grace).toBe(0);
  });
  it('-e is repeatable', () => {
    expect([...parse(['-e', '143', '-e130', 'app']).expectExit].sort()).toEqual([130, 143]);
  });
  it('-r is repeatable and takes names or numbers, RTMIN+n included; TO=0 drops', () => {
    const o = parse(['-r', '15:3', '-r', 'SIGINT:0', '-r', 'RTMIN+2:USR1', 'app']);
    expect(o.rewrite.get(15)).toBe(3);
    expect(o.rewrite.get(2)).toBe(0);
    expect(o.rewrite.get(36)).toBe(10);
  });
  it('-p takes a signal name or number', () => {
    expect(parse(['-p', 'SIGUSR2', 'app']).pdeathsig).toBe(12);
    expect(parse(['-pTERM', 'app']).pdeathsig).toBe(15);
    expect(parse(['-p', 'RTMAX-1', 'app']).pdeathsig).toBe(63);
  });
  it('-c forwards to the child only; -w warns on reap', () => {
    expect(parse(['-c', 'app']).group).toBe(false);
    expect(parse(['-w', 'app']).warnOnReap).toBe(true);
  });
});

describe('long options', () => {
  it('--grace=5 and --grace 5 are the same', () => {
    expect(parse(['--grace=5', 'app']).grace).toBe(5);
    const o = parse(['--grace', '5', 'app']);
    expect(o.grace).toBe(5);
    expect(o.command).toEqual(['app']);
  });
  it('every long name maps to its option', () => {
    const o = parse(['--single-child', '--subreaper', '--expect-exit=3', '--pdeathsig', 'HUP',
      '--rewrite=TERM:QUIT', '--verbose', '--verbose', '--warn-on-reap', 'app']);
    expect(o.group).toBe(false);
    expect(o.subreaper).toBe(true);
    expect([...o.expectExit]).toEqual([3]);
    expect(o.pdeathsig).toBe(1);
    expect(o.rewrite.get(15)).toBe(3);
    expect(o.verbosity).toBe(2);
    expect(o.warnOnReap).toBe(true);
    expect(parse(['--single-child', '--pgroup', 'app']).group).toBe(true);
  });
  it('--help, -h, --version, -V, --license, -l, -L need no PROGRAM', () => {
    expect(parse(['--help']).action).toBe('help');
    expect(parse(['-h']).action).toBe('help');
    expect(parse(['--version']).action).toBe('version');
    expect(parse(['-V']).action).toBe('version');
    expect(parse(['--license']).action).toBe('license');
    expect(parse(['-l']).action).toBe('license');
    expect(parse(['-L']).action).toBe('license');
  });
  it('a flag given a value is a usage error', () => {
    expect(usageError(() => parse(['--subreaper=1', 'app'])).message).toMatch(/subreaper/);
  });
});

describe('options stop at the first non-option or at --', () => {
  it('tsinit ls -l runs `ls -l`', () => {
    const o = parse(['ls', '-l']);
    expect(o.command).toEqual(['ls', '-l']);
    expect(o.verbosity).toBe(0);
  });
  it('options after PROGRAM belong to PROGRAM', () => {
    const o = parse(['-v', 'app', '-v', '--grace=1', '--', 'x']);
    expect(o.verbosity).toBe(1);
    expect(o.grace).toBe(30);
    expect(o.command).toEqual(['app', '-v', '--grace=1', '--', 'x']);
  });
  it('-- ends options even before something that looks like one', () => {
    const o = parse(['-s', '--', '-v', 'arg']);
    expect(o.subreaper).toBe(true);
    expect(o.command).toEqual(['-v', 'arg']);
    expect(o.verbosity).toBe(0);
  });
  it('only the first -- is consumed', () => {
    expect(parse(['--', '--', 'x']).command).toEqual(['--', 'x']);
  });
  it('a lone - is PROGRAM, not an option', () => {
    expect(parse(['-']).command).toEqual(['-']);
  });
});

describe('bad usage is a UsageError', () => {
  it.each([
    [['--bogus', 'app'], /--bogus/],
    [['-Z', 'app'], /-Z/],
    [[], /PROGRAM/],
    [['-v'], /PROGRAM/],
    [['--'], /PROGRAM/],
    [['-t'], /-t/],
    [['--grace'], /grace/],
    [['-t', 'abc', 'app'], /abc/],
    [['-t', '-1', 'app'], /-1/],
    [['--grace=', 'app'], /grace/],
    [['-e', '256', 'app'], /256/],
    [['-e', 'x', 'app'], /'x'/],
    [['-p', 'SIGNOPE', 'app'], /SIGNOPE/],
    [['-p', '65', 'app'], /65/],
    [['-r', '15', 'app'], /15/],
    [['-r', '15:99', 'app'], /99/],
    [['-r', 'NOPE:3', 'app'], /NOPE/],
    [['-r', 'CHLD:15', 'app'], /CHLD/],
    [['-r', 'KILL:15', 'app'], /KILL/],
  ])('%j', (argv, re) => {
    expect(usageError(() => parse(argv as string[])).message).toMatch(re);
  });
  it('carries a stable code', () => {
    expect(usageError(() => parse([])).code).toBe('ERR_TSINIT_USAGE');
  });
});

describe('environment twins', () => {
  it('TSINIT_GRACE sets the grace, fractions allowed', () => {
    expect(parse(['app'], { TSINIT_GRACE: '7' }).grace).toBe(7);
    expect(parse(['app'], { TSINIT_GRACE: '0.25' }).grace).toBe(0.25);
  });
  it('TSINIT_SINGLE_CHILD=1 forwards to the child only, 0 keeps the group', () => {
    expect(parse(['app'], { TSINIT_SINGLE_CHILD: '1' }).group).toBe(false);
    expect(parse(['app'], { TSINIT_SINGLE_CHILD: '0' }).group).toBe(true);
  });
  it('DUMB_INIT_SETSID=0 means single child, 1 means group', () => {
    expect(parse(['app'], { DUMB_INIT_SETSID: '0' }).group).toBe(false);
    expect(parse(['app'], { DUMB_INIT_SETSID: '1' }).group).toBe(true);
  });
  it('TINI_KILL_PROCESS_GROUP (any value, as tini) forwards to the group', () => {
    expect(parse(['app'], { TINI_KILL_PROCESS_GROUP: '1' }).group).toBe(true);
    expect(parse(['app'], { TINI_KILL_PROCESS_GROUP: '' }).group).toBe(true);
  });
  it('TSINIT_SUBREAPER=1 and TINI_SUBREAPER (any value, as tini) register as subreaper', () => {
    expect(parse(['app'], { TSINIT_SUBREAPER: '1' }).subreaper).toBe(true);
    expect(parse(['app'], { TSINIT_SUBREAPER: '0' }).subreaper).toBe(false);
    expect(parse(['app'], { TINI_SUBREAPER: '1' }).subreaper).toBe(true);
    expect(parse(['app'], { TINI_SUBREAPER: '' }).subreaper).toBe(true);
  });
  it('TSINIT_EXPECT_EXIT=143,130 remaps both', () => {
    expect([...parse(['app'], { TSINIT_EXPECT_EXIT: '143,130' }).expectExit].sort()).toEqual([130, 143]);
    expect([...parse(['app'], { TSINIT_EXPECT_EXIT: '143, 130' }).expectExit].sort()).toEqual([130, 143]);
  });
  it('TSINIT_PDEATHSIG names the parent-death signal', () => {
    expect(parse(['app'], { TSINIT_PDEATHSIG: 'SIGTERM' }).pdeathsig).toBe(15);
    expect(parse(['app'], { TSINIT_PDEATHSIG: '10' }).pdeathsig).toBe(10);
  });
  it('TSINIT_REWRITE=15:3,2:0 rewrites TERM to QUIT and drops INT', () => {
    const o = parse(['app'], { TSINIT_REWRITE: '15:3,2:0' });
    expect(o.rewrite.get(15)).toBe(3);
    expect(o.rewrite.get(2)).toBe(0);
    expect(o.rewrite.size).toBe(2);
  });
  it('TSINIT_VERBOSITY sets the verbosity', () => {
    expect(parse(['app'], { TSINIT_VERBOSITY: '2' }).verbosity).toBe(2);
  });
  it.each([
    ['0', -1, 'silent but for errors'],
    ['1', 0, 'warnings: tini\'s quiet default'],
    ['2', 1, 'info'],
    ['3', 2, 'debug'],
    ['4', 3, 'trace'],
    ['9', 3, 'trace'],
  ])('TINI_VERBOSITY=%s means what it means to tini (tsinit level %i: %s)', (tini, level) => {
    expect(parse(['app'], { TINI_VERBOSITY: tini }).verbosity).toBe(level);
  });
  it('TSINIT_VERBOSITY wins over TINI_VERBOSITY', () => {
    expect(parse(['app'], { TINI_VERBOSITY: '3', TSINIT_VERBOSITY: '1' }).verbosity).toBe(1);
  });
  it('DUMB_INIT_DEBUG=1 turns on debug output; 0 leaves the verbosity alone', () => {
    expect(parse(['app'], { DUMB_INIT_DEBUG: '1' }).verbosity).toBe(2);
    expect(parse(['app'], { DUMB_INIT_DEBUG: '0' }).verbosity).toBe(0);
    expect(parse(['app'], { DUMB_INIT_DEBUG: '1', TINI_VERBOSITY: '4' }).verbosity).toBe(3);
    expect(parse(['app'], { DUMB_INIT_DEBUG: '1', TSINIT_VERBOSITY: '1' }).verbosity).toBe(1);
  });
  it('TSINIT_WARN_ON_REAP=1 warns on reap', () => {
    expect(parse(['app'], { TSINIT_WARN_ON_REAP: '1' }).warnOnReap).toBe(true);
  });
});

describe('the command line wins over the environment', () => {
  it('-t over TSINIT_GRACE', () => {
    expect(parse(['-t', '2', 'app'], { TSINIT_GRACE: '9' }).grace).toBe(2);
  });
  it('-g over TSINIT_SINGLE_CHILD and DUMB_INIT_SETSID; -c over TINI_KILL_PROCESS_GROUP', () => {
    expect(parse(['-g', 'app'], { TSINIT_SINGLE_CHILD: '1' }).group).toBe(true);
    expect(parse(['-g', 'app'], { DUMB_INIT_SETSID: '0' }).group).toBe(true);
    expect(parse(['-c', 'app'], { TINI_KILL_PROCESS_GROUP: '1' }).group).toBe(false);
  });
  it('-s over TSINIT_SUBREAPER=0', () => {
    expect(parse(['-s', 'app'], { TSINIT_SUBREAPER: '0' }).subreaper).toBe(true);
  });
  it('-e replaces TSINIT_EXPECT_EXIT', () => {
    expect([...parse(['-e', '1', 'app'], { TSINIT_EXPECT_EXIT: '143,130' }).expectExit]).toEqual([1]);
  });
  it('-r replaces TSINIT_REWRITE', () => {
    const o = parse(['-r', '10:12', 'app'], { TSINIT_REWRITE: '15:3,2:0' });
    expect([...o.rewrite]).toEqual([[10, 12]]);
  });
  it('-p over TSINIT_PDEATHSIG', () => {
    expect(parse(['-p', 'HUP', 'app'], { TSINIT_PDEATHSIG: 'TERM' }).pdeathsig).toBe(1);
  });
  it('-v over TSINIT_VERBOSITY and TINI_VERBOSITY', () => {
    expect(parse(['-v', 'app'], { TSINIT_VERBOSITY: '3' }).verbosity).toBe(1);
    expect(parse(['-vv', 'app'], { TINI_VERBOSITY: '0' }).verbosity).toBe(2);
  });
});

describe('a malformed value in the environment is a usage error', () => {
  it.each([
    ['TSINIT_GRACE', 'abc'],
    ['TSINIT_GRACE', '-5'],
    ['TSINIT_SINGLE_CHILD', 'maybe'],
    ['TSINIT_SUBREAPER', '2'],
    ['DUMB_INIT_SETSID', 'x'],
    ['DUMB_INIT_DEBUG', 'x'],
    ['TINI_VERBOSITY', 'loud'],
    ['TSINIT_EXPECT_EXIT', '143,abc'],
    ['TSINIT_EXPECT_EXIT', '300'],
    ['TSINIT_PDEATHSIG', 'SIGNOPE'],
    ['TSINIT_REWRITE', '15:3,2'],
    ['TSINIT_REWRITE', '15:NOPE'],
    ['TSINIT_VERBOSITY', 'loud'],
    ['TINI_VERBOSITY', 'x'],
    ['TSINIT_WARN_ON_REAP', 'sometimes'],
  ])('%s=%s', (name, value) => {
    expect(usageError(() => parse(['app'], { [name]: value })).message).toContain(name);
  });
  it('even when the command line sets the same option', () => {
    usageError(() => parse(['-t', '5', 'app'], { TSINIT_GRACE: 'abc' }));
  });
});

describe('usage text', () => {
  it('names every option and its environment twin', () => {
    for (const word of ['--grace', '--pgroup', '--single-child', '--subreaper', '--expect-exit', '--pdeathsig',
      '--rewrite', '--verbose', '--warn-on-reap', '--license', '--version', '--help',
      'TSINIT_GRACE', 'TINI_KILL_PROCESS_GROUP', 'DUMB_INIT_SETSID', 'TSINIT_SUBREAPER', 'TINI_SUBREAPER',
      'TSINIT_EXPECT_EXIT', 'TSINIT_PDEATHSIG', 'TSINIT_REWRITE', 'TSINIT_VERBOSITY', 'TINI_VERBOSITY',
      'TSINIT_WARN_ON_REAP']) {
      expect(USAGE).toContain(word);
    }
  });
});
