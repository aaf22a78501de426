// Tests for the tgtadm error table (tgt usr/tgtadm_error.h, tgtadm.c strerror).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as e from './errors.js';
import { ModuleError, type ModuleErrorReason } from '../modules/module-error.js';

test('numbering follows tgt enum order', () => {
  assert.equal(e.TGTADM_NO_DRIVER, 3);
  assert.equal(e.TGTADM_TARGET_EXIST, 9);
  assert.equal(e.TGTADM_LUN_EXIST, 10);
  assert.equal(e.TGTADM_INVALID_REQUEST, 17);
  assert.equal(e.TGTADM_DRIVER_ACTIVE, 21);
  assert.equal(e.TGTADM_PREVENT_REMOVAL, 24);
});

test('strings are verbatim', () => {
  assert.equal(e.tgtadmStrerror(4), "can't find the target");
  assert.equal(e.tgtadmStrerror(13), 'this access control rule does not exist');
  assert.equal(e.tgtadmStrerror(21), 'this driver is busy');
  assert.equal(e.tgtadmStrerror(22), "this operation isn't supported");
  assert.equal(e.tgtadmStrerror(e.TGTADM_INVALID_REQUEST), 'invalid request');
  assert.equal(e.tgtadmStrerror(e.TGTADM_LUN_EXIST), 'this logical unit number already exists');
  assert.equal(e.tgtadmStrerror(e.TGTADM_BINDING_EXIST), 'this binding already exists');
  assert.equal(e.tgtadmStrerror(99), '(unknown tgtadm_errno)');
});

test('TgtadmError carries its code', () => {
  const err = new e.TgtadmError(e.TGTADM_DRIVER_ACTIVE);
  assert.equal(err.message, 'this driver is busy');
  assert.equal(e.tgtadmCodeOf(err), 21);
  assert.equal(e.tgtadmCodeOf(new Error('x')), e.TGTADM_UNKNOWN_ERR);
});

test('registry refusals map to tgt codes: no driver, driver busy, unknown error', () => {
  const code = (r: ModuleErrorReason): number => e.tgtadmCodeOf(new ModuleError(r));
  assert.equal(code('not-found'), e.TGTADM_NO_DRIVER);
  assert.equal(code('not-ready'), e.TGTADM_NO_DRIVER);
  assert.equal(code('load-failed'), e.TGTADM_NO_DRIVER);
  assert.equal(code('exists'), e.TGTADM_DRIVER_ACTIVE);
  assert.equal(code('busy'), e.TGTADM_DRIVER_ACTIVE);
  assert.equal(code('init-failed'), e.TGTADM_UNKNOWN_ERR);
  assert.equal(new ModuleError('busy').message, 'this driver is busy');
  assert.ok(e.hasTgtadmCode(new ModuleError('busy')) && !e.hasTgtadmCode(new Error('x')));
});

test('LLD statuses map to tgt codes', () => {
  assert.equal(e.lldStatusCode('ok'), e.TGTADM_SUCCESS);
  assert.equal(e.lldStatusCode('no-target'), e.TGTADM_NO_TARGET);
  assert.equal(e.lldStatusCode('no-session'), e.TGTADM_NO_SESSION);
  assert.equal(e.lldStatusCode('no-connection'), e.TGTADM_NO_CONNECTION);
  assert.equal(e.lldStatusCode('invalid'), e.TGTADM_INVALID_REQUEST);
});
