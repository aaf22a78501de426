// Unit tests: START STOP UNIT eject/load and PREVENT ALLOW MEDIUM REMOVAL on a removable LU (SBC-4 5.25, SPC-4 6.13).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Status, Tmf } from './api.js';
import { cdb10, nexus, rig, senseOf } from './testing/harness.js';
import type { Rig } from './testing/harness.js';

const TUR = [0, 0, 0, 0, 0, 0];
/** START STOP UNIT: byte 1 IMMED, byte 4 POWER CONDITION(7:4) LOEJ(1) START(0). */
const ssu = (loej: boolean, start: boolean, power = 0): number[] => [0x1b, 1, 0, 0, (power << 4) | (loej ? 2 : 0) | (start ? 1 : 0), 0];
const prevent = (v: number): number[] => [0x1e, 0, 0, 0, v, 0];
const NO_MEDIUM: [number, number, number] = [0x02, 0x3a, 0x00];
const PREVENTED: [number, number, number] = [0x05, 0x53, 0x02];

async function removable(): Promise<Rig> {
  const r = rig();
  r.lu.removable = true;
  await r.clearUa();
  return r;
}

test('eject: TEST UNIT READY, READ, WRITE, READ CAPACITY say MEDIUM NOT PRESENT; INQUIRY and MODE SENSE still answer; load brings it back', async () => {
  const r = await removable();
  assert.equal((await r.run(ssu(true, false))).status, Status.Good);
  assert.equal(r.lu.online, false, 'ejected: offline, as tgt shows it');
  const rs = await r.run([0x03, 0, 0, 0, 18, 0]);
  assert.deepEqual([rs.dataIn![2]! & 0x0f, rs.dataIn![12], rs.dataIn![13]], NO_MEDIUM, 'REQUEST SENSE says why');
  for (const cdb of [TUR, cdb10(0x28, 0, 1), [0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], [0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0]]) {
    assert.deepEqual(senseOf(await r.run(cdb)), NO_MEDIUM, `opcode ${cdb[0]!.toString(16)}`);
  }
  assert.deepEqual(senseOf(await r.run(cdb10(0x2a, 0, 1), { dataOut: Buffer.alloc(512, 7) })), NO_MEDIUM);
  assert.equal(r.dev.data[0], 0, 'nothing written without a medium');
  assert.deepEqual(senseOf(await r.run(TUR, { n: r.i2 })), NO_MEDIUM, 'the other nexus sees no medium either');
  assert.equal((await r.run([0x12, 0, 0, 0, 96, 0])).status, Status.Good);
  assert.equal((await r.run([0x1a, 0, 0x3f, 0, 255, 0])).status, Status.Good);
  assert.equal((await r.run(ssu(true, false))).status, Status.Good, 'a second eject is GOOD');
  assert.equal((await r.run(ssu(true, true))).status, Status.Good);
  assert.equal(r.lu.online, true);
  assert.equal((await r.run(TUR)).status, Status.Good);
  assert.equal((await r.run(cdb10(0x28, 0, 1))).status, Status.Good);
  // tgtadm --params online=0 takes the medium away the same way
  r.lu.online = false;
  assert.deepEqual(senseOf(await r.run(TUR)), NO_MEDIUM);
  r.lu.online = true;
  // a removable LU with no backing store has no medium to load
  r.lu.size = 0;
  assert.deepEqual(senseOf(await r.run(ssu(true, true))), NO_MEDIUM);
});

test('START without LOEJ, a POWER CONDITION, and LOEJ on a fixed disk change nothing', async () => {
  const r = await removable();
  for (const cdb of [ssu(false, false), ssu(false, true), ssu(true, false, 2), ssu(true, false, 0xa)]) {
    assert.equal((await r.run(cdb)).status, Status.Good);
    assert.equal((await r.run(TUR)).status, Status.Good, `after ${cdb[4]}`);
  }
  r.lu.removable = false;
  assert.equal((await r.run(ssu(true, false))).status, Status.Good);
  assert.equal((await r.run(TUR)).status, Status.Good, 'a fixed disk has no medium to eject');
});

test('PREVENT: eject and load refused with MEDIUM REMOVAL PREVENTED on every nexus until every preventing nexus allows', async () => {
  const r = await removable();
  assert.equal((await r.run(prevent(1))).status, Status.Good);
  assert.equal(r.lu.preventRemoval, true);
  assert.deepEqual(senseOf(await r.run(ssu(true, false))), PREVENTED);
  assert.deepEqual(senseOf(await r.run(ssu(true, false), { n: r.i2 })), PREVENTED, 'seen on the other nexus');
  assert.equal((await r.run(TUR)).status, Status.Good, 'the medium stayed');
  assert.equal((await r.run(prevent(1), { n: r.i2 })).status, Status.Good);
  assert.equal((await r.run(prevent(0))).status, Status.Good);
  assert.deepEqual(senseOf(await r.run(ssu(true, false))), PREVENTED, 'i2 still prevents');
  assert.equal((await r.run(prevent(0), { n: r.i2 })).status, Status.Good);
  assert.equal((await r.run(ssu(true, false))).status, Status.Good);
  assert.equal((await r.run(prevent(1))).status, Status.Good);
  assert.deepEqual(senseOf(await r.run(ssu(true, true))), PREVENTED, 'loading is refused too');
  assert.equal((await r.run(prevent(0))).status, Status.Good);
  assert.equal((await r.run(ssu(true, true))).status, Status.Good);
  assert.deepEqual(senseOf(await r.run(prevent(2))), [0x05, 0x24, 0x00], 'PREVENT 10b is obsolete');
});

test('prevention ends with the I_T nexus loss of the preventing nexus, and with a LU reset', async () => {
  const r = await removable();
  const i3 = nexus(3);
  r.target.addNexus(i3);
  while ((await r.run(TUR, { n: i3 })).status !== Status.Good) { /* drain the login unit attention */ }
  assert.equal((await r.run(prevent(1), { n: i3 })).status, Status.Good);
  assert.deepEqual(senseOf(await r.run(ssu(true, false))), PREVENTED);
  r.target.removeNexus(i3);
  assert.equal(r.lu.preventRemoval, false);
  assert.equal((await r.run(prevent(1))).status, Status.Good);
  await new Promise<void>((res) => r.target.taskMgmt(r.i2, Tmf.LogicalUnitReset, 1, 0, () => res()));
  assert.equal(r.lu.preventRemoval, false);
  await r.clearUa();
  assert.equal((await r.run(ssu(true, false))).status, Status.Good);
});
