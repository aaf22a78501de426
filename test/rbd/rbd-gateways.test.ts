// Two stgt gateways exporting one RBD image (issue 12 part 3): ALUA groups per gateway, unit attentions of another gateway's PR OUT, concurrent PR OUT serialised in Ceph.
//
// A real one-node Ceph (test/ceph/cluster.ts) and two tgtd on two loopback portals, configured as
// the README's "Several gateways" section says: the same target name, the same LU identity, both
// gateways' portals in both daemons' ALUA groups (group 1: gateway A's portal, group 2: B's), the
// same states set on both. Skipped, with the reason printed, only where Ceph is not installed or
// the rbd addon is not built.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestDaemon, run, waitFor } from '../helpers/daemon.js';
import { ScsiClient, senseTriple } from '../helpers/scsi-client.js';
import { ALL_TG_PT, GATEWAY_IQN, GATEWAY_LUN, prOut, rbdUnavailable, startGateways, CephFixture } from './rbd-helpers.js';

const IQN = GATEWAY_IQN;
const INI = 'iqn.2026-12.org.stgt.test:gw-initiator';
const LUN = GATEWAY_LUN;

const SKIP = rbdUnavailable();
if (SKIP !== null) console.log(`# rbd gateway tests skipped: ${SKIP}`);
const skip = SKIP ?? false;

const fx = new CephFixture(SKIP);

function gateways(image: string): Promise<[TestDaemon, TestDaemon]> {
  return startGateways(fx.cluster, image, fx.daemons);
}

async function login(g: TestDaemon, name: string, isid?: Buffer): Promise<ScsiClient> {
  const s = await ScsiClient.login(g.iscsiPort, IQN, name, {}, isid);
  fx.clients.push(s);
  await s.clearUa(LUN);
  return s;
}

/** VPD page 83h's designators: [code set|protocol, piv|assoc|type, identifier] each. */
async function deviceIds(s: ScsiClient): Promise<{ naa: string; group: number; relPort: number; portName: string }> {
  const r = await s.command(Buffer.from([0x12, 0x01, 0x83, 0x01, 0x00, 0x00]), { lun: LUN, readLen: 256 });
  assert.equal(r.status, 0);
  const page = r.data.subarray(0, 4 + r.data.readUInt16BE(2));
  const out = { naa: '', group: -1, relPort: -1, portName: '' };
  for (let o = 4; o + 4 <= page.length; o += 4 + page[o + 3]!) {
    const id = page.subarray(o + 4, o + 4 + page[o + 3]!);
    const kind = page[o + 1]! & 0x3f; // ASSOCIATION | DESIGNATOR TYPE
    if (kind === 0x03) out.naa = id.toString('hex');
    if (kind === 0x15) out.group = id.readUInt16BE(2);
    if (kind === 0x14) out.relPort = id.readUInt16BE(2);
    if (kind === 0x18) out.portName = id.toString('utf8').replace(/\0+$/, '');
  }
  return out;
}

/** REPORT TARGET PORT GROUPS (SPC-4 6.37): the raw parameter data. */
async function rtpg(s: ScsiClient): Promise<Buffer> {
  const cdb = Buffer.from([0xa3, 0x0a, 0, 0, 0, 0, 0, 0, 0x04, 0, 0, 0]);
  const r = await s.command(cdb, { lun: LUN, readLen: 1024 });
  assert.equal(r.status, 0, JSON.stringify(senseTriple(r.sense)));
  return r.data.subarray(0, 4 + r.data.readUInt32BE(0));
}

/** [group, state, relative ports...] per descriptor. */
function groups(d: Buffer): number[][] {
  const out: number[][] = [];
  for (let o = 4; o < d.length; o += 8 + 4 * d[o + 7]!) {
    const row = [d.readUInt16BE(o + 2), d[o]! & 0x0f];
    for (let i = 0; i < d[o + 7]!; i++) row.push(d.readUInt16BE(o + 8 + 4 * i + 2));
    out.push(row);
  }
  return out;
}

function prOutLu(s: ScsiClient, sa: number, key: bigint, saKey: bigint, type = 0, flags = 0): ReturnType<ScsiClient['command']> {
  return prOut(s, LUN, sa, key, saKey, type, flags);
}

const Sa = { Register: 0, Reserve: 1, Release: 2, Clear: 3, Preempt: 4 } as const;

/** PERSISTENT RESERVE IN READ KEYS (SPC-4 6.15.2): PRgeneration and the keys, sorted. */
async function readKeys(s: ScsiClient): Promise<{ generation: number; keys: bigint[] }> {
  const cdb = Buffer.alloc(10);
  cdb[0] = 0x5e;
  cdb.writeUInt16BE(4096, 7);
  const r = await s.command(cdb, { lun: LUN, readLen: 4096 });
  assert.equal(r.status, 0);
  const n = r.data.readUInt32BE(4) / 8;
  const keys: bigint[] = [];
  for (let i = 0; i < n; i++) keys.push(r.data.readBigUInt64BE(8 + 8 * i));
  return { generation: r.data.readUInt32BE(0), keys: keys.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)) };
}

/** TEST UNIT READY until it reports a unit attention (20 s at most): its ASC/ASCQ. */
async function nextUa(s: ScsiClient, what: string): Promise<[number, number]> {
  let seen: [number, number] | null = null;
  await waitFor(async () => {
    const r = await s.command(Buffer.alloc(6), { lun: LUN });
    const t = senseTriple(r.sense);
    if (r.status === 2 && t !== null && t[0] === 0x06) seen = [t[1], t[2]];
    return seen !== null;
  }, 20_000, what);
  return seen!;
}

test('ALUA across two gateways: one LU identity, a target port and group each (tags 1 and 2), and the same REPORT TARGET PORT GROUPS from both', { skip, timeout: 120_000 }, async () => {
  const [a, b] = await gateways('alua');
  const viaA = await login(a, `${INI}-a`);
  const viaB = await login(b, `${INI}-b`);
  // Each gateway is its own iSCSI portal group: the tag in the login response and in SendTargets.
  assert.equal(viaA.loginKeys.get('TargetPortalGroupTag'), '1');
  assert.equal(viaB.loginKeys.get('TargetPortalGroupTag'), '2');
  for (const [g, tag] of [[a, 1], [b, 2]] as const) {
    const ls = await run('iscsi-ls', ['-s', `iscsi://127.0.0.1:${g.iscsiPort}`], { timeoutMs: 20_000 });
    assert.equal(ls.code, 0, ls.stderr);
    assert.match(ls.stdout, new RegExp(`Target:${IQN} Portal:127\\.0\\.0\\.1:${g.iscsiPort},${tag}\\b`), ls.stdout);
  }
  const [idA, idB] = [await deviceIds(viaA), await deviceIds(viaB)];
  assert.ok(idA.naa.length > 0 && idA.naa === idB.naa, `one LU identity through both: ${idA.naa} / ${idB.naa}`);
  assert.deepEqual([idA.group, idA.relPort, idA.portName], [1, 1, `${IQN},t,0x0001`]);
  assert.deepEqual([idB.group, idB.relPort, idB.portName], [2, 2, `${IQN},t,0x0002`]);
  const [ra, rb] = [await rtpg(viaA), await rtpg(viaB)];
  assert.deepEqual(groups(ra), [[1, 0x0, 1], [2, 0x1, 2]], 'group 1 active/optimized on port 1, group 2 active/non-optimized on port 2');
  assert.ok(ra.equals(rb), `REPORT TARGET PORT GROUPS differs between the gateways:\n${ra.toString('hex')}\n${rb.toString('hex')}`);
  // Active/non-optimized serves I/O, and both paths see the same data.
  const data = Buffer.alloc(4096, 0x5a);
  assert.equal((await viaB.write16(LUN, 0, data)).status, 0);
  assert.ok((await viaA.read16(LUN, 0, 8)).data.equals(data));
  for (const g of [a, b]) await g.stop(30_000);
});

test('a PR OUT through one gateway raises the unit attentions SPC-4 requires on the other gateway\'s I_T nexuses', { skip, timeout: 120_000 }, async () => {
  const [a, b] = await gateways('ua');
  const viaA = await login(a, `${INI}-ua-a`);
  const viaB = await login(b, `${INI}-ua-b`);
  const KA = 0xaaaan;
  const KB = 0xbbbbn;
  assert.equal((await prOutLu(viaA, Sa.Register, 0n, KA)).status, 0);
  assert.equal((await prOutLu(viaB, Sa.Register, 0n, KB)).status, 0);
  assert.equal((await prOutLu(viaB, Sa.Reserve, KB, 0n, 1)).status, 0, 'B reserves WRITE EXCLUSIVE');
  // PREEMPT by A of B's key: B's registration and reservation are gone (SPC-4 5.13.11.2.4): REGISTRATIONS PREEMPTED.
  await waitFor(async () => (await readKeys(viaA)).keys.length === 2, 20_000, 'A to see both keys');
  assert.equal((await prOutLu(viaA, Sa.Preempt, KA, KB, 1)).status, 0);
  assert.deepEqual(await nextUa(viaB, 'REGISTRATIONS PREEMPTED through gateway B'), [0x2a, 0x05]);
  assert.equal((await viaB.write16(LUN, 0, Buffer.alloc(4096))).status, 0x18, 'B is no longer registered and A holds WRITE EXCLUSIVE');
  // A RELEASE of a registrants-only reservation tells the other registrants: RESERVATIONS RELEASED (5.13.11.2.2).
  assert.equal((await prOutLu(viaB, Sa.Register, 0n, KB)).status, 0);
  assert.equal((await prOutLu(viaA, Sa.Release, KA, 0n, 1)).status, 0);
  await waitFor(async () => (await readKeys(viaA)).keys.length === 2, 20_000, 'A to see B registered again');
  assert.equal((await prOutLu(viaA, Sa.Reserve, KA, 0n, 5)).status, 0, 'A reserves WRITE EXCLUSIVE - REGISTRANTS ONLY');
  assert.equal((await prOutLu(viaA, Sa.Release, KA, 0n, 5)).status, 0);
  assert.deepEqual(await nextUa(viaB, 'RESERVATIONS RELEASED through gateway B'), [0x2a, 0x04]);
  // CLEAR: every other registrant gets RESERVATIONS PREEMPTED (5.13.11.2.6 / 6.16.2), and nobody is registered.
  assert.equal((await prOutLu(viaA, Sa.Clear, KA, 0n)).status, 0);
  assert.deepEqual(await nextUa(viaB, 'RESERVATIONS PREEMPTED through gateway B'), [0x2a, 0x03]);
  assert.deepEqual((await readKeys(viaB)).keys, []);
  // The gateway that ran the PR OUT raised none for its own initiator.
  assert.equal((await viaA.command(Buffer.alloc(6), { lun: LUN })).status, 0);
  for (const g of [a, b]) await g.stop(30_000);
});

test('another gateway\'s PREEMPT tells only the preempted I_T nexuses: a registration made with ALL_TG_PT=0 through gateway A is not the same initiator port\'s nexus through gateway B', { skip, timeout: 120_000 }, async () => {
  const [a, b] = await gateways('nexus');
  // One initiator port (same name and ISID) through both gateways: two I_T nexuses, target ports 1 and 2.
  const isid = Buffer.from([0x80, 0x4e, 0x58, 0x00, 0x00, 0x01]);
  const iA = await login(a, `${INI}-nx`, isid);
  const iB = await login(b, `${INI}-nx`, isid);
  const jA = await login(a, `${INI}-nx-j`);
  const [KI, KJ] = [0x1111n, 0x2222n];
  assert.equal((await prOutLu(iA, Sa.Register, 0n, KI)).status, 0, 'REGISTER through target port 1 only (ALL_TG_PT=0)');
  assert.equal((await prOutLu(jA, Sa.Register, 0n, KJ)).status, 0);
  await waitFor(async () => (await readKeys(iB)).keys.length === 2, 20_000, 'B to see both keys');
  // The I_T nexus through B is not registered: its PR OUT with KI is a RESERVATION CONFLICT (SPC-4 5.13.7).
  assert.equal((await prOutLu(iB, Sa.Reserve, KI, 0n, 1)).status, 0x18, 'the nexus through port 2 holds no registration');
  assert.equal((await prOutLu(jA, Sa.Preempt, KJ, KI, 1)).status, 0);
  assert.deepEqual(await nextUa(iA, 'REGISTRATIONS PREEMPTED through gateway A (the registered nexus)'), [0x2a, 0x05]);
  // B has the new state (and, in the same change, its notice) once its keys show it: then its nexus of that port has no unit attention.
  await waitFor(async () => (await readKeys(iB)).keys.length === 1, 20_000, 'B to see the preemption');
  assert.deepEqual((await readKeys(iB)).keys, [KJ]);
  const tur = await iB.command(Buffer.alloc(6), { lun: LUN });
  assert.equal(tur.status, 0, `the initiator port's nexus through port 2 was not preempted: ${JSON.stringify(senseTriple(tur.sense))}`);
  // Registered with ALL_TG_PT=1 through A, the port's nexus through B is one of the registration's: PREEMPT reaches it too.
  assert.equal((await prOutLu(iA, Sa.Register, 0n, KI, 0, ALL_TG_PT)).status, 0, 'REGISTER through every target port (ALL_TG_PT=1)');
  await waitFor(async () => (await readKeys(iB)).keys.length === 2, 20_000, 'B to see the ALL_TG_PT registration');
  assert.equal((await prOutLu(jA, Sa.Preempt, KJ, KI, 1)).status, 0);
  assert.deepEqual(await nextUa(iB, 'REGISTRATIONS PREEMPTED through gateway B (ALL_TG_PT=1)'), [0x2a, 0x05]);
  assert.deepEqual(await nextUa(iA, 'REGISTRATIONS PREEMPTED through gateway A (ALL_TG_PT=1)'), [0x2a, 0x05]);
  assert.equal((await jA.command(Buffer.alloc(6), { lun: LUN })).status, 0, 'the preempting nexus gets none');
  for (const g of [a, b]) await g.stop(30_000);
});

test('concurrent PR OUT through two gateways: every REGISTER of 2 x 12 initiators at once is kept (compare-and-swap in Ceph, no lost update)', { skip, timeout: 180_000 }, async () => {
  const [a, b] = await gateways('race');
  const N = 12;
  const onA: ScsiClient[] = [];
  const onB: ScsiClient[] = [];
  for (let i = 0; i < N; i++) {
    onA.push(await login(a, `${INI}-race-a${i}`));
    onB.push(await login(b, `${INI}-race-b${i}`));
  }
  const keyOf = (side: number, i: number): bigint => BigInt(0x1000 * (side + 1) + i);
  const all = [...onA.map((s, i) => [s, keyOf(0, i)] as const), ...onB.map((s, i) => [s, keyOf(1, i)] as const)];
  const results = await Promise.all(all.map(([s, k]) => prOutLu(s, Sa.Register, 0n, k)));
  assert.deepEqual(results.map((r) => r.status), Array(2 * N).fill(0), 'every REGISTER answered GOOD');
  const want = all.map(([, k]) => k).sort((x, y) => (x < y ? -1 : 1));
  for (const [name, s] of [['A', onA[0]!], ['B', onB[0]!]] as const) {
    let got = await readKeys(s);
    await waitFor(async () => (got = await readKeys(s)).keys.length >= want.length, 20_000, `gateway ${name} to see every key`);
    assert.deepEqual(got.keys, want, `gateway ${name} lost a registration`);
    assert.equal(got.generation, 2 * N, `PRgeneration through ${name}: one per REGISTER`);
  }
  console.log(`# concurrent PR OUT: ${2 * N} REGISTERs through 2 gateways at once, ${want.length} keys kept`);
  // Unregister everyone, again at once through both gateways: nothing is left.
  const gone = await Promise.all(all.map(([s, k]) => prOutLu(s, Sa.Register, k, 0n)));
  assert.deepEqual(gone.map((r) => r.status), Array(2 * N).fill(0));
  for (const [name, s] of [['A', onA[0]!], ['B', onB[0]!]] as const) {
    await waitFor(async () => (await readKeys(s)).keys.length === 0, 20_000, `gateway ${name} to see no key left`);
  }
  for (const g of [a, b]) await g.stop(30_000);
});
