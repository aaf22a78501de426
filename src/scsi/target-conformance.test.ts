// Unit tests: SAM-5 / SBC-4 behaviour found by libiscsi iscsi-test-cu (resets, ABORT TASK, COMPARE AND WRITE, WRITE SAME UNMAP).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataDir, Status, Tmf, TmfResponse } from './api.js';
import type { ItNexus, ScsiTask } from './api.js';
import { cdb10, cdb16, makeTask, rig, senseOf } from './testing/harness.js';
import type { Rig } from './testing/harness.js';

const TUR = [0, 0, 0, 0, 0, 0];

function tmf(r: Rig, n: ItNexus, fn: Tmf, lun = 1, ref = 0): Promise<[number, readonly ScsiTask[]]> {
  return new Promise((res) => r.target.taskMgmt(n, fn, lun, ref, (resp, ab) => res([resp, ab])));
}

test('LOGICAL UNIT RESET: 29/03 for every nexus, the issuer too (SAM-5 6.3.3); SPC-2 reservation released', async () => {
  const r = rig();
  await r.clearUa();
  assert.equal((await r.run([0x16, 0, 0, 0, 0, 0])).status, Status.Good); // RESERVE(6) by i1
  const [resp] = await tmf(r, r.i1, Tmf.LogicalUnitReset);
  assert.equal(resp, TmfResponse.Complete);
  // the issuer sees BUS DEVICE RESET FUNCTION OCCURRED once, then its reservation is gone
  assert.deepEqual(senseOf(await r.run(TUR)), [0x06, 0x29, 0x03]);
  const own = await r.run([0x16, 0, 0, 0, 0, 0]);
  assert.equal(own.status, Status.Good);
  assert.equal(own.sense, null);
  // the other nexus too, then the issuer's new reservation conflicts
  const other = await r.run(TUR, { n: r.i2 });
  assert.deepEqual(senseOf(other), [0x06, 0x29, 0x03]);
  assert.equal((await r.run(TUR, { n: r.i2 })).status, Status.ReservationConflict);
  // LUN 0 was not reset
  assert.equal((await r.run(TUR, { lun: 0 })).status, Status.Good);
});

test('TARGET WARM RESET: 29/00 on every LU for every nexus; COLD RESET: 29/01', async () => {
  const r = rig();
  await r.clearUa();
  assert.equal((await tmf(r, r.i2, Tmf.TargetWarmReset))[0], TmfResponse.Complete);
  for (const n of [r.i1, r.i2]) {
    for (const lun of [0, 1]) {
      assert.deepEqual(senseOf(await r.run(TUR, { n, lun })), [0x06, 0x29, 0x00], `nexus ${n.id} LUN ${lun}`);
      assert.equal((await r.run(TUR, { n, lun })).status, Status.Good);
    }
  }
  assert.equal((await tmf(r, r.i2, Tmf.TargetColdReset))[0], TmfResponse.Complete);
  assert.deepEqual(senseOf(await r.run(TUR, { n: r.i2 })), [0x06, 0x29, 0x01]);
  assert.deepEqual(senseOf(await r.run(TUR)), [0x06, 0x29, 0x01]);
  assert.equal((await r.run(TUR)).status, Status.Good);
});

test('ABORT TASK of a task that already completed: TASK DOES NOT EXIST', async () => {
  const r = rig();
  await r.clearUa();
  const w = await r.run(cdb10(0x2a, 0, 1), { dataOut: Buffer.alloc(512, 1), tag: 77 });
  assert.equal(w.status, Status.Good);
  const [resp, aborted] = await tmf(r, r.i1, Tmf.AbortTask, 1, 77);
  assert.equal(resp, TmfResponse.TaskDoesNotExist);
  assert.equal(aborted.length, 0);
});

test('COMPARE AND WRITE: NUMBER OF LOGICAL BLOCKS 0 with Data-Out is INVALID FIELD IN CDB; without, GOOD', async () => {
  const r = rig();
  await r.clearUa();
  // libiscsi sends 256 blocks: the one-byte field wraps to 0 while 2 * 256 blocks of data follow
  const cw = [0x89, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
  const t = await r.run(cw, { dataOut: Buffer.alloc(2 * 256 * 512, 0x41) });
  assert.equal(t.status, Status.CheckCondition);
  assert.deepEqual([...t.sense!.subarray(0, 14)], [0x70, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x24, 0x00]);
  assert.equal(r.dev.writes, 0);
  const none = makeTask(r.i1, 1, cw, { expectedLength: 0 });
  none.dir = DataDir.None;
  const z = await new Promise<ScsiTask>((res) => r.target.execute(none, res));
  assert.equal(z.status, Status.Good);
});

test('WRITE SAME UNMAP=1 on a fully provisioned LU: INVALID COMMAND OPERATION CODE, nothing written', async () => {
  const r = rig();
  await r.clearUa();
  r.dev.data.fill(0x55, 0, 512);
  const ws10 = cdb10(0x41, 0, 1, 0x08);
  let t = await r.run(ws10, { dataOut: Buffer.alloc(512) });
  assert.deepEqual([...t.sense!.subarray(0, 14)], [0x70, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x20, 0x00]);
  t = await r.run(cdb16(0x93, 0, 1, 0x08), { dataOut: Buffer.alloc(512) });
  assert.deepEqual(senseOf(t), [0x05, 0x20, 0x00]);
  assert.equal(r.dev.data[0], 0x55);
  // UNMAP=0 still writes
  t = await r.run(cdb10(0x41, 0, 1), { dataOut: Buffer.alloc(512, 7) });
  assert.equal(t.status, Status.Good);
  assert.equal(r.dev.data[511], 7);
});

test('WRITE SAME UNMAP=1 on a thin LU with zero data deallocates', async () => {
  const r = rig({ thin: true });
  await r.clearUa();
  const t = await r.run(cdb10(0x41, 0, 8, 0x08), { dataOut: Buffer.alloc(512) });
  assert.equal(t.status, Status.Good);
  assert.equal(r.dev.unmaps, 1);
});

test('RSOC one command: REPORTING OPTIONS mismatch carries a field pointer to CDB byte 2 bit 2', async () => {
  const r = rig();
  await r.clearUa();
  // REPORTING OPTIONS 010b (with service action) for TEST UNIT READY, which has none
  const t = await r.run([0xa3, 0x0c, 0x02, 0x00, 0, 0, 0, 0, 0xff, 0xff, 0, 0]);
  assert.equal(t.status, Status.CheckCondition);
  // 15 SKSV|C/D|BPV|BIT POINTER 2, 16..17 FIELD POINTER 2
  assert.deepEqual([...t.sense!], [0x70, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x24, 0x00, 0, 0xca, 0x00, 0x02]);
  // 001b for an opcode with service actions (PERSISTENT RESERVE IN)
  const u = await r.run([0xa3, 0x0c, 0x01, 0x5e, 0, 0, 0, 0, 0xff, 0xff, 0, 0]);
  assert.deepEqual([...u.sense!.subarray(12, 18)], [0x24, 0x00, 0, 0xca, 0x00, 0x02]);
  // 010b for PERSISTENT RESERVE IN / READ KEYS works
  const v = await r.run([0xa3, 0x0c, 0x02, 0x5e, 0x00, 0x00, 0, 0, 0xff, 0xff, 0, 0]);
  assert.equal(v.status, Status.Good);
  assert.equal(v.dataIn![1]! & 0x07, 0x03);
});

test('READ DEFECT DATA(10/12): empty list in the requested format', async () => {
  const r = rig();
  await r.clearUa();
  // REQ_GLIST, format 101b (physical sector), ALLOCATION LENGTH 32
  const t = await r.run([0x37, 0, 0x0d, 0, 0, 0, 0, 0, 32, 0]);
  assert.equal(t.status, Status.Good);
  assert.deepEqual([...t.dataIn!], [0, 0x0d, 0, 0]);
  const u = await r.run([0xb7, 0x15, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0]);
  assert.equal(u.status, Status.Good);
  assert.deepEqual([...u.dataIn!], [0, 0x15, 0, 0, 0, 0, 0, 0]);
});
