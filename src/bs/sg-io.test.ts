// Unit tests: SG_IO headers — sg v3 and v4 (bsg) fields at the offsets of scsi/sg.h and linux/bsg.h, results read back, host outcomes, dev_t split.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SG_V3_SIZE, SG_V4_SIZE, majorMinor, outcomeOf, packV3, packV4, unpackV3, unpackV4 } from './sg-io.js';
import type { SgRequest } from './sg-io.js';

const REQ: SgRequest = {
  cdbLen: 10, dataOutLen: 0, dataInLen: 4096, senseLen: 252, timeoutMs: 30000,
  cdbAddr: 0x1111n, dataOutAddr: 0x2222n, dataInAddr: 0x3333n, senseAddr: 0x4444n,
};

test('packV3: a read is dxfer_direction SG_DXFER_FROM_DEV with its buffer; the fields sit at sg_io_hdr offsets', () => {
  const h = Buffer.alloc(SG_V3_SIZE, 0xee);
  assert.equal(packV3(h, REQ), true);
  assert.equal(h.readInt32LE(0), 0x53); // 'S'
  assert.equal(h.readInt32LE(4), -3);
  assert.deepEqual([h[8], h[9], h.readUInt16LE(10), h.readUInt32LE(12)], [10, 252, 0, 4096]);
  assert.deepEqual([h.readBigUInt64LE(16), h.readBigUInt64LE(24), h.readBigUInt64LE(32)], [0x3333n, 0x1111n, 0x4444n]);
  assert.deepEqual([h.readUInt32LE(40), h.readUInt32LE(44), h.readInt32LE(48)], [30000, 0, -1]);
  assert.ok(h.subarray(52, SG_V3_SIZE).every((b) => b === 0), 'usr_ptr and the output fields are cleared');
});

test('packV3: a write is SG_DXFER_TO_DEV with the Data-Out buffer, no data is SG_DXFER_NONE, both ways is refused', () => {
  const h = Buffer.alloc(SG_V3_SIZE);
  assert.equal(packV3(h, { ...REQ, dataInLen: 0, dataOutLen: 512 }), true);
  assert.deepEqual([h.readInt32LE(4), h.readUInt32LE(12), h.readBigUInt64LE(16)], [-2, 512, 0x2222n]);
  assert.equal(packV3(h, { ...REQ, dataInLen: 0 }), true);
  assert.deepEqual([h.readInt32LE(4), h.readUInt32LE(12), h.readBigUInt64LE(16)], [-1, 0, 0n]);
  h.fill(7);
  assert.equal(packV3(h, { ...REQ, dataOutLen: 512 }), false);
  assert.ok(h.every((b) => b === 7), 'nothing written');
});

test('unpackV3: status, sb_len_wr, resid and the host/driver bytes', () => {
  const h = Buffer.alloc(SG_V3_SIZE);
  packV3(h, REQ);
  h[64] = 0x02; // status CHECK CONDITION
  h[67] = 18; // sb_len_wr
  h.writeUInt16LE(0, 68);
  h.writeUInt16LE(0x08, 70); // DRIVER_SENSE
  h.writeInt32LE(1024, 72); // resid
  const sense = Buffer.alloc(252, 0xab);
  const r = unpackV3(h, REQ, sense);
  assert.deepEqual({ ...r, sense: r.sense.length }, { outcome: 'done', status: 2, sense: 18, dataInLength: 3072, dataOutLength: 0 });
  h.writeInt32LE(-5, 72); // a resid out of range is clamped
  assert.equal(unpackV3(h, REQ, sense).dataInLength, 4096);
  const w = { ...REQ, dataInLen: 0, dataOutLen: 512 };
  packV3(h, w);
  assert.deepEqual([unpackV3(h, w, sense).dataOutLength, unpackV3(h, w, sense).dataInLength], [512, 0]);
});

test('packV4/unpackV4: sg_io_v4 fields at linux/bsg.h offsets, both directions, queued at the tail', () => {
  const h = Buffer.alloc(SG_V4_SIZE, 0xee);
  const r = { ...REQ, dataOutLen: 512 };
  packV4(h, r);
  assert.deepEqual([h.readInt32LE(0), h.readUInt32LE(4), h.readUInt32LE(8), h.readUInt32LE(12)], [0x51, 0, 0, 10]);
  assert.deepEqual([h.readBigUInt64LE(16), h.readUInt32LE(44), h.readBigUInt64LE(48)], [0x1111n, 252, 0x4444n]);
  assert.deepEqual([h.readUInt32LE(60), h.readUInt32LE(68), h.readBigUInt64LE(72), h.readBigUInt64LE(80)], [512, 4096, 0x2222n, 0x3333n]);
  assert.deepEqual([h.readUInt32LE(88), h.readUInt32LE(92)], [30000, 0x10]);
  assert.ok(h.subarray(96).every((b) => b === 0));
  h.writeUInt32LE(0x02, 116); // device_status
  h.writeUInt32LE(32, 132); // response_len
  h.writeInt32LE(96, 136); // din_resid
  h.writeInt32LE(0, 140); // dout_resid
  const res = unpackV4(h, r, Buffer.alloc(252));
  assert.deepEqual({ ...res, sense: res.sense.length }, { outcome: 'done', status: 2, sense: 32, dataInLength: 4000, dataOutLength: 512 });
  h.writeUInt32LE(0x03, 112); // transport_status DID_TIME_OUT
  assert.equal(unpackV4(h, r, Buffer.alloc(252)).outcome, 'timeout');
});

test('outcomeOf: DID_TIME_OUT or DRIVER_TIMEOUT is a timeout, retryable host bytes are busy, other host bytes fail', () => {
  assert.equal(outcomeOf(0, 0), 'done');
  assert.equal(outcomeOf(0, 0x08), 'done', 'DRIVER_SENSE only says sense is there');
  assert.equal(outcomeOf(0x03, 0), 'timeout');
  assert.equal(outcomeOf(0, 0x06), 'timeout');
  for (const h of [0x02, 0x08, 0x0b, 0x0c, 0x0d, 0x0e]) assert.equal(outcomeOf(h, 0), 'busy', `host ${h}`);
  for (const h of [0x01, 0x04, 0x05, 0x07]) assert.equal(outcomeOf(h, 0), 'failed', `host ${h}`);
});

test('majorMinor: glibc dev_t encoding', () => {
  assert.deepEqual(majorMinor((21 << 8) | 3), { major: 21, minor: 3 });
  assert.deepEqual(majorMinor(0x3f01a05), { major: 0x1a, minor: 0x3f05 });
  assert.deepEqual(majorMinor(Number((0xfen << 8n) | (0x1000n << 32n))), { major: 0x10fe, minor: 0 });
});
