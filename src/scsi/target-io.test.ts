// Unit tests: SBC-4 media access and provisioning through Target.execute with the memory device.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Status } from './api.js';
import { cdb10, cdb16, rig, senseOf } from './testing/harness.js';

test('WRITE(10) then READ(10) round trip; transferLength = blocks * block size', async () => {
  const r = rig();
  await r.clearUa();
  const data = Buffer.alloc(1024, 0xab);
  const w = await r.run(cdb10(0x2a, 3, 2), { dataOut: data });
  assert.equal(w.status, Status.Good);
  assert.equal(w.transferLength, 1024);
  assert.deepEqual(r.dev.data.subarray(1536, 2560), data);
  const rd = await r.run(cdb10(0x28, 3, 2));
  assert.equal(rd.status, Status.Good);
  assert.deepEqual(rd.dataIn, data);
  assert.equal(r.lu.statsFor(r.i1.id).wrDoneBytes, 1024);
  assert.equal(r.lu.statsFor(r.i1.id).rdDoneCmds, 1);
  // Counters are per I_T nexus, as tgt's `--op stat` rows are.
  assert.equal(r.lu.statsFor(r.i2.id).rdDoneCmds, 0);
  assert.deepEqual([...r.lu.statsByNexus()].map(([id]) => id), [r.i1.id, r.i2.id]);
});

test('async device: READ(16) completes later', async () => {
  const r = rig({ dev: { async: true } });
  await r.clearUa();
  r.dev.data.fill(7, 0, 512);
  const t = await r.run(cdb16(0x88, 0, 1));
  assert.equal(t.status, Status.Good);
  assert.equal(t.dataIn![0], 7);
});

test('LBA out of range, including a zero-length access past the end', async () => {
  const r = rig({ blocks: 100 });
  await r.clearUa();
  let t = await r.run(cdb10(0x28, 99, 2));
  assert.equal(t.status, Status.CheckCondition);
  assert.deepEqual(senseOf(t), [0x05, 0x21, 0x00]);
  t = await r.run(cdb10(0x28, 101, 0));
  assert.deepEqual(senseOf(t), [0x05, 0x21, 0x00]);
  t = await r.run(cdb16(0x88, 2 ** 40, 1));
  assert.deepEqual(senseOf(t), [0x05, 0x21, 0x00]);
  t = await r.run(cdb10(0x28, 100, 0));
  assert.equal(t.status, Status.Good);
});

test('short Data-Out (EDTL < SPDTL): GOOD, the whole blocks received are written, residual from the CDB length', async () => {
  const r = rig();
  await r.clearUa();
  r.dev.data.fill(0xaa, 0, 1024);
  const t = await r.run(cdb10(0x2a, 0, 2), { dataOut: Buffer.alloc(512, 1) });
  assert.equal(t.status, Status.Good);
  assert.equal(t.sense, null);
  assert.equal(t.transferLength, 1024);
  assert.equal(r.dev.data[0], 1);
  assert.equal(r.dev.data[511], 1);
  assert.equal(r.dev.data[512], 0xaa, 'block beyond the EDTL not written');
  // a partial block (200 of 512 bytes) writes nothing and is still GOOD
  const writes = r.dev.writes;
  const p = await r.run(cdb10(0x2a, 4, 1), { dataOut: Buffer.alloc(200, 3) });
  assert.equal(p.status, Status.Good);
  assert.equal(p.transferLength, 512);
  assert.equal(r.dev.writes, writes);
  assert.equal(r.dev.data[4 * 512], 0);
  // longer Data-Out than the CDB asks: only the CDB's length is written
  const u = await r.run(cdb10(0x2a, 0, 1), { dataOut: Buffer.alloc(1024, 2) });
  assert.equal(u.status, Status.Good);
  assert.equal(r.dev.data[512], 0xaa);
  assert.equal(r.dev.data[511], 2);
});

test('readonly LU: DATA PROTECT WRITE PROTECTED', async () => {
  const r = rig();
  await r.clearUa();
  assert.equal(r.lu.updateParams([['readonly', '1']]), 'ok');
  const t = await r.run(cdb10(0x2a, 0, 1), { dataOut: Buffer.alloc(512) });
  assert.deepEqual(senseOf(t), [0x07, 0x27, 0x00]);
});

test('FUA and write cache off flush before completion', async () => {
  const r = rig();
  await r.clearUa();
  await r.run(cdb10(0x2a, 0, 1), { dataOut: Buffer.alloc(512) });
  assert.equal(r.dev.flushes, 0);
  await r.run(cdb10(0x2a, 0, 1, 0x08), { dataOut: Buffer.alloc(512) });
  assert.equal(r.dev.flushes, 1);
  r.lu.updateParams([['mode_page', '8:0:18:0x10:0:0xff:0xff:0:0:0xff:0xff:0xff:0xff:0x80:0x14:0:0:0:0:0:0']]);
  assert.equal(r.lu.modePages.wce, false);
  await r.run(cdb10(0x2a, 0, 1), { dataOut: Buffer.alloc(512) });
  assert.equal(r.dev.flushes, 2);
});

test('I/O errors: EIO -> MEDIUM ERROR, ENOSPC -> SPACE ALLOCATION FAILED', async () => {
  const r = rig();
  await r.clearUa();
  r.dev.failWith = 'EIO';
  let t = await r.run(cdb10(0x28, 0, 1));
  assert.deepEqual(senseOf(t), [0x03, 0x11, 0x00]);
  r.dev.failWith = 'ENOSPC';
  t = await r.run(cdb10(0x2a, 0, 1), { dataOut: Buffer.alloc(512) });
  assert.deepEqual(senseOf(t), [0x07, 0x27, 0x07]);
});

test('I/O errors by errno and direction: reads are UNRECOVERED READ ERROR, writes and flushes by cause', async () => {
  const r = rig();
  await r.clearUa();
  const read10 = cdb10(0x28, 0, 1);
  const write10 = cdb10(0x2a, 0, 1);
  const sync10 = [0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0];
  // [errno, READ sense, WRITE sense, SYNCHRONIZE CACHE sense]
  const table: [string, number[], number[], number[]][] = [
    ['EIO', [0x03, 0x11, 0x00], [0x03, 0x0c, 0x00], [0x03, 0x0c, 0x00]],
    ['ENOSPC', [0x03, 0x11, 0x00], [0x07, 0x27, 0x07], [0x07, 0x27, 0x07]],
    ['EDQUOT', [0x03, 0x11, 0x00], [0x07, 0x27, 0x07], [0x07, 0x27, 0x07]],
    ['EROFS', [0x03, 0x11, 0x00], [0x07, 0x27, 0x00], [0x07, 0x27, 0x00]],
    ['ETIMEDOUT', [0x03, 0x11, 0x00], [0x03, 0x0c, 0x00], [0x03, 0x0c, 0x00]],
  ];
  for (const [code, rd, wr, sy] of table) {
    r.dev.failWith = code;
    let t = await r.run(read10);
    assert.equal(t.status, Status.CheckCondition);
    assert.deepEqual(senseOf(t), rd, `${code} READ`);
    t = await r.run(write10, { dataOut: Buffer.alloc(512) });
    assert.deepEqual(senseOf(t), wr, `${code} WRITE`);
    t = await r.run(sync10);
    assert.deepEqual(senseOf(t), sy, `${code} SYNCHRONIZE CACHE`);
  }
  r.dev.failWith = null;
  assert.equal((await r.run(read10)).status, Status.Good);
});

test('COMPARE AND WRITE: match writes, miscompare reports offset in INFORMATION', async () => {
  const r = rig();
  await r.clearUa();
  r.dev.data.fill(0x41, 0, 1024);
  const cw = [0x89, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0];
  const good = Buffer.concat([Buffer.alloc(1024, 0x41), Buffer.alloc(1024, 0x42)]);
  let t = await r.run(cw, { dataOut: good });
  assert.equal(t.status, Status.Good);
  assert.equal(t.transferLength, 2048);
  assert.equal(r.dev.data[1023], 0x42);
  const bad = Buffer.concat([Buffer.alloc(1024, 0x42), Buffer.alloc(1024, 0x43)]);
  bad[700] = 0x5a;
  t = await r.run(cw, { dataOut: bad });
  assert.equal(t.status, Status.CheckCondition);
  assert.deepEqual(senseOf(t), [0x0e, 0x1d, 0x00]);
  assert.equal(t.sense![0], 0xf0); // VALID
  assert.equal(t.sense!.readUInt32BE(3), 700);
  assert.equal(r.dev.data[0], 0x42, 'not written on miscompare');
  // wrong Data-Out size
  t = await r.run(cw, { dataOut: Buffer.alloc(4096) });
  assert.equal(t.status, Status.CheckCondition);
});

test('VERIFY BYTCHK=1 miscompare, BYTCHK=0 range only', async () => {
  const r = rig();
  await r.clearUa();
  r.dev.data.fill(1, 0, 1024);
  const expect = Buffer.alloc(1024, 1);
  expect[600] = 9;
  let t = await r.run(cdb10(0x2f, 0, 2, 0x02), { dataOut: expect });
  assert.deepEqual(senseOf(t), [0x0e, 0x1d, 0x00]);
  assert.equal(t.sense!.readUInt32BE(3), 600);
  t = await r.run(cdb10(0x2f, 0, 2, 0x02), { dataOut: Buffer.alloc(1024, 1) });
  assert.equal(t.status, Status.Good);
  t = await r.run(cdb10(0x2f, 0, 2));
  assert.equal(t.status, Status.Good);
  assert.equal(t.transferLength, 0);
});

test('ORWRITE ORs the Data-Out into the medium', async () => {
  const r = rig();
  await r.clearUa();
  r.dev.data.fill(0x0f, 0, 512);
  const t = await r.run(cdb16(0x8b, 0, 1), { dataOut: Buffer.alloc(512, 0xf0) });
  assert.equal(t.status, Status.Good);
  assert.equal(r.dev.data[10], 0xff);
});

test('WRITE SAME(10/16): pattern, UNMAP on thin LU, NDOB, zero blocks, data size', async () => {
  const r = rig({ thin: true });
  await r.clearUa();
  let t = await r.run(cdb10(0x41, 4, 3), { dataOut: Buffer.alloc(512, 0x33) });
  assert.equal(t.status, Status.Good);
  assert.equal(r.dev.data[4 * 512], 0x33);
  assert.equal(r.dev.data[7 * 512 - 1], 0x33);
  assert.equal(r.dev.data[7 * 512], 0);
  t = await r.run(cdb16(0x93, 4, 3, 0x09)); // UNMAP + NDOB
  assert.equal(t.status, Status.Good);
  assert.equal(r.dev.unmaps, 1);
  assert.equal(r.dev.data[4 * 512], 0);
  // zero blocks: to the last LBA with WSNZ=0 (the default), refused with wsnz=1
  r.dev.data.fill(0x11, 2040 * 512);
  t = await r.run(cdb10(0x41, 2040, 0), { dataOut: Buffer.alloc(512, 0x22) });
  assert.equal(t.status, Status.Good);
  assert.ok(r.dev.data.subarray(2040 * 512).every((x) => x === 0x22), 'LBA 2040 to the end written');
  r.lu.wsnz = true;
  t = await r.run(cdb10(0x41, 0, 0), { dataOut: Buffer.alloc(512) });
  assert.deepEqual(senseOf(t), [0x05, 0x24, 0x00]); // WSNZ
  r.lu.wsnz = false;
  t = await r.run(cdb10(0x41, 0, 1), { dataOut: Buffer.alloc(1024) });
  assert.equal(t.status, Status.CheckCondition);
  t = await r.run(cdb10(0x41, 0, 1, 0x10), { dataOut: Buffer.alloc(512) }); // ANCHOR
  assert.deepEqual(senseOf(t), [0x05, 0x24, 0x00]);
});

test('UNMAP and GET LBA STATUS on a thin LU', async () => {
  const r = rig({ thin: true });
  await r.clearUa();
  r.dev.data.fill(0x41, 0, 16 * 512);
  const param = Buffer.alloc(24);
  param.writeUInt16BE(22, 0);
  param.writeUInt16BE(16, 2);
  param.writeUInt32BE(2, 12);
  param.writeUInt32BE(4, 16);
  let t = await r.run([0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0], { dataOut: param });
  assert.equal(t.status, Status.Good);
  assert.equal(r.dev.data[2 * 512], 0);
  assert.equal(r.dev.data[6 * 512], 0x41);
  t = await r.run([0x9e, 0x12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 56, 0, 0]);
  assert.equal(t.status, Status.Good);
  const d = t.dataIn!;
  assert.equal(d.readUInt32BE(0), 4 + 16 * 4); // ..., [16, 1024) zeros again
  // [0,2) mapped, [2,6) deallocated, [6,16) mapped
  assert.equal(d.readUInt32BE(8 + 4), 0);
  assert.equal(d.readUInt32BE(8 + 8), 2);
  assert.equal(d[8 + 12], 0);
  assert.equal(d.readUInt32BE(24 + 4), 2);
  assert.equal(d.readUInt32BE(24 + 8), 4);
  assert.equal(d[24 + 12], 1);
  // out of range descriptor
  param.writeUInt32BE(5000, 12);
  t = await r.run([0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0], { dataOut: param });
  assert.deepEqual(senseOf(t), [0x05, 0x21, 0x00]);
});

test('UNMAP on a fully provisioned LU is not supported', async () => {
  const r = rig();
  await r.clearUa();
  const t = await r.run([0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(senseOf(t), [0x05, 0x20, 0x00]);
});

test('READ CAPACITY(10/16): last LBA, block size, LBPME/LBPRZ when thin', async () => {
  const r = rig({ blocks: 1000, thin: true });
  await r.clearUa();
  let t = await r.run([0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual([...t.dataIn!], [0, 0, 0x03, 0xe7, 0, 0, 0x02, 0]);
  t = await r.run([0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0]);
  assert.equal(t.dataIn!.length, 32);
  assert.equal(t.dataIn!.readUInt32BE(4), 999);
  assert.equal(t.dataIn!.readUInt32BE(8), 512);
  assert.equal(t.dataIn![14], 0xc0);
  t = await r.run([0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0]);
  assert.equal(t.dataIn!.length, 8, 'clipped to allocation length');
});

test('SYNCHRONIZE CACHE flushes; PRE-FETCH checks range', async () => {
  const r = rig({ blocks: 100 });
  await r.clearUa();
  let t = await r.run(cdb10(0x35, 0, 0));
  assert.equal(t.status, Status.Good);
  assert.equal(r.dev.flushes, 1);
  t = await r.run(cdb16(0x90, 99, 2));
  assert.deepEqual(senseOf(t), [0x05, 0x21, 0x00]);
});

test('WRITE with WRPROTECT != 0 is an invalid field', async () => {
  const r = rig();
  await r.clearUa();
  const t = await r.run(cdb10(0x2a, 0, 1, 0x20), { dataOut: Buffer.alloc(512) });
  assert.deepEqual(senseOf(t), [0x05, 0x24, 0x00]);
});

test('a READ and a WRITE still running when their I_T nexus goes leave no `--op stat` row behind', async () => {
  const r = rig({ dev: { async: true } });
  await r.clearUa();
  // Both are in the backing store (it completes on a later tick) when the session ends.
  const rd = r.run(cdb10(0x28, 0, 1));
  const wr = r.run(cdb10(0x2a, 1, 1), { dataOut: Buffer.alloc(512, 1) });
  r.target.removeNexus(r.i1);
  await Promise.all([rd, wr]);
  assert.deepEqual([...r.lu.statsByNexus()].map(([id]) => id), [r.i2.id]);
});

/** WRITE ATOMIC(16) CDB: 2..9 LBA, 10..11 ATOMIC BOUNDARY, 12..13 NUMBER OF LOGICAL BLOCKS. */
function writeAtomic16(lba: number, blocks: number, boundary = 0, b1 = 0): number[] {
  const c = Buffer.alloc(16);
  c[0] = 0x9c;
  c[1] = b1;
  c.writeUInt32BE(Math.floor(lba / 0x100000000), 2);
  c.writeUInt32BE(lba >>> 0, 6);
  c.writeUInt16BE(boundary, 10);
  c.writeUInt16BE(blocks, 12);
  return [...c];
}

test('WRITE ATOMIC(16): writes all blocks or none; Block Limits reports its maximum', async () => {
  const r = rig({ blocks: 100 });
  await r.clearUa();
  const data = Buffer.alloc(4 * 512, 0x5a);
  let t = await r.run(writeAtomic16(10, 4, 0, 0x08), { dataOut: data });
  assert.equal(t.status, Status.Good);
  assert.deepEqual(r.dev.data.subarray(10 * 512, 14 * 512), data);
  // nothing written when any check fails: boundary, range, protection, short Data-Out
  const before = Buffer.from(r.dev.data);
  const other = Buffer.alloc(4 * 512, 0x11);
  assert.deepEqual(senseOf(await r.run(writeAtomic16(20, 4, 2), { dataOut: other })), [0x05, 0x24, 0x00]);
  assert.deepEqual(senseOf(await r.run(writeAtomic16(98, 4), { dataOut: other })), [0x05, 0x21, 0x00]);
  assert.deepEqual(senseOf(await r.run(writeAtomic16(20, 4, 0, 0x20), { dataOut: other })), [0x05, 0x24, 0x00]);
  assert.deepEqual(senseOf(await r.run(writeAtomic16(20, 4), { dataOut: other.subarray(0, 3 * 512) })), [0x05, 0x0e, 0x03]);
  assert.deepEqual(r.dev.data, before);
  // zero blocks: GOOD at a valid LBA, LBA OUT OF RANGE past the end
  assert.equal((await r.run(writeAtomic16(0, 0))).status, Status.Good);
  assert.deepEqual(senseOf(await r.run(writeAtomic16(101, 0))), [0x05, 0x21, 0x00]);
  // read-only LU: WRITE PROTECTED
  r.lu.readonly = true;
  assert.deepEqual(senseOf(await r.run(writeAtomic16(0, 1), { dataOut: Buffer.alloc(512) })), [0x07, 0x27, 0x00]);
  // Block Limits VPD: 44..47 MAXIMUM ATOMIC TRANSFER LENGTH, alignment and granularity 0
  t = await r.run([0x12, 0x01, 0xb0, 0x00, 0xff, 0x00]);
  const bl = t.dataIn!;
  assert.equal(bl.readUInt32BE(44), 8192);
  assert.ok(bl.readUInt32BE(44) <= bl.readUInt32BE(8), 'not above MAXIMUM TRANSFER LENGTH');
  assert.equal(bl.readUInt32BE(48), 0);
  assert.equal(bl.readUInt32BE(52), 0);
});

test('WRITE ATOMIC(16) longer than MAXIMUM ATOMIC TRANSFER LENGTH is an invalid field', async () => {
  const r = rig({ blocks: 10000 });
  await r.clearUa();
  const t = await r.run(writeAtomic16(0, 8193), { dataOut: Buffer.alloc(8193 * 512) });
  assert.deepEqual(senseOf(t), [0x05, 0x24, 0x00]);
});

test('WRITE ATOMIC(16) on an LU with 8 logical blocks per physical block: aligned to and in whole physical blocks', async () => {
  const r = rig({ blocks: 1000 });
  r.lu.lbppbe = 3;
  await r.clearUa();
  const bl = (await r.run([0x12, 0x01, 0xb0, 0x00, 0xff, 0x00])).dataIn!;
  assert.equal(bl.readUInt32BE(48), 8); // ATOMIC ALIGNMENT
  assert.equal(bl.readUInt32BE(52), 8); // ATOMIC TRANSFER LENGTH GRANULARITY
  assert.equal((await r.run(writeAtomic16(16, 8), { dataOut: Buffer.alloc(8 * 512, 1) })).status, Status.Good);
  assert.deepEqual(senseOf(await r.run(writeAtomic16(1, 8), { dataOut: Buffer.alloc(8 * 512) })), [0x05, 0x24, 0x00]);
  assert.deepEqual(senseOf(await r.run(writeAtomic16(0, 1), { dataOut: Buffer.alloc(512) })), [0x05, 0x24, 0x00]);
});
