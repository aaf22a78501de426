// Conformance: libiscsi's iscsi-test-cu --test ALL against a 1 GiB file LUN (project issue 2).
//
// Debian's tgt 1.0.85 fails 11 and skips 62 of the 230 tests on the same command. The test fails
// on any failure outside KNOWN_FAILURES (a regression) and prints every failure and skip.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestDaemon, iscsiUrl, run } from '../helpers/daemon.js';
import { countTestcuLog } from './testcu-count.js';
import { sparseDisk } from '../helpers/fixtures.js';

const IQN = 'iqn.2026-11.org.stgt.test:conformance';
/** Failures understood and accepted for now, each with its reason (see the README's conformance notes). */
const KNOWN_FAILURES = new Map<string, string>([
  [
    'iSCSIdatasn.iSCSIDataSnInvalid',
    'libiscsi 1.19 prints [FAILED] for the expected error paths of its own cases even when the target ' +
      'drops the connection as RFC 7143 allows at ErrorRecoveryLevel 0',
  ],
]);
const TGT_1_0_85_FAILED = 11;

const dirs: string[] = [];
const daemons: TestDaemon[] = [];
after(() => {
  daemons.forEach((d) => d.kill());
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

test('iscsi-test-cu --dataloss --test ALL: no failure beyond the known ones, fewer than tgt 1.0.85', { timeout: 1_800_000 }, async () => {
  const { work, disk } = sparseDisk('stgt-cu-', 1 << 30);
  dirs.push(work);
  const d = await TestDaemon.start();
  daemons.push(d);
  await d.addTarget(1, IQN);
  await d.addLun(1, 1, disk);
  const r = await run(
    'iscsi-test-cu',
    [
      '--dataloss', '-i', 'iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-test',
      '-I', 'iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-test-2', '--test', 'ALL', iscsiUrl(d.iscsiPort, IQN, 1), '-V',
    ],
    { timeoutMs: 1_700_000 },
  );
  const log = r.stdout + r.stderr;
  writeFileSync(join(tmpdir(), 'stgt-iscsi-test-cu.log'), log);
  const c = countTestcuLog(log);
  const total = c.passed.length + c.failed.length + c.skipped.length;
  console.log(`iscsi-test-cu: passed=${c.passed.length} failed=${c.failed.length} skipped=${c.skipped.length} total=${total}`);
  for (const f of c.failed) console.log(`  failed  ${f}${KNOWN_FAILURES.has(f) ? ` (known: ${KNOWN_FAILURES.get(f)})` : ''}`);
  for (const s of c.skipped) console.log(`  skipped ${s}`);
  assert.ok(total >= 200, `only ${total} tests ran; log tail:\n${log.slice(-3000)}`);
  const unexpected = c.failed.filter((f) => !KNOWN_FAILURES.has(f));
  assert.deepEqual(unexpected, [], 'unexpected iscsi-test-cu failures');
  assert.ok(c.failed.length < TGT_1_0_85_FAILED);
  await d.stop(30_000);
});
