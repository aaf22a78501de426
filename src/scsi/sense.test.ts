// Unit tests: SPC-4 4.5 fixed and descriptor sense data, byte for byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Reason, buildSense, fieldPointer } from './sense.js';

test('fixed format without INFORMATION', () => {
  const b = buildSense(Reason.LbaOutOfRange, false);
  assert.deepEqual([...b], [0x70, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x21, 0x00, 0, 0, 0, 0]);
});

test('fixed format with INFORMATION (miscompare offset)', () => {
  const b = buildSense(Reason.MiscompareDuringVerify, false, 0x1234);
  assert.deepEqual([...b], [0xf0, 0, 0x0e, 0, 0, 0x12, 0x34, 10, 0, 0, 0, 0, 0x1d, 0x00, 0, 0, 0, 0]);
});

test('descriptor format with information descriptor', () => {
  const b = buildSense(Reason.MiscompareDuringVerify, true, 5);
  assert.deepEqual([...b], [0x72, 0x0e, 0x1d, 0x00, 0, 0, 0, 12, 0x00, 0x0a, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 5]);
  assert.deepEqual([...buildSense(Reason.WriteProtected, true)], [0x72, 0x07, 0x27, 0x00, 0, 0, 0, 0]);
});

test('field pointer: fixed format bytes 15..17, descriptor format sense key specific descriptor', () => {
  const f = buildSense(Reason.InvalidFieldInParamList, false, -1, fieldPointer(300, -1, false));
  // SKSV=1, C/D=0 (parameter list), BPV=0; FIELD POINTER 300
  assert.deepEqual([...f.subarray(15, 18)], [0x80, 0x01, 0x2c]);
  const d = buildSense(Reason.InvalidFieldInCdb, true, -1, fieldPointer(1, 3));
  assert.deepEqual([...d], [0x72, 0x05, 0x24, 0x00, 0, 0, 0, 8, 0x02, 0x06, 0, 0, 0xcb, 0x00, 0x01, 0]);
});
