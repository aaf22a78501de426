// Tests for tgtd's log sinks (log.ts) and tgt's -d values (options.ts parseDebugLevel).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseSink, formatLine, priorityOf } from './log.js';
import { parseDebugLevel, parseDaemonArgs, UsageError } from './options.js';

test('the sink: syslog unless -f; with -f the journal only when JOURNAL_STREAM is stderr itself', () => {
  const id = { dev: 14, ino: 98765 };
  assert.equal(chooseSink(false, undefined, id), 'syslog');
  assert.equal(chooseSink(false, '14:98765', id), 'syslog', '-D keeps the logger, as tgt');
  assert.equal(chooseSink(true, undefined, id), 'stderr');
  assert.equal(chooseSink(true, '14:98765', id), 'journal');
  assert.equal(chooseSink(true, '14:98766', id), 'stderr', 'a stream inherited from a parent unit');
  assert.equal(chooseSink(true, 'junk', id), 'stderr');
  assert.equal(chooseSink(true, '14:98765', null), 'stderr');
});

test('lines: tgt\'s stderr form, and one <N> prefix per journal line', () => {
  assert.equal(formatLine('stderr', 'warn', 'a'), 'tgtd: warn: a\n');
  assert.equal(formatLine('journal', 'error', 'x\n  at y'), '<3>error: x\n<3>error:   at y\n');
  assert.deepEqual(['error', 'warn', 'info', 'debug'].map(priorityOf), [3, 4, 6, 7]);
});

test('-d takes 0 or 1 (strtoull base 0, as tgt); others fail with tgt\'s text and errno', () => {
  assert.equal(parseDebugLevel('1'), 1);
  assert.equal(parseDebugLevel('0x0'), 0);
  assert.equal(parseDaemonArgs(['-d', '1']).debug, true);
  assert.equal(parseDaemonArgs(['--debug', '0']).debug, false);
  const fails: [string, string, number][] = [['2', 'out of range', 34], ['x', 'invalid', 22], ['-1', 'invalid', 22], ['', 'invalid', 22]];
  for (const [v, why, status] of fails) {
    assert.throws(() => parseDebugLevel(v), (e: unknown) => e instanceof UsageError && e.message === `-d argument value '${v}' ${why}` && e.status === status, v);
  }
});

test('--workers N: 0 by default, -t does not select it, out-of-range and non-numbers refused', () => {
  assert.equal(parseDaemonArgs([]).workers, 0);
  assert.equal(parseDaemonArgs(['-t', '4']).workers, 0, "tgt's -t sizes a per-LU pool, not event loops");
  assert.equal(parseDaemonArgs(['--workers', '2']).workers, 2);
  assert.equal(parseDaemonArgs(['--workers=0']).workers, 0);
  for (const v of ['257', '-1', 'two', '']) assert.throws(() => parseDaemonArgs(['--workers', v]), UsageError, v);
});
