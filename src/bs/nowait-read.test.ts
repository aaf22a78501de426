// preadv2(RWF_NOWAIT) through koffi: cached data lands exactly in the view it was given.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadNoWaitReader } from './nowait-read.js';

test('a cached read fills the given view (a slice of a larger buffer) and nothing around it', async () => {
  const r = await loadNoWaitReader();
  assert.ok(r !== null, 'koffi and preadv2 are available (koffi is a dependency)');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stgt-nowait-'));
  try {
    const file = path.join(dir, 'f');
    const data = Buffer.alloc(1 << 16);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7 + 3) & 0xff;
    fs.writeFileSync(file, data); // in the page cache now
    const fd = fs.openSync(file, 'r');
    try {
      const big = Buffer.alloc(3 * 4096, 0xee);
      const view = big.subarray(4096, 2 * 4096);
      const n = r.read(fd, view, 8192);
      // A kernel may still answer EAGAIN; then nothing may have been written.
      if (n === -11) assert.ok(big.every((b) => b === 0xee));
      else {
        assert.equal(n, 4096);
        assert.deepEqual(view, data.subarray(8192, 8192 + 4096));
      }
      assert.ok(big.subarray(0, 4096).every((b) => b === 0xee), 'nothing written before the view');
      assert.ok(big.subarray(8192).every((b) => b === 0xee), 'nothing written after the view');
      // Past the end of the file: 0 bytes, not an error.
      assert.equal(r.read(fd, Buffer.alloc(512), 1 << 16), 0);
      assert.equal(r.read(fd, Buffer.alloc(0), 0), 0);
      assert.ok(r.read(-1, Buffer.alloc(512), 0) < 0, 'a bad fd is -errno');
    } finally {
      fs.closeSync(fd);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
