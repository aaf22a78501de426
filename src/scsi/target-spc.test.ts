// Unit tests: SPC-4 commands, unit attentions, reservations, task attributes and task management via Target.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Status, TaskAttr, Tmf, TmfResponse } from './api.js';
import type { ScsiTask } from './api.js';
import { LogicalUnit } from './logical-unit.js';
import { MemoryDevice } from './testing/memory-device.js';
import { cdb10, makeTask, nexus, rig, senseOf } from './testing/harness.js';

test('LUN 0 controller defaults and show fields', () => {
  const r = rig();
  const lu0 = r.target.luns.get(0)!;
  assert.equal(lu0.typeName, 'controller');
  assert.equal(lu0.peripheralType, 0x0c);
  assert.equal(lu0.scsiId, 'IET     00010000');
  assert.equal(lu0.scsiSn, 'beaf10');
  assert.equal(lu0.bsName, 'null');
  assert.equal(lu0.path, null);
  assert.equal(lu0.size, 0);
  assert.equal(lu0.blockSize, 1);
  assert.equal(r.lu.scsiId, 'IET     00010001');
  assert.deepEqual(r.target.sortedLuns().map((l) => l.lun), [0, 1]);
});

test('updateParams: known tokens, and unknown-param for a key it does not know', () => {
  const r = rig();
  assert.equal(r.lu.updateParams([['vendor_id', 'ACME'], ['scsi_sn', 'SER1'], ['thin_provisioning', '1']]), 'ok');
  assert.equal(r.lu.vendorId, 'ACME');
  assert.equal(r.lu.thin, true);
  assert.equal(r.lu.updateParams([['bogus', '1']]), 'unknown-param');
  assert.equal(r.lu.updateParams([['sense_format', 'x']]), 'invalid');
  assert.equal(r.lu.updateParams([['sense_format', '1']]), 'ok');
  assert.equal(r.lu.descriptorSense, true);
});

test('POWER ON unit attention: INQUIRY passes, TUR reports it once, REQUEST SENSE returns it', async () => {
  const r = rig();
  let t = await r.run([0x12, 0, 0, 0, 96, 0]);
  assert.equal(t.status, Status.Good);
  t = await r.run([0x00, 0, 0, 0, 0, 0]);
  assert.deepEqual(senseOf(t), [0x06, 0x29, 0x00]);
  t = await r.run([0x00, 0, 0, 0, 0, 0]);
  assert.equal(t.status, Status.Good);
  // i2 consumes via REQUEST SENSE
  t = await r.run([0x03, 0, 0, 0, 18, 0], { n: r.i2 });
  assert.equal(t.status, Status.Good);
  assert.equal(t.dataIn![2], 0x06);
  assert.equal(t.dataIn![12], 0x29);
  t = await r.run([0x00, 0, 0, 0, 0, 0], { n: r.i2 });
  assert.equal(t.status, Status.Good);
});

test('standard INQUIRY layout and clipping', async () => {
  const r = rig();
  await r.clearUa();
  const t = await r.run([0x12, 0, 0, 0, 36, 0]);
  const d = t.dataIn!;
  assert.equal(d.length, 36);
  assert.equal(t.transferLength, 36);
  assert.equal(d[0], 0x00);
  assert.equal(d[2], 0x06);
  assert.equal(d[3], 0x12);
  assert.equal(d[7], 0x02);
  assert.equal(d.toString('latin1', 8, 16), 'IET     ');
  assert.equal(d.toString('latin1', 16, 32), 'VIRTUAL-DISK    ');
  const bad = await r.run([0x12, 0, 0x80, 0, 36, 0]);
  assert.deepEqual(senseOf(bad), [0x05, 0x24, 0x00]);
});

test('VPD pages 00, 80, 83, 8F, B0, B2', async () => {
  const r = rig({ thin: true });
  await r.clearUa();
  let t = await r.run([0x12, 1, 0x00, 0, 255, 0]);
  assert.deepEqual([...t.dataIn!], [0, 0, 0, 7, 0x00, 0x80, 0x83, 0x8f, 0xb0, 0xb1, 0xb2]);
  t = await r.run([0x12, 1, 0x80, 0, 255, 0]);
  assert.equal(t.dataIn!.toString('latin1', 4), 'beaf11');
  t = await r.run([0x12, 1, 0x83, 0, 255, 0]);
  const d = t.dataIn!;
  // first designator: T10 vendor id, ASCII, LU association
  assert.equal(d[4], 0x02);
  assert.equal(d[5], 0x01);
  assert.equal(d.toString('latin1', 8, 8 + d[7]!), 'IET     IET     00010001');
  assert.ok(d.includes(Buffer.from('iqn.2024-01.test:tgt1,t,0x0001')));
  t = await r.run([0x12, 1, 0xb0, 0, 255, 0]);
  assert.equal(t.dataIn!.readUInt16BE(2), 0x3c);
  assert.equal(t.dataIn![5], 255);
  assert.ok(t.dataIn!.readUInt32BE(20) > 0, 'MAXIMUM UNMAP LBA COUNT when thin');
  t = await r.run([0x12, 1, 0xb2, 0, 255, 0]);
  assert.equal(t.dataIn![5], 0xe4);
  t = await r.run([0x12, 1, 0xc7, 0, 255, 0]);
  assert.deepEqual(senseOf(t), [0x05, 0x24, 0x00]);
});

test('REPORT LUNS lists 0 and 1; unknown LUN: INQUIRY 7Fh, others LUN NOT SUPPORTED', async () => {
  const r = rig();
  await r.clearUa();
  let t = await r.run([0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]);
  assert.deepEqual([...t.dataIn!], [0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
  t = await r.run([0xa0, 0, 7, 0, 0, 0, 0, 0, 1, 0, 0, 0]);
  assert.deepEqual(senseOf(t), [0x05, 0x24, 0x00]);
  t = await r.run([0x12, 0, 0, 0, 36, 0], { lun: 9 });
  assert.equal(t.dataIn![0], 0x7f);
  t = await r.run([0x00, 0, 0, 0, 0, 0], { lun: 9 });
  assert.deepEqual(senseOf(t), [0x05, 0x25, 0x00]);
});

test('removeLun raises REPORTED LUNS DATA HAS CHANGED; REPORT LUNS clears it', async () => {
  const r = rig();
  await r.clearUa();
  const extra = new LogicalUnit({ tid: 1, lun: 2, deviceType: 'disk', dev: new MemoryDevice(4096), bsName: 'rdwr', path: '/x', oflags: { sync: false, direct: false }, blockSize: 512 });
  r.target.addLun(extra);
  await r.run([0x00, 0, 0, 0, 0, 0]); // consume the one from addLun on LUN 1
  r.target.removeLun(2);
  let t = await r.run([0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]);
  assert.equal(t.status, Status.Good);
  t = await r.run([0x00, 0, 0, 0, 0, 0]);
  assert.equal(t.status, Status.Good, 'cleared by REPORT LUNS');
  t = await r.run([0x00, 0, 0, 0, 0, 0], { n: r.i2 });
  assert.deepEqual(senseOf(t), [0x06, 0x3f, 0x0e]);
});

test('controller LUN 0 refuses disk opcodes', async () => {
  const r = rig();
  await r.clearUa();
  const t = await r.run(cdb10(0x28, 0, 1), { lun: 0 });
  assert.deepEqual(senseOf(t), [0x05, 0x20, 0x00]);
  const i = await r.run([0x12, 0, 0, 0, 36, 0], { lun: 0 });
  assert.equal(i.dataIn![0], 0x0c);
});

test('REPORT SUPPORTED OPERATION CODES: all, one, one with SA, timeouts', async () => {
  const r = rig();
  await r.clearUa();
  let t = await r.run([0xa3, 0x0c, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0]);
  const all = t.dataIn!;
  const n = all.readUInt32BE(0) / 8;
  assert.ok(n > 40);
  const ops = new Set<number>();
  for (let i = 0; i < n; i++) ops.add(all[4 + 8 * i]!);
  assert.ok(ops.has(0x89) && ops.has(0x93) && ops.has(0x42));
  t = await r.run([0xa3, 0x0c, 0x01, 0x28, 0, 0, 0, 0, 1, 0, 0, 0]);
  assert.deepEqual([...t.dataIn!.subarray(0, 6)], [0, 3, 0, 10, 0x28, 0xfa]);
  t = await r.run([0xa3, 0x0c, 0x82, 0x9e, 0, 0x10, 0, 0, 1, 0, 0, 0]);
  assert.equal(t.dataIn![1], 0x83);
  assert.equal(t.dataIn!.readUInt16BE(2), 16);
  assert.equal(t.dataIn!.readUInt16BE(20), 0x0a);
  t = await r.run([0xa3, 0x0c, 0x01, 0x9e, 0, 0, 0, 0, 1, 0, 0, 0]);
  assert.deepEqual(senseOf(t), [0x05, 0x24, 0x00]);
  t = await r.run([0xa3, 0x0c, 0x01, 0xc5, 0, 0, 0, 0, 1, 0, 0, 0]);
  assert.equal(t.dataIn![1], 0x01);
});

test('MODE SENSE(6) all pages; MODE SELECT sets SWP -> writes protected, UA to others', async () => {
  const r = rig();
  await r.clearUa();
  let t = await r.run([0x1a, 0, 0x3f, 0, 255, 0]);
  const d = t.dataIn!;
  assert.equal(d[0], d.length - 1);
  assert.equal(d[3], 8);
  // control page at some offset
  let off = 4 + 8;
  let ctrl = -1;
  while (off < d.length) {
    if ((d[off]! & 0x3f) === 0x0a && (d[off]! & 0x40) === 0) ctrl = off;
    off += (d[off]! & 0x40) ? 4 + d.readUInt16BE(off + 2) : 2 + d[off + 1]!;
  }
  assert.ok(ctrl > 0);
  t = await r.run([0x1a, 0, 0x4a, 0, 255, 0]); // changeable control page
  assert.equal(t.dataIn![4 + 8 + 4] & 0x08, 0x08, 'SWP changeable');
  const page = Buffer.from(d.subarray(ctrl, ctrl + 12));
  page[4] |= 0x08;
  const param = Buffer.concat([Buffer.alloc(4), page]);
  t = await r.run([0x15, 0x10, 0, 0, param.length, 0], { dataOut: param });
  assert.equal(t.status, Status.Good);
  assert.equal(r.lu.swp, true);
  t = await r.run(cdb10(0x2a, 0, 1), { dataOut: Buffer.alloc(512) });
  assert.deepEqual(senseOf(t), [0x07, 0x27, 0x00]);
  t = await r.run([0x1a, 0, 0x08, 0, 255, 0]);
  assert.equal(t.dataIn![2] & 0x80, 0x80, 'WP in device-specific parameter');
  t = await r.run([0x00, 0, 0, 0, 0, 0], { n: r.i2 });
  assert.deepEqual(senseOf(t), [0x06, 0x2a, 0x01]);
  // changing a non-changeable bit fails
  page[2] ^= 0x80;
  t = await r.run([0x15, 0x10, 0, 0, param.length, 0], { dataOut: Buffer.concat([Buffer.alloc(4), page]) });
  assert.deepEqual(senseOf(t), [0x05, 0x26, 0x00]);
});

test('MODE SENSE(10) with LLBAA long block descriptor, unsupported page', async () => {
  const r = rig();
  await r.clearUa();
  let t = await r.run([0x5a, 0x10, 0x08, 0, 0, 0, 0, 1, 0, 0]);
  const d = t.dataIn!;
  assert.equal(d[4], 1);
  assert.equal(d.readUInt16BE(6), 16);
  assert.equal(d.readUInt32BE(8 + 4), 2048);
  assert.equal(d[24], 0x08);
  t = await r.run([0x5a, 0, 0x05, 0, 0, 0, 0, 1, 0, 0]);
  assert.deepEqual(senseOf(t), [0x05, 0x24, 0x00]);
});

test('caching page: MODE SELECT WCE=0 flushes what was cached, then every write is flushed before GOOD; per LU; saved values refused', async () => {
  const r = rig();
  const dev2 = new MemoryDevice(1 << 20);
  const lu2 = new LogicalUnit({ tid: 1, lun: 2, deviceType: 'disk', dev: dev2, bsName: 'rdwr', path: null, oflags: { sync: false, direct: false }, blockSize: 512 });
  r.target.addLun(lu2);
  await r.clearUa();
  for (const n of [r.i1, r.i2]) while ((await r.run([0, 0, 0, 0, 0, 0], { n, lun: 2 })).status !== Status.Good) { /* drain */ }
  const write = (lun = 1): Promise<ScsiTask> => r.run(cdb10(0x2a, 0, 1), { dataOut: Buffer.alloc(512, 7), lun });
  assert.equal((await write()).status, Status.Good);
  assert.equal(r.dev.flushes, 0, 'WCE=1: the write may stay cached');
  // MODE SENSE(6) DBD=1 caching page, WCE cleared, sent back with MODE SELECT(6) PF=1
  const cur = (await r.run([0x1a, 0x08, 0x08, 0, 255, 0])).dataIn!;
  assert.equal(cur[4 + 2]! & 0x04, 0x04, 'WCE is the default');
  const page = Buffer.from(cur.subarray(4));
  page[2] = page[2]! & ~0x04;
  const list = Buffer.concat([Buffer.alloc(4), page]);
  assert.equal((await r.run([0x15, 0x10, 0, 0, list.length, 0], { dataOut: list })).status, Status.Good);
  assert.equal(r.dev.flushes, 1, 'turning WCE off flushed the cache before GOOD');
  assert.equal(r.lu.modePages.wce, false);
  assert.equal((await r.run([0x1a, 0x08, 0x08, 0, 255, 0])).dataIn![4 + 2]! & 0x04, 0, 'MODE SENSE reports WCE=0');
  assert.deepEqual(senseOf(await r.run([0, 0, 0, 0, 0, 0], { n: r.i2 })), [0x06, 0x2a, 0x01], 'MODE PARAMETERS CHANGED for the other nexus');
  assert.equal((await write()).status, Status.Good);
  assert.equal(r.dev.flushes, 2, 'WCE=0: on stable storage before GOOD');
  // the other LU keeps its own pages
  assert.equal((await write(2)).status, Status.Good);
  assert.equal(dev2.flushes, 0);
  assert.equal(lu2.modePages.wce, true);
  // SPC-4: no page is savable: PC=11b is SAVING PARAMETERS NOT SUPPORTED, SP=1 INVALID FIELD IN CDB
  assert.deepEqual(senseOf(await r.run([0x1a, 0, 0xc8, 0, 255, 0])), [0x05, 0x39, 0x00]);
  assert.deepEqual(senseOf(await r.run([0x5a, 0, 0xc8, 0, 0, 0, 0, 1, 0, 0])), [0x05, 0x39, 0x00]);
  assert.deepEqual(senseOf(await r.run([0x15, 0x11, 0, 0, list.length, 0], { dataOut: list })), [0x05, 0x24, 0x00]);
  assert.equal(r.lu.modePages.wce, false, 'the refused MODE SELECT changed nothing');
});

function prOut(sa: number, type: number, key: bigint, saKey: bigint): [number[], Buffer] {
  const p = Buffer.alloc(24);
  p.writeBigUInt64BE(key, 0);
  p.writeBigUInt64BE(saKey, 8);
  return [[0x5f, sa, type, 0, 0, 0, 0, 0, 24, 0], p];
}

test('PR: register, reserve WE, access rules, read keys/reservation, preempt, clear', async () => {
  const r = rig();
  await r.clearUa();
  const run = (cdb: number[], dataOut: Buffer, n = r.i1): Promise<ScsiTask> => r.run(cdb, { dataOut, n });
  let [c, p] = prOut(0, 0, 0n, 0xaan);
  assert.equal((await run(c, p)).status, Status.Good);
  [c, p] = prOut(0, 0, 0n, 0xbbn);
  assert.equal((await run(c, p, r.i2)).status, Status.Good);
  // wrong key -> conflict
  [c, p] = prOut(1, 1, 0x99n, 0n);
  assert.equal((await run(c, p)).status, Status.ReservationConflict);
  [c, p] = prOut(1, 1, 0xaan, 0n);
  assert.equal((await run(c, p)).status, Status.Good);
  // Write Exclusive: i2 may read, not write; an unregistered nexus likewise
  assert.equal((await r.run(cdb10(0x28, 0, 1), { n: r.i2 })).status, Status.Good);
  assert.equal((await r.run(cdb10(0x2a, 0, 1), { n: r.i2, dataOut: Buffer.alloc(512) })).status, Status.ReservationConflict);
  assert.equal((await r.run(cdb10(0x2a, 0, 1), { dataOut: Buffer.alloc(512) })).status, Status.Good);
  let t = await r.run([0x5e, 0, 0, 0, 0, 0, 0, 0, 255, 0]);
  assert.deepEqual([...t.dataIn!.subarray(4, 8)], [0, 0, 0, 16]);
  assert.equal(t.dataIn!.readBigUInt64BE(8), 0xaan);
  t = await r.run([0x5e, 1, 0, 0, 0, 0, 0, 0, 255, 0]);
  assert.equal(t.dataIn!.readBigUInt64BE(8), 0xaan);
  assert.equal(t.dataIn![21], 0x01);
  // i2 preempts i1 with type EA
  [c, p] = prOut(4, 3, 0xbbn, 0xaan);
  assert.equal((await run(c, p, r.i2)).status, Status.Good);
  t = await r.run(cdb10(0x28, 0, 1));
  assert.deepEqual(senseOf(t), [0x06, 0x2a, 0x05], 'REGISTRATIONS PREEMPTED');
  t = await r.run(cdb10(0x28, 0, 1));
  assert.equal(t.status, Status.ReservationConflict, 'EA: non-holder cannot read');
  assert.equal((await r.run([0x12, 0, 0, 0, 36, 0])).status, Status.Good);
  // release with wrong type -> INVALID RELEASE OF PERSISTENT RESERVATION
  [c, p] = prOut(2, 1, 0xbbn, 0n);
  assert.deepEqual(senseOf(await run(c, p, r.i2)), [0x05, 0x26, 0x04]);
  [c, p] = prOut(3, 0, 0xbbn, 0n);
  assert.equal((await run(c, p, r.i2)).status, Status.Good);
  t = await r.run([0x5e, 0, 0, 0, 0, 0, 0, 0, 255, 0]);
  assert.equal(t.dataIn!.readUInt32BE(4), 0);
});

test('PR: registrants-only types give registrants access; REPORT CAPABILITIES; bad param length', async () => {
  const r = rig();
  await r.clearUa();
  const i3 = nexus(3);
  r.target.addNexus(i3);
  await r.run([0, 0, 0, 0, 0, 0], { n: i3 });
  const run = (cdb: number[], dataOut: Buffer, n = r.i1): Promise<ScsiTask> => r.run(cdb, { dataOut, n });
  let [c, p] = prOut(6, 0, 0n, 1n);
  await run(c, p);
  [c, p] = prOut(6, 0, 0n, 2n);
  await run(c, p, r.i2);
  [c, p] = prOut(1, 6, 1n, 0n); // EARO
  assert.equal((await run(c, p)).status, Status.Good);
  assert.equal((await r.run(cdb10(0x2a, 0, 1), { n: r.i2, dataOut: Buffer.alloc(512) })).status, Status.Good);
  assert.equal((await r.run(cdb10(0x28, 0, 1), { n: i3 })).status, Status.ReservationConflict);
  const t = await r.run([0x5e, 2, 0, 0, 0, 0, 0, 0, 8, 0]);
  assert.deepEqual([...t.dataIn!], [0, 8, 0x1d, 0x90, 0xea, 0x01, 0, 0]);
  const bad = await r.run([0x5f, 0, 0, 0, 0, 0, 0, 0, 20, 0], { dataOut: Buffer.alloc(20) });
  assert.deepEqual(senseOf(bad), [0x05, 0x1a, 0x00]);
});

test('SPC-2 RESERVE/RELEASE: other nexus conflicts, INQUIRY still works', async () => {
  const r = rig();
  await r.clearUa();
  assert.equal((await r.run([0x16, 0, 0, 0, 0, 0])).status, Status.Good);
  assert.equal((await r.run(cdb10(0x28, 0, 1), { n: r.i2 })).status, Status.ReservationConflict);
  assert.equal((await r.run([0x12, 0, 0, 0, 36, 0], { n: r.i2 })).status, Status.Good);
  assert.equal((await r.run([0x17, 0, 0, 0, 0, 0], { n: r.i2 })).status, Status.Good);
  assert.equal((await r.run(cdb10(0x28, 0, 1), { n: r.i2 })).status, Status.ReservationConflict);
  await r.run([0x17, 0, 0, 0, 0, 0]);
  assert.equal((await r.run(cdb10(0x28, 0, 1), { n: r.i2 })).status, Status.Good);
});

test('task attributes: ORDERED waits for earlier tasks, later SIMPLE waits for ORDERED, HEAD OF QUEUE runs at once', async () => {
  const r = rig({ dev: { async: true } });
  await r.clearUa();
  const order: string[] = [];
  const go = (name: string, cdb: number[], attr: TaskAttr, dataOut?: Buffer): Promise<void> =>
    new Promise((res) => r.target.execute(makeTask(r.i1, 1, cdb, { attr, dataOut }), () => { order.push(name); res(); }));
  const ps = [
    go('s1', cdb10(0x28, 0, 1), TaskAttr.Simple),
    go('o', cdb10(0x2a, 0, 1), TaskAttr.Ordered, Buffer.alloc(512, 9)),
    go('s2', cdb10(0x28, 0, 1), TaskAttr.Simple),
    go('h', [0x00, 0, 0, 0, 0, 0], TaskAttr.HeadOfQueue),
  ];
  await Promise.all(ps);
  assert.deepEqual(order, ['h', 's1', 'o', 's2']);
});

test('ABORT TASK of a queued task; LOGICAL UNIT RESET aborts and raises UA', async () => {
  const r = rig({ dev: { async: true } });
  await r.clearUa();
  const results: ScsiTask[] = [];
  const t1 = makeTask(r.i1, 1, cdb10(0x28, 0, 1), { tag: 10, attr: TaskAttr.Ordered });
  const t2 = makeTask(r.i1, 1, cdb10(0x28, 0, 1), { tag: 11 });
  const p1 = new Promise<void>((res) => r.target.execute(t1, (t) => { results.push(t); res(); }));
  const p2 = new Promise<void>((res) => r.target.execute(t2, (t) => { results.push(t); res(); }));
  const tmf = await new Promise<[number, readonly ScsiTask[]]>((res) =>
    r.target.taskMgmt(r.i1, Tmf.AbortTask, 1, 11, (resp, ab) => res([resp, ab])));
  assert.equal(tmf[0], TmfResponse.Complete);
  assert.deepEqual(tmf[1], [t2]);
  assert.equal(t2.aborted, true);
  await Promise.all([p1, p2]);
  assert.equal(t1.aborted, false);
  assert.equal(t1.status, Status.Good);
  // running task + LU reset: completes first, then reported aborted
  const t3 = makeTask(r.i2, 1, cdb10(0x28, 0, 1), { tag: 12 });
  const p3 = new Promise<void>((res) => r.target.execute(t3, () => res()));
  const reset = await new Promise<[number, readonly ScsiTask[]]>((res) =>
    r.target.taskMgmt(r.i1, Tmf.LogicalUnitReset, 1, 0, (resp, ab) => res([resp, ab])));
  await p3;
  assert.equal(reset[0], TmfResponse.Complete);
  assert.equal(t3.aborted, true);
  const t = await r.run([0, 0, 0, 0, 0, 0], { n: r.i2 });
  assert.deepEqual(senseOf(t), [0x06, 0x29, 0x03]);
  const ns = await new Promise<number>((res) => r.target.taskMgmt(r.i1, Tmf.ClearAca, 1, 0, (resp) => res(resp)));
  assert.equal(ns, TmfResponse.NotSupported);
  const nl = await new Promise<number>((res) => r.target.taskMgmt(r.i1, Tmf.AbortTaskSet, 7, 0, (resp) => res(resp)));
  assert.equal(nl, TmfResponse.LunDoesNotExist);
});

test('CLEAR TASK SET gives COMMANDS CLEARED BY ANOTHER INITIATOR to the other nexus', async () => {
  const r = rig({ dev: { async: true } });
  await r.clearUa();
  const t2 = makeTask(r.i2, 1, cdb10(0x28, 0, 1), { tag: 5 });
  const p = new Promise<void>((res) => r.target.execute(t2, () => res()));
  await new Promise<void>((res) => r.target.taskMgmt(r.i1, Tmf.ClearTaskSet, 1, 0, () => res()));
  await p;
  assert.equal(t2.aborted, true);
  const t = await r.run([0, 0, 0, 0, 0, 0], { n: r.i2 });
  assert.deepEqual(senseOf(t), [0x06, 0x2f, 0x00]);
});

test('offline target answers BUSY; descriptor sense with sense_format=1; garbage CDB never throws', async () => {
  const r = rig();
  await r.clearUa();
  r.lu.updateParams([['sense_format', '1']]);
  let t = await r.run(cdb10(0x28, 5000, 1));
  assert.equal(t.sense![0], 0x72);
  assert.deepEqual(senseOf(t), [0x05, 0x21, 0x00]);
  t = await r.run([0xff, 0xff, 0xff]);
  assert.deepEqual(senseOf(t), [0x05, 0x20, 0x00]);
  r.target.state = 'offline';
  t = await r.run([0, 0, 0, 0, 0, 0]);
  assert.equal(t.status, Status.Busy);
});

test('capacityChanged raises CAPACITY DATA HAS CHANGED', async () => {
  const r = rig({ blocks: 100 });
  await r.clearUa();
  r.dev.grow(200 * 512);
  assert.equal(r.target.capacityChanged(1), true);
  const t = await r.run([0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(senseOf(t), [0x06, 0x2a, 0x09]);
  const c = await r.run([0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  assert.equal(c.dataIn!.readUInt32BE(0), 199);
});
