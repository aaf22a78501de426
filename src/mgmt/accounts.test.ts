// Unit tests: the CHAP account list (tgt target.c account_* semantics) and the names it refuses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AccountStore } from './accounts.js';
import { TGTADM_INVALID_REQUEST, TGTADM_NO_USER, TGTADM_SUCCESS, TGTADM_USER_EXIST } from './errors.js';

test('accounts: newest first in show, a second add of a name is USER_EXIST, delete by the shown name', () => {
  const a = new AccountStore();
  assert.equal(a.showText(), '');
  assert.equal(a.add('u1', 'p1'), TGTADM_SUCCESS);
  assert.equal(a.add('user@example.org', 'p,2'), TGTADM_SUCCESS);
  assert.equal(a.add('u1', 'other'), TGTADM_USER_EXIST);
  assert.equal(a.showText(), 'Account list:\n    user@example.org\n    u1\n');
  assert.equal(a.delete('u1', []), TGTADM_SUCCESS);
  assert.equal(a.delete('u1', []), TGTADM_NO_USER);
  assert.equal(a.password('user@example.org'), 'p,2');
});

test('accounts: a name with a control character is an invalid request and changes nothing (show could not name it)', () => {
  const a = new AccountStore();
  assert.equal(a.add('u0', 'p'), TGTADM_SUCCESS);
  for (const bad of ['u2\n', 'u2\nu3', 'u2\0', '\tu2', 'u2\r', 'u\x7f']) {
    assert.equal(a.add(bad, 'p'), TGTADM_INVALID_REQUEST, JSON.stringify(bad));
  }
  assert.equal(a.showText(), 'Account list:\n    u0\n');
});
