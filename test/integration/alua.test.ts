// Integration: ALUA groups per portal and their states set with tgtadm (`--name alua_* --value ...`, or stgt's `--params`) as libiscsi sees them.
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

test('alua_group: two portals in two groups; each reports its own group and port in VPD 83h and has its own state', { timeout: 120_000 }, async () => {
  const { work, disk } = sparseDisk('stgt-alua2-', 16 << 20);
  const d = await TestDaemon.start();
  cleanup.push(() => d.kill(), () => rmSync(work, { recursive: true, force: true }));
  await d.addTarget(1, IQN);
  await d.addLun(1, 1, disk);
  await d.tgtadmOk('--lld', 'iscsi', '--mode', 'portal', '--op', 'new', '--param', `portal=127.0.0.2:${d.iscsiPort}`);
  const update = (k: string, v: string): ReturnType<TestDaemon['tgtadm']> => d.tgtadm('--mode', 'target', '--op', 'update', '--tid', '1', '--name', k, '--value', v);
  const show = async (): Promise<string> => (await d.tgtadm('--mode', 'target', '--op', 'show')).stdout;
  assert.doesNotMatch(await show(), /ALUA/, 'no ALUA lines while the target uses the defaults (tgt\'s text)');
  assert.equal((await update('alua_group', '2:127.0.0.2')).code, 0);
  assert.equal((await update('alua_group', '0:127.0.0.2')).code, 22, 'group 0 is refused');
  assert.equal((await update('alua_group', '3:not a portal')).code, 22);
  assert.equal((await update('alua_state', '4:standby')).code, 22, 'no group 4');
  const one = iscsiUrl(d.iscsiPort, IQN, 1);
  const two = iscsiUrl(d.iscsiPort, IQN, 1, '127.0.0.2');
  // (iscsi-inq prints binary designators as text, so VPD 83h is checked by the unit tests and the
  // VM test's sg_vpd; here each portal's state shows which group it is in)
  for (const url of [one, two]) assert.equal((await run('iscsi-readcapacity16', [url])).code, 0);
  assert.equal((await update('alua_state', '2:standby')).code, 0);
  const rc = await run('iscsi-readcapacity16', [two]);
  assert.match(rc.stdout + rc.stderr, /NOT READY.*0x040b/, 'the 127.0.0.2 portal is in standby group 2');
  assert.match(await show(), /\n {8}State: ready\n {8}ALUA: implicit\n {8}ALUA group 1: active_optimized\n {8}ALUA group 2: standby \(tgtadm\)\n {4}I_T nexus information:\n/);
  let ok = await run('iscsi-readcapacity16', [one]);
  assert.equal(ok.code, 0, `the 127.0.0.1 portal is still in active group 1: ${ok.stderr}`);
  // the whole address moved back to group 1 by naming it with its port (an exact portal wins)
  assert.equal((await update('alua_group', `1:127.0.0.2:${d.iscsiPort}`)).code, 0);
  ok = await run('iscsi-readcapacity16', [two]);
  assert.equal(ok.code, 0, ok.stderr);
  // explicit ALUA on and off (INQUIRY TPGS 11b / 01b)
  assert.equal((await update('alua_explicit', '2')).code, 22);
  assert.equal((await update('alua_explicit', '1')).code, 0);
  assert.match((await run('iscsi-inq', [one])).stdout, /TPGS:3/);
  assert.equal((await update('alua_explicit', '0')).code, 0);
  assert.equal((await update('alua_state', '2:unavailable')).code, 0);
  assert.match((await run('iscsi-inq', [one])).stdout, /TPGS:1/);
  const un = await run('iscsi-readcapacity16', [iscsiUrl(d.iscsiPort, IQN, 1, '127.0.0.2')]);
  assert.equal(un.code, 0, 'the exact portal 127.0.0.2:port is in group 1 now, not in the unavailable group 2');
  await d.stop(30_000);
});
