// Byte-exact tests of the RFC 7143 11 BHS accessors, target PDU writers and AHS helpers.
import { TmfResponse } from '../scsi/api.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as P from './pdu.js';
import * as W from './pdu-write.js';
import { fullCdb, bidiReadLength, ahsValid, encodeExtendedCdbAhs, encodeBidiReadLengthAhs } from './ahs.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

test('SCSI Command accessors', () => {
  const b = hex(`41 e1 0000 02 000200 0000000000000000 11223344 00001000 0000002a 00000007
    2a00000000100000080000000000000000`.replace(/\s+/g, '')).subarray(0, 48);
  assert.equal(b.length, 48);
  assert.equal(P.opcode(b), P.Op.ScsiCommand);
  assert.equal(P.isImmediate(b), true);
  assert.equal(P.isFinal(b), true);
  assert.equal(P.readBit(b), true);
  assert.equal(P.writeBit(b), true);
  assert.equal(P.attr(b), 1);
  assert.equal(P.totalAHSLength(b), 8);
  assert.equal(P.dataSegmentLength(b), 512);
  assert.equal(P.lun(b), 0);
  assert.equal(P.itt(b), 0x11223344);
  assert.equal(P.expectedDataTransferLength(b), 4096);
  assert.equal(P.cmdSN(b), 42);
  assert.equal(P.expStatSN(b), 7);
  assert.deepEqual([...P.cdb(b).subarray(0, 3)], [0x2a, 0x00, 0x00]);
});

test('LUN decoding and encoding (SAM-5 peripheral and flat)', () => {
  const b = Buffer.alloc(48);
  P.writeLun(b, 5);
  assert.deepEqual([...b.subarray(8, 16)], [0, 5, 0, 0, 0, 0, 0, 0]);
  assert.equal(P.lun(b), 5);
  P.writeLun(b, 300);
  assert.deepEqual([...b.subarray(8, 10)], [0x41, 0x2c]);
  assert.equal(P.lun(b), 300);
  b[8] = 0x01; b[9] = 0x00; // peripheral, bus 1: not a LUN we serve
  assert.equal(P.lun(b), -1);
  b[8] = 0xc0; // extended addressing
  assert.equal(P.lun(b), -1);
});

test('Login request fields', () => {
  const b = hex('43 87 00 00 00 00002a 400001370000 0000 00000001 0000 0000 00000000 00000000' + '00'.repeat(16));
  assert.equal(b.length, 48);
  const r = P.parseLoginRequest(b, Buffer.alloc(0));
  assert.equal(r.transit, true);
  assert.equal(r.cont, false);
  assert.equal(r.csg, 1);
  assert.equal(r.nsg, 3);
  assert.equal(r.versionMax, 0);
  assert.deepEqual([...r.isid], [0x40, 0, 1, 0x37, 0, 0]);
  assert.equal(r.tsih, 0);
  assert.equal(r.itt, 1);
  assert.equal(P.dataSegmentLength(b), 42);
});

test('TMF, Data-Out, logout, SNACK accessors', () => {
  const b = Buffer.alloc(48);
  b[0] = 0x02; b[1] = 0x81;
  b.writeUInt32BE(0xaabbccdd, 20); b.writeUInt32BE(9, 32); b.writeUInt32BE(4, 36); b.writeUInt32BE(8192, 40); b.writeUInt32BE(3, 44);
  assert.equal(P.tmfFunction(b), 1);
  assert.equal(P.refTaskTag(b), 0xaabbccdd);
  assert.equal(P.refCmdSN(b), 9);
  assert.equal(P.dataSN(b), 4);
  assert.equal(P.bufferOffset(b), 8192);
  assert.equal(P.runLength(b), 3);
  b[1] = 0x81; assert.equal(P.logoutReason(b), 1);
  b[1] = 0x82; assert.equal(P.snackType(b), 2);
  b.writeUInt16BE(7, 20); assert.equal(P.cid(b), 7);
});

test('padding', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5].map(P.padding), [0, 3, 2, 1, 0, 3]);
  assert.equal(P.padded(13), 16);
});

test('SCSI Response byte-exact', () => {
  const b = Buffer.alloc(48, 0xee);
  W.writeScsiResponse(b, 0x11223344, 0, 2, W.Residual.Underflow, 512, 0, 3, 5, 6, 37, 20);
  assert.equal(b.toString('hex'),
    '21820002' + '00000014' + '0000000000000000' + '11223344' + '00000000' + '00000005' + '00000006' +
    '00000025' + '00000003' + '00000000' + '00000200');
});

test('Data-In with and without status', () => {
  const b = Buffer.alloc(48);
  W.writeDataIn(b, 1, 0xffffffff, 0, W.DataInFlag.Final | W.DataInFlag.Status | W.DataInFlag.Underflow, 0, 2, 16384, 100, 9, 10, 20, 4096);
  assert.equal(b.toString('hex'),
    '25830000' + '00001000' + '0000000000000000' + '00000001' + 'ffffffff' + '00000009' + '0000000a' +
    '00000014' + '00000002' + '00004000' + '00000064');
  W.writeDataIn(b, 1, 0xffffffff, 0, W.DataInFlag.Underflow, 0x02, 0, 0, 100, 9, 10, 20, 8192);
  assert.equal(b[1], 0x00); // O/U/status only with S (RFC 7143 11.7.4)
  assert.equal(b.readUInt32BE(24), 0);
  assert.equal(b.readUInt32BE(44), 0);
});

test('R2T, NOP-In, TMF response, Logout response', () => {
  const b = Buffer.alloc(48);
  W.writeR2T(b, 7, 0x100, 1, 0, 65536, 262144, 4, 5, 6);
  assert.equal(b.toString('hex'),
    '31800000' + '00000000' + '0001000000000000' + '00000007' + '00000100' + '00000004' + '00000005' +
    '00000006' + '00000000' + '00010000' + '00040000');
  W.writeNopIn(b, 0xffffffff, 0x55, 0, 1, 2, 3, 0);
  assert.equal(b.subarray(0, 24).toString('hex'), '2080000000000000' + '0000000000000000' + 'ffffffff00000055');
  W.writeTmfResponse(b, 9, TmfResponse.NotSupported, 1, 2, 3);
  assert.equal(b.subarray(0, 4).toString('hex'), '22800500');
  assert.equal(b.readUInt32BE(16), 9);
  assert.equal(b.subarray(8, 16).toString('hex'), '0000000000000000');
  // RFC 7144: QUERY ASYNCHRONOUS EVENT's ADDITIONAL RESPONSE INFORMATION in bytes 8..10
  W.writeTmfResponse(b, 9, TmfResponse.FunctionSucceeded, 1, 2, 3, 0x162903);
  assert.equal(b.subarray(0, 24).toString('hex'), '22800700' + '00000000' + '1629030000000000' + '00000009' + '00000000');
  W.writeLogoutResponse(b, 3, 0, 1, 2, 3, 2, 20);
  assert.equal(b.subarray(36, 48).toString('hex'), '00000000' + '0002' + '0014' + '00000000');
  assert.equal(b[0], 0x26);
});

test('Login and Text responses byte-exact', () => {
  const b = Buffer.alloc(48);
  W.writeLoginResponse(b, true, false, 1, 3, 0, 0, hex('400001370000'), 1, 0x10, 0, 1, 2, 0, 0, 300);
  assert.equal(b.toString('hex'),
    '23870000' + '0000012c' + '4000013700000001' + '00000010' + '00000000' + '00000000' + '00000001' +
    '00000002' + '0000' + '0000' + '00'.repeat(8));
  W.writeLoginResponse(b, false, false, 0, 0, 0, 0, hex('400001370000'), 0, 0x10, 0, 1, 2, 2, 1, 0);
  assert.equal(b.readUInt16BE(36), 0x0201);
  W.writeTextResponse(b, false, true, 4, 0x77, 1, 2, 3, 8192);
  assert.equal(b.subarray(0, 24).toString('hex'), '24400000' + '00002000' + '0000000000000000' + '00000004' + '00000077');
});

test('Async message and Reject', () => {
  const b = Buffer.alloc(48);
  W.writeAsyncMessage(b, 0, W.AsyncEvent.LogoutRequest, 0, 0, 0, 5, 1, 2, 3, 0);
  assert.equal(b.toString('hex'),
    '32800000' + '00000000' + '0000000000000000' + 'ffffffff' + '00000000' + '00000001' + '00000002' +
    '00000003' + '0100' + '0000' + '0000' + '0005' + '00000000');
  W.writeReject(b, W.RejectReason.ProtocolError, 1, 2, 3, 48);
  assert.equal(b.subarray(0, 20).toString('hex'), '3f800400' + '00000030' + '0000000000000000' + 'ffffffff');
});

test('AHS: extended CDB and bidirectional read length', () => {
  const cdb32 = Buffer.alloc(32);
  for (let i = 0; i < 32; i++) cdb32[i] = i;
  const bhs = Buffer.alloc(48);
  cdb32.copy(bhs, 32, 0, 16);
  const ecdb = encodeExtendedCdbAhs(cdb32);
  assert.equal(ecdb.toString('hex'), '001101' + '00' + cdb32.subarray(16).toString('hex')); // 3 + 17 bytes: already 4-aligned
  const bidi = encodeBidiReadLengthAhs(4096);
  assert.equal(bidi.toString('hex'), '0005020000001000');
  const ahs = Buffer.concat([ecdb, bidi]);
  assert.equal(ahsValid(ahs), true);
  assert.deepEqual(fullCdb(bhs, ahs), cdb32);
  assert.equal(bidiReadLength(ahs), 4096);
  assert.equal(bidiReadLength(Buffer.alloc(0)), -1);
  assert.equal(fullCdb(bhs, Buffer.alloc(0))!.length, 16);
  const bad = Buffer.from(ahs.subarray(0, 10));
  assert.equal(ahsValid(bad), false);
  assert.equal(fullCdb(bhs, bad), null);
});
