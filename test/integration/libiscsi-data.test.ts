// End to end with real initiators: the README demo (iscsi-ls), qemu-img round trips through a file LUN.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync, openSync, readSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestDaemon, iscsiUrl, run } from '../helpers/daemon.js';

const dirs: string[] = [];
const daemons: TestDaemon[] = [];
after(() => {
  daemons.forEach((d) => d.kill());
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

test('tgtd --demo serves a memory LUN that iscsi-ls lists', async () => {
  const d = await TestDaemon.start({ args: ['--demo-size', '64M'] });
  daemons.push(d);
  const r = await run('iscsi-ls', ['-s', `iscsi://127.0.0.1:${d.iscsiPort}`], { timeoutMs: 20_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Target:iqn\.2026-11\.org\.stgt:demo Portal:127\.0\.0\.1:\d+,1/);
  assert.match(r.stdout, /Lun:1\s+Type:DIRECT_ACCESS \(Size:63M\)/);
  await d.stop();
});

test('qemu-img: 64 MiB of random data to a file LUN and back is byte-identical, and on disk', { timeout: 300_000 }, async () => {
  const work = mkdtempSync(join(tmpdir(), 'stgt-qemu-'));
  dirs.push(work);
  const disk = join(work, 'lun1.img');
  writeFileSync(disk, '');
  truncateSync(disk, 256 << 20);
  const src = join(work, 'src.raw');
  const data = randomBytes(64 << 20);
  writeFileSync(src, data);
  const d = await TestDaemon.start();
  daemons.push(d);
  const iqn = 'iqn.2026-11.org.stgt.test:qemu';
  await d.addTarget(1, iqn);
  await d.addLun(1, 1, disk);
  const url = iscsiUrl(d.iscsiPort, iqn, 1);
  const w = await run('qemu-img', ['convert', '-n', '-f', 'raw', '-O', 'raw', src, url], { timeoutMs: 240_000 });
  assert.equal(w.code, 0, w.stderr);
  const back = join(work, 'back.raw');
  const r = await run('qemu-img', ['convert', '-f', 'raw', '-O', 'raw', url, back], { timeoutMs: 240_000 });
  assert.equal(r.code, 0, r.stderr);
  const got = readFileSync(back);
  assert.equal(got.length, 256 << 20);
  assert.ok(got.subarray(0, data.length).equals(data), 'read back differs from what was written');
  assert.ok(got.subarray(data.length).every((b) => b === 0), 'the rest of the LUN is not zero');
  // The acknowledged writes are in the backing file itself.
  const fd = openSync(disk, 'r');
  const head = Buffer.alloc(1 << 20);
  readSync(fd, head, 0, head.length, 0);
  closeSync(fd);
  assert.ok(head.equals(data.subarray(0, head.length)));
  // And qemu-img compare agrees, reading through iSCSI again.
  const cmp = await run('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', src, url], { timeoutMs: 240_000 });
  assert.match(cmp.stdout + cmp.stderr, /Images are identical/);
  await d.stop();
});

test('CHAP: libiscsi logs in with the bound account, and is refused with a wrong secret or none', async () => {
  const d = await TestDaemon.start();
  daemons.push(d);
  const iqn = 'iqn.2026-11.org.stgt.test:chap';
  await d.addTarget(1, iqn);
  await d.tgtadmOk('--mode', 'logicalunit', '--op', 'new', '--tid', '1', '--lun', '1', '-b', '16M', '--bstype', 'memory');
  await d.tgtadmOk('--mode', 'account', '--op', 'new', '--user', 'alice', '--password', 'secretpass12');
  await d.tgtadmOk('--mode', 'account', '--op', 'bind', '--tid', '1', '--user', 'alice');
  const url = (cred: string): string => `iscsi://${cred}127.0.0.1:${d.iscsiPort}/${iqn}/1`;
  const good = await run('iscsi-inq', [url('alice%secretpass12@')], { timeoutMs: 20_000 });
  assert.equal(good.code, 0, good.stderr);
  assert.match(good.stdout, /Product:VIRTUAL-DISK/);
  const bad = await run('iscsi-inq', [url('alice%wrongsecret99@')], { timeoutMs: 20_000 });
  assert.notEqual(bad.code, 0);
  const none = await run('iscsi-inq', [url('')], { timeoutMs: 20_000 });
  assert.notEqual(none.code, 0);
  await d.stop();
});
