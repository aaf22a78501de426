// Integration: the ALUA state of a target set with tgtadm (`--name alua_state --value ...`, or stgt's `--params`) as libiscsi sees it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { TestDaemon, iscsiUrl, run } from '../helpers/daemon.js';
import { sparseDisk } from '../helpers/fixtures.js';

const IQN = 'iqn.2026-11.org.stgt.test:alua';
const cleanup: (() => void)[] = [];
after(() => cleanup.forEach((f) => f()));

test('alua_state: standby refuses media commands with TARGET PORT IN STANDBY STATE, a bad state is refused, active again serves', { timeout: 120_000 }, async () => {
  const { work, disk } = sparseDisk('stgt-alua-', 16 << 20);
  const d = await TestDaemon.start();
  cleanup.push(() => d.kill(), () => rmSync(work, { recursive: true, force: true }));
  await d.addTarget(1, IQN);
  await d.addLun(1, 1, disk);
  const url = iscsiUrl(d.iscsiPort, IQN, 1);
  const set = (v: string): ReturnType<TestDaemon['tgtadm']> => d.tgtadm('--mode', 'target', '--op', 'update', '--tid', '1', '--name', 'alua_state', '--value', v);
  const bad = await set('sideways');
  assert.equal(bad.code, 22);
  assert.match(bad.stderr, /invalid request/);
  let inq = await run('iscsi-inq', [url]);
  assert.match(inq.stdout, /TPGS:1/, 'implicit ALUA');
  assert.equal((await set('standby')).code, 0);
  // libiscsi logs in with a TEST UNIT READY, which standby refuses (SPC-4 5.16.2.4.4)
  const rc = await run('iscsi-readcapacity16', [url]);
  assert.notEqual(rc.code, 0);
  assert.match(rc.stdout + rc.stderr, /NOT READY.*0x040b/);
  assert.equal((await set('active_nonoptimized')).code, 0);
  const ok = await run('iscsi-readcapacity16', [url]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /Total size:16777216/);
  inq = await run('iscsi-inq', [url]);
  assert.equal(inq.code, 0);
  await d.stop(30_000);
});
