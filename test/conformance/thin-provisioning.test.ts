// Thin provisioning (SBC-4 4.7): `--params thin_provisioning=1` on a file LUN; UNMAP and WRITE SAME
// with UNMAP punch holes in the backing file, read back as zeros, and libiscsi's provisioning suites pass.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestDaemon, iscsiUrl, run } from '../helpers/daemon.js';
import { countTestcuLog } from './testcu-count.js';
import { sparseDisk } from '../helpers/fixtures.js';

const IQN = 'iqn.2026-11.org.stgt.test:thin';
const dirs: string[] = [];
const daemons: TestDaemon[] = [];
after(() => {
  daemons.forEach((d) => d.kill());
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

async function thinLun(): Promise<{ d: TestDaemon; disk: string; work: string }> {
  const { work, disk } = sparseDisk('stgt-thin-', 1 << 30);
  dirs.push(work);
  const d = await TestDaemon.start();
  daemons.push(d);
  await d.addTarget(1, IQN);
  await d.addLun(1, 1, disk);
  await d.tgtadmOk('--mode', 'logicalunit', '--op', 'update', '--tid', '1', '--lun', '1', '--params', 'thin_provisioning=1');
  assert.match(await d.tgtadmOk('--mode', 'target', '--op', 'show'), /\n {12}Thin-provisioning: Yes\n/);
  return { d, disk, work };
}

test('discard through iSCSI UNMAP punches a hole in the backing file and reads back zeros', { timeout: 120_000 }, async () => {
  const { d, disk, work } = await thinLun();
  const url = iscsiUrl(d.iscsiPort, IQN, 1);
  const src = join(work, 'src.raw');
  writeFileSync(src, randomBytes(16 << 20));
  const w = await run('qemu-img', ['convert', '-n', '-f', 'raw', '-O', 'raw', src, url], { timeoutMs: 60_000 });
  assert.equal(w.code, 0, w.stderr);
  const allocated = statSync(disk).blocks * 512;
  assert.ok(allocated >= 16 << 20, `backing file holds ${allocated} bytes after the write`);
  const dis = await run('qemu-io', ['-f', 'raw', '-c', 'discard 0 16M', url], { timeoutMs: 60_000 });
  assert.equal(dis.code, 0, dis.stdout + dis.stderr);
  assert.doesNotMatch(dis.stdout + dis.stderr, /error|failed/i);
  const after = statSync(disk).blocks * 512;
  assert.ok(after <= allocated - (15 << 20), `UNMAP freed ${allocated - after} bytes of 16 MiB`);
  const rd = await run('qemu-io', ['-f', 'raw', '-c', 'read -P 0 0 16M', url], { timeoutMs: 60_000 });
  assert.equal(rd.code, 0, rd.stdout + rd.stderr);
  assert.doesNotMatch(rd.stdout + rd.stderr, /Pattern verification failed|error/i);
  await d.stop();
});

test('libiscsi Unmap, WriteSame10/16 and GetLBAStatus suites on a thin LUN: all run, none fails', { timeout: 600_000 }, async () => {
  const { d } = await thinLun();
  // iscsi-test-cu takes one --test: run the four suites one after another.
  let log = '';
  for (const suite of ['ALL.Unmap', 'ALL.WriteSame10', 'ALL.WriteSame16', 'ALL.GetLBAStatus']) {
    const r = await run(
      'iscsi-test-cu',
      ['--dataloss', '--test', suite, '-i', 'iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-test', iscsiUrl(d.iscsiPort, IQN, 1), '-V'],
      { timeoutMs: 200_000 },
    );
    log += r.stdout + r.stderr;
  }
  const c = countTestcuLog(log);
  console.log(`thin: passed=${c.passed.length} failed=${c.failed.length} skipped=${c.skipped.length}`);
  for (const s of c.skipped) console.log(`  skipped ${s}`);
  assert.deepEqual(c.failed, []);
  for (const t of ['Unmap.Simple', 'Unmap.VPD', 'WriteSame10.Unmap', 'WriteSame16.Unmap', 'GetLBAStatus.UnmapSingle']) {
    assert.ok(c.passed.includes(t), `${t} did not pass (skipped: ${c.skipped.includes(t)})`);
  }
  await d.stop();
});
