// Unit tests: tgt-admin's Getopt::Long emulation (expected values observed from Perl Getopt::Long 2.52).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTgtAdminArgs } from './tgt-admin-args.js';
import { perlSplitSpace } from './tgt-admin-core.js';

test('long options with one or two dashes, prefixes, = values', () => {
  const a = parseTgtAdminArgs(['-ex', '--cont', '57', '--delete=a=b', '-c=foo', '-sh', 'stray']);
  assert.equal(a.execute, true);
  assert.equal(a.controlPort, '57');
  assert.equal(a.delete, 'a=b');
  assert.equal(a.conf, 'foo');
  assert.equal(a.show, true);
  assert.deepEqual(a.warnings, []);
});

test('Getopt::Long warnings, and parsing carries on', () => {
  assert.deepEqual(parseTgtAdminArgs(['--d', 'x']).warnings, ['Option d is ambiguous (delete, dump)\n']);
  assert.deepEqual(parseTgtAdminArgs(['--co', '5']).warnings, ['Option co is ambiguous (conf, control-port)\n']);
  assert.deepEqual(parseTgtAdminArgs(['-C57']).warnings, ['Unknown option: C57\n']);
  assert.deepEqual(parseTgtAdminArgs(['--Execute']).warnings, ['Unknown option: Execute\n']);
  assert.deepEqual(parseTgtAdminArgs(['--execute=1']).warnings, ['Option execute does not take an argument\n']);
  assert.deepEqual(parseTgtAdminArgs(['--delete']).warnings, ['Option delete requires an argument\n']);
  assert.deepEqual(parseTgtAdminArgs(['--conf=']).warnings, ['Option conf requires an argument\n']);
});

test('a mandatory string takes the next word even if it looks like an option; -- ends options', () => {
  assert.equal(parseTgtAdminArgs(['--delete', '-e']).delete, '-e');
  assert.equal(parseTgtAdminArgs(['--delete', '-e']).execute, false);
  assert.equal(parseTgtAdminArgs(['--', '-e']).execute, false);
  assert.equal(parseTgtAdminArgs(['-i']).ignoreErrors, true);
});

test('usage when argv is empty or starts with an empty word', () => {
  assert.equal(parseTgtAdminArgs([]).noArgs, true);
  assert.equal(parseTgtAdminArgs(['', '-e']).noArgs, true);
  assert.equal(parseTgtAdminArgs(['0']).noArgs, false);
});

test('perl split / / keeps leading empty fields and drops trailing ones', () => {
  assert.deepEqual(perlSplitSpace('alice secret'), ['alice', 'secret']);
  assert.deepEqual(perlSplitSpace(' alice secret  '), ['', 'alice', 'secret']);
  assert.deepEqual(perlSplitSpace('alice  secret'), ['alice', '', 'secret']);
});
