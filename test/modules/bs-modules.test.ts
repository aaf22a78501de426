// Integration: backing stores as modules against the real tgtd: --bstype, bsload/bsunload, busy refusal, API version check (seed 000; project issue 3 points 1, 3, 4).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { iscsiUrl, run, TestDaemon } from '../helpers/daemon.js';

const IQN = 'iqn.2026-01.org.stgt.test:bs1';
const daemons: TestDaemon[] = [];
after(() => daemons.forEach((d) => d.kill()));

async function start(args: string[]): Promise<TestDaemon> {
  const d = await TestDaemon.start({ args });
  daemons.push(d);
  return d;
}

/** The "Backing stores:" block of `--mode system --op show`. */
async function stores(d: TestDaemon): Promise<string> {
  const show = await d.tgtadmOk('--mode', 'system', '--op', 'show');
  const m = /\nBacking stores:\n((?: {4}.*\n)*)Device types:\n/.exec(show);
  assert.ok(m, `no Backing stores block in:\n${show}`);
  return m[1]!;
}

test('default --bstype loads aio, rdwr, the cd/changer/tape stores mmc, smc and ssc, null, the passthrough stores sg and bsg, and memory (tgt lists the newest first)', async () => {
  const d = await start([]);
  assert.equal(await stores(d), '    memory\n    bsg\n    sg\n    null\n    ssc\n    smc (bsoflags sync:direct)\n    mmc (bsoflags sync:direct)\n    rdwr (bsoflags sync:direct)\n    aio\n');
  await d.stop();
});

test('bsload null -> LUN on null -> bsunload refused -> LUN deleted -> bsunload ok', async () => {
  const d = await start(['--bstype', 'rdwr']);
  assert.equal(await stores(d), '    rdwr (bsoflags sync:direct)\n');
  await d.addTarget(1, IQN);

  // Not loaded yet: a LUN on it is refused.
  const early = await d.tgtadm('--mode', 'logicalunit', '--op', 'new', '--tid', '1', '--lun', '1', '-b', 'x', '--bstype', 'null');
  assert.equal(early.code, 22);

  await d.tgtadmOk('--mode', 'system', '--op', 'bsload', '--bstype', 'null');
  assert.equal(await stores(d), '    null\n    rdwr (bsoflags sync:direct)\n');
  // bsload of a loaded store is a no-op success.
  await d.tgtadmOk('--mode', 'system', '--op', 'bsload', '--bstype', 'null');
  assert.equal(await stores(d), '    null\n    rdwr (bsoflags sync:direct)\n');

  await d.addLun(1, 1, 'x', ['--bstype', 'null']);
  const cap = await run('iscsi-readcapacity16', [iscsiUrl(d.iscsiPort, IQN, 1)], { timeoutMs: 20_000 });
  assert.equal(cap.code, 0, cap.stderr);
  assert.match(cap.stdout, /Total size:1099511627776\n/);

  const show = await d.tgtadmOk('--mode', 'system', '--op', 'show');
  const busy = await d.tgtadm('--mode', 'system', '--op', 'bsunload', '--bstype', 'null');
  assert.deepEqual([busy.code, busy.stdout, busy.stderr], [22, '', 'tgtadm: this driver is busy\n']);
  assert.equal(await d.tgtadmOk('--mode', 'system', '--op', 'show'), show, 'a refused unload changes nothing');
  const again = await run('iscsi-readcapacity16', [iscsiUrl(d.iscsiPort, IQN, 1)], { timeoutMs: 20_000 });
  assert.equal(again.code, 0, 'the LUN still serves');

  await d.tgtadmOk('--mode', 'logicalunit', '--op', 'delete', '--tid', '1', '--lun', '1');
  await d.tgtadmOk('--mode', 'system', '--op', 'bsunload', '--bstype', 'null');
  assert.equal(await stores(d), '    rdwr (bsoflags sync:direct)\n');
  const after = await d.tgtadm('--mode', 'logicalunit', '--op', 'new', '--tid', '1', '--lun', '1', '-b', 'x', '--bstype', 'null');
  assert.equal(after.code, 22, 'no LUN on an unloaded store');
  // Unloading what is not loaded: tgt's "can't find the driver".
  const none = await d.tgtadm('--mode', 'system', '--op', 'bsunload', '--bstype', 'null');
  assert.deepEqual([none.code, none.stderr], [22, "tgtadm: can't find the driver\n"]);
  await d.stop();
});

test('a module with another API version is refused with both versions named', async () => {
  const d = await start(['--bstype', 'rdwr']);
  const file = join(d.dir, 'future-store.mjs');
  writeFileSync(file, "export default { kind: 'bs', apiVersion: 3, name: 'future', init() { return { open() {} }; } };\n");
  const r = await d.tgtadm('--mode', 'system', '--op', 'bsload', '--bstype', file);
  assert.equal(r.code, 22);
  await d.waitForLog(/module future has API version 3, this tgtd supports 1 and 2/);

  const wrongKind = join(d.dir, 'not-a-store.mjs');
  writeFileSync(wrongKind, "export default { kind: 'lld', apiVersion: 2, name: 'oops', init() { return {}; } };\n");
  const k = await d.tgtadm('--mode', 'system', '--op', 'bsload', '--bstype', wrongKind);
  assert.equal(k.code, 22);
  await d.waitForLog(/module oops is a lld module, not bs/);

  // Neither became usable, and the daemon still answers.
  const lun = await d.tgtadm('--mode', 'target', '--op', 'new', '--tid', '1', '-T', IQN);
  assert.equal(lun.code, 0);
  const bad = await d.tgtadm('--mode', 'logicalunit', '--op', 'new', '--tid', '1', '--lun', '1', '-b', 'x', '--bstype', 'future');
  assert.equal(bad.code, 22);
  await d.stop();
});

test('a store whose init throws is marked error, and bsload retries it with fresh code', async () => {
  const d = await start(['--bstype', 'rdwr']);
  const file = join(d.dir, 'flaky.mjs');
  writeFileSync(file, "export default { kind: 'bs', apiVersion: 1, name: 'flaky', init() { throw new Error('disk pool offline'); } };\n");
  const r = await d.tgtadm('--mode', 'system', '--op', 'bsload', '--bstype', file);
  assert.equal(r.code, 22);
  await d.waitForLog(/flaky.*disk pool offline/);
  await d.addTarget(1, IQN);
  assert.equal((await d.tgtadm('--mode', 'logicalunit', '--op', 'new', '--tid', '1', '--lun', '1', '-b', 'x', '--bstype', 'flaky')).code, 22);

  // The operator fixes the module; loading again imports the new code and succeeds.
  writeFileSync(file, [
    "export default { kind: 'bs', apiVersion: 1, name: 'flaky', pathOptional: true, init() { return { open(o, cb) {",
    '  cb(null, { size: 1 << 20, read(off, len, c) { c(null, Buffer.alloc(len)); }, write(off, d, c) { c(null); },',
    '    flush(c) { c(null); }, close(c) { c(null); } }); } }; } };',
  ].join('\n'));
  await d.tgtadmOk('--mode', 'system', '--op', 'bsload', '--bstype', file);
  assert.match(await stores(d), /^ {4}flaky\n/);
  await d.addLun(1, 1, 'x', ['--bstype', 'flaky']);
  const cap = await run('iscsi-readcapacity16', [iscsiUrl(d.iscsiPort, IQN, 1)], { timeoutMs: 20_000 });
  assert.equal(cap.code, 0, cap.stderr);
  assert.match(cap.stdout, /Total size:1048576\n/);
  await d.stop();
});

test('a version-1 store (the store allocates read buffers) still serves data through the adapter', { timeout: 120_000 }, async () => {
  const d = await start(['--bstype', 'rdwr']);
  const file = join(d.dir, 'v1-store.mjs');
  // The v1 read shape: read(offset, length, cb(err, data)), the store's own buffer. Block 7 of the
  // LU reads short (a buggy v1 store): the adapter must fail it, never send stale memory.
  writeFileSync(file, [
    "export default { kind: 'bs', apiVersion: 1, name: 'oldmem', pathOptional: true, init() { return { open(o, cb) {",
    '  const data = Buffer.alloc(4 << 20);',
    '  cb(null, { size: data.length,',
    '    read(off, len, c) { setImmediate(() => off <= 7 * 512 && off + len > 7 * 512 ? c(null, Buffer.alloc(len - 512)) : c(null, Buffer.from(data.subarray(off, off + len)))); },',
    '    write(off, bufs, c) { for (const b of bufs) { b.copy(data, off); off += b.length; } setImmediate(() => c(null)); },',
    '    flush(c) { c(null); }, close(c) { c(null); } }); } }; } };',
  ].join('\n'));
  await d.tgtadmOk('--mode', 'system', '--op', 'bsload', '--bstype', file);
  assert.match(await stores(d), /^ {4}oldmem\n/);
  await d.addTarget(1, IQN);
  await d.addLun(1, 1, 'x', ['--bstype', 'oldmem']);
  const url = iscsiUrl(d.iscsiPort, IQN, 1);
  const w = await run('qemu-io', ['-f', 'raw', '-c', 'write -P 0x5a 64k 1M', '-c', 'read -P 0x5a 64k 1M', '-c', 'read -P 0 2M 64k', url], { timeoutMs: 60_000 });
  assert.equal(w.code, 0, w.stdout + w.stderr);
  assert.doesNotMatch(w.stdout + w.stderr, /Pattern verification failed|error/i);
  assert.match(w.stdout, /read 1048576\/1048576 bytes/);
  // The short read of block 7: MEDIUM ERROR on the wire, not whatever was in the buffer.
  const q = await run('qemu-io', ['-f', 'raw', '-c', 'read 3584 512', url], { timeoutMs: 60_000 });
  assert.match(q.stdout + q.stderr, /read failed|Input\/output error/i, q.stdout + q.stderr);
  await d.stop();
});
