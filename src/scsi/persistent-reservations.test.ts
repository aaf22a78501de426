// Unit tests: SPC-4 5.13 persistent reservations — REGISTER AND MOVE, SPEC_I_PT, ALL_TG_PT, APTPL, PREEMPT AND ABORT, PR IN.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Status, Tmf, TmfResponse } from './api.js';
import type { ItNexus, ScsiTask } from './api.js';
import { LogicalUnit } from './logical-unit.js';
import { PrStore, prStatePath } from './pr-store.js';
import type { PrStateStore } from './pr-store.js';
import type { PrState } from './persistent-reservations.js';
import { Target } from './target.js';
import { cdb10, makeTask, nexus, rig, senseOf } from './testing/harness.js';
import type { Rig } from './testing/harness.js';
import { MemoryDevice } from './testing/memory-device.js';
import { parseTransportIds, transportId } from './transport-id.js';
import * as PR from './testing/pr.js';
import { keys, moveParam, out, param, prIn, prOutCdb, reservation } from './testing/pr.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'stgt-pr-'));
  dirs.push(d);
  return d;
}

const { K1, K2, WE, EA, WE_AR, INVALID_PARAM, LENGTH_ERROR } = PR;
async function ready(): Promise<Rig> {
  const r = rig({ dev: { async: true } });
  await r.clearUa();
  return r;
}

test('TransportIDs: format 01b for a port, 00b for a name; parse checks protocol, format, length, ISID', () => {
  const port = 'iqn.2024-01.test:init2,i,0x000000000002';
  const t = transportId(port);
  assert.equal(t[0], 0x45);
  assert.equal(t.readUInt16BE(2) % 4, 0);
  assert.deepEqual(parseTransportIds(t), [port]);
  assert.equal(transportId('iqn.x:y')[0], 0x05);
  assert.equal(transportId('iqn.x:y').readUInt16BE(2), 20, 'at least 20 bytes of name');
  assert.deepEqual(parseTransportIds(Buffer.concat([t, transportId('iqn.x:y')])), [port, 'iqn.x:y']);
  const upper = transportId('iqn.x:y,i,0xABCDEF012345');
  assert.deepEqual(parseTransportIds(upper), ['iqn.x:y,i,0xabcdef012345']);
  const fc = Buffer.from(t);
  fc[0] = 0x46; // PROTOCOL IDENTIFIER 6 (SAS): not iSCSI
  assert.equal(parseTransportIds(fc), null);
  assert.equal(parseTransportIds(t.subarray(0, t.length - 4)), null, 'runs past the end');
  assert.equal(parseTransportIds(transportId('iqn.x:y,i,0x12')), null, 'short ISID');
  const noNul = Buffer.from(t);
  noNul.fill(0x41, 4);
  assert.equal(parseTransportIds(noNul), null);
});

test('REGISTER AND MOVE: the holder moves a WE reservation to another port (registering it), UNREG drops itself', async () => {
  const r = await ready();
  assert.equal((await out(r, r.i1, 0, param(0n, K1))).status, Status.Good);
  assert.equal((await out(r, r.i1, 1, param(K1, 0n), WE)).status, Status.Good);
  const dest = transportId(r.i2.initiatorPort);
  assert.equal((await out(r, r.i1, 7, moveParam(K1, K2, dest))).status, Status.Good);
  assert.deepEqual(await reservation(r), [K2, WE]);
  assert.deepEqual((await keys(r)).sort(), [K1, K2]);
  // i2 holds it now: i1 (registered, WE) may not write, i2 may
  assert.equal((await r.run(cdb10(0x2a, 0, 1), { dataOut: Buffer.alloc(512, 1) })).status, Status.ReservationConflict);
  assert.equal((await r.run(cdb10(0x2a, 0, 1), { n: r.i2, dataOut: Buffer.alloc(512, 2) })).status, Status.Good);
  // i1 no longer holds: its move is a conflict; i2 moves back and unregisters itself
  assert.equal((await out(r, r.i1, 7, moveParam(K1, K1, transportId(r.i2.initiatorPort)))).status, Status.ReservationConflict);
  assert.equal((await out(r, r.i2, 7, moveParam(K2, K1, transportId(r.i1.initiatorPort), { unreg: true }))).status, Status.Good);
  assert.deepEqual(await reservation(r), [K1, WE]);
  assert.deepEqual(await keys(r), [K1]);
});

test('REGISTER AND MOVE refusals: SA key 0, own port, unknown relative port, bad TransportID, all-registrants, no reservation', async () => {
  const r = await ready();
  const dest = transportId(r.i2.initiatorPort);
  assert.equal((await out(r, r.i1, 0, param(0n, K1))).status, Status.Good);
  assert.equal((await out(r, r.i1, 7, moveParam(K1, K2, dest))).status, Status.ReservationConflict, 'no reservation');
  assert.equal((await out(r, r.i1, 1, param(K1, 0n), WE)).status, Status.Good);
  assert.equal((await out(r, r.i1, 7, moveParam(K2, K2, dest))).status, Status.ReservationConflict, 'wrong key');
  assert.deepEqual(senseOf(await out(r, r.i1, 7, moveParam(K1, 0n, dest))), INVALID_PARAM);
  assert.deepEqual(senseOf(await out(r, r.i1, 7, moveParam(K1, K2, transportId(r.i1.initiatorPort)))), INVALID_PARAM);
  assert.deepEqual(senseOf(await out(r, r.i1, 7, moveParam(K1, K2, dest, { relPort: 2 }))), INVALID_PARAM);
  assert.deepEqual(senseOf(await out(r, r.i1, 7, moveParam(K1, K2, transportId('iqn.2024-01.test:init2')))), INVALID_PARAM, 'a name is no port');
  const short = moveParam(K1, K2, dest).subarray(0, 30);
  assert.deepEqual(senseOf(await out(r, r.i1, 7, short)), LENGTH_ERROR);
  assert.equal((await out(r, r.i1, 2, param(K1, 0n), WE)).status, Status.Good);
  assert.equal((await out(r, r.i1, 1, param(K1, 0n), WE_AR)).status, Status.Good);
  assert.equal((await out(r, r.i1, 7, moveParam(K1, K2, dest))).status, Status.ReservationConflict, 'all registrants');
  assert.deepEqual(await reservation(r), [0n, WE_AR]);
  assert.deepEqual(await keys(r), [K1], 'nothing registered by the refusals');
});

test('SPEC_I_PT registers the named ports with the same key; refusals leave nothing registered', async () => {
  const r = await ready();
  const i3 = nexus(3);
  r.target.addNexus(i3);
  while ((await r.run([0, 0, 0, 0, 0, 0], { n: i3 })).status !== Status.Good) { /* drain */ }
  // SPEC_I_PT on another service action, a repeated port, a length that disagrees: all refused
  assert.deepEqual(senseOf(await out(r, r.i1, 6, param(0n, K1, 0x08, [transportId(r.i2.initiatorPort)]))), INVALID_PARAM);
  const twice = param(0n, K1, 0x08, [transportId(r.i2.initiatorPort), transportId(r.i2.initiatorPort)]);
  assert.deepEqual(senseOf(await out(r, r.i1, 0, twice)), INVALID_PARAM);
  const bad = param(0n, K1, 0x08, [transportId(r.i2.initiatorPort)]);
  bad.writeUInt32BE(99, 24);
  assert.deepEqual(senseOf(await out(r, r.i1, 0, bad)), LENGTH_ERROR);
  assert.deepEqual(senseOf(await out(r, r.i1, 0, Buffer.concat([param(0n, K1), Buffer.alloc(4)]))), LENGTH_ERROR, 'no SPEC_I_PT: 24 bytes');
  assert.deepEqual(await keys(r), []);
  // i1 + i2's port, and every port of init3 by name (format 00b)
  const ok = param(0n, K1, 0x08, [transportId(r.i2.initiatorPort), transportId(i3.initiatorName)]);
  assert.equal((await out(r, r.i1, 0, ok)).status, Status.Good);
  assert.deepEqual(await keys(r), [K1, K1, K1]);
  // each of them is registered: i2 reserves with the key, i3 may unregister
  assert.equal((await out(r, r.i2, 1, param(K1, 0n), EA)).status, Status.Good);
  assert.equal((await r.run(cdb10(0x28, 0, 1), { n: i3 })).status, Status.ReservationConflict, 'EA: registrant but not holder');
  assert.equal((await out(r, i3, 0, param(K1, 0n))).status, Status.Good);
  assert.deepEqual(await keys(r), [K1, K1]);
  // an I_T nexus already registered may not use SPEC_I_PT
  assert.deepEqual(senseOf(await out(r, r.i1, 0, param(K1, K2, 0x08, [transportId(i3.initiatorPort)]))), INVALID_PARAM);
});

test('ALL_TG_PT and READ FULL STATUS; REPORT CAPABILITIES offers SIP_C, ATP_C, PTPL_C; ALL_TG_PT outside REGISTER is invalid', async () => {
  const r = await ready();
  r.lu.prStore = new PrStore(join(tmp(), 'x.stgt-pr'));
  assert.equal((await out(r, r.i1, 0, param(0n, K1, 0x04))).status, Status.Good);
  assert.equal((await out(r, r.i2, 0, param(0n, K2))).status, Status.Good);
  assert.equal((await out(r, r.i1, 1, param(K1, 0n), WE)).status, Status.Good);
  assert.deepEqual(senseOf(await out(r, r.i1, 2, param(K1, 0n, 0x04), WE)), INVALID_PARAM);
  const fs = (await prIn(r, 3)).dataIn!;
  assert.equal(fs.readUInt32BE(4), fs.length - 8);
  // first descriptor: K1, ALL_TG_PT and R_HOLDER, WE, relative port 0 (all ports), then i1's TransportID
  assert.equal(fs.readBigUInt64BE(8), K1);
  assert.equal(fs[8 + 12], 0x03);
  assert.equal(fs[8 + 13], WE);
  assert.equal(fs.readUInt16BE(8 + 18), 0);
  const l1 = fs.readUInt32BE(8 + 20);
  assert.deepEqual(parseTransportIds(fs.subarray(8 + 24, 8 + 24 + l1)), [r.i1.initiatorPort]);
  const d2 = 8 + 24 + l1;
  assert.equal(fs.readBigUInt64BE(d2), K2);
  assert.equal(fs[d2 + 12], 0x00);
  assert.equal(fs.readUInt16BE(d2 + 18), 1);
  const caps = (await prIn(r, 2)).dataIn!;
  assert.equal(caps[2], 0x1d, 'CRH SIP_C ATP_C PTPL_C');
  assert.equal(caps[3]! & 0x01, 0, 'PTPL_A off');
  r.lu.prStore = null;
  assert.equal((await prIn(r, 2)).dataIn![2], 0x1d, 'capabilities are reported before any PR OUT');
  assert.deepEqual(senseOf(await out(r, r.i2, 0, param(K2, K2, 0x01))), INVALID_PARAM, 'APTPL with nowhere to keep it');
});

test('APTPL: the state is written atomically, restored when the LU is created again, and removed by APTPL=0', async () => {
  const dir = tmp();
  const r = await ready();
  const file = join(dir, 'state.stgt-pr');
  r.lu.prStore = new PrStore(file);
  assert.equal((await out(r, r.i1, 0, param(0n, K1, 0x01))).status, Status.Good);
  assert.equal((await out(r, r.i2, 0, param(0n, K2, 0x01))).status, Status.Good);
  assert.equal((await out(r, r.i1, 1, param(K1, 0n), EA)).status, Status.Good);
  assert.ok(existsSync(file));
  assert.ok(!existsSync(file + '.tmp'), 'the temporary file was renamed');
  const saved = JSON.parse(readFileSync(file, 'utf8'));
  assert.equal(saved.aptpl, true);
  assert.deepEqual(saved.reservation, { holder: r.i1.initiatorPort, relPort: 1, type: EA, scope: 0 });
  assert.equal((await prIn(r, 2)).dataIn![3]! & 0x01, 1, 'PTPL_A');
  // A new target with the same name, LU 1 created again on the same path: the state is back.
  const t2 = new Target({ tid: 9, name: 'iqn.2024-01.test:tgt1', lldName: 'iscsi', prStateDir: dir });
  const path = join(dir, 'disk.img');
  writeFileSync(path, Buffer.alloc(4096));
  assert.equal(prStatePath('iqn.2024-01.test:tgt1', 1, path, dir), path + '.stgt-pr', 'a file LU keeps it beside the file');
  assert.equal(prStatePath('iqn.2024-01.test:tgt1', 1, null, dir), join(dir, 'iqn.2024-01.test:tgt1,1.stgt-pr'));
  writeFileSync(path + '.stgt-pr', readFileSync(file));
  const lu2 = new LogicalUnit({ tid: 9, lun: 1, deviceType: 'disk', dev: new MemoryDevice(1 << 20), bsName: 'rdwr', path, oflags: { sync: false, direct: false }, blockSize: 512 });
  t2.addLun(lu2);
  assert.equal(lu2.pr.holder?.port, r.i1.initiatorPort);
  assert.equal(lu2.pr.type, EA);
  assert.deepEqual(lu2.pr.regs.map((x) => x.key), [K1, K2]);
  assert.equal(lu2.pr.aptpl, true);
  // REGISTER with APTPL=0 ends persistence: the file goes
  assert.equal((await out(r, r.i2, 0, param(K2, K2))).status, Status.Good);
  assert.ok(!existsSync(file));
});

test('APTPL: a state that cannot be written fails the command with nothing changed; a corrupt file restores nothing', async () => {
  const dir = tmp();
  const r = await ready();
  writeFileSync(join(dir, 'plain'), 'x');
  r.lu.prStore = new PrStore(join(dir, 'plain', 'sub', 'state.stgt-pr')); // mkdir under a file fails
  assert.deepEqual(senseOf(await out(r, r.i1, 0, param(0n, K1, 0x01))), [0x05, 0x55, 0x04]);
  assert.deepEqual(await keys(r), []);
  assert.equal(r.lu.pr.aptpl, false);
  writeFileSync(join(dir, 'iqn.t:c,1.stgt-pr'), '{"version":1,"broken"');
  const warnings: string[] = [];
  const t = new Target({ tid: 2, name: 'iqn.t:c', lldName: 'iscsi', prStateDir: dir, warn: (m) => warnings.push(m) });
  const lu = new LogicalUnit({ tid: 2, lun: 1, deviceType: 'disk', dev: new MemoryDevice(1 << 20), bsName: 'null', path: null, oflags: { sync: false, direct: false }, blockSize: 512 });
  t.addLun(lu);
  assert.equal(lu.pr.regs.length, 0);
  assert.equal(warnings.length, 1);
});

/** A PrStateStore whose writes complete when the test says (the slow disk of an APTPL write). */
class HeldStore implements PrStateStore {
  readonly shared = false;
  readonly writes: { state: PrState | null; cb: (err: Error | null) => void }[] = [];
  load(): PrState | null {
    return null;
  }
  write(state: PrState | null, cb: (err: Error | null) => void): void {
    this.writes.push({ state, cb });
  }
  onChange(): void {}
}

/** Lets pending callbacks and promise jobs run (the engine's completions are not timers). */
const settle = (): Promise<void> => new Promise((res) => setImmediate(res));

test('APTPL: a PR OUT answers only once its state is written; later PR OUTs wait and run in order; a failed write undoes only its own; a waiting one can be aborted', async () => {
  const r = await ready();
  const store = new HeldStore();
  r.lu.prStore = store;
  const done: string[] = [];
  const send = (name: string, n: ItNexus, sa: number, p: Buffer, type = 0): Promise<ScsiTask> =>
    out(r, n, sa, p, type).then((t) => {
      done.push(name);
      return t;
    });
  const a = send('a', r.i1, 0, param(0n, K1, 0x01));
  const b = send('b', r.i2, 0, param(0n, K2, 0x01));
  const c = send('c', r.i1, 1, param(K1, 0n), EA);
  await settle();
  assert.equal(store.writes.length, 1, 'one write at a time');
  assert.deepEqual(done, [], 'no GOOD before the state is durable');
  assert.deepEqual(store.writes[0]!.state!.registrations.map((x) => x.key), [K1.toString(16)]);
  store.writes[0]!.cb(null);
  assert.equal((await a).status, Status.Good);
  await settle();
  assert.equal(store.writes.length, 2, 'b runs once a is durable');
  assert.deepEqual(done, ['a']);
  // b's write fails: b is refused and its registration undone, a's stays; c then runs
  store.writes[1]!.cb(new Error('EIO'));
  assert.deepEqual(senseOf(await b), [0x05, 0x55, 0x04]);
  await settle();
  assert.equal(store.writes.length, 3);
  assert.deepEqual(store.writes[2]!.state!.registrations.map((x) => x.key), [K1.toString(16)], 'b left no trace');
  assert.deepEqual(store.writes[2]!.state!.reservation, { holder: r.i1.initiatorPort, relPort: 1, type: EA, scope: 0 });
  // d waits behind c; an ABORT TASK completes d at once, and it never runs
  const d = makeTask(r.i2, 1, prOutCdb(0, 0, 24), { dataOut: param(0n, K2, 0x01), tag: 77 });
  const pd = new Promise<ScsiTask>((res) => r.target.execute(d, res));
  await settle();
  const tmf = await new Promise<number>((res) => r.target.taskMgmt(r.i2, Tmf.AbortTask, 1, 77, (resp) => res(resp)));
  assert.equal(tmf, TmfResponse.Complete);
  assert.equal((await pd).status, Status.TaskAborted);
  store.writes[2]!.cb(null);
  assert.equal((await c).status, Status.Good);
  await settle();
  assert.equal(store.writes.length, 3, 'the aborted PR OUT wrote nothing');
  assert.deepEqual(await keys(r), [K1]);
  assert.deepEqual(done, ['a', 'b', 'c']);
});

test('PREEMPT AND ABORT: the preempted nexus loses its registration, its queued tasks are aborted, it gets REGISTRATIONS PREEMPTED', async () => {
  const r = await ready();
  assert.equal((await out(r, r.i1, 0, param(0n, K1))).status, Status.Good);
  assert.equal((await out(r, r.i2, 0, param(0n, K2))).status, Status.Good);
  assert.equal((await out(r, r.i2, 1, param(K2, 0n), WE)).status, Status.Good);
  // i2 has a write in the backing store and an ORDERED read queued behind it
  const w = makeTask(r.i2, 1, cdb10(0x2a, 8, 1), { dataOut: Buffer.alloc(512, 5), tag: 50 });
  const q = makeTask(r.i2, 1, cdb10(0x28, 8, 1), { tag: 51, attr: 2 });
  const pw = new Promise<ScsiTask>((res) => r.target.execute(w, res));
  const pq = new Promise<ScsiTask>((res) => r.target.execute(q, res));
  const p = param(K1, K2);
  // HEAD OF QUEUE, so that it does not wait behind i2's ORDERED read
  const pa = await r.run(prOutCdb(5, EA, 24), { dataOut: p, attr: 3 });
  assert.equal(pa.status, Status.Good);
  assert.equal((await pq).aborted, true, 'the queued read is aborted');
  assert.equal((await pw).aborted, true, 'the running write is reported aborted');
  assert.deepEqual(await reservation(r), [K1, EA]);
  assert.deepEqual(await keys(r), [K1]);
  assert.deepEqual(senseOf(await r.run([0, 0, 0, 0, 0, 0], { n: r.i2 })), [0x06, 0x2a, 0x05]);
  assert.equal((await r.run(cdb10(0x28, 0, 1), { n: r.i2 })).status, Status.ReservationConflict);
});

test('reservation conflicts (SPC-4 Table 63, SBC-4): what a non-holder may do under Write Exclusive and Exclusive Access', async () => {
  const r = await ready();
  const i3 = nexus(3); // registered, not the holder
  r.target.addNexus(i3);
  while ((await r.run([0, 0, 0, 0, 0, 0], { n: i3 })).status !== Status.Good) { /* drain */ }
  assert.equal((await out(r, r.i1, 0, param(0n, K1))).status, Status.Good);
  assert.equal((await out(r, i3, 0, param(0n, K2))).status, Status.Good);
  const modeSelect = [0x15, 0x10, 0, 0, 0, 0];
  const cases: [string, number[], Buffer | undefined, boolean, boolean][] = [
    // name, CDB, Data-Out, conflicts under WE, conflicts under EA (for an unregistered non-holder)
    ['TEST UNIT READY', [0, 0, 0, 0, 0, 0], undefined, false, false],
    ['INQUIRY', [0x12, 0, 0, 0, 36, 0], undefined, false, false],
    ['READ CAPACITY(10)', [0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], undefined, false, false],
    ['READ(10)', cdb10(0x28, 0, 1), undefined, false, true],
    ['WRITE(10)', cdb10(0x2a, 0, 1), Buffer.alloc(512), true, true],
    ['SYNCHRONIZE CACHE(10)', [0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0], undefined, true, true],
    ['MODE SELECT(6)', modeSelect, Buffer.alloc(0), true, true],
    ['PREVENT ALLOW, PREVENT 0', [0x1e, 0, 0, 0, 0, 0], undefined, false, false],
    ['PREVENT ALLOW, PREVENT 1', [0x1e, 0, 0, 0, 1, 0], undefined, true, true],
    ['START STOP UNIT, START', [0x1b, 0, 0, 0, 1, 0], undefined, false, false],
    ['START STOP UNIT, STOP', [0x1b, 0, 0, 0, 0, 0], undefined, true, true],
  ];
  for (const [type, col] of [[WE, 3], [EA, 4]] as const) {
    assert.equal((await out(r, r.i1, 1, param(K1, 0n), type)).status, Status.Good);
    for (const c of cases) {
      const t = await r.run(c[1], { n: r.i2, dataOut: c[2] });
      assert.equal(t.status === Status.ReservationConflict, c[col], `${c[0]} under type ${type}`);
      const holder = await r.run(c[1], { dataOut: c[2] });
      assert.notEqual(holder.status, Status.ReservationConflict, `${c[0]} by the holder`);
    }
    // a registrant that does not hold a WE/EA reservation is treated as any non-holder for writes
    assert.equal((await r.run(cdb10(0x2a, 0, 1), { n: i3, dataOut: Buffer.alloc(512) })).status, Status.ReservationConflict);
    assert.equal((await out(r, r.i1, 2, param(K1, 0n), type)).status, Status.Good);
  }
  // registrants only: a registrant writes, a stranger does not
  assert.equal((await out(r, r.i1, 1, param(K1, 0n), 5)).status, Status.Good);
  assert.equal((await r.run(cdb10(0x2a, 0, 1), { n: i3, dataOut: Buffer.alloc(512) })).status, Status.Good);
  assert.equal((await r.run(cdb10(0x2a, 0, 1), { n: r.i2, dataOut: Buffer.alloc(512) })).status, Status.ReservationConflict);
});
