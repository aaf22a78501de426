// Tests for tgtd's `--iscsi` option string: portals, NOP settings and stgt's login_timeout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseLldArgs, parsePortal, formatPortal } from './portal.js';

test('portals, nop settings and login_timeout', () => {
  const a = parseLldArgs('portal=127.0.0.1:3261,portal=[::1]:3262,nop_interval=5,nop_count=3,login_timeout=30');
  assert.deepEqual(a.portals, [{ host: '127.0.0.1', port: 3261 }, { host: '::1', port: 3262 }]);
  assert.equal(a.nopInterval, 5);
  assert.equal(a.nopCount, 3);
  assert.equal(a.loginTimeout, 30);
  assert.equal(parseLldArgs('').loginTimeout, null);
  assert.equal(parseLldArgs('login_timeout=0').loginTimeout, 0);
});

test('bad values and unknown keys are errors', () => {
  assert.throws(() => parseLldArgs('login_timeout=-1'), /bad login_timeout/);
  assert.throws(() => parseLldArgs('login_timeout='), /bad login_timeout/);
  assert.throws(() => parseLldArgs('nop_count=1.5'), /bad nop_count/);
  assert.throws(() => parseLldArgs('portal=host:port'), /bad portal/);
  assert.throws(() => parseLldArgs('login_timout=5'), /unknown iscsi option 'login_timout'/);
});

test('portal text round trip', () => {
  assert.equal(formatPortal(parsePortal('[::1]:3260')!), '[::1]:3260');
  assert.equal(formatPortal(parsePortal('10.0.0.1')!), '10.0.0.1:3260');
});
