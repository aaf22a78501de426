// EXTENDED COPY(LID1) / RECEIVE COPY RESULTS / Third-party Copy VPD: copies between LUs and targets, errors with their sense, aborts, held results.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Status, Tmf, TmfResponse } from './api.js';
import type { ItNexus, ScsiTask } from './api.js';
import { LogicalUnit } from './logical-unit.js';
import { Target } from './target.js';
import { MemoryDevice } from './testing/memory-device.js';
import { makeTask, nexus, senseOf } from './testing/harness.js';
import type { RunOptions } from './testing/harness.js';
import { COPY_CHUNK, stopCopiesUsing } from './spc-xcopy.js';
import { XcopyLimit } from './spc-xcopy-params.js';
import { newTapeImage } from './ssc-format.js';
import { setupTapeLu } from './ssc.js';

const BS = 512;

interface Daemon {
  targets: Target[];
  devs: Map<string, MemoryDevice>;
  i1: ItNexus;
  i2: ItNexus;
  run(tid: number, lun: number, cdb: number[] | Buffer, o?: RunOptions & { n?: ItNexus }): Promise<ScsiTask>;
  lu(tid: number, lun: number): LogicalUnit;
}

/** Two targets (tid 1 with LUNs 1 and 2, tid 2 with LUN 1) that see each other as copy targets, both nexuses logged in to both. */
async function daemon(opts: { blocks?: number; async?: boolean } = {}): Promise<Daemon> {
  const targets: Target[] = [];
  const devs = new Map<string, MemoryDevice>();
  const peers = (): Iterable<Target> => targets;
  for (const [tid, luns] of [[1, [1, 2]], [2, [1]]] as const) {
    const t = new Target({ tid, name: `iqn.2024-01.test:tgt${tid}`, lldName: 'iscsi', peers });
    for (const lun of luns) {
      const dev = new MemoryDevice((opts.blocks ?? 4096) * BS, { async: opts.async ?? false });
      devs.set(`${tid}:${lun}`, dev);
      t.addLun(new LogicalUnit({ tid, lun, deviceType: 'disk', dev, bsName: 'rdwr', path: `/tmp/t${tid}l${lun}.img`, oflags: { sync: false, direct: false }, blockSize: BS }));
    }
    targets.push(t);
  }
  const i1 = nexus(1);
  const i2 = nexus(2);
  for (const t of targets) {
    t.addNexus(i1);
    t.addNexus(i2);
  }
  const run = (tid: number, lun: number, cdb: number[] | Buffer, o: RunOptions & { n?: ItNexus } = {}): Promise<ScsiTask> =>
    new Promise((resolve) => targets[tid - 1]!.execute(makeTask(o.n ?? i1, lun, cdb, o), resolve));
  for (const n of [i1, i2]) for (const [tid, lun] of [[1, 1], [1, 2], [2, 1]] as const) while ((await run(tid, lun, [0, 0, 0, 0, 0, 0], { n })).status !== Status.Good) { /* unit attentions */ }
  return { targets, devs, i1, i2, run, lu: (tid, lun) => targets[tid - 1]!.luns.get(lun)! };
}

/** The NAA designator (type 3, LU association) an initiator reads from VPD 83h, as sg_xcopy picks it. */
async function naaOf(d: Daemon, tid: number, lun: number): Promise<Buffer> {
  const t = await d.run(tid, lun, [0x12, 1, 0x83, 0, 255, 0]);
  const p = t.dataIn!;
  for (let o = 4; o < p.length; o += 4 + p[o + 3]!) if ((p[o + 1]! & 0x3f) === 0x03) return p.subarray(o, o + 4 + p[o + 3]!);
  throw new Error('no NAA designator');
}

function cscd(designator: Buffer, pad = false, blockLength = BS, peripheralType = 0): Buffer {
  const b = Buffer.alloc(32);
  b[0] = 0xe4;
  b[1] = peripheralType;
  designator.copy(b, 4);
  b[28] = pad ? 0x04 : 0;
  b.writeUIntBE(blockLength, 29, 3);
  return b;
}

/** A segment descriptor of `type` and DESCRIPTOR LENGTH `len`: header, CSCD IDs and the two LBAs filled in. */
function segment(type: number, len: number, src: number, dst: number, srcLba: number, dstLba: number): Buffer {
  const b = Buffer.alloc(4 + len);
  b[0] = type;
  b.writeUInt16BE(len, 2);
  b.writeUInt16BE(src, 4);
  b.writeUInt16BE(dst, 6);
  b.writeBigUInt64BE(BigInt(srcLba), 12);
  b.writeBigUInt64BE(BigInt(dstLba), 20);
  return b;
}

function seg02(src: number, dst: number, blocks: number, srcLba: number, dstLba: number): Buffer {
  const b = segment(0x02, 0x18, src, dst, srcLba, dstLba);
  b.writeUInt16BE(blocks, 10);
  return b;
}

function seg0a(src: number, dst: number, bytes: number, srcLba: number, dstLba: number, srcOff: number, dstOff: number): Buffer {
  const b = segment(0x0a, 0x1c, src, dst, srcLba, dstLba);
  b.writeUInt32BE(bytes, 8);
  b.writeUInt16BE(srcOff, 28);
  b.writeUInt16BE(dstOff, 30);
  return b;
}

function plist(listId: number, usage: number, cscds: Buffer[], segs: Buffer[], inline = 0): Buffer {
  const h = Buffer.alloc(16);
  const c = Buffer.concat(cscds);
  const s = Buffer.concat(segs);
  h[0] = listId;
  h[1] = usage << 3;
  h.writeUInt16BE(c.length, 2);
  h.writeUInt32BE(s.length, 8);
  h.writeUInt32BE(inline, 12);
  return Buffer.concat([h, c, s, Buffer.alloc(inline)]);
}

const xcopy = (len: number): number[] => [0x83, 0, 0, 0, 0, 0, 0, 0, 0, 0, (len >>> 24) & 0xff, (len >>> 16) & 0xff, (len >>> 8) & 0xff, len & 0xff, 0, 0];
const rcr = (sa: number, listId: number, alloc = 1024): number[] => [0x84, sa, listId, 0, 0, 0, 0, 0, 0, 0, 0, 0, (alloc >> 8) & 0xff, alloc & 0xff, 0, 0];

function send(d: Daemon, tid: number, lun: number, data: Buffer, n?: ItNexus): Promise<ScsiTask> {
  return d.run(tid, lun, xcopy(data.length), { dataOut: data, n });
}

/** Sense key specific bytes and COMMAND-SPECIFIC INFORMATION of fixed format sense. */
function sks(t: ScsiTask): { sks: number[]; csi: number } {
  const s = t.sense!;
  return { sks: [s[15]!, s[16]!, s[17]!], csi: s.readUInt32BE(8) };
}

function fill(dev: MemoryDevice, lba: number, blocks: number, seed: number): void {
  for (let i = 0; i < blocks * BS; i++) dev.data[lba * BS + i] = (seed + i * 7 + (i >> 9)) & 0xff;
}

test('a block to block copy between two LUs of one target, then between targets: byte-identical, COPY STATUS reports it', async () => {
  const d = await daemon();
  const src = d.devs.get('1:1')!;
  fill(src, 10, 300, 1);
  const a = await naaOf(d, 1, 1);
  const b = await naaOf(d, 1, 2);
  let t = await send(d, 1, 1, plist(7, 0, [cscd(a), cscd(b)], [seg02(0, 1, 300, 10, 100)]));
  assert.equal(t.status, Status.Good);
  assert.ok(d.devs.get('1:2')!.data.subarray(100 * BS, 400 * BS).equals(src.data.subarray(10 * BS, 310 * BS)));
  t = await d.run(1, 1, rcr(0x00, 7));
  assert.equal(t.status, Status.Good);
  // COPY STATUS: AVAILABLE DATA 8, completed without errors, 1 segment, 153600 bytes
  assert.deepEqual([...t.dataIn!], [0, 0, 0, 8, 0x01, 0, 1, 0, 0, 0x02, 0x58, 0x00]);
  // Sent to the destination LU instead, and to another target's LU: a copy target is any LU of the daemon.
  const c = await naaOf(d, 2, 1);
  t = await send(d, 1, 2, plist(8, 0, [cscd(b), cscd(c)], [seg02(0, 1, 300, 100, 0), seg02(0xffff, 1, 10, 0, 300)]));
  assert.equal(t.status, Status.Good);
  const other = d.devs.get('2:1')!.data;
  assert.ok(other.subarray(0, 300 * BS).equals(src.data.subarray(10 * BS, 310 * BS)));
  assert.ok(other.subarray(300 * BS, 310 * BS).equals(d.devs.get('1:2')!.data.subarray(0, 10 * BS)), 'CSCD ID FFFFh is the LU that received the command');
  t = await d.run(1, 2, rcr(0x00, 8));
  assert.equal(t.dataIn![6], 2, 'two segments processed');
  // The results are the nexus's own, and other LUs' copy managers hold none.
  assert.deepEqual(senseOf(await d.run(1, 2, rcr(0x00, 8), { n: d.i2 })), [0x05, 0x24, 0x00]);
  assert.deepEqual(senseOf(await d.run(1, 1, rcr(0x00, 8))), [0x05, 0x24, 0x00]);
});

test('a copy of an LU onto itself with overlapping ranges behaves as if the source were read first, in both directions', async () => {
  const d = await daemon({ async: true });
  const dev = d.devs.get('1:1')!;
  const a = await naaOf(d, 1, 1);
  // 3000 blocks (more than one chunk) moved up by 100 blocks, then down by 1000.
  for (const [from, to, n] of [[0, 100, 3000], [1000, 0, 3000]] as const) {
    fill(dev, 0, 4096, from + 3);
    const want = Buffer.from(dev.data.subarray(from * BS, (from + n) * BS));
    const t = await send(d, 1, 1, plist(1, 2, [cscd(a)], [seg02(0, 0, n, from, to)]));
    assert.equal(t.status, Status.Good);
    assert.ok(dev.data.subarray(to * BS, (to + n) * BS).equals(want), `overlapping copy ${from} -> ${to}`);
  }
});

test('segment 0Ah copies bytes at offsets inside blocks and keeps the destination bytes around them', async () => {
  const d = await daemon();
  const src = d.devs.get('1:1')!;
  const dst = d.devs.get('1:2')!;
  fill(src, 0, 8, 5);
  fill(dst, 0, 8, 9);
  const before = Buffer.from(dst.data.subarray(0, 8 * BS));
  const t = await send(d, 1, 1, plist(1, 0, [cscd(await naaOf(d, 1, 1)), cscd(await naaOf(d, 1, 2))], [seg0a(0, 1, 1000, 1, 2, 17, 300)]));
  assert.equal(t.status, Status.Good);
  const at = 2 * BS + 300;
  assert.ok(dst.data.subarray(at, at + 1000).equals(src.data.subarray(BS + 17, BS + 1017)));
  assert.ok(dst.data.subarray(0, at).equals(before.subarray(0, at)), 'bytes before the range kept');
  assert.ok(dst.data.subarray(at + 1000, 8 * BS).equals(before.subarray(at + 1000)), 'bytes after the range kept');
});

test('parameter list errors: ILLEGAL REQUEST with the code libiscsi expects and a field pointer into the list; nothing is written', async () => {
  const d = await daemon();
  const a = cscd(await naaOf(d, 1, 1));
  const one = seg02(0, 0, 8, 0, 100);
  const cases: [string, Buffer, [number, number, number], number][] = [
    ['too many CSCD descriptors', plist(1, 0, Array(XcopyLimit.cscdDescriptors + 1).fill(a), [one]), [0x05, 0x26, 0x06], 16 + 32 * XcopyLimit.cscdDescriptors],
    ['too many segment descriptors', plist(1, 0, [a], Array(XcopyLimit.segmentDescriptors + 1).fill(one)), [0x05, 0x26, 0x08], 48 + 28 * XcopyLimit.segmentDescriptors],
    ['unsupported CSCD type (FC N_Port_Name)', plist(1, 0, [Buffer.from([0xe0, ...a.subarray(1)])], [one]), [0x05, 0x26, 0x07], 16],
    ['unsupported segment type (stream to stream)', plist(1, 0, [a], [Buffer.from([0x03, 0, 0, 0x10, ...Buffer.alloc(16)])]), [0x05, 0x26, 0x09], 48],
    ['wrong segment descriptor length', plist(1, 0, [a], [Buffer.from([0x02, 0, 0, 0x14, ...one.subarray(4, 24)])]), [0x05, 0x26, 0x00], 50],
    ['inline data beyond MAXIMUM INLINE DATA LENGTH', plist(1, 0, [a], [one], XcopyLimit.inlineBytes + 4), [0x05, 0x26, 0x0b], 12],
    ['LIST ID USAGE 11b with a list identifier', plist(1, 3, [a], [one]), [0x05, 0x26, 0x00], 0],
  ];
  for (const [what, data, sense, field] of cases) {
    const t = await send(d, 1, 1, data);
    assert.deepEqual(senseOf(t), sense, what);
    // SKSV, C/D=0 (parameter list), FIELD POINTER
    assert.deepEqual(sks(t).sks, [0x80, field >> 8, field & 0xff], `${what}: field pointer`);
  }
  // Lengths: the descriptors longer than MAXIMUM DESCRIPTOR LIST LENGTH, or than the data sent.
  const full = plist(1, 0, [a], [one]);
  assert.deepEqual(senseOf(await send(d, 1, 1, full.subarray(0, full.length - 1))), [0x05, 0x1a, 0x00]);
  assert.deepEqual(senseOf(await send(d, 1, 1, plist(1, 0, [a], Array(150).fill(one)))), [0x05, 0x1a, 0x00]);
  assert.equal((await d.run(1, 1, xcopy(0))).status, Status.Good, 'PARAMETER LIST LENGTH 0 is no error');
  assert.equal(d.devs.get('1:1')!.writes, 0, 'nothing written');
});

test('segment errors: COPY ABORTED with a segment pointer and the segment number, before any data moves', async () => {
  const d = await daemon();
  const a = cscd(await naaOf(d, 1, 1));
  const b = cscd(await naaOf(d, 1, 2));
  const ok = seg02(0, 1, 8, 0, 0);
  const nobody = cscd(Buffer.from([0x01, 0x03, 0, 8, 0x3f, 1, 2, 3, 4, 5, 6, 7]));
  const cases: [string, Buffer, [number, number, number], number, number][] = [
    ['CSCD index beyond the list', plist(1, 0, [a], [ok, seg02(0, 1, 8, 0, 0)]), [0x0a, 0x0d, 0x02], 6, 0],
    ['a designator no LU has', plist(1, 0, [a, b, nobody], [ok, seg02(2, 1, 8, 0, 0)]), [0x0a, 0x0d, 0x02], 4, 1],
    ['source range beyond the end', plist(1, 0, [a, b], [ok, seg02(0, 1, 8, 4095, 0)]), [0x0a, 0x00, 0x00], 12, 1],
    ['destination range beyond the end', plist(1, 0, [a, b], [ok, seg02(0, 1, 2048, 0, 4096 - 2047)]), [0x0a, 0x00, 0x00], 20, 1],
    ['a tape CSCD for a disk', plist(1, 0, [a, cscd(await naaOf(d, 1, 2), false, BS, 1)], [seg02(0, 1, 8, 0, 0)]), [0x0a, 0x0d, 0x03], 6, 0],
  ];
  for (const [what, data, sense, byte, segment] of cases) {
    const t = await send(d, 1, 1, data);
    assert.deepEqual(senseOf(t), sense, what);
    // SKSV, SD=1 (segment descriptor), FIELD POINTER; COMMAND-SPECIFIC INFORMATION = segment number
    assert.deepEqual(sks(t), { sks: [0xa0, 0, byte], csi: segment }, `${what}: segment pointer`);
  }
  assert.equal(d.devs.get('1:2')!.writes, 0, 'nothing written');
  // A DISK BLOCK LENGTH that is not the LU's: INVALID FIELD IN PARAMETER LIST at that field.
  const t = await send(d, 1, 1, plist(1, 0, [a, cscd(await naaOf(d, 1, 2), false, 4096)], [ok]));
  assert.deepEqual(senseOf(t), [0x05, 0x26, 0x00]);
  assert.deepEqual(sks(t).sks, [0x80, 0, 48 + 29]);
});

test('copy targets under another initiator\'s reservation: RESERVATION CONFLICT; a write-protected destination: COPY ABORTED / WRITE PROTECTED', async () => {
  const d = await daemon();
  const list = plist(1, 0, [cscd(await naaOf(d, 1, 1)), cscd(await naaOf(d, 2, 1))], [seg02(0, 1, 8, 0, 0)]);
  // RESERVE(6) of the destination (another target's LU) by i2
  assert.equal((await d.run(2, 1, [0x16, 0, 0, 0, 0, 0], { n: d.i2 })).status, Status.Good);
  assert.equal((await send(d, 1, 1, list)).status, Status.ReservationConflict);
  assert.equal((await send(d, 1, 1, list, d.i2)).status, Status.Good, 'the holder of the reservation may copy onto it');
  assert.equal((await d.run(2, 1, [0x17, 0, 0, 0, 0, 0], { n: d.i2 })).status, Status.Good);
  // PERSISTENT RESERVE OUT REGISTER key 1, RESERVE Exclusive Access (type 3) by i2 on the source
  const prout = (sa: number, type: number, key: Buffer): number[] => [0x5f, sa, type, 0, 0, 0, 0, 0, 24, 0];
  const reg = Buffer.alloc(24);
  reg.writeUInt32BE(1, 12);
  const res = Buffer.alloc(24);
  res.writeUInt32BE(1, 4);
  assert.equal((await d.run(1, 1, prout(0, 0, reg), { n: d.i2, dataOut: reg })).status, Status.Good);
  assert.equal((await d.run(1, 1, prout(1, 3, res), { n: d.i2, dataOut: res })).status, Status.Good);
  assert.equal((await send(d, 1, 2, plist(1, 0, [cscd(await naaOf(d, 1, 1)), cscd(await naaOf(d, 2, 1))], [seg02(0, 1, 8, 0, 0)]))).status, Status.ReservationConflict);
  assert.equal(d.devs.get('2:1')!.writes, 1, 'only the copy by the reservation holder wrote');
  d.lu(2, 1).readonly = true;
  const t = await send(d, 1, 2, plist(2, 0, [cscd(await naaOf(d, 1, 2)), cscd(await naaOf(d, 2, 1))], [seg02(0, 1, 8, 0, 0)]));
  assert.deepEqual(senseOf(t), [0x0a, 0x27, 0x00]);
});

test('an aborted EXTENDED COPY stops between chunks; memory and each store call stay within one chunk', async () => {
  const d = await daemon({ blocks: 65536 * 2, async: true });
  const dst = d.devs.get('1:2')!;
  const sizes: number[] = [];
  const write = dst.write.bind(dst);
  let abortAfter = 3;
  let task: Promise<ScsiTask> | null = null;
  let aborted: Promise<TmfResponse> | null = null;
  dst.write = (o, data, cb) => {
    sizes.push(data.reduce((a, b) => a + b.length, 0));
    if (--abortAfter === 0) aborted = new Promise((resolve) => d.targets[0]!.taskMgmt(d.i1, Tmf.AbortTask, 1, 77, (r) => resolve(r)));
    write(o, data, cb);
  };
  const list = plist(1, 0, [cscd(await naaOf(d, 1, 1)), cscd(await naaOf(d, 1, 2))], [seg02(0, 1, 65535, 0, 0)]);
  task = d.run(1, 1, xcopy(list.length), { dataOut: list, tag: 77 });
  const t = await task;
  assert.equal(await aborted, TmfResponse.Complete);
  assert.equal(t.status, Status.TaskAborted);
  assert.ok(sizes.length >= 3 && sizes.length < 32, `${sizes.length} writes: stopped early`);
  assert.ok(sizes.every((s) => s <= COPY_CHUNK), 'each write at most one chunk');
  // Its held status says it failed.
  const s = await d.run(1, 1, rcr(0x00, 1));
  assert.equal(s.dataIn![4], 0x02);
});

test('closing an LU a copy writes stops the copy (COPY TARGET DEVICE NOT REACHABLE) once its I/O in flight is done', async () => {
  const d = await daemon({ blocks: 65536 * 2, async: true });
  const dst = d.devs.get('2:1')!;
  const write = dst.write.bind(dst);
  let inFlight = 0;
  let stopped: Promise<number> | null = null;
  dst.write = (o, data, cb) => {
    inFlight++;
    if (stopped === null) stopped = new Promise((resolve) => stopCopiesUsing(d.lu(2, 1), () => resolve(inFlight)));
    write(o, data, (err) => {
      inFlight--;
      cb(err);
    });
  };
  const t = await send(d, 1, 1, plist(1, 0, [cscd(await naaOf(d, 1, 1)), cscd(await naaOf(d, 2, 1))], [seg02(0, 1, 65535, 0, 0)]));
  assert.equal(await stopped, 0, 'no write in flight when the close may go on');
  assert.deepEqual(senseOf(t), [0x0a, 0x0d, 0x02]);
});

test('RECEIVE COPY RESULTS: OPERATING PARAMETERS, unknown list identifiers, duplicates in progress, results gone with the nexus', async () => {
  const d = await daemon({ blocks: 65536 * 2, async: true });
  let t = await d.run(1, 1, rcr(0x03, 0));
  const o = t.dataIn!;
  assert.equal(o.readUInt32BE(0), o.length - 4);
  assert.equal(o.readUInt16BE(8), XcopyLimit.cscdDescriptors);
  assert.equal(o.readUInt16BE(10), XcopyLimit.segmentDescriptors);
  assert.equal(o.readUInt32BE(12), XcopyLimit.descriptorListBytes);
  assert.equal(o.readUInt32BE(16), XcopyLimit.segmentBytes);
  assert.equal(o[37], 9, 'data segment granularity 512 bytes');
  assert.deepEqual([...o.subarray(44, 44 + o[43]!)], [0x02, 0x04, 0x05, 0x0a, 0xe4]);
  t = await d.run(1, 1, rcr(0x00, 5));
  assert.deepEqual(senseOf(t), [0x05, 0x24, 0x00]);
  assert.deepEqual(sks(t).sks, [0xc0, 0, 2], 'field pointer: LIST IDENTIFIER');
  // A copy still running: its status is "in progress", and the same list identifier again is refused.
  const list = plist(5, 0, [cscd(await naaOf(d, 1, 1)), cscd(await naaOf(d, 1, 2))], [seg02(0, 1, 65535, 0, 0)]);
  const running = send(d, 1, 1, list);
  t = await d.run(1, 1, rcr(0x00, 5));
  assert.equal(t.dataIn![4], 0x00, 'in progress');
  assert.deepEqual(senseOf(await send(d, 1, 1, list)), [0x05, 0x00, 0x16]);
  assert.equal((await running).status, Status.Good);
  t = await d.run(1, 1, rcr(0x00, 5));
  assert.equal(t.dataIn![4], 0x01);
  assert.equal(t.dataIn!.readUInt32BE(8), 65535 * BS);
  t = await d.run(1, 1, rcr(0x04, 5));
  assert.deepEqual([...t.dataIn!], [0, 0, 0, 0], 'FAILED SEGMENT DETAILS: none');
  t = await d.run(1, 1, rcr(0x01, 5));
  assert.deepEqual([...t.dataIn!], [0, 0, 0, 0], 'RECEIVE DATA: nothing held');
  // A failed copy's sense data is in FAILED SEGMENT DETAILS.
  await send(d, 1, 1, plist(6, 0, [cscd(await naaOf(d, 1, 1))], [seg02(0, 0, 8, 0, 0), seg02(0, 3, 8, 0, 0)]));
  t = await d.run(1, 1, rcr(0x04, 6));
  assert.equal(t.dataIn![56], 0x02);
  assert.equal(t.dataIn![60 + 2] & 0x0f, 0x0a, 'COPY ABORTED');
  d.targets[0]!.removeNexus(d.i1);
  d.targets[0]!.addNexus(d.i1);
  await d.run(1, 1, [0, 0, 0, 0, 0, 0]);
  assert.deepEqual(senseOf(await d.run(1, 1, rcr(0x00, 5))), [0x05, 0x24, 0x00], 'held results end with the I_T nexus');
});

test('Third-party Copy VPD page: supported commands, parameter data, descriptors, CSCD IDs, general copy operations; 3PC set', async () => {
  const d = await daemon();
  assert.equal((await d.run(1, 1, [0x12, 0, 0, 0, 96, 0])).dataIn![5]! & 0x08, 0x08);
  const p = (await d.run(1, 1, [0x12, 1, 0x8f, 1, 0, 0])).dataIn!;
  assert.equal(p[1], 0x8f);
  assert.equal(p.readUInt16BE(2), p.length - 4);
  const found = new Map<number, Buffer>();
  for (let o = 4; o < p.length; o += 4 + p.readUInt16BE(o + 2)) {
    assert.equal(p.readUInt16BE(o + 2) % 4, 0, 'descriptor lengths are multiples of 4');
    found.set(p.readUInt16BE(o), p.subarray(o, o + 4 + p.readUInt16BE(o + 2)));
  }
  assert.deepEqual([...found.keys()], [0x0001, 0x0004, 0x0008, 0x000c, 0x8001]);
  assert.deepEqual([...found.get(0x0001)!.subarray(4, 16)], [9, 0x83, 1, 0x00, 0x84, 4, 0x00, 0x01, 0x03, 0x04, 0, 0]);
  assert.equal(found.get(0x0004)!.readUInt16BE(8), XcopyLimit.cscdDescriptors);
  assert.deepEqual([...found.get(0x0008)!.subarray(4, 10)], [5, 0x02, 0x04, 0x05, 0x0a, 0xe4]);
  assert.equal(found.get(0x0004)!.readUInt32BE(16), XcopyLimit.inlineBytes, 'MAXIMUM INLINE DATA LENGTH');
  assert.equal(found.get(0x000c)!.readUInt16BE(6), 0xffff);
  assert.equal(found.get(0x8001)!.readUInt32BE(12), XcopyLimit.segmentBytes);
});

// ---- inline (04h) and embedded (05h) data to a stream copy target

/** Adds a tape drive LU (LUN 3 of target 1) with a blank 4 MB data tape on a memory device. */
async function withTapeLu(d: Daemon): Promise<LogicalUnit> {
  const dev = new MemoryDevice(8 << 20);
  newTapeImage('X1', 4, 'data', 1_700_000_000).copy(dev.data);
  const lu = new LogicalUnit({ tid: 1, lun: 3, deviceType: 'tape', dev, bsName: 'rdwr', path: '/tmp/t1l3.tape', oflags: { sync: false, direct: false }, blockSize: BS });
  await setupTapeLu(lu);
  d.targets[0]!.addLun(lu);
  // the new LUN: REPORTED LUNS DATA HAS CHANGED on the others, POWER ON on it
  for (const n of [d.i1, d.i2]) for (const l of [1, 2, 3]) while ((await d.run(1, l, [0, 0, 0, 0, 0, 0], { n })).status !== Status.Good) { /* unit attentions */ }
  return lu;
}

/** A stream CSCD descriptor (peripheral type 01h): Table 125 byte 28 PAD(2) FIXED(0), 29..31 STREAM BLOCK LENGTH. */
function streamCscd(designator: Buffer, fixed: boolean, blockLength: number, pad = false): Buffer {
  const b = cscd(designator, pad, blockLength, 0x01);
  b[28] = (pad ? 0x04 : 0) | (fixed ? 0x01 : 0);
  return b;
}

/** 04h: 6..7 DESTINATION CSCD ID, 8..11 STREAM DEVICE TRANSFER LENGTH, 12..19 INLINE DATA OFFSET, 20..23 NUMBER OF BYTES. */
function seg04(dst: number, streamLength: number, offset: number, bytes: number): Buffer {
  const b = Buffer.alloc(24);
  b[0] = 0x04;
  b.writeUInt16BE(0x14, 2);
  b.writeUInt16BE(dst, 6);
  b.writeUInt32BE(streamLength, 8);
  b.writeBigUInt64BE(BigInt(offset), 12);
  b.writeUInt32BE(bytes, 20);
  return b;
}

/** 05h: 2..3 DESCRIPTOR LENGTH (12 + data padded to 4), 6..7, 8..11 as 04h, 14..15 EMBEDDED DATA NUMBER OF BYTES, 16.. EMBEDDED DATA. */
function seg05(dst: number, streamLength: number, data: Buffer): Buffer {
  const padded = (data.length + 3) & ~3;
  const b = Buffer.alloc(16 + padded);
  b[0] = 0x05;
  b.writeUInt16BE(12 + padded, 2);
  b.writeUInt16BE(dst, 6);
  b.writeUInt32BE(streamLength, 8);
  b.writeUInt16BE(data.length, 14);
  data.copy(b, 16);
  return b;
}

/** The parameter list with `inline` as its inline data. */
function plistInline(listId: number, cscds: Buffer[], segs: Buffer[], inline: Buffer): Buffer {
  const b = plist(listId, 0, cscds, segs, inline.length);
  inline.copy(b, b.length - inline.length);
  return b;
}

/** Rewinds the tape LU and reads its blocks with variable READ(6) until a filemark / end of data: their contents. */
async function tapeBlocks(d: Daemon): Promise<Buffer[]> {
  assert.equal((await d.run(1, 3, [0x01, 0, 0, 0, 0, 0])).status, Status.Good, 'REWIND');
  const out: Buffer[] = [];
  for (;;) {
    const t = await d.run(1, 3, [0x08, 0x00, 0x01, 0x00, 0x00, 0]); // READ(6) variable, up to 64 KiB
    if (t.status !== Status.Good) {
      if (t.dataIn !== null && t.dataIn.length > 0 && (t.sense![2]! & 0x20) !== 0) out.push(Buffer.from(t.dataIn)); // ILI: a shorter block
      else return out;
      continue;
    }
    out.push(Buffer.from(t.dataIn!));
  }
}

test('inline (04h) and embedded (05h) data segments write their bytes to a tape LU: variable blocks of STREAM DEVICE TRANSFER LENGTH, or fixed blocks of STREAM BLOCK LENGTH', async () => {
  const d = await daemon();
  await withTapeLu(d);
  const tape = await naaOf(d, 1, 3);
  const inline = Buffer.alloc(3000);
  for (let i = 0; i < inline.length; i++) inline[i] = (i * 13 + 5) & 0xff;
  // 04h: 2500 bytes from offset 100 of the inline data, as variable blocks of 1000 bytes; then 05h: 10 embedded bytes, one block
  const emb = Buffer.from('embedded!!');
  let t = await send(d, 1, 1, plistInline(3, [streamCscd(tape, false, 0)], [seg04(0, 1000, 100, 2500), seg05(0, 0, emb)], inline));
  assert.equal(t.status, Status.Good, JSON.stringify(senseOf(t)));
  t = await d.run(1, 1, rcr(0x00, 3));
  assert.equal(t.dataIn![4], 0x01, 'COPY STATUS: completed without errors');
  assert.equal(t.dataIn!.readUInt16BE(5), 2, 'two segments processed');
  assert.equal(t.dataIn!.readUInt32BE(8), 2510, 'bytes moved');
  let blocks = await tapeBlocks(d);
  assert.deepEqual(blocks.map((b) => b.length), [1000, 1000, 500, 10]);
  assert.deepEqual(Buffer.concat(blocks.slice(0, 3)), inline.subarray(100, 2600));
  assert.deepEqual(blocks[3], emb);
  // FIXED=1: blocks of STREAM BLOCK LENGTH; a partial last block is padded with PAD=1, else the segment is inexact
  assert.equal((await d.run(1, 3, [0x01, 0, 0, 0, 0, 0])).status, Status.Good, 'REWIND: the next write replaces the tape contents');
  t = await send(d, 1, 1, plistInline(4, [streamCscd(tape, true, 512, true)], [seg04(0, 2, 0, 1100)], inline));
  assert.equal(t.status, Status.Good, JSON.stringify(senseOf(t)));
  blocks = await tapeBlocks(d);
  assert.deepEqual(blocks.map((b) => b.length), [512, 512, 512]);
  assert.deepEqual(Buffer.concat(blocks).subarray(0, 1100), inline.subarray(0, 1100));
  assert.ok(Buffer.concat(blocks).subarray(1100).every((x) => x === 0), 'padded with zeros');
  t = await send(d, 1, 1, plistInline(5, [streamCscd(tape, true, 512)], [seg04(0, 2, 0, 1100)], inline));
  assert.deepEqual(senseOf(t), [0x0a, 0x26, 0x0a], 'COPY ABORTED / UNEXPECTED INEXACT SEGMENT');
});

test('inline / embedded data segments: bad offsets and lengths are field errors, a disk is the wrong copy target, a write-protected or unloaded tape refuses; nothing is written', async () => {
  const d = await daemon();
  const lu = await withTapeLu(d);
  const tape = await naaOf(d, 1, 3);
  const disk = await naaOf(d, 1, 2);
  const inline = Buffer.alloc(64, 0x33);
  const cases: [string, Buffer, [number, number, number]][] = [
    ['inline data beyond its end', plistInline(1, [streamCscd(tape, false, 0)], [seg04(0, 0, 32, 40)], inline), [0x05, 0x26, 0x00]],
    ['inline data offset beyond its end', plistInline(1, [streamCscd(tape, false, 0)], [seg04(0, 0, 65, 0)], inline), [0x05, 0x26, 0x00]],
    ['embedded NUMBER OF BYTES beyond the descriptor', (() => {
      const s5 = seg05(0, 0, Buffer.alloc(4));
      s5.writeUInt16BE(9, 14);
      return plist(1, 0, [streamCscd(tape, false, 0)], [s5]);
    })(), [0x05, 0x26, 0x00]],
    ['embedded DESCRIPTOR LENGTH not a multiple of 4', (() => {
      const s5 = seg05(0, 0, Buffer.alloc(4));
      s5.writeUInt16BE(15, 2);
      return plist(1, 0, [streamCscd(tape, false, 0)], [s5]);
    })(), [0x05, 0x26, 0x00]],
    ['FIXED with STREAM BLOCK LENGTH 0', plistInline(1, [streamCscd(tape, true, 0)], [seg04(0, 0, 0, 8)], inline), [0x05, 0x26, 0x00]],
    ['a disk as the stream destination', plistInline(1, [cscd(disk)], [seg04(0, 0, 0, 8)], inline), [0x0a, 0x0d, 0x03]],
  ];
  for (const [what, data, sense] of cases) assert.deepEqual(senseOf(await send(d, 1, 1, data)), sense, what);
  lu.readonly = true;
  assert.deepEqual(senseOf(await send(d, 1, 1, plistInline(1, [streamCscd(tape, false, 0)], [seg04(0, 0, 0, 8)], inline))), [0x0a, 0x27, 0x00], 'write protected');
  lu.readonly = false;
  assert.deepEqual(await tapeBlocks(d), [], 'nothing written');
  // LOAD UNLOAD with LOAD=0 takes the tape out of service: COPY TARGET DEVICE NOT REACHABLE
  assert.equal((await d.run(1, 3, [0x1b, 0, 0, 0, 0, 0])).status, Status.Good);
  assert.deepEqual(senseOf(await send(d, 1, 1, plistInline(1, [streamCscd(tape, false, 0)], [seg04(0, 0, 0, 8)], inline))), [0x0a, 0x0d, 0x02]);
  // the Third-party Copy VPD page and OPERATING PARAMETERS list 04h and 05h and the inline limit
  const op = (await d.run(1, 1, rcr(0x03, 0))).dataIn!;
  assert.equal(op.readUInt32BE(20), XcopyLimit.inlineBytes, 'MAXIMUM INLINE DATA LENGTH');
  assert.deepEqual([...op.subarray(44, 44 + op[43]!)], [0x02, 0x04, 0x05, 0x0a, 0xe4]);
});
