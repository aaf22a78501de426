// Integration: LLDs as modules against the real tgtd: --lld, lldload/lldunload, tgt's --mode lld, iser error state, no RDMA mapped (seed 000; project issue 3 points 2, 3, 4, 6).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { iscsiUrl, repoRoot, run, TestDaemon } from '../helpers/daemon.js';

const IQN = 'iqn.2026-01.org.stgt.test:lld';
const daemons: TestDaemon[] = [];
after(() => daemons.forEach((d) => d.kill()));

async function start(args: string[], env?: Record<string, string>): Promise<TestDaemon> {
  const d = await TestDaemon.start({ args, env });
  daemons.push(d);
  return d;
}

/** The built RDMA addon, if any: handed to the daemon so that iser fails for "no device", not "not built". */
function addonEnv(): Record<string, string> {
  const p = join(repoRoot(), 'native', 'rdma', 'build', 'Release', 'stgt_rdma.node');
  return existsSync(p) ? { STGT_RDMA_ADDON: p } : {};
}

const RDMA_LIBS = /libibverbs|librdmacm|stgt_rdma\.node/;

/** What iser's init must say here: no device when the addon is built, else how to build it. */
const ISER_REASON = (): RegExp =>
  'STGT_RDMA_ADDON' in addonEnv()
    ? /iser: .*no RDMA device \(load rdma_rxe or an RDMA NIC driver\)/
    : /iser: .*RDMA addon not built \(apt-get install libibverbs-dev librdmacm-dev, then npm run build:native\)/;

/** The LUN answers READ CAPACITY over iSCSI (libiscsi), i.e. the iscsi LLD is serving. */
async function assertServing(d: TestDaemon, tid = 1): Promise<void> {
  const r = await run('iscsi-readcapacity16', [iscsiUrl(d.iscsiPort, `${IQN}${tid}`, 1)], { timeoutMs: 20_000 });
  assert.equal(r.code, 0, `iscsi-readcapacity16 failed: ${r.stderr}\n--- tgtd:\n${d.stderr}`);
  assert.match(r.stdout, /LOGICAL BLOCK LENGTH IN BYTES:512\n[^]*Total size:1099511627776\n/);
}

test('--lld iscsi (the default): only iscsi listed, no RDMA library mapped', async () => {
  const d = await start([]);
  const show = await d.tgtadmOk('--mode', 'system', '--op', 'show');
  assert.match(show, /^System:\n    State: ready\n    debug: off\nLLDs:\n    iscsi: ready\nBacking stores:\n/);
  assert.doesNotMatch(await d.maps(), RDMA_LIBS);
  assert.equal(await d.tgtadmOk('--mode', 'lld', '--op', 'show'), 'LLDs:\n    iscsi: ready\n');
  await d.stop();
});

test('--lld iscsi,iser on a machine without RDMA: iser in error with its reason, iscsi serves', async () => {
  const d = await start(['--lld', 'iscsi,iser', '--bstype', 'null'], addonEnv());
  const show = await d.tgtadmOk('--mode', 'system', '--op', 'show');
  assert.match(show, /\nLLDs:\n    iscsi: ready\n    iser: error\nBacking stores:\n    null\nDevice types:\n/);
  assert.match(d.stderr, ISER_REASON());
  // tgt refuses management of a driver that is not ready: "can't find the driver".
  const t = await d.tgtadm('--lld', 'iser', '--mode', 'target', '--op', 'new', '--tid', '5', '-T', 'iqn.2026-01.x:iser');
  assert.deepEqual([t.code, t.stderr], [22, "tgtadm: can't find the driver\n"]);
  await d.addTarget(1, `${IQN}1`);
  await d.addLun(1, 1, '/dev/null', ['--bstype', 'null']);
  await assertServing(d);
  await d.stop();
});

test('lldload iser at run time -> "    iser: error", iscsi still serving; start retries; unload the failed LLD', async () => {
  const d = await start(['--bstype', 'null'], addonEnv());
  await d.addTarget(1, `${IQN}1`);
  await d.addLun(1, 1, '/dev/null', ['--bstype', 'null']);
  const before = d.stderr.length;

  const r = await d.tgtadm('--mode', 'system', '--op', 'lldload', '--lld', 'iser');
  assert.equal(r.code, 22, 'a failed init answers with an error');
  assert.match(r.stderr, /^tgtadm: /);
  assert.match(await d.tgtadmOk('--mode', 'system', '--op', 'show'), /\nLLDs:\n    iscsi: ready\n    iser: error\n/);
  await d.waitForLog(ISER_REASON(), 10_000, before);
  await assertServing(d);
  // Without an RDMA device the verbs libraries are not even mapped by the failed attempt.
  if (!existsSync('/sys/class/infiniband')) assert.doesNotMatch(await d.maps(), RDMA_LIBS);

  // tgt's --mode lld --op start retries init without restarting tgtd (and fails the same way here).
  const logBefore = d.stderr.length;
  const s = await d.tgtadm('--mode', 'lld', '--op', 'start', '--lld', 'iser');
  assert.equal(s.code, 22);
  await d.waitForLog(ISER_REASON(), 10_000, logBefore);
  assert.equal(await d.tgtadmOk('--mode', 'lld', '--op', 'show'), `LLDs:\n    iscsi: ready\n        Target 1: ${IQN}1\n    iser: error\n`);

  // A failed LLD has no targets: it can be unloaded, and disappears from the listing.
  await d.tgtadmOk('--mode', 'system', '--op', 'lldunload', '--lld', 'iser');
  assert.match(await d.tgtadmOk('--mode', 'system', '--op', 'show'), /\nLLDs:\n    iscsi: ready\nBacking stores:\n/);
  await assertServing(d);
  await d.stop();
});

test('lldunload / lld stop of iscsi with a target is refused ("this driver is busy") and changes nothing', async () => {
  const d = await start(['--bstype', 'null']);
  await d.addTarget(1, `${IQN}1`);
  await d.addLun(1, 1, '/dev/null', ['--bstype', 'null']);
  const show = await d.tgtadmOk('--mode', 'system', '--op', 'show');

  const u = await d.tgtadm('--mode', 'system', '--op', 'lldunload', '--lld', 'iscsi');
  assert.deepEqual([u.code, u.stdout, u.stderr], [22, '', 'tgtadm: this driver is busy\n']);
  const s = await d.tgtadm('--lld', 'iscsi', '--mode', 'lld', '--op', 'stop');
  assert.deepEqual([s.code, s.stderr], [22, 'tgtadm: this driver is busy\n']);
  assert.equal(await d.tgtadmOk('--mode', 'system', '--op', 'show'), show);
  await assertServing(d);

  // Without targets, stop -> "stopped", start -> "ready" again (tgt's lld_mgmt).
  await d.tgtadmOk('--lld', 'iscsi', '--mode', 'target', '--op', 'delete', '--tid', '1');
  await d.tgtadmOk('--lld', 'iscsi', '--mode', 'lld', '--op', 'stop');
  assert.equal(await d.tgtadmOk('--mode', 'lld', '--op', 'show'), 'LLDs:\n    iscsi: stopped\n');
  await d.tgtadmOk('--lld', 'iscsi', '--mode', 'lld', '--op', 'start');
  assert.equal(await d.tgtadmOk('--mode', 'lld', '--op', 'show'), 'LLDs:\n    iscsi: ready\n');
  await d.addTarget(2, `${IQN}2`);
  await d.addLun(2, 1, '/dev/null', ['--bstype', 'null']);
  await assertServing(d, 2);
  await d.tgtadmOk('--lld', 'iscsi', '--mode', 'target', '--op', 'delete', '--tid', '2');
  // And with no target left, lldunload succeeds; lldload brings it back on the same portal.
  await d.tgtadmOk('--mode', 'system', '--op', 'lldunload', '--lld', 'iscsi');
  const gone = await d.tgtadm('--lld', 'iscsi', '--mode', 'target', '--op', 'new', '--tid', '3', '-T', `${IQN}3`);
  assert.deepEqual([gone.code, gone.stderr], [22, "tgtadm: can't find the driver\n"]);
  await d.tgtadmOk('--mode', 'system', '--op', 'lldload', '--lld', 'iscsi');
  assert.match(await d.tgtadmOk('--mode', 'system', '--op', 'show'), /\nLLDs:\n    iscsi: ready\nBacking stores:\n/);
  await d.addTarget(3, `${IQN}3`);
  await d.addLun(3, 1, '/dev/null', ['--bstype', 'null']);
  await assertServing(d, 3);
  await d.stop();
});

test('lldload of an unknown name fails cleanly and the daemon keeps working', async () => {
  const d = await start(['--bstype', 'null']);
  const r = await d.tgtadm('--mode', 'system', '--op', 'lldload', '--lld', 'no-such-lld-module');
  assert.equal(r.code, 22);
  await d.waitForLog(/cannot find lld module no-such-lld-module/);
  assert.match(await d.tgtadmOk('--mode', 'system', '--op', 'show'), /\n    iscsi: ready\n/);
  await d.stop();
});
