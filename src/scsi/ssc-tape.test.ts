// Tests for the virtual tape medium (ssc-tape.ts) over the rdwr store on a tgt tape file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BackingDevice } from '../bs/api.js';
import rdwrModule from '../bs/rdwr.js';
import { Reason } from './sense.js';
import { BLK_HDR_SIZE, BlkType, FIRST_HDR_OFFSET, decodeHeader, newTapeImage } from './ssc-format.js';
import { VirtualTape, SpaceCode, earlyWarningZone, tapeSenseBytes } from './ssc-tape.js';

async function openFile(path: string): Promise<BackingDevice> {
  const store = await rdwrModule.init({ log: () => undefined });
  return new Promise((res, rej) =>
    store.open({ path, bsopts: '', oflags: { sync: false, direct: false }, blockSize: 512, readonly: false }, (e, d) => (e ? rej(e) : res(d!))));
}

async function withTape(sizeMb: number, fn: (t: VirtualTape, path: string) => Promise<void>, type: 'data' | 'clean' | 'worm' = 'data'): Promise<void> {
  const dir = fs.mkdtempSync(join(tmpdir(), 'stgt-tape-'));
  const path = join(dir, 'tape');
  fs.writeFileSync(path, newTapeImage('T1', sizeMb, type, 1_700_000_000));
  const dev = await openFile(path);
  try {
    await fn(await VirtualTape.open(dev), path);
  } finally {
    await new Promise<void>((r) => dev.close(() => r()));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const blk = (n: number, fill: number): Buffer => Buffer.alloc(n, fill);

/** Walks the file's header list and returns the block types in order (BOT..EOD). */
function types(path: string): number[] {
  const f = fs.readFileSync(path);
  const out: number[] = [];
  let off = 0;
  for (;;) {
    const { header: h, crcOk } = decodeHeader(f.subarray(off, off + BLK_HDR_SIZE));
    assert.ok(crcOk, `crc at ${off}`);
    out.push(h.blkType);
    if (h.blkType === BlkType.Eod) return out;
    off = h.next;
  }
}

test('a new tape is at BOP and reads BLANK CHECK at once', async () => {
  await withTape(1, async (t) => {
    assert.deepEqual(t.position(), { block: 0, file: 0, bop: true, eow: false });
    assert.equal(t.capacity, 1024 * 1024);
    const r = await t.readVariable(100);
    assert.equal(r.data.length, 0);
    assert.equal(r.sense?.reason, Reason.EndOfDataDetected);
    assert.equal(r.sense?.info, 100);
  });
});

test('variable blocks and filemarks: write, rewind, read back, the file layout is tgt\'s', async () => {
  await withTape(4, async (t, path) => {
    assert.equal(await t.write([blk(10240, 1)], false), null);
    assert.equal(await t.write([blk(512, 2)], false), null);
    assert.equal(await t.writeFilemarks(1), null);
    assert.equal(await t.write([blk(100, 3)], false), null);
    assert.equal(await t.writeFilemarks(2), null);
    assert.deepEqual(t.position(), { block: 6, file: 3, bop: false, eow: false });
    assert.deepEqual(types(path), [BlkType.Bot, 2, 2, BlkType.Filemark, 2, BlkType.Filemark, BlkType.Filemark, BlkType.Eod]);
    assert.equal(await t.rewind(), null);
    let r = await t.readVariable(10240);
    assert.deepEqual(r, { data: blk(10240, 1), sense: null });
    // Asking for more than the block holds: ILI with a positive residue, the block's bytes.
    r = await t.readVariable(1000);
    assert.deepEqual(r.data, blk(512, 2));
    assert.deepEqual(r.sense, { reason: Reason.NoAdditionalSense, ili: true, info: 488 });
    r = await t.readVariable(1000);
    assert.deepEqual(r.sense, { reason: Reason.FilemarkDetected, filemark: true, info: 1000 });
    // Less than the block: ILI with a negative residue (overlength), the first bytes only.
    r = await t.readVariable(10);
    assert.deepEqual(r.data, blk(10, 3));
    assert.deepEqual(r.sense, { reason: Reason.NoAdditionalSense, ili: true, info: -90 });
    assert.equal((await t.readVariable(10)).sense?.reason, Reason.FilemarkDetected);
    assert.equal((await t.readVariable(10)).sense?.reason, Reason.FilemarkDetected);
    assert.equal((await t.readVariable(10)).sense?.reason, Reason.EndOfDataDetected);
  });
});

test('fixed blocks: a count of blocks, stop at a filemark with the residue in blocks', async () => {
  await withTape(4, async (t) => {
    assert.equal(await t.write([blk(512, 1), blk(512, 2), blk(512, 3)], true), null);
    assert.equal(await t.writeFilemarks(1), null);
    await t.rewind();
    let r = await t.readFixed(2, 512);
    assert.deepEqual(r, { data: Buffer.concat([blk(512, 1), blk(512, 2)]), sense: null });
    r = await t.readFixed(5, 512);
    assert.deepEqual(r.data, blk(512, 3));
    assert.deepEqual(r.sense, { reason: Reason.FilemarkDetected, filemark: true, info: 4 });
    assert.equal((await t.readFixed(1, 512)).sense?.reason, Reason.EndOfDataDetected);
    await t.rewind();
    r = await t.readFixed(1, 1024);
    assert.deepEqual(r.sense, { reason: Reason.NoAdditionalSense, ili: true, info: 1 });
  });
});

test('SPACE over blocks and filemarks both ways, to EOD; BOM and EOD stop it with the residue', async () => {
  await withTape(4, async (t) => {
    // f0: b1 b2 FM  f1: b3 FM  f2: b4 FM
    for (const [n, f] of [[1, 1], [1, 2]] as const) await t.write([blk(64, f + n)], false);
    await t.writeFilemarks(1);
    await t.write([blk(64, 3)], false);
    await t.writeFilemarks(1);
    await t.write([blk(64, 4)], false);
    await t.writeFilemarks(1);
    await t.rewind();
    // mt fsf 2: past two filemarks, at b4
    assert.equal(await t.space(SpaceCode.Filemarks, 2), null);
    assert.equal(t.position().file, 2);
    assert.deepEqual((await t.readVariable(64)).data, blk(64, 4));
    // mt bsf 1 from after b4: BOP side of the second filemark
    assert.equal(await t.space(SpaceCode.Filemarks, -1), null);
    assert.deepEqual([t.position().block, t.position().file], [4, 1]);
    assert.equal((await t.readVariable(64)).sense?.reason, Reason.FilemarkDetected);
    assert.equal(t.position().file, 2); // read past it
    // Spacing blocks forward over a filemark stops after it.
    await t.rewind();
    assert.deepEqual(await t.space(SpaceCode.Blocks, 5), { reason: Reason.FilemarkDetected, filemark: true, info: 3 });
    assert.deepEqual([t.position().block, t.position().file], [3, 1]);
    // Reverse over blocks: stops on the BOP side of a filemark.
    await t.space(SpaceCode.Blocks, 1); // past b3
    assert.deepEqual(await t.space(SpaceCode.Blocks, -3), { reason: Reason.FilemarkDetected, filemark: true, info: 2 });
    assert.deepEqual([t.position().block, t.position().file], [2, 0]);
    assert.deepEqual(await t.space(SpaceCode.Blocks, -5), { reason: Reason.BeginningOfMediumDetected, eom: true, info: 3 });
    assert.deepEqual(t.position(), { block: 0, file: 0, bop: true, eow: false });
    assert.deepEqual(await t.space(SpaceCode.Filemarks, 9), { reason: Reason.EndOfDataDetected, eom: false, info: 6 });
    assert.deepEqual([t.position().block, t.position().file], [7, 3]);
    await t.rewind();
    assert.equal(await t.space(SpaceCode.EndOfData, 0), null);
    assert.deepEqual([t.position().block, t.position().file], [7, 3]);
    assert.deepEqual(await t.space(2, 1), { reason: Reason.InvalidFieldInCdb });
  });
});

test('writing in the middle truncates what followed; ERASE ends the medium at the position', async () => {
  await withTape(4, async (t, path) => {
    await t.write([blk(64, 1), blk(64, 2), blk(64, 3)], true);
    await t.rewind();
    await t.space(SpaceCode.Blocks, 1);
    await t.write([blk(32, 9)], false);
    assert.deepEqual(types(path), [BlkType.Bot, 2, 2, BlkType.Eod]);
    await t.rewind();
    assert.deepEqual((await t.readVariable(64)).data, blk(64, 1));
    assert.deepEqual((await t.readVariable(64)).data, blk(32, 9));
    assert.equal((await t.readVariable(64)).sense?.reason, Reason.EndOfDataDetected);
    await t.rewind();
    assert.equal(await t.erase(), null);
    assert.deepEqual(types(path), [BlkType.Bot, BlkType.Eod]);
    assert.equal((await t.readVariable(64)).sense?.reason, Reason.EndOfDataDetected);
  });
});

test('early warning near the end of the medium, VOLUME OVERFLOW at it, nothing written past it', async () => {
  await withTape(1, async (t, path) => {
    const cap = 1024 * 1024;
    const ew = cap - earlyWarningZone(cap);
    const big = blk(32 * 1024, 7);
    let s = null;
    let n = 0;
    while (s === null) {
      s = await t.write([big], false);
      n++;
    }
    assert.deepEqual(s, { reason: Reason.EndOfMediumDetected, eom: true, info: 0 });
    assert.ok(t.position().eow);
    assert.ok(FIRST_HDR_OFFSET + n * (big.length + BLK_HDR_SIZE) > ew);
    for (;;) {
      s = await t.write([big], false);
      if (s?.reason !== Reason.EndOfMediumDetected) break;
    }
    assert.deepEqual(s, { reason: Reason.VolumeOverflow, eom: true, info: big.length });
    assert.ok(fs.statSync(path).size <= cap);
  });
});

test('a cleaning cartridge refuses writes', async () => {
  await withTape(1, async (t) => {
    assert.deepEqual(await t.write([blk(10, 1)], false), { reason: Reason.CannotWriteIncompatibleFormat });
  }, 'clean');
});

test('open refuses a file that is not a tape', async () => {
  const dir = fs.mkdtempSync(join(tmpdir(), 'stgt-tape-'));
  const path = join(dir, 'x');
  try {
    fs.writeFileSync(path, Buffer.alloc(4096));
    const dev = await openFile(path);
    await assert.rejects(VirtualTape.open(dev), /not a tgt virtual tape/);
    fs.writeFileSync(path, Buffer.alloc(100));
    const dev2 = await openFile(path);
    await assert.rejects(VirtualTape.open(dev2), /too small/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('tape sense bytes: fixed format carries FILEMARK/EOM/ILI and a signed INFORMATION', () => {
  const f = tapeSenseBytes({ reason: Reason.NoAdditionalSense, ili: true, info: -90 }, false);
  assert.equal(f[0], 0xf0);
  assert.equal(f[2], 0x20);
  assert.equal(f.readInt32BE(3), -90);
  const fm = tapeSenseBytes({ reason: Reason.FilemarkDetected, filemark: true, info: 4 }, false);
  assert.deepEqual([fm[2], fm.readInt32BE(3), fm[12], fm[13]], [0x80, 4, 0x00, 0x01]);
  const eod = tapeSenseBytes({ reason: Reason.EndOfDataDetected, eom: true, info: 1 }, false);
  assert.deepEqual([eod[2], eod[12], eod[13]], [0x48, 0x00, 0x05]);
  const d = tapeSenseBytes({ reason: Reason.FilemarkDetected, filemark: true, info: 3 }, true);
  assert.equal(d[0], 0x72);
  assert.equal(d[7], d.length - 8);
  assert.deepEqual([...d.subarray(d.length - 4)], [0x04, 0x02, 0x00, 0x80]);
  assert.equal(d.readBigInt64BE(12), 3n);
});
