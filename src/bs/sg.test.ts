// Unit tests: the sg/bsg store — tgt's path checks (character device, sg major, bsg under /dev/bsg), the kind a store accepts, and the ioctl worker's replies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import sgModule, { classifySgPath } from './sg.js';
import bsgModule from './bsg.js';
import { SG_GET_VERSION_NUM } from './sg-io.js';
import type { BackingStore } from './api.js';
import type { IoctlReply } from './sg-worker.js';

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
