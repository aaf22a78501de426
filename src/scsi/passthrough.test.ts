// Unit tests: the passthrough device type — every CDB but REPORT LUNS reaches the device whole, its status, sense and data come back as given, host failures map to sense.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataDir, Status } from './api.js';
import type { ScsiTask } from './api.js';
import { LogicalUnit } from './logical-unit.js';
import { cdbLength } from './passthrough.js';
import { Target } from './target.js';
import { makeTask, nexus, senseOf } from './testing/harness.js';
import type { BackingDevice, IoError, PassthroughRequest, PassthroughResult } from '../bs/api.js';

/** A fake device that records each request and answers with `answer(req)` (written into its Data-In first by `fill`). */
function fakeDevice(answer: (req: PassthroughRequest) => { err?: IoError; res?: Partial<PassthroughResult>; fill?: Buffer }): BackingDevice & { seen: PassthroughRequest[] } {
  const seen: PassthroughRequest[] = [];
  return {
    size: 0,
    seen,
    read: (_o, _i, cb) => cb(new Error('no block I/O')),
    write: (_o, _d, cb) => cb(new Error('no block I/O')),
    flush: (cb) => cb(null),
    close: (cb) => cb(null),
    passthrough(req, cb) {
      seen.push({ cdb: Buffer.from(req.cdb), dataOut: req.dataOut && Buffer.from(req.dataOut), dataIn: req.dataIn });
      const a = answer(req);
      if (a.fill && req.dataIn) a.fill.copy(req.dataIn);
      setImmediate(() => {
        if (a.err) return cb(a.err);
        cb(null, { outcome: 'done', status: 0, sense: Buffer.alloc(0), dataInLength: a.fill?.length ?? 0, dataOutLength: req.dataOut?.length ?? 0, ...a.res });
      });
    },
  };
}

function ptRig(dev: BackingDevice): { target: Target; run(cdb: number[], o?: { dataOut?: Buffer; expectedLength?: number }): Promise<ScsiTask> } {
  const target = new Target({ tid: 1, name: 'iqn.2024-01.test:pt', lldName: 'iscsi' });
  target.addLun(new LogicalUnit({ tid: 1, lun: 1, deviceType: 'passthrough', dev, bsName: 'sg', path: '/dev/sg1', oflags: { sync: false, direct: false }, blockSize: 512 }));
  const n = nexus(1);
  target.addNexus(n);
  return { target, run: (cdb, o = {}) => new Promise((resolve) => target.execute(makeTask(n, 1, cdb, o), resolve)) };
}

test('cdbLength: the group code gives the length; 7Fh adds its ADDITIONAL CDB LENGTH; vendor groups take what is given; a short CDB is -1', () => {
  const c = (op: number, len = 16): Buffer => Object.assign(Buffer.alloc(len), { 0: op });
  assert.deepEqual([0x00, 0x12, 0x28, 0x5a, 0x88, 0xa0, 0xa8, 0xc0, 0xe0].map((op) => cdbLength(c(op))), [6, 6, 10, 10, 16, 12, 12, 16, 16]);
  const v = Buffer.alloc(32);
  v[0] = 0x7f;
  v[7] = 0x18;
  assert.equal(cdbLength(v), 32);
  assert.equal(cdbLength(v.subarray(0, 16)), -1);
  assert.equal(cdbLength(c(0x88, 12)), -1);
  assert.equal(cdbLength(Buffer.alloc(0)), -1);
});

test('INQUIRY goes to the device (no POWER ON unit attention from the target) and its data comes back at the length the device gave', async () => {
  const inq = Buffer.alloc(36);
  inq.write('QEMU    QEMU HARDDISK   2.5+', 8, 'latin1');
  const dev = fakeDevice(() => ({ fill: inq }));
  const r = ptRig(dev);
  const t = await r.run([0x12, 0, 0, 0, 96, 0], { expectedLength: 96 });
  assert.equal(t.status, Status.Good);
  assert.deepEqual(dev.seen[0]!.cdb, Buffer.from([0x12, 0, 0, 0, 96, 0]), 'the CDB at its own length, not the 16 bytes of the BHS');
  assert.equal(dev.seen[0]!.dataIn!.length, 96, 'Data-In buffer as long as the initiator expects');
  assert.deepEqual(t.dataIn, inq, 'only what the device transferred');
});

test('an opcode no built-in type has reaches the device, and its CHECK CONDITION sense comes back byte for byte', async () => {
  const sense = Buffer.from([0x70, 0, 0x05, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0, 0x20, 0x00, 0, 0, 0, 0]);
  const dev = fakeDevice(() => ({ res: { status: Status.CheckCondition, sense } }));
  const r = ptRig(dev);
  const t = await r.run([0xc9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15], { expectedLength: 0 });
  assert.equal(dev.seen[0]!.cdb.length, 16);
  assert.equal(t.status, Status.CheckCondition);
  assert.deepEqual(t.sense, sense);
});

test('REPORT LUNS is the target\'s: it lists LUN 0 and the passthrough LUN, the device is not asked', async () => {
  const dev = fakeDevice(() => ({}));
  const r = ptRig(dev);
  const t = await r.run([0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0], { expectedLength: 256 });
  assert.equal(t.status, Status.Good);
  assert.equal(dev.seen.length, 0);
  assert.equal(t.dataIn!.readUInt32BE(0), 16, 'two LUNs');
  assert.equal(t.dataIn!.readUInt16BE(16), 1);
});

test('a write passes its Data-Out; what the device did not take is the residual (transferLength)', async () => {
  const dev = fakeDevice((req) => ({ res: { dataOutLength: req.dataOut!.length - 512 } }));
  const r = ptRig(dev);
  const data = Buffer.alloc(2048, 0x5a);
  const t = await r.run([0x2a, 0, 0, 0, 0, 0, 0, 0, 4, 0], { dataOut: data });
  assert.equal(t.status, Status.Good);
  assert.deepEqual(dev.seen[0]!.dataOut, data);
  assert.equal(dev.seen[0]!.dataIn, null);
  assert.equal(t.transferLength, 1536);
});

test('host outcomes: timeout -> ABORTED COMMAND / COMMAND TIMEOUT DURING PROCESSING, busy -> BUSY, failed -> INTERNAL TARGET FAILURE, EINVAL -> INVALID FIELD IN CDB', async () => {
  const answers: Array<{ err?: IoError; res?: Partial<PassthroughResult> }> = [
    { res: { outcome: 'timeout' } },
    { res: { outcome: 'busy' } },
    { res: { outcome: 'failed' } },
    { err: Object.assign(new Error('bidi'), { code: 'EINVAL' }) },
    { err: Object.assign(new Error('gone'), { code: 'EIO' }) },
  ];
  let i = 0;
  const r = ptRig(fakeDevice(() => answers[i++]!));
  const got: Array<[number, number, number, number]> = [];
  for (let k = 0; k < answers.length; k++) {
    const t = await r.run([0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0], { expectedLength: 512 });
    got.push([t.status, ...senseOf(t)]);
  }
  assert.deepEqual(got, [
    [Status.CheckCondition, 0x0b, 0x2e, 0x02],
    [Status.Busy, -1, -1, -1],
    [Status.CheckCondition, 0x04, 0x44, 0x00],
    [Status.CheckCondition, 0x05, 0x24, 0x00],
    [Status.CheckCondition, 0x04, 0x44, 0x00],
  ]);
});

test('a bidirectional command gets both buffers; a CDB longer than the bytes given is INVALID FIELD IN CDB without reaching the device', async () => {
  const dev = fakeDevice(() => ({ fill: Buffer.from([1, 2, 3]) }));
  const r = ptRig(dev);
  const n = nexus(1);
  const task = makeTask(n, 1, [0x53, 0, 0, 0, 0, 0, 0, 0, 1, 0], { dataOut: Buffer.alloc(512, 1) });
  task.dir = DataDir.Bidi;
  task.expectedReadLength = 64;
  const t = await new Promise<ScsiTask>((resolve) => r.target.execute(task, resolve));
  assert.equal(t.status, Status.Good);
  assert.equal(dev.seen[0]!.dataOut!.length, 512);
  assert.equal(dev.seen[0]!.dataIn!.length, 64);
  assert.deepEqual(t.dataIn, Buffer.from([1, 2, 3]));
  const v = makeTask(n, 1, [0x7f, 0, 0, 0, 0, 0, 0, 0x20]);
  const tv = await new Promise<ScsiTask>((resolve) => r.target.execute(v, resolve));
  assert.deepEqual(senseOf(tv), [0x05, 0x24, 0x00]);
  assert.equal(dev.seen.length, 1);
});
