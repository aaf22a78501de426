// Tests for the null, memory and rdwr backing stores (src/bs/api.ts contract).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BackingDevice, BackingStoreModule, BsOpenOptions } from './api.js';
import nullModule, { NULL_DEVICE_SIZE } from './null.js';
import memoryModule, { memorySize, MemoryDevice, CHUNK_SIZE } from './memory.js';
import rdwrModule, { INLINE_BACKOFF_MS, INLINE_SLOW_MS, INLINE_SLOW_WRITES, INLINE_WINDOW, INLINE_WRITE_MAX, InlineWriteGuard, RdwrDevice } from './rdwr.js';
import { parseSize } from './size.js';

const ctx = { log: () => undefined };
const opts = (o: Partial<BsOpenOptions>): BsOpenOptions => ({
  path: '', bsopts: '', oflags: { sync: false, direct: false }, blockSize: 512, readonly: false, ...o,
});

async function open(m: BackingStoreModule, o: Partial<BsOpenOptions>): Promise<BackingDevice> {
  const store = await m.init(ctx);
  return new Promise((res, rej) => store.open(opts(o), (e, d) => (e ? rej(e) : res(d!))));
}
const read = (d: BackingDevice, off: number, len: number) =>
  new Promise<Buffer>((res, rej) => {
    const b = Buffer.alloc(len, 0xa5); // garbage where the store must write: holes must come back zeroed
    d.read(off, b, (e) => (e ? rej(e) : res(b)));
  });
const write = (d: BackingDevice, off: number, bufs: Buffer[]) =>
  new Promise<void>((res, rej) => d.write(off, bufs, (e) => (e ? rej(e) : res())));
const unmap = (d: BackingDevice, off: number, len: number) =>
  new Promise<void>((res, rej) => d.unmap!(off, len, (e) => (e ? rej(e) : res())));
const flush = (d: BackingDevice) => new Promise<void>((res, rej) => d.flush((e) => (e ? rej(e) : res())));
const close = (d: BackingDevice) => new Promise<void>((res, rej) => d.close((e) => (e ? rej(e) : res())));

test('sizes', () => {
  assert.equal(parseSize('64M'), 64 * 2 ** 20);
  assert.equal(parseSize('1g'), 2 ** 30);
  assert.equal(parseSize('4096'), 4096);
  assert.equal(parseSize('/tmp/x'), null);
  assert.equal(memorySize('', 'size=2M'), 2 * 2 ** 20);
  assert.equal(memorySize('8K', ''), 8192);
});

test('null store: 1 TiB, zeros, writes discarded', async () => {
  const d = await open(nullModule, {});
  assert.equal(d.size, NULL_DEVICE_SIZE);
  await write(d, 0, [Buffer.alloc(512, 7)]);
  assert.deepEqual(await read(d, 0, 512), Buffer.alloc(512));
});

test('memory store: sparse chunks, read back, unmap frees', async () => {
  const d = (await open(memoryModule, { path: '4M' })) as MemoryDevice;
  assert.equal(d.size, 4 * 2 ** 20);
  assert.equal(d.allocated, 0);
  // a write straddling the first chunk boundary, split across two buffers
  await write(d, CHUNK_SIZE - 512, [Buffer.alloc(512, 1), Buffer.alloc(512, 2)]);
  assert.equal(d.allocated, 2 * CHUNK_SIZE);
  const b = await read(d, CHUNK_SIZE - 1024, 2048);
  assert.deepEqual(b, Buffer.concat([Buffer.alloc(512), Buffer.alloc(512, 1), Buffer.alloc(512, 2), Buffer.alloc(512)]));
  await unmap(d, CHUNK_SIZE, CHUNK_SIZE);
  assert.equal(d.allocated, CHUNK_SIZE);
  assert.deepEqual(await read(d, CHUNK_SIZE, 512), Buffer.alloc(512));
  await assert.rejects(read(d, 4 * 2 ** 20, 512), { code: 'EIO' });
  await assert.rejects(open(memoryModule, { path: '/not/a/size' }));
});

test('rdwr store: file I/O, zeros from holes, unmap punches a hole', async () => {
  const dir = fs.mkdtempSync(join(tmpdir(), 'stgt-rdwr-'));
  const file = join(dir, 'disk.img');
  try {
    fs.writeFileSync(file, Buffer.alloc(0));
    fs.truncateSync(file, 8 * 2 ** 20);
    const d = await open(rdwrModule, { path: file, oflags: { sync: true, direct: false } });
    assert.equal(d.size, 8 * 2 ** 20);
    await write(d, 4096, [Buffer.alloc(4096, 0xaa), Buffer.alloc(4096, 0xbb)]);
    await flush(d);
    const b = await read(d, 4096, 8192);
    assert.equal(b[0], 0xaa);
    assert.equal(b[8191], 0xbb);
    const onDisk = fs.readFileSync(file);
    assert.equal(onDisk[4096], 0xaa);
    // Holes inside the file read as zeros.
    assert.deepEqual(await read(d, 2 * 2 ** 20, 4096), Buffer.alloc(4096));
    // unmap: zeros afterwards (hole punched via koffi, or zeros written without it)
    await unmap(d, 4096, 4096);
    const u = await read(d, 4096, 8192);
    assert.deepEqual(u.subarray(0, 4096), Buffer.alloc(4096));
    assert.equal(u[4096], 0xbb);
    assert.equal(fs.statSync(file).size, 8 * 2 ** 20, 'KEEP_SIZE');
    await close(d);
    await assert.rejects(open(rdwrModule, { path: join(dir, 'missing.img') }), { code: 'ENOENT' });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('rdwr store: a read past the end of a file truncated under it fails (EIO, logged once), inside still reads', async () => {
  const dir = fs.mkdtempSync(join(tmpdir(), 'stgt-rdwr-'));
  const file = join(dir, 'disk.img');
  const logs: string[] = [];
  try {
    fs.writeFileSync(file, Buffer.alloc(64 * 1024, 0x5a));
    const store = await rdwrModule.init({ log: (level, msg) => logs.push(`${level}: ${msg}`) });
    const d = await new Promise<BackingDevice>((res, rej) => store.open(opts({ path: file }), (e, dev) => (e ? rej(e) : res(dev!))));
    fs.truncateSync(file, 8192);
    assert.deepEqual(await read(d, 0, 8192), Buffer.alloc(8192, 0x5a));
    await assert.rejects(read(d, 16384, 4096), { code: 'EIO', message: /read past the end of the file \(truncated to 8192 bytes\?\)/ });
    await assert.rejects(read(d, 4096, 8192), { code: 'EIO' }, 'a read across the new end fails as a whole');
    assert.equal(logs.length, 1, logs.join('\n'));
    assert.match(logs[0]!, /^warn: .*disk\.img: read at byte 16384 is past the end of the file \(8192 bytes now, 65536 when/);
    await close(d);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('rdwr store: buffered writes up to INLINE_WRITE_MAX complete on the calling thread, larger and O_SYNC ones through the pool', async () => {
  const dir = fs.mkdtempSync(join(tmpdir(), 'stgt-rdwr-'));
  const file = join(dir, 'disk.img');
  try {
    fs.writeFileSync(file, Buffer.alloc(1 << 20));
    const d = (await open(rdwrModule, { path: file })) as RdwrDevice;
    assert.ok(d.inlineWrites !== null, 'a buffered LUN writes small blocks inline');
    let sync = false;
    // A small write: two pieces (as Data-Out views arrive), done before write() returns.
    d.write(4096, [Buffer.alloc(1024, 1), Buffer.alloc(3072, 2)], (e) => {
      assert.equal(e, null);
      sync = true;
    });
    assert.ok(sync, 'the callback ran inside write()');
    let big = false;
    const pending = write(d, 65536, [Buffer.alloc(INLINE_WRITE_MAX + 4096, 3)]).then(() => (big = true));
    assert.equal(big, false, 'a write above INLINE_WRITE_MAX goes through the pool');
    await pending;
    const back = fs.readFileSync(file);
    assert.deepEqual(back.subarray(4096, 5120), Buffer.alloc(1024, 1));
    assert.deepEqual(back.subarray(5120, 8192), Buffer.alloc(3072, 2));
    assert.deepEqual(back.subarray(65536, 65536 + INLINE_WRITE_MAX + 4096), Buffer.alloc(INLINE_WRITE_MAX + 4096, 3));
    await close(d);
    const s = (await open(rdwrModule, { path: file, oflags: { sync: true, direct: false } })) as RdwrDevice;
    assert.equal(s.inlineWrites, null, 'an O_SYNC LUN waits for the device: never on the loop');
    let early = false;
    const p2 = write(s, 0, [Buffer.alloc(4096, 4)]).then(() => (early = true));
    assert.equal(early, false);
    await p2;
    assert.deepEqual(fs.readFileSync(file).subarray(0, 4096), Buffer.alloc(4096, 4));
    await close(s);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('InlineWriteGuard: INLINE_SLOW_WRITES slow inline writes within INLINE_WINDOW send writes to the pool for INLINE_BACKOFF_MS; one alone does not', () => {
  let now = 1000;
  const g = new InlineWriteGuard(() => now);
  const write = (ms: number): void => {
    const t0 = g.begin();
    assert.ok(t0 >= 0, 'inline');
    now += ms;
    g.end(t0);
  };
  // A slow write now and then (the thread preempted): writes stay inline.
  for (let i = 0; i < 4 * INLINE_WINDOW; i++) write(i % INLINE_WINDOW === 0 ? INLINE_SLOW_MS * 2 : 0.01);
  assert.equal(g.slowWrites, 4);
  assert.equal(g.backoffs, 0);
  // Slow writes in a row (the kernel throttling): the pool.
  for (let i = 0; i < INLINE_SLOW_WRITES; i++) write(INLINE_SLOW_MS * 2);
  assert.equal(g.backoffs, 1);
  assert.equal(g.begin(), -1, 'after the slow writes: the pool');
  now += INLINE_BACKOFF_MS - 1;
  assert.equal(g.begin(), -1);
  now += 1;
  assert.equal(g.begin(), now, 'the back-off is over');
  write(INLINE_SLOW_MS * 2);
  assert.ok(g.begin() >= 0, 'the count started again after the back-off');
});

/** Whether `dir`'s filesystem takes O_DIRECT (tmpfs, for one, refuses it at open). */
function directWorks(dir: string): boolean {
  const probe = join(dir, 'probe');
  fs.writeFileSync(probe, Buffer.alloc(4096));
  try {
    fs.closeSync(fs.openSync(probe, fs.constants.O_RDWR | fs.constants.O_DIRECT));
    return true;
  } catch {
    return false;
  } finally {
    fs.rmSync(probe);
  }
}

test('rdwr store, O_DIRECT: reads and writes go through aligned pooled buffers on the direct fd, not the O_SYNC fallback', async (t) => {
  // The repository's own disk rather than /tmp, which may be a tmpfs.
  const dir = fs.mkdtempSync(join(process.cwd(), '.stgt-direct-'));
  try {
    if (!directWorks(dir)) return t.skip(`${dir}: the filesystem refuses O_DIRECT`);
    const file = join(dir, 'disk.img');
    fs.writeFileSync(file, Buffer.alloc(4 << 20));
    const d = (await open(rdwrModule, { path: file, oflags: { sync: false, direct: true } })) as RdwrDevice;
    // Pieces of odd sizes at odd addresses, as Data-Out views are: copied into one aligned buffer.
    const a = Buffer.alloc(1000, 7);
    const b = Buffer.alloc(6193, 8).subarray(1);
    const c = Buffer.alloc(1000, 9);
    await write(d, 8192, [a, b, c]);
    const back = await read(d, 8192, 8192);
    assert.deepEqual(back, Buffer.concat([a, b, c]));
    await write(d, 1 << 20, [Buffer.alloc(1 << 20, 5)]);
    assert.deepEqual(await read(d, 1 << 20, 1 << 20), Buffer.alloc(1 << 20, 5));
    assert.equal(d.directFallbacks, 0, 'every transfer was direct');
    assert.deepEqual(fs.readFileSync(file).subarray(8192, 16384), back, 'on disk');
    await close(d);
    // Without aligned buffers the same transfers need the fallback (what the counter counts).
    const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_DIRECT);
    const plain = new RdwrDevice(fd, file, opts({ path: file, oflags: { sync: false, direct: true } }), 4 << 20, false);
    await write(plain, 8192, [a, b, c]);
    assert.deepEqual(await read(plain, 8192, 8192), back);
    assert.ok(plain.directFallbacks > 0);
    await close(plain);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('memory store: allocation map (contract 2.1) from its chunks; a partial unmap that leaves zeros frees the chunk', async () => {
  // 3.5 MiB: the last chunk is a half one
  const d = (await open(memoryModule, { path: String(3.5 * CHUNK_SIZE) })) as MemoryDevice;
  const run = (off: number, len: number) =>
    new Promise<{ allocated: boolean; length: number }>((res, rej) => d.allocation(off, len, (e, r) => (e ? rej(e) : res(r!))));
  assert.deepEqual(await run(0, d.size), { allocated: false, length: d.size });
  await write(d, CHUNK_SIZE + 4096, [Buffer.alloc(512, 9)]);
  await write(d, 3 * CHUNK_SIZE, [Buffer.alloc(4096, 3)]);
  assert.deepEqual(await run(0, d.size), { allocated: false, length: CHUNK_SIZE });
  assert.deepEqual(await run(CHUNK_SIZE + 100, d.size - CHUNK_SIZE - 100), { allocated: true, length: CHUNK_SIZE - 100 });
  assert.deepEqual(await run(2 * CHUNK_SIZE, d.size - 2 * CHUNK_SIZE), { allocated: false, length: CHUNK_SIZE });
  assert.deepEqual(await run(3 * CHUNK_SIZE, 512), { allocated: true, length: 512 });
  // unmapping part of a chunk that holds other data keeps it; unmapping the rest frees it
  await unmap(d, CHUNK_SIZE, 4096);
  assert.equal(d.allocated, 2 * CHUNK_SIZE);
  await unmap(d, CHUNK_SIZE + 4096, 512);
  assert.equal(d.allocated, CHUNK_SIZE);
  // the half chunk at the end, unmapped to the end of the LU, is freed
  await unmap(d, 3 * CHUNK_SIZE, d.size - 3 * CHUNK_SIZE);
  assert.equal(d.allocated, 0);
  assert.deepEqual(await run(0, d.size), { allocated: false, length: d.size });
  await assert.rejects(run(d.size - 512, 1024), { code: 'EIO' });
});
