// Unit tests: SBC-4 SANITIZE OVERWRITE / EXIT FAILURE MODE, the sanitize state and what other commands answer meanwhile.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Status, Tmf, TmfResponse } from './api.js';
import type { ScsiTask } from './api.js';
import { makeTask, rig, senseOf } from './testing/harness.js';
import type { Rig } from './testing/harness.js';

const BS = 512;
const TUR = [0, 0, 0, 0, 0, 0];

/** SANITIZE CDB: 1 IMMED 7, AUSE 5, SERVICE ACTION 4:0; 7..8 PARAMETER LIST LENGTH. */
function sanitizeCdb(sa: number, paramLen: number, opts: { immed?: boolean; ause?: boolean } = {}): number[] {
  return [0x48, (opts.immed ? 0x80 : 0) | (opts.ause ? 0x20 : 0) | sa, 0, 0, 0, 0, 0, paramLen >> 8, paramLen & 0xff, 0];
}

/** OVERWRITE parameter list: 0 INVERT|TEST|OVERWRITE COUNT, 2..3 pattern length, 4.. pattern. */
function overwriteParams(pattern: Buffer, count = 1, invert = false): Buffer {
  const b = Buffer.alloc(4 + pattern.length);
  b[0] = (invert ? 0x80 : 0) | count;
  b.writeUInt16BE(pattern.length, 2);
  pattern.copy(b, 4);
  return b;
}

/** Holds the device's writes until released, so a sanitize stays in progress as long as the test needs. */
function holdWrites(r: Rig): { release(): number } {
  const held: (() => void)[] = [];
  const orig = r.dev.write.bind(r.dev);
  r.dev.write = (o, d, cb) => void held.push(() => orig(o, d, cb));
  return {
    release(): number {
      const n = held.length;
      held.splice(0).forEach((f) => f());
      return n;
    },
  };
}

/** Releases held writes until the sanitize is no longer running. */
async function drain(r: Rig, gate: { release(): number }): Promise<void> {
  while (r.lu.sanitize?.running === true) {
    gate.release();
    await new Promise((res) => setImmediate(res));
  }
}

test('OVERWRITE fills every block with the pattern, repeated to the block length', async () => {
  const r = rig({ blocks: 64 });
  await r.clearUa();
  r.dev.data.fill(0x61);
  const pattern = Buffer.from([1, 2, 3, 4, 5, 6, 7]); // does not divide 512: restarts at each block
  const t = await r.run(sanitizeCdb(1, 11), { dataOut: overwriteParams(pattern) });
  assert.equal(t.status, Status.Good, JSON.stringify(senseOf(t)));
  const block = Buffer.alloc(BS);
  for (let o = 0; o < BS; o += 7) pattern.copy(block, o);
  for (let i = 0; i < 64; i++) assert.deepEqual(r.dev.data.subarray(i * BS, (i + 1) * BS), block, `block ${i}`);
  assert.ok(r.dev.flushes > 0, 'flushed before GOOD');
  assert.equal(r.lu.sanitize, null);
  assert.equal((await r.run(TUR)).status, Status.Good);
});

test('OVERWRITE with INVERT and two passes ends with the inverted pattern', async () => {
  const r = rig({ blocks: 16 });
  await r.clearUa();
  const t = await r.run(sanitizeCdb(1, 5), { dataOut: overwriteParams(Buffer.from([0x0f]), 2, true) });
  assert.equal(t.status, Status.Good);
  assert.ok(r.dev.data.every((b) => b === 0xf0));
});

test('SANITIZE refuses bad CDBs and parameter lists and changes nothing', async () => {
  const r = rig({ blocks: 16 });
  await r.clearUa();
  r.dev.data.fill(0x61);
  const ok = overwriteParams(Buffer.alloc(BS, 0xaa));
  const cases: [number[], Buffer | undefined, [number, number, number]][] = [
    [sanitizeCdb(1, 4), ok.subarray(0, 4), [5, 0x24, 0]], // PARAMETER LIST LENGTH < 5
    [sanitizeCdb(1, BS + 5), Buffer.concat([ok, Buffer.alloc(1)]), [5, 0x24, 0]], // > block length + 4
    [sanitizeCdb(1, BS + 4), overwriteParams(Buffer.alloc(BS), 0), [5, 0x26, 0]], // OVERWRITE COUNT 0
    [sanitizeCdb(1, BS + 4), Buffer.concat([Buffer.from([1, 0, 0, 0]), Buffer.alloc(BS)]), [5, 0x26, 0]], // pattern length 0
    [sanitizeCdb(1, BS + 4), Buffer.concat([Buffer.from([1, 0, (BS + 4) >> 8, (BS + 4) & 0xff]), Buffer.alloc(BS)]), [5, 0x26, 0]],
    [sanitizeCdb(2, 0), undefined, [5, 0x24, 0]], // BLOCK ERASE: not supported
    [sanitizeCdb(3, 0), undefined, [5, 0x24, 0]], // CRYPTOGRAPHIC ERASE: not supported
    [sanitizeCdb(5, 0), undefined, [5, 0x24, 0]],
    [sanitizeCdb(0x1f, 8), Buffer.alloc(8), [5, 0x24, 0]], // EXIT FAILURE MODE takes no parameters
  ];
  for (const [cdb, dataOut, sense] of cases) {
    const t = await r.run(cdb, dataOut ? { dataOut } : {});
    assert.deepEqual(senseOf(t), sense, `SA ${cdb[1]! & 0x1f} len ${cdb[8]}`);
  }
  for (const i of [2, 3, 4, 5, 6]) {
    const cdb = sanitizeCdb(1, BS + 4);
    cdb[i] = i; // a reserved byte
    assert.deepEqual(senseOf(await r.run(cdb, { dataOut: ok })), [5, 0x24, 0], `reserved byte ${i}`);
  }
  const reserved = sanitizeCdb(1, BS + 4);
  reserved[1]! |= 0x40;
  assert.deepEqual(senseOf(await r.run(reserved, { dataOut: ok })), [5, 0x24, 0]);
  assert.ok(r.dev.data.every((b) => b === 0x61), 'nothing written');
  // write protected (SWP or readonly=1): DATA PROTECT; another nexus's RESERVE(6): conflict
  r.lu.readonly = true;
  assert.deepEqual(senseOf(await r.run(sanitizeCdb(1, BS + 4), { dataOut: ok })), [7, 0x27, 0]);
  r.lu.readonly = false;
  assert.equal((await r.run([0x16, 0, 0, 0, 0, 0], { n: r.i2 })).status, Status.Good);
  assert.equal((await r.run(sanitizeCdb(1, BS + 4), { dataOut: ok })).status, Status.ReservationConflict);
  assert.ok(r.dev.data.every((b) => b === 0x61), 'nothing written');
  // RSOC: OVERWRITE and EXIT FAILURE MODE supported, BLOCK ERASE and CRYPTOGRAPHIC ERASE not
  for (const [sa, support] of [[1, 3], [0x1f, 3], [2, 1], [3, 1]] as const) {
    const t = await r.run([0xa3, 0x0c, 0x02, 0x48, 0, sa, 0, 0, 0x01, 0, 0, 0], { n: r.i2 });
    assert.equal(t.dataIn![1]! & 0x07, support, `SA ${sa}`);
  }
});

test('while a sanitize runs: SANITIZE IN PROGRESS with progress, INQUIRY / REPORT LUNS / REQUEST SENSE answer, resets and aborts do not stop it', async () => {
  const r = rig({ blocks: 8192 }); // 4 MiB: four 1 MiB writes
  await r.clearUa();
  const gate = holdWrites(r);
  const params = overwriteParams(Buffer.from([0xaa]));
  // IMMED=0: the command waits for the operation
  const done = new Promise<ScsiTask>((res) => r.target.execute(makeTask(r.i1, 1, sanitizeCdb(1, 5), { dataOut: params, tag: 77 }), res));
  await new Promise((res) => setImmediate(res));
  assert.equal(r.lu.sanitize?.running, true);
  gate.release(); // the first 1 MiB lands: progress 1/4
  await new Promise((res) => setImmediate(res));
  for (const cdb of [TUR, [0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0], [0x48, 1, 0, 0, 0, 0, 0, 0, 5, 0]]) {
    const t = await r.run(cdb, { n: r.i2, dataOut: cdb[0] === 0x48 ? params : undefined });
    assert.deepEqual(senseOf(t), [2, 0x04, 0x1b], `opcode ${cdb[0]}`);
    assert.equal(t.sense![15]! & 0x80, 0x80, 'SKSV: progress indication');
    assert.equal(t.sense!.readUInt16BE(16), 0x4000, 'a quarter done');
  }
  assert.equal((await r.run([0x12, 0, 0, 0, 0xff, 0], { n: r.i2 })).status, Status.Good);
  assert.equal((await r.run([0xa0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0], { n: r.i2 })).status, Status.Good);
  const rs = await r.run([0x03, 0, 0, 0, 0xff, 0], { n: r.i2 });
  assert.equal(rs.status, Status.Good);
  assert.deepEqual([rs.dataIn![2]! & 0x0f, rs.dataIn![12], rs.dataIn![13]], [2, 0x04, 0x1b]);
  // ABORT TASK completes the command (TASK ABORTED); the operation goes on, through a LU reset too
  const resp = await new Promise<TmfResponse>((res) => r.target.taskMgmt(r.i1, Tmf.AbortTask, 1, 77, (x) => res(x)));
  assert.equal(resp, TmfResponse.Complete);
  assert.equal((await done).status, Status.TaskAborted);
  await new Promise<void>((res) => r.target.taskMgmt(r.i2, Tmf.LogicalUnitReset, 1, 0, () => res()));
  assert.deepEqual(senseOf(await r.run(TUR)), [6, 0x29, 0x03], 'the reset\'s unit attention first (SAM-5 5.14)');
  assert.deepEqual(senseOf(await r.run(TUR)), [2, 0x04, 0x1b], 'then: still in progress');
  await drain(r, gate);
  assert.equal(r.lu.sanitize, null);
  assert.equal((await r.run(TUR)).status, Status.Good);
  assert.ok(r.dev.data.every((b) => b === 0xaa));
});

test('a failed sanitize: failure mode until EXIT FAILURE MODE (with AUSE) or a SANITIZE that succeeds', async () => {
  const r = rig({ blocks: 16 });
  await r.clearUa();
  const params = overwriteParams(Buffer.from([0x55]));
  r.dev.failWith = 'EIO';
  assert.deepEqual(senseOf(await r.run(sanitizeCdb(1, 5), { dataOut: params })), [3, 0x31, 0x03]);
  r.dev.failWith = null;
  assert.deepEqual(senseOf(await r.run(TUR)), [3, 0x31, 0x03]);
  assert.equal((await r.run([0x12, 0, 0, 0, 0xff, 0])).status, Status.Good);
  // AUSE was 0: EXIT FAILURE MODE is refused
  assert.deepEqual(senseOf(await r.run(sanitizeCdb(0x1f, 0))), [5, 0x24, 0]);
  r.dev.failWith = 'EIO';
  assert.deepEqual(senseOf(await r.run(sanitizeCdb(1, 5, { ause: true }), { dataOut: params })), [3, 0x31, 0x03]);
  r.dev.failWith = null;
  assert.equal((await r.run(sanitizeCdb(0x1f, 0))).status, Status.Good);
  assert.equal((await r.run(TUR)).status, Status.Good);
  // IMMED=1 answers at once; a successful SANITIZE also ends a failure
  r.dev.failWith = 'EIO';
  await r.run(sanitizeCdb(1, 5), { dataOut: params });
  r.dev.failWith = null;
  assert.equal((await r.run(sanitizeCdb(1, 5, { immed: true }), { dataOut: params })).status, Status.Good);
  while (r.lu.sanitize?.running === true) await new Promise((res) => setImmediate(res));
  assert.equal((await r.run(TUR)).status, Status.Good);
  assert.ok(r.dev.data.every((b) => b === 0x55));
});

test('stop (the LU is closing): no write starts after it, its callback waits for the one in flight, the operation ends failed', async () => {
  const r = rig({ blocks: 8192 }); // four 1 MiB writes
  await r.clearUa();
  const gate = holdWrites(r);
  let writes = 0;
  const counted = r.dev.write;
  r.dev.write = (o, d, cb) => {
    writes++;
    counted(o, d, cb);
  };
  const t = await r.run(sanitizeCdb(1, 5, { immed: true }), { dataOut: overwriteParams(Buffer.from([0x55])) });
  assert.equal(t.status, Status.Good);
  assert.equal(r.lu.sanitize?.running, true);
  assert.equal(writes, 1, 'the first write is in flight');
  let stoppedAt = -1;
  r.lu.sanitize!.stop(() => (stoppedAt = writes));
  assert.equal(stoppedAt, -1, 'waits for the write in flight');
  gate.release();
  await new Promise((res) => setImmediate(res));
  assert.equal(stoppedAt, 1, 'called back after the write in flight, before any other');
  assert.equal(r.lu.sanitize?.running, false);
  assert.equal(r.lu.sanitize?.failed, true);
  assert.equal(gate.release(), 0, 'nothing written after the stop');
  let again = false;
  r.lu.sanitize!.stop(() => (again = true));
  assert.ok(again, 'stopping an ended operation calls back at once');
});
