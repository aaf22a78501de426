// Unit tests of the pooled iSCSI task (RFC 7143 10): reset gives a reused task the state of a new one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataDir, TaskAttr } from '../scsi/api.js';
import { IscsiSession, type SessionConnection } from './session.js';
import { IscsiTask } from './task.js';

const conn: SessionConnection = { cid: 0, deliver: () => {}, close: () => {} };

function session(tsih: number): IscsiSession {
  return new IscsiSession(tsih, Buffer.alloc(6), 'iqn.x:i', null, null, 'iqn.x:t', 1, 128, false);
}

test('reset restores every field of a used task to the new-task state', () => {
  const s1 = session(1);
  const s2 = session(2);
  const fresh = new IscsiTask(s2, conn);
  const t = new IscsiTask(s1, conn);
  t.itt = 7;
  t.cmdSN = 9;
  t.immediate = true;
  t.edtl = 8192;
  t.unsolicitedEnd = 4096;
  t.expDataOutSN = 2;
  t.seqTTT = 3;
  t.dataSN = 5;
  t.due = t.submitted = t.aborted = true;
  t.scsi.lun = 1;
  t.scsi.attr = TaskAttr.Ordered;
  t.scsi.tag = 7;
  t.scsi.dir = DataDir.Write;
  t.scsi.expectedLength = 8192;
  t.addData([Buffer.alloc(4096)], 4096);
  t.scsi.status = 2;
  t.scsi.sense = Buffer.alloc(18);
  t.scsi.dataIn = Buffer.alloc(4);
  t.scsi.transferLength = 8192;
  t.scsi.aborted = true;

  t.reset(s2);
  const strip = (x: IscsiTask): Record<string, unknown> => {
    // The transport slot is the transport's to reset (prepareTask), not the task's.
    const { scsi, run, onDone, cdb16, conn: c, transport, ...rest } = x;
    void run; void onDone; void cdb16; void c; void transport;
    const { cdb, ...scsiRest } = scsi;
    void cdb;
    return { ...rest, scsi: scsiRest };
  };
  assert.deepEqual(strip(t), strip(fresh));
  assert.equal(t.scsi.nexus, s2);
  assert.equal(t.dataComplete, true);
});

test('reset hands out a new dataOut array, leaving the old one to a finished write', () => {
  const t = new IscsiTask(session(1), conn);
  t.scsi.dir = DataDir.Write;
  const piece = Buffer.from('abcd');
  t.addData([piece], 4);
  const old = t.scsi.dataOut;
  t.reset(session(1));
  assert.deepEqual(old, [piece]);
  assert.notEqual(t.scsi.dataOut, old);
  assert.equal(t.scsi.dataOut.length, 0);
  // A read task (no Data-Out) keeps its empty array: no allocation on reuse.
  const empty = t.scsi.dataOut;
  t.reset(session(1));
  assert.equal(t.scsi.dataOut, empty);
});

test('addData keeps the views it is given (copies of borrowed buffers are the connection\'s: keepData)', () => {
  const t = new IscsiTask(session(1), conn);
  t.scsi.dir = DataDir.Write;
  const a = Buffer.from('wxyz');
  const b = Buffer.from('1234');
  t.addData([a, b], 8);
  assert.equal(t.scsi.dataOut[0], a);
  assert.equal(t.scsi.dataOut[1], b);
  assert.equal(t.received, 8);
});
