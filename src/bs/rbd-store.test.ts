// Unit tests: the rbd store's dispatch over a fake addon — batches, zero-length and read-only short cuts, refusals, close after drain, client cache settings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BackingDevice, BsOpenOptions } from './api.js';
import { RBD_ADDON_VERSION, type ConnectOptions, type RbdAddon } from './rbd-addon.js';
import { initRbd, type RbdDevice } from './rbd.js';
import { until } from '../iscsi/testing/capture-connection.js';

interface Call {
  op: string;
  offset?: number;
  length?: number;
  id: number;
}

/** An addon whose AIO completes only when the test says so, in one batch. */
function fakeAddon(): { addon: RbdAddon; calls: Call[]; conns: ConnectOptions[]; complete(results: [number, number][]): void; update(token: number): void; refuse: { next: number } } {
  let handler: ((n: number) => void) | null = null;
  let batch: Float64Array | null = null;
  const calls: Call[] = [];
  const conns: ConnectOptions[] = [];
  const refuse = { next: 0 };
  const submit = (c: Call): number => {
    if (refuse.next !== 0) {
      const r = refuse.next;
      refuse.next = 0;
      return r;
    }
    calls.push(c);
    return 0;
  };
  let size = 1 << 20;
  const addon = {
    addonVersion: RBD_ADDON_VERSION, stride: 3, batch: 16, librbdVersion: 'fake',
    createContext(h: (n: number) => void, b: Float64Array) {
      handler = h;
      batch = b;
      return {} as never;
    },
    closeContext() {},
    connect(o: ConnectOptions, cb: (e: null, c: unknown) => void) { conns.push(o); setImmediate(() => cb(null, {})); },
    shutdown(_c: unknown, cb: (e: null) => void) { setImmediate(() => cb(null)); },
    open(_x: unknown, _c: unknown, o: { snap: string; readOnly: boolean }, cb: (e: null, r: unknown) => void) {
      calls.push({ op: `open${o.readOnly ? '-ro' : ''}`, id: -1 });
      setImmediate(() => cb(null, { image: {}, size, objectSize: 4 << 20 }));
    },
    close(_i: unknown, cb: (e: null) => void) {
      calls.push({ op: 'close', id: -1 });
      setImmediate(() => cb(null));
    },
    size(_i: unknown, cb: (e: null, n: number) => void) { size = 2 << 20; setImmediate(() => cb(null, size)); },
    watch() { return 0; },
    read: (_i: unknown, offset: number, into: Buffer, id: number) => submit({ op: 'read', offset, length: into.length, id }),
    write: (_i: unknown, offset: number, data: readonly Buffer[], id: number) =>
      submit({ op: 'write', offset, length: data.reduce((n, b) => n + b.length, 0), id }),
    discard: (_i: unknown, offset: number, length: number, id: number) => submit({ op: 'discard', offset, length, id }),
    flush: (_i: unknown, id: number) => submit({ op: 'flush', id }),
  };
  return {
    addon: addon as unknown as RbdAddon,
    calls,
    conns,
    refuse,
    complete(results) {
      results.forEach(([id, r], i) => batch!.set([id, r, 0], i * 3));
      handler!(results.length);
    },
    update(token) {
      batch!.set([token, 0, 1], 0);
      handler!(1);
    },
  };
}

const OPTS: BsOpenOptions = { path: 'rbd/vol1', bsopts: 'conf=/nonexistent.conf', oflags: { sync: false, direct: false }, blockSize: 512, readonly: false };

function open(fake: ReturnType<typeof fakeAddon>, opts: Partial<BsOpenOptions> = {}, store = initRbd({ log: () => undefined }, '/fake.node', () => fake.addon)): Promise<BackingDevice> {
  return new Promise((res, rej) => store.open({ ...OPTS, ...opts }, (e, d) => (e ? rej(e) : res(d!))));
}

test('completions arrive in one batch and each callback gets its own result', async () => {
  const f = fakeAddon();
  const dev = await open(f);
  const got: (string | null)[] = [];
  dev.read(0, Buffer.alloc(4096), (e) => got.push(e?.code ?? 'ok'));
  dev.write(4096, [Buffer.alloc(512), Buffer.alloc(512)], (e) => got.push(e?.code ?? 'ok'));
  dev.unmap!(8192, 4096, (e) => got.push(e?.code ?? 'ok'));
  dev.read(0, Buffer.alloc(4096), (e) => got.push(e?.code ?? 'ok'));
  dev.flush((e) => got.push(e?.code ?? 'ok'));
  const io = f.calls.filter((c) => c.op !== 'open');
  assert.deepEqual(io.map((c) => c.op), ['read', 'write', 'discard', 'read', 'flush']);
  assert.equal(io[1]!.length, 1024);
  // read ok; write -ETIMEDOUT; discard returns its byte count (success); short read; flush -ENOSPC.
  f.complete([[io[0]!.id, 4096], [io[1]!.id, -110], [io[2]!.id, 4096], [io[3]!.id, 100], [io[4]!.id, -28]]);
  assert.deepEqual(got, ['ok', 'ETIMEDOUT', 'ok', 'EIO', 'ENOSPC']);
});

test('zero-length requests are answered without reaching librbd', async () => {
  const f = fakeAddon();
  const dev = await open(f);
  const before = f.calls.length;
  let n = 0;
  dev.read(0, Buffer.alloc(0), (e) => (assert.equal(e, null), n++));
  dev.write(0, [], (e) => (assert.equal(e, null), n++));
  dev.write(0, [Buffer.alloc(0)], (e) => (assert.equal(e, null), n++));
  dev.unmap!(0, 0, (e) => (assert.equal(e, null), n++));
  assert.equal(n, 4);
  assert.equal(f.calls.length, before);
});

test('a snapshot opens read-only: writes and unmaps fail with EROFS at once, reads go through', async () => {
  const f = fakeAddon();
  const dev = await open(f, { path: 'rbd/vol1@s1' });
  assert.equal(f.calls[0]!.op, 'open-ro');
  const codes: string[] = [];
  dev.write(0, [Buffer.alloc(512)], (e) => codes.push(e?.code ?? 'ok'));
  dev.unmap!(0, 512, (e) => codes.push(e?.code ?? 'ok'));
  dev.flush((e) => codes.push(e?.code ?? 'ok'));
  assert.deepEqual(codes, ['EROFS', 'EROFS', 'ok']);
  dev.read(0, Buffer.alloc(512), () => undefined);
  assert.deepEqual(f.calls.map((c) => c.op), ['open-ro', 'read']);
});

test('a submission librbd refuses fails with its errno and frees the slot', async () => {
  const f = fakeAddon();
  const dev = await open(f);
  f.refuse.next = -22;
  let code = '';
  dev.read(0, Buffer.alloc(512), (e) => (code = e?.code ?? 'ok'));
  assert.equal(code, 'EINVAL');
  let closed = false;
  dev.close(() => (closed = true));
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  assert.ok(closed, 'a refused op must not hold the close');
});

test('close waits for in-flight I/O, then refuses new I/O with EBADF', async () => {
  const f = fakeAddon();
  const dev = await open(f);
  let readDone = false;
  dev.read(0, Buffer.alloc(512), () => (readDone = true));
  let closed = false;
  dev.close(() => (closed = true));
  await new Promise((r) => setImmediate(r));
  assert.ok(!f.calls.some((c) => c.op === 'close'), 'closed while a read was in flight');
  let code = '';
  dev.read(0, Buffer.alloc(512), (e) => (code = e?.code ?? 'ok'));
  assert.equal(code, 'EBADF');
  f.complete([[f.calls.find((c) => c.op === 'read')!.id, 512]]);
  assert.ok(readDone);
  await until(() => closed, 'close called back once the read completed');
  assert.ok(closed);
});

test('a header update refreshes the size that resize() returns', async () => {
  const f = fakeAddon();
  const dev = (await open(f)) as RbdDevice;
  assert.equal(dev.resize!(), 1 << 20);
  f.update(dev.token);
  await until(() => dev.resize!() === 2 << 20, 'the size after the header update');
  assert.equal(dev.resize!(), 2 << 20);
});

test('no librbd client cache unless cache=librbd: rbd_cache=false over ceph.conf, one connection per setting; cache=librbd with --bsoflags direct is refused', async () => {
  const f = fakeAddon();
  const store = initRbd({ log: () => undefined }, '/fake.node', () => f.addon);
  await open(f, {}, store);
  await open(f, { path: 'rbd/vol2', oflags: { sync: false, direct: true } }, store);
  assert.equal(f.conns.length, 1, 'the default and --bsoflags direct are the same client');
  assert.deepEqual(f.conns[0]!.set, [['rbd_cache', 'false']]);
  await open(f, { path: 'rbd/vol3', bsopts: `${OPTS.bsopts};cache=librbd` }, store);
  assert.equal(f.conns.length, 2, 'cache=librbd is a client of its own');
  assert.deepEqual(f.conns[1]!.set, [], "librbd's cache as ceph.conf configures it");
  await assert.rejects(open(f, { bsopts: 'cache=librbd', oflags: { sync: false, direct: true } }, store), /conflicting cache=librbd and --bsoflags direct/);
  await assert.rejects(open(f, { bsopts: 'cache=on' }, store), /bad rbd option cache=on/);
  assert.equal(f.conns.length, 2, 'a refused LU connects nothing');
});

test('allocation runs from librbd data extents: holes are the gaps, runs end at the window', async () => {
  const { runAt } = await import('./rbd.js');
  const ext = [4096, 8192, 16384, 4096]; // data at [4096, 12288) and [16384, 20480)
  assert.deepEqual(runAt(ext, 0, 32768), { allocated: false, length: 4096 });
  assert.deepEqual(runAt(ext, 4096, 32768), { allocated: true, length: 8192 });
  assert.deepEqual(runAt(ext, 5000, 6000), { allocated: true, length: 1000 });
  assert.deepEqual(runAt(ext, 12288, 32768), { allocated: false, length: 4096 });
  assert.deepEqual(runAt(ext, 20480, 32768), { allocated: false, length: 12288 });
  assert.deepEqual(runAt([], 0, 512), { allocated: false, length: 512 });
});
