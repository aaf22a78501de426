// Unit tests: SPC-4 5.16 ALUA — REPORT TARGET PORT GROUPS, the states an administrator sets and what each refuses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Status } from './api.js';
import { AluaState } from './alua.js';
import { rig, senseOf } from './testing/harness.js';

const RTPG = (format = 0): number[] => [0xa3, (format << 5) | 0x0a, 0, 0, 0, 0, 0, 0, 0x01, 0, 0, 0];
const TUR = [0, 0, 0, 0, 0, 0];

test('INQUIRY says implicit ALUA (TPGS 01b); REPORT TARGET PORT GROUPS reports group 1, port 1, active/optimized', async () => {
  const r = rig();
  await r.clearUa();
  const inq = await r.run([0x12, 0, 0, 0, 0xff, 0]);
  assert.equal((inq.dataIn![5]! >> 4) & 0x03, 0x01);
  let t = await r.run(RTPG());
  assert.equal(t.status, Status.Good);
  // 0..3 RETURN DATA LENGTH; descriptor: state, supported states, group 1, status, port count 1, port 1
  assert.deepEqual([...t.dataIn!], [0, 0, 0, 12, 0x00, 0x8f, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1]);
  t = await r.run(RTPG(1));
  assert.deepEqual([...t.dataIn!.subarray(0, 8)], [0, 0, 0, 16, 0x10, 0, 0, 0]);
  assert.deepEqual(senseOf(await r.run(RTPG(2))), [5, 0x24, 0]);
  // the controller (LUN 0) belongs to the same group
  t = await r.run(RTPG(), { lun: 0 });
  assert.equal(t.dataIn![7], 1);
  // VPD 83h names the same group and port
  const vpd = (await r.run([0x12, 1, 0x83, 0, 0xff, 0])).dataIn!;
  assert.ok(vpd.includes(Buffer.from([0x51, 0x95, 0, 4, 0, 0, 0, 1])), 'target port group designator 1');
  assert.ok(vpd.includes(Buffer.from([0x51, 0x94, 0, 4, 0, 0, 0, 1])), 'relative target port 1');
});

/** Each nexus sees ASYMMETRIC ACCESS STATE CHANGED once on each LU (a bounded drain: TUR may never be GOOD here). */
async function takeAluaUa(r: ReturnType<typeof rig>): Promise<void> {
  for (const n of [r.i1, r.i2]) {
    for (const lun of [0, 1]) assert.deepEqual(senseOf(await r.run(TUR, { n, lun })), [6, 0x2a, 0x06], 'ASYMMETRIC ACCESS STATE CHANGED');
  }
}

test('standby, unavailable, transitioning: each refuses what SPC-4 5.16.2.4 says, with its sense; a change raises a unit attention', async () => {
  const r = rig();
  await r.clearUa();
  r.target.setAluaState(AluaState.Standby);
  await takeAluaUa(r);
  const read = [0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0];
  const modeSense = [0x1a, 0, 0x3f, 0, 0xff, 0];
  const prIn = [0x5e, 0, 0, 0, 0, 0, 0, 0x10, 0, 0];
  assert.deepEqual(senseOf(await r.run(TUR)), [2, 0x04, 0x0b]);
  assert.deepEqual(senseOf(await r.run(read)), [2, 0x04, 0x0b]);
  assert.equal((await r.run(modeSense)).status, Status.Good);
  assert.equal((await r.run(prIn)).status, Status.Good);
  assert.equal((await r.run([0x12, 0, 0, 0, 0xff, 0])).status, Status.Good);
  const rs = await r.run([0x03, 0, 0, 0, 0xff, 0]);
  assert.deepEqual([rs.dataIn![2]! & 0x0f, rs.dataIn![12], rs.dataIn![13]], [2, 0x04, 0x0b]);
  const t = await r.run(RTPG());
  assert.equal(t.dataIn![4]! & 0x0f, AluaState.Standby);
  assert.equal(t.dataIn![9], 0x02, 'STATUS CODE: altered by implicit behaviour');
  r.target.setAluaState(AluaState.Unavailable);
  await takeAluaUa(r);
  assert.deepEqual(senseOf(await r.run(modeSense)), [2, 0x04, 0x0c]);
  assert.deepEqual(senseOf(await r.run(prIn)), [2, 0x04, 0x0c]);
  assert.equal((await r.run(RTPG())).status, Status.Good);
  assert.equal((await r.run([0xa0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0])).status, Status.Good);
  r.target.setAluaState(AluaState.Transitioning);
  await takeAluaUa(r);
  assert.deepEqual(senseOf(await r.run(read)), [2, 0x04, 0x0a]);
  r.target.setAluaState(AluaState.ActiveNonOptimized);
  await takeAluaUa(r);
  assert.equal((await r.run(read)).status, Status.Good);
  assert.equal((await r.run(RTPG())).dataIn![4]! & 0x0f, AluaState.ActiveNonOptimized);
  // the same state again changes nothing: no unit attention
  r.target.setAluaState(AluaState.ActiveNonOptimized);
  assert.equal((await r.run(TUR)).status, Status.Good);
});
