// Unit test: countTestcuLog agrees with shared/tools/testcu-summary.py and tells suite-cleanup failures apart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countTestcuLog } from './testcu-count.js';

const LOG = [
  'Suite: A',
  '  Test: Good ...',
  '    [OK] fine',
  'passed',
  '  Test: Skip ...',
  '    [SKIPPED] not here',
  'passed',
  '  Test: Bad ...',
  '    [FAILED] a command failed',
  'passed',
  '  Test: Last ...',
  '    [OK] fine',
  'passed    Send PRIN/READ_KEYS',
  '    [FAILED] PRIN command: failed with sense.',
  '',
  'Suite: iSCSIdatasn',
  '  Test: iSCSIDataSnInvalid ...',
  '    [FAILED] WRITE10 command failed',
  'passed    Send PRIN/READ_KEYS',
  'Suite: B',
  '  Test: Assert ...',
  '    [OK] fine',
  'FAILED',
  '    1. x.c:1  - CU_ASSERT(0)    Send PRIN/READ_KEYS',
  '  Test: Inline ...FAILED',
].join('\n');

test('passed, skipped, failed; cleanup [FAILED] after the verdict; datasn judged by CUnit', () => {
  const c = countTestcuLog(LOG);
  assert.deepEqual(c.passed, ['A.Good', 'iSCSIdatasn.iSCSIDataSnInvalid']);
  assert.deepEqual(c.skipped, ['A.Skip']);
  assert.deepEqual(c.failed, ['A.Bad', 'A.Last', 'B.Assert', 'B.Inline']);
  assert.deepEqual(c.afterVerdict, ['A.Last']);
  assert.deepEqual(c.cunitFailed, ['B.Assert', 'B.Inline']);
});

test('iSCSIDataSnInvalid fails when CUnit says FAILED', () => {
  const c = countTestcuLog('Suite: iSCSIdatasn\n  Test: iSCSIDataSnInvalid ...\n    [FAILED] x\nFAILED\n    1. y.c:116 - z\n');
  assert.deepEqual(c.failed, ['iSCSIdatasn.iSCSIDataSnInvalid']);
  assert.deepEqual(c.afterVerdict, []);
  assert.deepEqual(c.cunitFailed, ['iSCSIdatasn.iSCSIDataSnInvalid']);
});
