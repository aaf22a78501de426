// Unit tests: SBC-4 4.11.3 SANITIZE BLOCK ERASE and GET LBA STATUS (5.7) from the store's allocation map (contract 2.1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Status } from './api.js';
import type { ScsiTask } from './api.js';
import { Op } from './opcodes.js';
import { cdb10, rig, senseOf } from './testing/harness.js';
import type { Rig } from './testing/harness.js';

const BS = 512;
const BLOCKS = 256;
const TUR = [0, 0, 0, 0, 0, 0];
/** SANITIZE / BLOCK ERASE CDB: 1 IMMED(7) AUSE(5) SERVICE ACTION 02h; 7..8 PARAMETER LIST LENGTH. */
const blockErase = (paramLen = 0, immed = false): number[] => [0x48, (immed ? 0x80 : 0) | 0x02, 0, 0, 0, 0, 0, paramLen >> 8, paramLen & 0xff, 0];

/** A thin LU on a device with a 4 KiB allocation unit (8 blocks), as a file on ext4 / xfs. */
async function thinWithMap(opts: { unmapZeroesOnly?: boolean } = {}): Promise<Rig> {
  const r = rig({ blocks: BLOCKS, thin: true, dev: { allocationUnit: 4096, ...opts } });
  await r.clearUa();
  return r;
}

/** GET LBA STATUS from `lba` with `allocLen`: the descriptors as [lba, blocks, status]. */
async function lbaStatus(r: Rig, lba: number, allocLen = 512): Promise<[number, number, number][]> {
  const c = Buffer.alloc(16);
  c[0] = Op.ServiceActionIn16;
  c[1] = 0x12;
  c.writeUInt32BE(lba, 6);
  c.writeUInt32BE(allocLen, 10);
  const t = await r.run(c);
  assert.equal(t.status, Status.Good, JSON.stringify(senseOf(t)));
  const d = t.dataIn!.subarray(0, Math.min(t.dataIn!.length, allocLen));
  const runs: [number, number, number][] = [];
  for (let o = 8; o + 16 <= d.length; o += 16) runs.push([d.readUInt32BE(o + 4), d.readUInt32BE(o + 8), d[o + 12]!]);
  return runs;
}

/** REPORT SUPPORTED OPERATION CODES for SANITIZE service action `sa`: the SUPPORT field. */
async function support(r: Rig, sa: number): Promise<number> {
  const t = await r.run([0xa3, 0x0c, 0x02, Op.Sanitize, 0, sa, 0, 0, 0x01, 0, 0, 0]);
  assert.equal(t.status, Status.Good);
  return t.dataIn![1]! & 0x07;
}

/** All commands of RSOC: [opcode, service action] pairs. */
async function allCommands(r: Rig): Promise<string[]> {
  const t = await r.run([0xa3, 0x0c, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0]);
  const d = t.dataIn!;
  const out: string[] = [];
  for (let o = 4; o < 4 + d.readUInt32BE(0); o += 8) out.push(`${d[o]!.toString(16)}/${d.readUInt16BE(o + 2)}`);
  return out;
}

/** Block Device Characteristics VPD page byte 7: WABEREQ(7:6) WACEREQ(5:4). */
async function wabereq(r: Rig): Promise<number> {
  const t = await r.run([0x12, 0x01, 0xb1, 0, 0xff, 0]);
  assert.equal(t.status, Status.Good);
  return t.dataIn![7]! >> 6;
}

function write(r: Rig, lba: number, blocks: number, fill: number): Promise<ScsiTask> {
  return r.run(cdb10(0x2a, lba, blocks), { dataOut: Buffer.alloc(blocks * BS, fill) });
}

test('GET LBA STATUS follows the allocation map: a block with any allocated byte is mapped, runs merge, the answer starts at the LBA asked', async () => {
  const r = await thinWithMap();
  assert.deepEqual(await lbaStatus(r, 0), [[0, BLOCKS, 1]], 'a new thin LU is deallocated throughout');
  assert.equal((await write(r, 10, 1, 0xaa)).status, Status.Good);
  assert.equal((await write(r, 100, 20, 0xbb)).status, Status.Good);
  // one 512-byte write allocates its 4 KiB unit: blocks 8..15; blocks 100..119 touch units 96..127
  assert.deepEqual(await lbaStatus(r, 0), [[0, 8, 1], [8, 8, 0], [16, 80, 1], [96, 24, 0], [120, 136, 1]]);
  assert.deepEqual(await lbaStatus(r, 12), [[12, 4, 0], [16, 80, 1], [96, 24, 0], [120, 136, 1]]);
  // the allocation length decides how many descriptors come back (24 bytes: one)
  assert.deepEqual(await lbaStatus(r, 0, 24), [[0, 8, 1]]);
  // zeros written are data: mapped (the map, not the contents, decides)
  assert.equal((await write(r, 200, 8, 0)).status, Status.Good);
  assert.deepEqual((await lbaStatus(r, 190)).slice(0, 2), [[190, 10, 1], [200, 8, 0]]);
  // UNMAP of a range that covers a unit only in part frees what it covers whole
  const unmap = Buffer.alloc(24);
  unmap.writeUInt16BE(22, 0);
  unmap.writeUInt16BE(16, 2);
  unmap.writeUInt32BE(100, 12); // LBA 100
  unmap.writeUInt32BE(20, 16); // 20 blocks: units 104..111 and 112..119 whole, 96..103 in part
  const u = await r.run([0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0], { dataOut: unmap });
  assert.equal(u.status, Status.Good, JSON.stringify(senseOf(u)));
  assert.deepEqual((await lbaStatus(r, 96)).slice(0, 2), [[96, 8, 0], [104, 96, 1]]);
  // beyond the end: LBA OUT OF RANGE
  const c = Buffer.alloc(16);
  c[0] = Op.ServiceActionIn16;
  c[1] = 0x12;
  c.writeUInt32BE(BLOCKS, 6);
  c.writeUInt32BE(32, 10);
  assert.deepEqual(senseOf(await r.run(c)), [0x05, 0x21, 0x00]);
});

test('BLOCK ERASE on a thin LU with an allocation map: offered (RSOC, WABEREQ 01b), every block deallocated and reading zeros', async () => {
  const r = await thinWithMap();
  assert.equal(await support(r, 0x02), 0x03, 'RSOC: BLOCK ERASE supported');
  assert.ok((await allCommands(r)).includes('48/2'), 'listed among all commands');
  assert.equal(await support(r, 0x03), 0x01, 'CRYPTOGRAPHIC ERASE not supported');
  assert.equal(await wabereq(r), 0x01);
  assert.equal((await write(r, 0, 16, 0x61)).status, Status.Good);
  assert.equal((await write(r, BLOCKS - 16, 16, 0x61)).status, Status.Good);
  // 5.30.3: PARAMETER LIST LENGTH must be 0; reserved CDB bytes are refused; nothing changes
  assert.deepEqual(senseOf(await r.run(blockErase(8), { dataOut: Buffer.alloc(8) })), [0x05, 0x24, 0x00]);
  const reserved = blockErase();
  reserved[3] = 1;
  assert.deepEqual(senseOf(await r.run(reserved)), [0x05, 0x24, 0x00]);
  assert.equal(r.dev.data[0], 0x61);
  const t = await r.run(blockErase());
  assert.equal(t.status, Status.Good, JSON.stringify(senseOf(t)));
  assert.equal(r.lu.sanitize, null, 'succeeded: not in failure mode');
  assert.ok(r.dev.data.every((b) => b === 0), 'every byte reads zero');
  assert.ok(r.dev.flushes > 0, 'flushed before GOOD');
  // libiscsi Sanitize.BlockErase check_unmap: one GET LBA STATUS from LBA 0 covers the LU, all deallocated
  assert.deepEqual(await lbaStatus(r, 0, 256), [[0, BLOCKS, 1]]);
  // WABEREQ 01b: a read of an erased block succeeds
  const rd = await r.run(cdb10(0x28, 0, 1));
  assert.equal(rd.status, Status.Good);
  assert.ok(rd.dataIn!.every((b) => b === 0));
});

test('BLOCK ERASE is refused as an unknown service action where it cannot be proved: thick LU, no allocation map', async () => {
  for (const [what, r] of [
    ['thick LU with a map', rig({ blocks: BLOCKS, dev: { allocationUnit: 4096 } })],
    ['thin LU without a map', rig({ blocks: BLOCKS, thin: true })],
  ] as const) {
    await r.clearUa();
    r.dev.data.fill(0x61);
    assert.deepEqual(senseOf(await r.run(blockErase())), [0x05, 0x24, 0x00], what);
    assert.equal(r.dev.data[0], 0x61, `${what}: nothing erased`);
    assert.equal(r.lu.sanitize, null, what);
    assert.equal(await support(r, 0x02), 0x01, `${what}: RSOC says not supported`);
    assert.ok(!(await allCommands(r)).includes('48/2'), `${what}: not listed`);
    assert.ok((await allCommands(r)).includes('48/1'), `${what}: OVERWRITE still listed`);
    assert.equal(await wabereq(r), 0, `${what}: WABEREQ 00b`);
  }
});

test('BLOCK ERASE where unmap only writes zeros: the map still says allocated, so the sanitize failed (failure mode until OVERWRITE)', async () => {
  const r = await thinWithMap({ unmapZeroesOnly: true });
  assert.equal((await write(r, 0, BLOCKS, 0x61)).status, Status.Good);
  assert.deepEqual(senseOf(await r.run(blockErase())), [0x03, 0x31, 0x03], 'MEDIUM ERROR / SANITIZE COMMAND FAILED');
  assert.equal(r.lu.sanitize?.failed, true);
  assert.deepEqual(senseOf(await r.run(TUR)), [0x03, 0x31, 0x03], 'sanitize failure mode');
  const params = Buffer.from([0x01, 0, 0, 1, 0]);
  const ow = await r.run([0x48, 0x01, 0, 0, 0, 0, 0, 0, 5, 0], { dataOut: params });
  assert.equal(ow.status, Status.Good, JSON.stringify(senseOf(ow)));
  assert.equal((await r.run(TUR)).status, Status.Good);
});

test('BLOCK ERASE: write protection and reservations refuse it before anything is erased; IMMED=1 answers at once and TEST UNIT READY reports the erase in progress', async () => {
  const r = await thinWithMap();
  assert.equal((await write(r, 0, 8, 0x61)).status, Status.Good);
  r.lu.readonly = true;
  assert.deepEqual(senseOf(await r.run(blockErase())), [0x07, 0x27, 0x00], 'DATA PROTECT / WRITE PROTECTED');
  r.lu.readonly = false;
  // RESERVE(6) from the other nexus
  assert.equal((await r.run([0x16, 0, 0, 0, 0, 0], { n: r.i2 })).status, Status.Good);
  assert.equal((await r.run(blockErase())).status, Status.ReservationConflict);
  assert.equal((await r.run([0x17, 0, 0, 0, 0, 0], { n: r.i2 })).status, Status.Good);
  assert.equal(r.dev.data[0], 0x61, 'nothing erased yet');
  // hold the unmaps: the erase stays in progress
  const held: (() => void)[] = [];
  const orig = r.dev.unmap!;
  (r.dev as { unmap: typeof orig }).unmap = (o, l, cb) => void held.push(() => orig(o, l, cb));
  const t = await r.run(blockErase(0, true));
  assert.equal(t.status, Status.Good, 'IMMED=1: GOOD at once');
  const tur = await r.run(TUR);
  assert.deepEqual(senseOf(tur), [0x02, 0x04, 0x1b], 'NOT READY / SANITIZE IN PROGRESS');
  while (held.length > 0) {
    held.splice(0).forEach((f) => f());
    await new Promise((res) => setImmediate(res));
  }
  assert.equal(r.lu.sanitize, null);
  assert.equal((await r.run(TUR)).status, Status.Good);
  assert.deepEqual(await lbaStatus(r, 0), [[0, BLOCKS, 1]]);
});

test('BLOCK ERASE stopped by the LU closing ends failed once the unmap in flight is back; an allocation map error fails GET LBA STATUS with MEDIUM ERROR', async () => {
  const r = await thinWithMap();
  const held: (() => void)[] = [];
  const orig = r.dev.unmap!;
  (r.dev as { unmap: typeof orig }).unmap = (o, l, cb) => void held.push(() => orig(o, l, cb));
  assert.equal((await r.run(blockErase(0, true))).status, Status.Good);
  let stopped = false;
  r.lu.sanitize!.stop(() => (stopped = true));
  assert.equal(stopped, false, 'waits for the unmap in flight');
  held.splice(0).forEach((f) => f());
  assert.equal(stopped, true);
  assert.equal(held.length, 0, 'no unmap after the stop');
  assert.equal(r.lu.sanitize?.failed, true);
  // the store's map fails: the command fails, as a read would
  const failing = await thinWithMap();
  (failing.dev as { allocation: unknown }).allocation = (_o: number, _l: number, cb: (e: NodeJS.ErrnoException) => void) => {
    const e: NodeJS.ErrnoException = new Error('EIO');
    e.code = 'EIO';
    cb(e);
  };
  const c = Buffer.alloc(16);
  c[0] = Op.ServiceActionIn16;
  c[1] = 0x12;
  c.writeUInt32BE(64, 10);
  assert.deepEqual(senseOf(await failing.run(c)), [0x03, 0x11, 0x00], 'MEDIUM ERROR / UNRECOVERED READ ERROR');
});
