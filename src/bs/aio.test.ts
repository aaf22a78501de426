// Tests for the aio backing store (src/bs/aio.ts): tgt's name and flags, rdwr's I/O underneath.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BackingDevice, BsOpenOptions } from './api.js';
import aioModule from './aio.js';

const opts = (o: Partial<BsOpenOptions>): BsOpenOptions => ({
  path: '', bsopts: '', oflags: { sync: false, direct: false }, blockSize: 512, readonly: false, ...o,
});

test('aio: named aio, no bsoflags (as tgt shows and refuses them), file I/O through the page cache, durable on flush', async () => {
  assert.equal(aioModule.name, 'aio');
  assert.equal(aioModule.kind, 'bs');
  assert.equal(aioModule.oflagsSupported, undefined);
  const dir = fs.mkdtempSync(join(tmpdir(), 'stgt-aio-'));
  try {
    const file = join(dir, 'disk.img');
    fs.writeFileSync(file, Buffer.alloc(0));
    fs.truncateSync(file, 1 << 20);
    const store = await aioModule.init({ log: () => undefined });
    const d = await new Promise<BackingDevice>((res, rej) => store.open(opts({ path: file, bsopts: 'ignored=1' }), (e, x) => (e ? rej(e) : res(x!))));
    assert.equal(d.size, 1 << 20);
    await new Promise<void>((res, rej) => d.write(4096, [Buffer.alloc(512, 0x11), Buffer.alloc(512, 0x22)], (e) => (e ? rej(e) : res())));
    await new Promise<void>((res, rej) => d.flush((e) => (e ? rej(e) : res())));
    const back = Buffer.alloc(1536, 0xa5);
    await new Promise<void>((res, rej) => d.read(4096 - 512, back, (e) => (e ? rej(e) : res())));
    assert.deepEqual(back, Buffer.concat([Buffer.alloc(512), Buffer.alloc(512, 0x11), Buffer.alloc(512, 0x22)]));
    assert.deepEqual(fs.readFileSync(file).subarray(4096, 5120), Buffer.concat([Buffer.alloc(512, 0x11), Buffer.alloc(512, 0x22)]));
    await new Promise<void>((res, rej) => d.close((e) => (e ? rej(e) : res())));
    await assert.rejects(new Promise((res, rej) => store.open(opts({ path: join(dir, 'missing') }), (e, x) => (e ? rej(e) : res(x)))), { code: 'ENOENT' });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
