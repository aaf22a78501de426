// Unit tests: SAM-5 7 task management functions and their effects (which tasks end, which unit attentions reach which I_T nexus, what happens to reservations).
//
// Each test holds reads in the backing store (a task the LU has started) so that there is
// something to abort, from i1 and i2 on LU 1 and from i1 on LU 2; i3 has no task at all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Status, Tmf, TmfResponse } from './api.js';
import type { ItNexus, ScsiTask } from './api.js';
import { LogicalUnit } from './logical-unit.js';
import { Reason } from './sense.js';
import { cdb10, makeTask, nexus, rig, senseOf } from './testing/harness.js';
import type { Rig } from './testing/harness.js';
import { MemoryDevice } from './testing/memory-device.js';
import { K1, WE, keys, out, param, reservation } from './testing/pr.js';

const TUR = [0, 0, 0, 0, 0, 0];
const RESERVE6 = [0x16, 0, 0, 0, 0, 0];

interface Bed {
  r: Rig;
  i3: ItNexus;
  /** Reads waiting in a backing store; release() lets them complete. */
  release(): void;
  /** Starts a READ(10) from `n` on `lun` with tag `tag`; resolves when the engine answers it. */
  read(n: ItNexus, lun: number, tag: number): Promise<ScsiTask>;
  tmf(n: ItNexus, fn: Tmf, lun: number, ref?: number): Promise<{ resp: number; aborted: readonly ScsiTask[]; info?: number }>;
  /** The first answer of a TEST UNIT READY from `n` on `lun`: a unit attention's [key, asc, ascq], or null for GOOD. */
  ua(n: ItNexus, lun: number): Promise<[number, number, number] | null>;
}

async function bed(): Promise<Bed> {
  const r = rig();
  const lu2 = new LogicalUnit({
    tid: 1, lun: 2, deviceType: 'disk', dev: new MemoryDevice(1 << 20), bsName: 'rdwr', path: null,
    oflags: { sync: false, direct: false }, blockSize: 512,
  });
  r.target.addLun(lu2);
  const i3 = nexus(3);
  r.target.addNexus(i3);
  const held: (() => void)[] = [];
  for (const dev of [r.dev, lu2.dev]) {
    const orig = dev.read.bind(dev);
    dev.read = (o, into, cb) => void held.push(() => orig(o, into, cb));
  }
  const drain = async (n: ItNexus): Promise<void> => {
    for (const lun of [0, 1, 2]) while ((await r.run(TUR, { n, lun })).status !== Status.Good) { /* unit attentions */ }
  };
  for (const n of [r.i1, r.i2, i3]) await drain(n);
  return {
    r, i3,
    release: () => held.splice(0).forEach((f) => f()),
    read: (n, lun, tag) => new Promise((res) => r.target.execute(makeTask(n, lun, cdb10(0x28, 0, 1), { tag }), res)),
    tmf: (n, fn, lun, ref = 0) => new Promise((res) => r.target.taskMgmt(n, fn, lun, ref, (resp, aborted, info) => res({ resp, aborted, info }))),
    ua: async (n, lun) => {
      const t = await r.run(TUR, { n, lun });
      return t.status === Status.Good ? null : senseOf(t);
    },
  };
}

/** Three held reads: i1 and i2 on LU 1 (tags 1, 2), i1 on LU 2 (tag 3). */
function three(b: Bed): Promise<ScsiTask>[] {
  return [b.read(b.r.i1, 1, 1), b.read(b.r.i2, 1, 2), b.read(b.r.i1, 2, 3)];
}

const aborted = (ts: ScsiTask[]): boolean[] => ts.map((t) => t.aborted);

test('ABORT TASK aborts only that task of the requesting I_T nexus; no unit attention; an unknown tag is TASK DOES NOT EXIST', async () => {
  const b = await bed();
  const { r } = b;
  const a = b.read(r.i1, 1, 7);
  const other = b.read(r.i2, 1, 7); // the same tag from another nexus is another task
  const f = b.tmf(r.i1, Tmf.AbortTask, 1, 7);
  b.release();
  assert.equal((await f).resp, TmfResponse.Complete);
  assert.deepEqual(aborted([await a, await other]), [true, false]);
  assert.equal((await b.tmf(r.i1, Tmf.AbortTask, 1, 99)).resp, TmfResponse.TaskDoesNotExist);
  for (const n of [r.i1, r.i2]) assert.equal(await b.ua(n, 1), null);
});

test('ABORT TASK SET aborts the requesting nexus\'s tasks on that LU only; no unit attention; an SPC-2 reservation stays', async () => {
  const b = await bed();
  const { r } = b;
  assert.equal((await r.run(RESERVE6, { n: r.i1, lun: 2 })).status, Status.Good);
  const ts = three(b);
  const f = b.tmf(r.i1, Tmf.AbortTaskSet, 1);
  b.release();
  assert.equal((await f).resp, TmfResponse.Complete);
  assert.deepEqual(aborted(await Promise.all(ts)), [true, false, false]);
  for (const n of [r.i1, r.i2]) assert.equal(await b.ua(n, 1), null);
  assert.equal((await r.run(TUR, { n: r.i2, lun: 2 })).status, Status.ReservationConflict, 'i1 still holds LU 2');
});

test('CLEAR TASK SET (TST=0: one task set per LU) aborts every nexus\'s tasks there; COMMANDS CLEARED BY ANOTHER INITIATOR only to the other nexuses that had tasks', async () => {
  const b = await bed();
  const { r, i3 } = b;
  const ts = three(b);
  const f = b.tmf(r.i1, Tmf.ClearTaskSet, 1);
  b.release();
  assert.equal((await f).resp, TmfResponse.Complete);
  assert.deepEqual(aborted(await Promise.all(ts)), [true, true, false]);
  assert.deepEqual(await b.ua(r.i2, 1), [0x06, 0x2f, 0x00]);
  assert.equal(await b.ua(r.i1, 1), null, 'not the requester');
  assert.equal(await b.ua(i3, 1), null, 'not a nexus that had no task');
});

test('LOGICAL UNIT RESET aborts every task of the LU, gives every nexus BUS DEVICE RESET FUNCTION OCCURRED, releases SPC-2 reservations, keeps persistent ones', async () => {
  const b = await bed();
  const { r, i3 } = b;
  assert.equal((await out(r, r.i2, 0, param(0n, K1))).status, Status.Good);
  assert.equal((await out(r, r.i2, 1, param(K1, 0n), WE)).status, Status.Good);
  assert.equal((await r.run(RESERVE6, { n: r.i1, lun: 2 })).status, Status.Good);
  const ts = three(b);
  const f = b.tmf(r.i2, Tmf.LogicalUnitReset, 1);
  b.release();
  assert.equal((await f).resp, TmfResponse.Complete);
  assert.deepEqual(aborted(await Promise.all(ts)), [true, true, false], 'LU 2 is not reset');
  for (const n of [r.i1, r.i2, i3]) assert.deepEqual(await b.ua(n, 1), [0x06, 0x29, 0x03]);
  assert.equal(await b.ua(r.i1, 2), null);
  assert.deepEqual(await keys(r), [K1]);
  assert.deepEqual(await reservation(r), [K1, WE]);
  // LU 2's SPC-2 reservation is untouched; one on LU 1 would have gone
  assert.equal((await r.run(TUR, { n: r.i2, lun: 2 })).status, Status.ReservationConflict);
  assert.equal((await b.tmf(r.i1, Tmf.LogicalUnitReset, 9)).resp, TmfResponse.LunDoesNotExist);
});

test('LOGICAL UNIT RESET releases the SPC-2 reservation of the LU it resets', async () => {
  const b = await bed();
  const { r } = b;
  assert.equal((await r.run(RESERVE6, { n: r.i1, lun: 1 })).status, Status.Good);
  assert.equal((await b.tmf(r.i2, Tmf.LogicalUnitReset, 1)).resp, TmfResponse.Complete);
  assert.deepEqual(await b.ua(r.i2, 1), [0x06, 0x29, 0x03]);
  assert.equal(await b.ua(r.i2, 1), null, 'i2 may use LU 1 again');
});

test('TARGET WARM RESET and COLD RESET reset every LU: all tasks aborted, 29/00 (warm) or 29/01 (cold) on every nexus and LU', async () => {
  for (const [fn, ascq] of [[Tmf.TargetWarmReset, 0x00], [Tmf.TargetColdReset, 0x01]] as const) {
    const b = await bed();
    const { r, i3 } = b;
    assert.equal((await r.run(RESERVE6, { n: r.i1, lun: 2 })).status, Status.Good);
    const ts = three(b);
    const f = b.tmf(r.i2, fn, 0);
    b.release();
    assert.equal((await f).resp, TmfResponse.Complete);
    assert.deepEqual(aborted(await Promise.all(ts)), [true, true, true]);
    for (const n of [r.i1, r.i2, i3]) for (const lun of [1, 2]) assert.deepEqual(await b.ua(n, lun), [0x06, 0x29, ascq]);
    assert.equal((await r.run(TUR, { n: r.i2, lun: 2 })).status, Status.Good, 'SPC-2 reservations released');
  }
});

test('I_T NEXUS RESET aborts that nexus\'s tasks on every LU, gives it alone I_T NEXUS LOSS OCCURRED, releases its SPC-2 reservation, keeps its PR registration', async () => {
  const b = await bed();
  const { r } = b;
  assert.equal((await out(r, r.i1, 0, param(0n, K1))).status, Status.Good);
  assert.equal((await r.run(RESERVE6, { n: r.i1, lun: 2 })).status, Status.Good);
  const ts = three(b);
  const f = b.tmf(r.i1, Tmf.ItNexusReset, 0);
  b.release();
  assert.equal((await f).resp, TmfResponse.Complete);
  assert.deepEqual(aborted(await Promise.all(ts)), [true, false, true]);
  for (const lun of [1, 2]) assert.deepEqual(await b.ua(r.i1, lun), [0x06, 0x29, 0x07]);
  for (const lun of [1, 2]) assert.equal(await b.ua(r.i2, lun), null, 'the other nexus sees nothing');
  assert.equal((await r.run(TUR, { n: r.i2, lun: 2 })).status, Status.Good, 'its SPC-2 reservation is gone');
  assert.deepEqual(await keys(r), [K1]);
});

test('QUERY TASK and QUERY TASK SET: FUNCTION SUCCEEDED while the nexus has the task (any task) in the LU\'s task set, FUNCTION COMPLETE otherwise', async () => {
  const b = await bed();
  const { r } = b;
  const t = b.read(r.i1, 1, 5);
  assert.equal((await b.tmf(r.i1, Tmf.QueryTask, 1, 5)).resp, TmfResponse.FunctionSucceeded);
  assert.equal((await b.tmf(r.i2, Tmf.QueryTask, 1, 5)).resp, TmfResponse.Complete, "another nexus's tag");
  assert.equal((await b.tmf(r.i1, Tmf.QueryTaskSet, 1)).resp, TmfResponse.FunctionSucceeded);
  assert.equal((await b.tmf(r.i1, Tmf.QueryTaskSet, 2)).resp, TmfResponse.Complete, 'nothing on LU 2');
  assert.equal((await b.tmf(r.i2, Tmf.QueryTaskSet, 1)).resp, TmfResponse.Complete);
  assert.equal((await b.tmf(r.i1, Tmf.QueryTaskSet, 9)).resp, TmfResponse.LunDoesNotExist);
  b.release();
  assert.equal((await t).status, Status.Good, 'a query aborts nothing');
  assert.equal((await b.tmf(r.i1, Tmf.QueryTask, 1, 5)).resp, TmfResponse.Complete);
  assert.equal((await b.tmf(r.i1, Tmf.QueryTaskSet, 1)).resp, TmfResponse.Complete);
});

test('QUERY ASYNCHRONOUS EVENT reports a pending unit attention (sense key, ASC, ASCQ) without clearing it', async () => {
  const b = await bed();
  const { r } = b;
  assert.deepEqual(await b.tmf(r.i1, Tmf.QueryAsyncEvent, 1), { resp: TmfResponse.Complete, aborted: [], info: undefined });
  assert.equal((await b.tmf(r.i2, Tmf.LogicalUnitReset, 1)).resp, TmfResponse.Complete);
  const q = await b.tmf(r.i1, Tmf.QueryAsyncEvent, 1);
  assert.equal(q.resp, TmfResponse.FunctionSucceeded);
  // SAM-5 7.11: byte 0 UADE DEPTH(5:4) 01b (one condition) | SENSE KEY 6h, ASC 29h, ASCQ 03h
  assert.equal(q.info, 0x162903);
  // a second condition behind it: UADE DEPTH 10b (more than one), the oldest reported
  r.lu.ua.add(r.i1.id, Reason.ModeParametersChanged);
  assert.equal((await b.tmf(r.i1, Tmf.QueryAsyncEvent, 1)).info, 0x262903);
  assert.deepEqual(await b.ua(r.i1, 1), [0x06, 0x29, 0x03], 'still pending after the query');
  assert.deepEqual(await b.ua(r.i1, 1), [0x06, 0x2a, 0x01], 'and the one behind it');
  assert.equal((await b.tmf(r.i1, Tmf.QueryAsyncEvent, 1)).resp, TmfResponse.Complete);
  assert.equal((await b.tmf(r.i1, Tmf.QueryAsyncEvent, 9)).resp, TmfResponse.LunDoesNotExist);
});

test('CLEAR ACA and TASK REASSIGN are not supported (no ACA condition, ErrorRecoveryLevel 0)', async () => {
  const b = await bed();
  assert.equal((await b.tmf(b.r.i1, Tmf.ClearAca, 1)).resp, TmfResponse.NotSupported);
  assert.equal((await b.tmf(b.r.i1, Tmf.TaskReassign, 1, 1)).resp, TmfResponse.NotSupported);
});

test('REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS says what the task manager does (and REPD adds the 16-byte form)', async () => {
  const b = await bed();
  const t = await b.r.run([0xa3, 0x0d, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0]);
  assert.equal(t.status, Status.Good);
  // ATS ATSS CTSS LURS QTS TRS, not CACAS or WAKES; QAES QTSS ITNRS
  assert.deepEqual([...t.dataIn!], [0xde, 0x07, 0, 0]);
  const x = await b.r.run([0xa3, 0x0d, 0x80, 0, 0, 0, 0, 0, 0, 16, 0, 0]);
  assert.equal(x.dataIn!.length, 16);
  assert.equal(x.dataIn![3], 0x0c);
  const lun0 = await b.r.run([0xa3, 0x0d, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0], { lun: 0 });
  assert.equal(lun0.dataIn![0], 0xde, 'the controller LU too');
});
