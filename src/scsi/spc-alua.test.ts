// Unit tests: SPC-4 5.16 ALUA — REPORT TARGET PORT GROUPS, the states an administrator sets and what each refuses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Status } from './api.js';
import type { ItNexus } from './api.js';
import { AluaState } from './alua.js';
import { nexus, rig, senseOf } from './testing/harness.js';

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

const VPD83 = [0x12, 1, 0x83, 0, 0xff, 0];
const INQ = [0x12, 0, 0, 0, 0xff, 0];
/** SET TARGET PORT GROUPS with one descriptor per [state, group]. */
function stpg(descs: [number, number][]): { cdb: number[]; dataOut: Buffer } {
  const d = Buffer.alloc(4 + 4 * descs.length);
  descs.forEach(([state, id], i) => {
    d[4 + 4 * i] = state;
    d.writeUInt16BE(id, 4 + 4 * i + 2);
  });
  return { cdb: [0xa4, 0x0a, 0, 0, 0, 0, ...u32(d.length), 0, 0], dataOut: d };
}
function u32(n: number): number[] {
  return [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}
/** [group, state, status, relative ports...] of each RTPG descriptor. */
function groupsOf(d: Buffer): number[][] {
  const out: number[][] = [];
  for (let o = 4; o < d.length;) {
    const n = d[o + 7]!;
    const row = [d.readUInt16BE(o + 2), d[o]! & 0x0f, d[o + 5]!];
    for (let i = 0; i < n; i++) row.push(d.readUInt16BE(o + 8 + 4 * i + 2));
    out.push(row);
    o += 8 + 4 * n;
  }
  return out;
}

test('portals in groups: each nexus sees its own group and port in VPD 83h and its own state; RTPG lists every group', async () => {
  const r = rig();
  const a = { ...nexus(3), localAddress: '127.0.0.2', localPort: 3260 };
  const b = { ...nexus(4), localAddress: '::ffff:127.0.0.3', localPort: 3261 };
  const other = { ...nexus(5), localAddress: '127.0.0.3', localPort: 3260 };
  assert.equal(r.target.assignAluaPortal(2, '127.0.0.2'), null);
  assert.equal(r.target.assignAluaPortal(3, '127.0.0.3:3261'), null);
  assert.equal(r.target.assignAluaPortal(0, '127.0.0.4'), 'bad-group');
  assert.equal(r.target.assignAluaPortal(4, '127.0.0.4:x'), 'bad-portal');
  for (const n of [a, b, other]) r.target.addNexus(n);
  await r.clearUa();
  for (const n of [a, b, other]) while ((await r.run(TUR, { n })).status !== Status.Good) { /* drain POWER ON */ }
  const groupOfNexus = async (n: ItNexus): Promise<[number, number]> => {
    const v = (await r.run(VPD83, { n })).dataIn!;
    const find = (type: number): number => {
      const i = v.indexOf(Buffer.from([0x51, type, 0, 4]));
      assert.ok(i > 0, `designator ${type.toString(16)}`);
      return v.readUInt16BE(i + 6);
    };
    return [find(0x95), find(0x94)];
  };
  assert.deepEqual(await groupOfNexus(a), [2, 2]);
  assert.deepEqual(await groupOfNexus(b), [3, 3], 'an IPv4-mapped address matches the IPv4 portal, with its port');
  assert.deepEqual(await groupOfNexus(other), [1, 1], 'another port of that address stays in group 1');
  assert.deepEqual(await groupOfNexus(r.i1), [1, 1], 'a nexus without an address is in group 1');
  // Each group is its own iSCSI portal group: the target port's name carries the group as its tag (RFC 7143 13.1).
  const portName = async (n: ItNexus): Promise<string> => {
    const v = (await r.run(VPD83, { n })).dataIn!;
    const i = v.indexOf(Buffer.from([0x53, 0x98]));
    return v.toString('utf8', i + 4, i + 4 + v[i + 3]!).replace(/\0+$/, '');
  };
  assert.equal(await portName(b), `${r.target.name},t,0x0003`);
  assert.equal(await portName(other), `${r.target.name},t,0x0001`);
  assert.equal(r.target.portalGroupTag('::ffff:127.0.0.3', 3261), 3);
  assert.equal(r.target.portalGroupTag('127.0.0.2', 1234), 2);
  assert.equal(r.target.portalGroupTag('127.0.0.9', 3260), 1);
  assert.equal(r.target.setAluaState(AluaState.Standby, 3), null);
  assert.equal(r.target.setAluaState(AluaState.Standby, 9), 'bad-group');
  for (const n of [a, b, other]) assert.deepEqual(senseOf(await r.run(TUR, { n })), [6, 0x2a, 0x06]);
  assert.deepEqual(senseOf(await r.run(TUR, { n: b })), [2, 0x04, 0x0b], 'group 3 is standby');
  assert.equal((await r.run(TUR, { n: a })).status, Status.Good, 'group 2 is not');
  assert.deepEqual(groupsOf((await r.run(RTPG(), { n: a })).dataIn!), [[1, 0, 0, 1], [2, 0, 0, 2], [3, 2, 2, 3]]);
  // moving a portal to another group: its nexus is told its inquiry data changed
  assert.equal(r.target.assignAluaPortal(3, '127.0.0.2'), null);
  assert.deepEqual(senseOf(await r.run(TUR, { n: a })), [6, 0x3f, 0x03]);
  assert.deepEqual(senseOf(await r.run(TUR, { n: a })), [6, 0x2a, 0x06]);
  assert.deepEqual(senseOf(await r.run(TUR, { n: a })), [2, 0x04, 0x0b], 'now in the standby group');
  assert.deepEqual(senseOf(await r.run(TUR, { n: other })), [6, 0x2a, 0x06], 'the others only see RTPG change');
  assert.equal((await r.run(TUR, { n: other })).status, Status.Good);
});

test('SET TARGET PORT GROUPS: refused as an unknown command unless alua_explicit; then TPGS 11b and explicit transitions', async () => {
  const r = rig();
  r.target.assignAluaPortal(2, '127.0.0.2');
  await r.clearUa();
  let s = stpg([[AluaState.Standby, 1]]);
  assert.deepEqual(senseOf(await r.run(s.cdb, { dataOut: s.dataOut })), [5, 0x20, 0x00]);
  assert.equal(((await r.run(INQ)).dataIn![5]! >> 4) & 3, 1);
  r.target.setAluaExplicit(true);
  for (const n of [r.i1, r.i2]) assert.deepEqual(senseOf(await r.run(TUR, { n })), [6, 0x3f, 0x03], 'INQUIRY DATA HAS CHANGED');
  await r.clearUa();
  assert.equal(((await r.run(INQ)).dataIn![5]! >> 4) & 3, 3);
  // refused lists change nothing: transitioning is not settable, group 7 does not exist, a partial descriptor
  s = stpg([[AluaState.Standby, 2], [AluaState.Transitioning, 1]]);
  assert.deepEqual(senseOf(await r.run(s.cdb, { dataOut: s.dataOut })), [5, 0x26, 0x00]);
  s = stpg([[AluaState.Standby, 2], [AluaState.Standby, 7]]);
  assert.deepEqual(senseOf(await r.run(s.cdb, { dataOut: s.dataOut })), [5, 0x26, 0x00]);
  s = stpg([[AluaState.Standby, 2]]);
  const short = [...s.cdb];
  short[9] = 6;
  assert.deepEqual(senseOf(await r.run(short, { dataOut: s.dataOut.subarray(0, 6) })), [5, 0x1a, 0x00]);
  assert.deepEqual(groupsOf((await r.run(RTPG())).dataIn!).map((g) => g[1]), [0, 0]);
  // an empty list is GOOD and changes nothing
  assert.equal((await r.run([0xa4, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])).status, Status.Good);
  // two groups at once: STATUS CODE "altered by SET TARGET PORT GROUPS"; the sender gets no unit attention
  s = stpg([[AluaState.ActiveNonOptimized, 1], [AluaState.Standby, 2]]);
  assert.equal((await r.run(s.cdb, { dataOut: s.dataOut })).status, Status.Good);
  assert.deepEqual(groupsOf((await r.run(RTPG())).dataIn!), [[1, 1, 1, 1], [2, 2, 1, 2]]);
  assert.equal((await r.run(TUR)).status, Status.Good, 'the sender: no unit attention');
  assert.deepEqual(senseOf(await r.run(TUR, { n: r.i2 })), [6, 0x2a, 0x06], 'the other nexus: ASYMMETRIC ACCESS STATE CHANGED');
  assert.deepEqual(senseOf(await r.run(TUR, { n: r.i2, lun: 0 })), [6, 0x2a, 0x06], 'on every LU');
  // STPG itself runs in the unavailable state (SPC-4 5.16.2.4.5)
  s = stpg([[AluaState.Unavailable, 1]]);
  assert.equal((await r.run(s.cdb, { dataOut: s.dataOut })).status, Status.Good);
  assert.deepEqual(senseOf(await r.run(TUR)), [2, 0x04, 0x0c]);
  s = stpg([[AluaState.ActiveOptimized, 1]]);
  assert.equal((await r.run(s.cdb, { dataOut: s.dataOut })).status, Status.Good);
  assert.equal((await r.run(TUR)).status, Status.Good);
});
