// RFC 7143 11.4.5 residuals: overflow when the CDB wants more than the initiator expects, underflow when less moved.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { residual, residualFlags } from './responses.js';
import { Residual } from './pdu-write.js';

test('residual: overflow, underflow, exact, and unknown CDB length', () => {
  assert.equal(residual(512, 1024, 512), -512); // CDB wants 1024, initiator expects 512
  assert.equal(residualFlags(-512), Residual.Overflow);
  assert.equal(residual(4096, 512, 512), 3584); // CDB wants 512 of an expected 4096
  assert.equal(residualFlags(3584), Residual.Underflow);
  assert.equal(residual(4096, 4096, 1000), 3096); // short Data-In (e.g. INQUIRY allocation)
  assert.equal(residual(512, 512, 512), 0);
  assert.equal(residualFlags(0), 0);
  assert.equal(residual(100, -1, 36), 64); // no CDB length: what moved decides
});
