// Integration: the example third-party store (examples/stgt-bs-faulty) loaded by path and by npm name, served to libiscsi, unloaded and reloaded with new code (project issue 3 point 5).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { iscsiUrl, repoRoot, run, TestDaemon } from '../helpers/daemon.js';

const IQN = 'iqn.2026-01.org.stgt.test:faulty';
const EXAMPLE = join(repoRoot(), 'examples', 'stgt-bs-faulty');
const daemons: TestDaemon[] = [];
const dirs: string[] = [];
after(() => {
  daemons.forEach((d) => d.kill());
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

interface Rules {
  readError: { first: number; last: number }[];
  writeError: { first: number; last: number }[];
  flushError: boolean;
  errno: string;
  delayMs: number;
}
interface RulesModule {
  parseRules(s: string): Rules;
  hits(r: Rules['readError'], offset: number, length: number, blockSize: number): boolean;
}

test('example store: bsopts rules parse, and ranges match by block', async () => {
  const m = (await import(pathToFileURL(join(EXAMPLE, 'rules.js')).href)) as RulesModule;
  assert.deepEqual(m.parseRules('read_error=100-199+4096;write_error=8;errno=ENOSPC;delay_ms=5;flush_error=yes'), {
    readError: [{ first: 100, last: 199 }, { first: 4096, last: 4096 }],
    writeError: [{ first: 8, last: 8 }],
    flushError: true,
    errno: 'ENOSPC',
    delayMs: 5,
  });
  assert.deepEqual(m.parseRules(''), { readError: [], writeError: [], flushError: false, errno: 'EIO', delayMs: 0 });
  assert.throws(() => m.parseRules('read_error=9-3'), /ends before it starts/);
  assert.throws(() => m.parseRules('colour=blue'), /unknown option 'colour'/);
  assert.throws(() => m.parseRules('errno=EPERM'), /errno=EPERM/);
  const r = m.parseRules('read_error=100-199').readError;
  assert.equal(m.hits(r, 99 * 512, 512, 512), false);
  assert.equal(m.hits(r, 99 * 512, 1024, 512), true);
  assert.equal(m.hits(r, 199 * 512, 512, 512), true);
  assert.equal(m.hits(r, 200 * 512, 4096, 512), false);
  assert.equal(m.hits(r, 100 * 512, 0, 512), false);
});

/** Runs libiscsi's conformance suite `suite` against the LUN; returns its output. */
async function conformance(d: TestDaemon, suite: string, lun: number): Promise<{ code: number | null; out: string }> {
  const r = await run('iscsi-test-cu', ['-d', '-n', '-t', suite, iscsiUrl(d.iscsiPort, IQN, lun)], { timeoutMs: 120_000 });
  return { code: r.code, out: r.stdout + r.stderr };
}

/** CUnit's "tests Total Ran Passed Failed Inactive" summary row. */
function summary(out: string): { ran: number; passed: number; failed: number } {
  const m = /\n\s+tests\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)/.exec(out);
  assert.ok(m, `no CUnit summary in:\n${out}`);
  return { ran: Number(m[2]), passed: Number(m[3]), failed: Number(m[4]) };
}

function assertPassed(res: { code: number | null; out: string }, suite: string): void {
  const s = summary(res.out);
  assert.ok(s.ran > 0 && s.failed === 0 && s.passed === s.ran, `${suite}: ${JSON.stringify(s)}\n${res.out}`);
  assert.equal(res.code, 0, res.out);
}

test('loaded by path: Read10/Write10 pass, unload refused while in use, unloaded, reloaded with new code', async () => {
  const work = mkdtempSync(join(tmpdir(), 'stgt-faulty-'));
  dirs.push(work);
  const pkg = join(work, 'stgt-bs-faulty');
  cpSync(EXAMPLE, pkg, { recursive: true });
  const index = join(pkg, 'index.js');
  const disk = join(work, 'disk.img');
  writeFileSync(disk, '');
  truncateSync(disk, 64 << 20);

  const d = await TestDaemon.start({ args: ['--bstype', 'rdwr'] });
  daemons.push(d);
  await d.tgtadmOk('--mode', 'system', '--op', 'bsload', '--bstype', index);
  await d.waitForLog(/stgt-bs-faulty 2\.0\.0 ready/);
  assert.match(await d.tgtadmOk('--mode', 'system', '--op', 'show'),
    /\nBacking stores:\n {4}faulty \(bsoflags sync\)\n {4}rdwr \(bsoflags sync:direct\)\n/);
  await d.addTarget(1, IQN);
  await d.addLun(1, 1, disk, ['--bstype', 'faulty']);

  assertPassed(await conformance(d, 'SCSI.Read10', 1), 'SCSI.Read10');
  assertPassed(await conformance(d, 'SCSI.Write10', 1), 'SCSI.Write10');

  const busy = await d.tgtadm('--mode', 'system', '--op', 'bsunload', '--bstype', 'faulty');
  assert.deepEqual([busy.code, busy.stderr], [22, 'tgtadm: this driver is busy\n']);
  await d.tgtadmOk('--mode', 'logicalunit', '--op', 'delete', '--tid', '1', '--lun', '1');
  await d.tgtadmOk('--mode', 'system', '--op', 'bsunload', '--bstype', 'faulty');
  await d.waitForLog(/stgt-bs-faulty 2\.0\.0 unloaded/);
  assert.doesNotMatch(await d.tgtadmOk('--mode', 'system', '--op', 'show'), /faulty/);

  // The operator upgrades the store in place; bsload imports the new file, not the cached module.
  writeFileSync(index, readFileSync(index, 'utf8').replace("VERSION = '2.0.0'", "VERSION = '2.0.1'"));
  await d.tgtadmOk('--mode', 'system', '--op', 'bsload', '--bstype', index);
  await d.waitForLog(/stgt-bs-faulty 2\.0\.1 ready/);

  // Now with faults on blocks 0-7: libiscsi's Read10 reads block 0 and must see the failure,
  // as a CHECK CONDITION (not a dropped connection or a daemon crash).
  await d.addLun(1, 2, disk, ['--bstype', 'faulty', '--bsopts', 'read_error=0-7;errno=EIO']);
  const bad = await conformance(d, 'SCSI.Read10.Simple', 2);
  assert.equal(summary(bad.out).failed, 1, bad.out);
  // MEDIUM ERROR (sense key 3), UNRECOVERED READ ERROR (ASC/ASCQ 11h/00h): SBC-4 for a failed read.
  assert.match(bad.out, /status 2 \/ sense key [^\n]*\(0x03\) \/ ASCQ [^\n]*\(0x1100\)/, bad.out);
  assert.ok(d.running, 'tgtd survived the injected errors');
  // A LUN without faults on the same reloaded store serves normally.
  await d.addLun(1, 3, disk, ['--bstype', 'faulty']);
  assertPassed(await conformance(d, 'SCSI.Read10.Simple', 3), 'SCSI.Read10.Simple');
  await d.stop();
});

test('loaded by npm package name from --module-dir, at start and at run time', async () => {
  const mods = mkdtempSync(join(tmpdir(), 'stgt-mods-'));
  dirs.push(mods);
  mkdirSync(join(mods, 'node_modules'));
  cpSync(EXAMPLE, join(mods, 'node_modules', 'stgt-bs-faulty'), { recursive: true });

  const d = await TestDaemon.start({ args: ['--module-dir', mods, '--bstype', 'rdwr,stgt-bs-faulty'] });
  daemons.push(d);
  assert.match(await d.tgtadmOk('--mode', 'system', '--op', 'show'), /\n {4}faulty \(bsoflags sync\)\n/);
  await d.tgtadmOk('--mode', 'system', '--op', 'bsunload', '--bstype', 'faulty');
  await d.tgtadmOk('--mode', 'system', '--op', 'bsload', '--bstype', 'stgt-bs-faulty');
  assert.match(await d.tgtadmOk('--mode', 'system', '--op', 'show'), /\n {4}faulty \(bsoflags sync\)\n/);
  await d.stop();
});
