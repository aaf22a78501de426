// Tests of the test fixture's initiator PDU builders (RFC 7143 11.3-11.14) against the codec's accessors (pdu.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as P from '../pdu.js';
import * as B from './pdus.js';
import { crc32cHeader, readDigest } from '../crc32c.js';

test('SCSI Command and Data-Out fields read back through pdu.ts', () => {
  const c = B.scsiCommand({ itt: 0x11223344, cmdSN: 0xfffffffe, expStatSN: 9, cdb: B.rw10(0x2a, 0x01020304, 0x0506), write: true, edtl: 0x0a0b0c, data: Buffer.alloc(5), lun: 3, attr: 2 });
  assert.equal(P.opcode(c.bhs), P.Op.ScsiCommand);
  assert.equal(P.isImmediate(c.bhs), false);
  assert.equal(P.isFinal(c.bhs), true);
  assert.equal(P.writeBit(c.bhs), true);
  assert.equal(P.readBit(c.bhs), false);
  assert.equal(P.attr(c.bhs), 2);
  assert.equal(P.lun(c.bhs), 3);
  assert.equal(P.itt(c.bhs), 0x11223344);
  assert.equal(P.cmdSN(c.bhs), 0xfffffffe);
  assert.equal(P.expStatSN(c.bhs), 9);
  assert.equal(P.expectedDataTransferLength(c.bhs), 0x0a0b0c);
  assert.equal(P.dataSegmentLength(c.bhs), 5);
  assert.deepEqual([...P.cdb(c.bhs).subarray(0, 10)], [0x2a, 0, 1, 2, 3, 4, 0, 5, 6, 0]);
  const d = B.dataOut({ itt: 7, ttt: 8, expStatSN: 9, dataSN: 10, offset: 11, final: true, data: Buffer.alloc(3) });
  assert.deepEqual([P.opcode(d.bhs), P.itt(d.bhs), P.ttt(d.bhs), P.dataSN(d.bhs), P.bufferOffset(d.bhs), P.isFinal(d.bhs) ? 1 : 0], [P.Op.DataOut, 7, 8, 10, 11, 1]);
});

test('Login, Logout, TMF, Text and NOP-Out fields read back through pdu.ts', () => {
  const isid = Buffer.from('010203040506', 'hex');
  const l = B.loginRequest({ transit: true, csg: 1, nsg: 3, isid, tsih: 0x0102, itt: 5, cid: 0x0304, cmdSN: 6, expStatSN: 7, keys: [['A', 'b']] });
  const req = P.parseLoginRequest(l.bhs, l.data);
  assert.deepEqual(
    [req.transit, req.cont, req.csg, req.nsg, req.isid.toString('hex'), req.tsih, req.itt, req.cid, req.cmdSN, req.expStatSN],
    [true, false, 1, 3, '010203040506', 0x0102, 5, 0x0304, 6, 7],
  );
  assert.equal(P.isImmediate(l.bhs), true);
  assert.equal(l.data.toString(), 'A=b\0');
  const lo = B.logoutRequest({ itt: 1, cmdSN: 2, expStatSN: 3, reason: 2, cid: 9 });
  assert.deepEqual([P.opcode(lo.bhs), P.logoutReason(lo.bhs), P.cid(lo.bhs)], [P.Op.Logout, 2, 9]);
  const t = B.tmfRequest({ itt: 1, cmdSN: 2, expStatSN: 3, immediate: true, fn: 5, lun: 2, refTaskTag: 0x55, refCmdSN: 0x66, expDataSN: 0x77 });
  assert.deepEqual(
    [P.opcode(t.bhs), P.isImmediate(t.bhs), P.tmfFunction(t.bhs), P.lun(t.bhs), P.refTaskTag(t.bhs), P.refCmdSN(t.bhs), P.expDataSN(t.bhs)],
    [P.Op.TaskMgmt, true, 5, 2, 0x55, 0x66, 0x77],
  );
  const x = B.textRequest({ itt: 1, cmdSN: 2, expStatSN: 3, keys: [['SendTargets', 'All']], final: false, cont: true });
  assert.deepEqual([P.opcode(x.bhs), P.isFinal(x.bhs), P.isContinue(x.bhs), P.ttt(x.bhs)], [P.Op.Text, false, true, P.RESERVED_TAG]);
  const n = B.nopOut({ itt: P.RESERVED_TAG, ttt: 4, cmdSN: 2, expStatSN: 3, immediate: true });
  assert.deepEqual([P.opcode(n.bhs), P.itt(n.bhs), P.ttt(n.bhs)], [P.Op.NopOut, P.RESERVED_TAG, 4]);
});

test('wireBytes: padding to 4 bytes and CRC32C digests at RFC 7143 11.2 positions', () => {
  const n = B.nopOut({ itt: 1, cmdSN: 2, expStatSN: 3, data: Buffer.from('abcde') });
  const plain = B.wireBytes(n, { header: false, data: false });
  assert.equal(plain.length, 48 + 8);
  assert.ok(plain.subarray(53, 56).equals(Buffer.alloc(3)), 'zero padding');
  const dg = B.wireBytes(n, { header: true, data: true });
  assert.equal(dg.length, 48 + 4 + 8 + 4);
  assert.equal(readDigest(dg, 48), crc32cHeader(n.bhs));
  assert.equal(B.wireBytes(B.nopOut({ itt: 1, cmdSN: 2, expStatSN: 3 }), { header: true, data: true }).length, 52, 'no data digest without data');
});
