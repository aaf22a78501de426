// Unit tests: the rdwr store's allocation map (contract 2.1 BackingDevice.allocation) over lseek SEEK_DATA / SEEK_HOLE on a real sparse file.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AllocationRun, BackingDevice, BsOpenOptions } from './api.js';
import { BS_API_MINOR } from './api.js';
import rdwrModule, { allocationRun, type Seek } from './rdwr.js';

const dir = fs.mkdtempSync(join(tmpdir(), 'stgt-rdwr-alloc-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const opts = (o: Partial<BsOpenOptions>): BsOpenOptions => ({
  path: '', bsopts: '', oflags: { sync: false, direct: false }, blockSize: 512, readonly: false, ...o,
});
async function open(path: string): Promise<BackingDevice> {
  const store = await rdwrModule.init({ log: () => undefined });
  return new Promise((res, rej) => store.open(opts({ path }), (e, d) => (e ? rej(e) : res(d!))));
}
const run = (d: BackingDevice, off: number, len: number) =>
  new Promise<AllocationRun>((res, rej) => d.allocation!(off, len, (e, r) => (e ? rej(e) : res(r!))));
const write = (d: BackingDevice, off: number, b: Buffer) => new Promise<void>((res, rej) => d.write(off, [b], (e) => (e ? rej(e) : res())));
const unmap = (d: BackingDevice, off: number, len: number) => new Promise<void>((res, rej) => d.unmap!(off, len, (e) => (e ? rej(e) : res())));
const close = (d: BackingDevice) => new Promise<void>((res, rej) => d.close((e) => (e ? rej(e) : res())));

const MiB = 1 << 20;

test('contract 2.1: the minor version names the allocation map', () => {
  assert.equal(BS_API_MINOR, 1);
});

test('rdwr on a sparse file: holes and data runs from SEEK_DATA / SEEK_HOLE, unmap makes a hole again', async () => {
  const path = join(dir, 'sparse.img');
  fs.writeFileSync(path, '');
  fs.truncateSync(path, 4 * MiB);
  const d = await open(path);
  try {
    assert.equal(typeof d.allocation, 'function', 'a regular file has an allocation map (koffi is installed)');
    assert.deepEqual(await run(d, 0, 4 * MiB), { allocated: false, length: 4 * MiB }, 'all hole');
    assert.deepEqual(await run(d, MiB, 4096), { allocated: false, length: 4096 }, 'the run ends at the length asked');
    await write(d, MiB, Buffer.alloc(64 * 1024, 0x5a));
    assert.deepEqual(await run(d, 0, 4 * MiB), { allocated: false, length: MiB }, 'hole up to the data');
    const data = await run(d, MiB, 3 * MiB);
    assert.equal(data.allocated, true);
    assert.ok(data.length >= 64 * 1024 && data.length < 3 * MiB, `data run of ${data.length} bytes`);
    const inside = await run(d, MiB + 4096, 4096);
    assert.deepEqual(inside, { allocated: true, length: 4096 }, 'inside the data, bounded by the length asked');
    await unmap(d, MiB, 64 * 1024);
    assert.deepEqual(await run(d, 0, 4 * MiB), { allocated: false, length: 4 * MiB }, 'punched: all hole again');
  } finally {
    await close(d);
  }
});

test('allocationRun: ENXIO from SEEK_DATA is a hole to the end; another error is EIO with the errno', () => {
  const enxio: Seek = () => -6;
  assert.deepEqual(allocationRun(enxio, 3, 100, 50), { allocated: false, length: 50 });
  const ebadf: Seek = () => -9;
  const e = allocationRun(ebadf, 3, 0, 10);
  assert.ok(e instanceof Error);
  assert.equal(e.code, 'EIO');
  assert.equal(e.errno, 9);
  // data at the offset, a hole 10 bytes on
  const seek: Seek = (_fd, off, whence) => (whence === 3 ? off : off + 10);
  assert.deepEqual(allocationRun(seek, 3, 0, 100), { allocated: true, length: 10 });
  // data 30 bytes on
  const later: Seek = (_fd, off, whence) => (whence === 3 ? off + 30 : off + 40);
  assert.deepEqual(allocationRun(later, 3, 0, 100), { allocated: false, length: 30 });
  assert.deepEqual(allocationRun(later, 3, 0, 20), { allocated: false, length: 20 });
});
