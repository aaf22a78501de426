// Unit tests: the sg/bsg store — tgt's path checks (character device, sg major, bsg under /dev/bsg), the kind a store accepts, and the ioctl worker's replies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { EventEmitter } from 'node:events';
import sgModule, { classifySgPath, SgDevice } from './sg.js';
import type { IoctlWorker } from './sg.js';
import bsgModule from './bsg.js';
import { SG_GET_VERSION_NUM } from './sg-io.js';
import type { BackingStore } from './api.js';
import type { IoctlReply, IoctlRequest } from './sg-worker.js';
import type { PassthroughResult } from './api.js';

/** A worker that holds each ioctl until the test answers it (status byte and sb_len_wr of an sg v3 header). */
class FakeWorker extends EventEmitter implements IoctlWorker {
  readonly posted: IoctlRequest[] = [];
  terminated = false;
  postMessage(m: IoctlRequest): void {
    this.posted.push(m);
  }
  answer(status: number, senseLen = 0, resid = 0): void {
    const m = this.posted.shift()!;
    const h = Buffer.from(m.arg);
    h[64] = status;
    h[67] = senseLen;
    h.writeInt32LE(resid, 72);
    this.emit('message', { id: m.id, rc: 0, errno: 0, arg: new Uint8Array(h) } satisfies IoctlReply);
  }
  terminate(): Promise<number> {
    this.terminated = true;
    return Promise.resolve(0);
  }
  unref(): void {}
}

function fakeDevice(): { dev: SgDevice; w: FakeWorker } {
  const w = new FakeWorker();
  return { dev: new SgDevice(openSync('/dev/null', 'r'), 'sg', w, { address: () => 0x1000n }), w };
}

const cmd = (op: number, dataIn: Buffer | null = null, dataOut: Buffer | null = null) => ({ cdb: Buffer.from([op, 0, 0, 0, 0, 0]), dataIn, dataOut });

const classify = (p: string): Promise<[string | null, string]> => new Promise((resolve) => classifySgPath(p, (k, why) => resolve([k, why])));

test('classifySgPath: missing path, regular file, a character device of another driver', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'stgt-sg-'));
  const file = join(dir, 'f');
  writeFileSync(file, 'x');
  assert.deepEqual(await classify(join(dir, 'none')), [null, 'stat() failed: ENOENT']);
  assert.deepEqual(await classify(file), [null, `Not a character device: ${file}`]);
  assert.deepEqual(await classify('/dev/null'), [null, 'Not recognized /dev/null as an SG device']);
});

test('an sg-major node is sg; the bsg store refuses it and the sg store fails to open a node no device has', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'stgt-sg-'));
  const node = join(dir, 'sg250');
  if (spawnSync('mknod', [node, 'c', '21', '250']).status !== 0) return t.skip('mknod needs root');
  assert.deepEqual(await classify(node), ['sg', '']);
  const logs: string[] = [];
  const ctx = { log: (_l: string, m: string) => void logs.push(m) };
  const open = (s: BackingStore): Promise<Error | null> =>
    new Promise((resolve) => s.open({ path: node, bsopts: '', oflags: { sync: false, direct: false }, blockSize: 512, readonly: false }, (e) => resolve(e)));
  const bsg = await bsgModule.init(ctx);
  assert.match(String(await open(bsg)), /is a sg device: use --bstype sg/);
  const sg = await sgModule.init(ctx);
  assert.match(String(await open(sg)), /ENXIO|ENODEV/);
  assert.match(logs.at(-1)!, new RegExp(`^Could not open ${node}`));
  assert.equal(sgModule.passthrough, true);
  assert.equal(bsgModule.name, 'bsg');
});

test('the ioctl worker runs the call off the loop and returns rc and errno (ENOTTY for SG_GET_VERSION_NUM on /dev/null)', async () => {
  const fd = openSync('/dev/null', 'r');
  const w = new Worker(new URL('./sg-worker.js', import.meta.url));
  try {
    const rep = await new Promise<IoctlReply>((resolve) => {
      w.once('message', resolve);
      w.postMessage({ id: 7, fd, req: SG_GET_VERSION_NUM, arg: new Uint8Array(4) });
    });
    assert.deepEqual([rep.id, rep.rc, rep.errno, rep.arg.length], [7, -1, 25, 4]);
  } finally {
    await w.terminate();
    closeSync(fd);
  }
});

test('SgDevice: one SG_IO at a time, in arrival order; status, sense length and residual from the header', async () => {
  const { dev, w } = fakeDevice();
  const got: Array<PassthroughResult | undefined> = [];
  dev.passthrough(cmd(0x12, Buffer.alloc(96)), (_e, r) => got.push(r));
  dev.passthrough(cmd(0x00), (_e, r) => got.push(r));
  assert.equal(w.posted.length, 1, 'the second waits for the first');
  assert.equal(Buffer.from(w.posted[0]!.arg).readUInt32LE(12), 96, 'dxfer_len of the INQUIRY');
  w.answer(0, 0, 60);
  assert.equal(w.posted.length, 1);
  assert.equal(Buffer.from(w.posted[0]!.arg).readInt32LE(4), -1, 'TEST UNIT READY moves no data');
  w.answer(2, 18);
  assert.deepEqual(got.map((r) => [r!.outcome, r!.status, r!.sense.length, r!.dataInLength]), [['done', 0, 0, 36], ['done', 2, 18, 0]]);
  await new Promise<void>((resolve) => dev.close(() => resolve()));
  assert.equal(w.terminated, true);
});

test('SgDevice: close waits for the command in flight; a bidirectional command is EINVAL on sg; after close commands fail', async () => {
  const { dev, w } = fakeDevice();
  let bidi: NodeJS.ErrnoException | null = null;
  dev.passthrough(cmd(0x53, Buffer.alloc(8), Buffer.alloc(8)), (e) => (bidi = e));
  assert.equal(bidi!.code, 'EINVAL');
  let first: PassthroughResult | undefined;
  dev.passthrough(cmd(0x00), (_e, r) => (first = r));
  let closed = false;
  const done = new Promise<void>((resolve) => dev.close(() => resolve(void (closed = true))));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual([closed, w.terminated], [false, false], 'not while SG_IO runs');
  w.answer(0);
  assert.equal(first!.status, 0);
  await done;
  assert.equal(w.terminated, true);
  let late: NodeJS.ErrnoException | null = null;
  dev.passthrough(cmd(0x00), (e) => (late = e));
  assert.equal(late!.code, 'EBADF');
});

test('SgDevice: a worker that fails errs the command in flight (EIO) and every later one', () => {
  const { dev, w } = fakeDevice();
  const errs: Array<string | undefined> = [];
  dev.passthrough(cmd(0x00), (e) => errs.push(e?.code));
  dev.passthrough(cmd(0x00), (e) => errs.push(e?.code));
  w.emit('error', new Error('boom'));
  assert.deepEqual(errs.slice(), ['EIO', 'EIO']);
  dev.passthrough(cmd(0x00), (e) => errs.push(e?.code));
  assert.deepEqual(errs.slice(), ['EIO', 'EIO', 'EIO']);
  dev.close(() => {});
});
