// stgt's tgtd inside the VM (the iSER test bed, RFC 7145): rxe0 on eth0, iSCSI/TCP on eth0's address, lldload iser
//
// One boot: rxe0 comes up on eth0; bin/tgtd from the repo (host build, 9p) starts under the host's
// node; the guest's bin/tgtadm makes a target with one LUN; open-iscsi discovers and logs in on
// 10.0.2.15:3260 (eth0's address, the only portal tgtd listens on), writes and reads back a few
// MiB with dd (checked against the target's backing file too) and logs out. Then
// `--mode system --op lldload --lld iser` is tried with rxe0 present: its outcome is printed, not
// judged (the iser LLD only probes RDMA so far), but iSCSI must keep serving afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requireVmTools } from './harness.js';
import { GUEST_PORTAL, runWithGuestTarget } from './guest-target.js';
import { parseSteps } from './steps.js';

const IQN = 'iqn.2026-11.org.stgt.vmtest:guest';
const STEPS = ['rxe', 'tgtd-start', 'iscsid', 'target-setup', 'discovery', 'login', 'write-verify', 'logout',
  'lldload-iser', 'relogin', 'read-verify', 'write-verify-2', 'logout-2', 'tgtd-alive'];

/** Lines of stdout that start with `PREFIX: `, prefix removed. */
function tagged(stdout: string, prefix: string): string[] {
  return stdout.split('\n').filter((l) => l.startsWith(`${prefix}: `)).map((l) => l.slice(prefix.length + 2));
}

test('guest: rxe0 on eth0, stgt tgtd in the guest serves open-iscsi over TCP on eth0, lldload iser', { timeout: 10 * 60_000 }, async (t) => {
  requireVmTools();
  const r = await runWithGuestTarget({
    label: 'guest-target',
    timeoutMs: 6 * 60_000,
    tgtdArgs: `--iscsi portal=${GUEST_PORTAL} --lld iscsi`,
    script: 'source /mnt/repo/test/vm/guest/guest-target-flow.sh\n',
    env: { IQN, LUN_MIB: '32', IO_MIB: '4' },
    log: (l) => t.diagnostic(l),
  });
  const why = `guest exit ${r.code}\n--- stdout:\n${r.stdout.slice(-5000)}\n--- stderr (tail):\n${r.stderr.slice(-5000)}\n--- console: ${r.consoleLog}`;
  const steps = parseSteps(r.stdout);
  t.diagnostic(`${r.accel}: boot ${r.bootMs} ms, total ${r.totalMs} ms; ` + steps.map((s) => `${s.name} ${s.ms}ms`).join(', '));
  const lldload = [
    ...r.stdout.split('\n').filter((l) => l.startsWith('LLDLOAD-ISER')),
    ...tagged(r.stdout, 'SYSTEM').filter((l) => /^\s{4}\S+: \S+$/.test(l) && !/debug|State/.test(l)).map((l) => `show LLD:${l}`),
    ...tagged(r.stdout, 'TGTD-LOG').map((l) => `tgtd log: ${l}`),
  ];
  for (const l of lldload) t.diagnostic(l);

  const failed = steps.find((s) => !s.ok);
  assert.equal(failed, undefined, `step ${failed?.name} failed\n${why}`);
  assert.deepEqual(steps.map((s) => s.name), STEPS, `not every step ran\n${why}`);
  assert.equal(r.code, 0, why);
  assert.match(r.stdout, /^ALL DONE$/m, why);
  // rxe0 is bound to eth0 and visible to verbs.
  assert.match(r.stdout, /link rxe0\/1 state ACTIVE .*netdev eth0/, why);
  assert.match(r.stdout, /^\s+rxe0\s+[0-9a-f]{16}$/m, why);
  // The target answered on eth0's address, and the session ran over TCP from it.
  assert.ok(tagged(r.stdout, 'DISCOVERY').includes(`${GUEST_PORTAL},1 ${IQN}`), why);
  const session = tagged(r.stdout, 'SESSION');
  assert.ok(session.some((l) => l === `Current Portal: ${GUEST_PORTAL},1`), why);
  assert.ok(session.some((l) => l === 'Iface Transport: tcp'), why);
  assert.ok(session.some((l) => l === `Iface IPaddress: ${GUEST_PORTAL.split(':')[0]}`), why);
  // Both write/read-back rounds matched what was written, before and after lldload.
  const sums = r.stdout.split('\n').filter((l) => l.startsWith('SHA256 written'));
  assert.equal(sums.length, 2, why);
  for (const l of sums) assert.match(l, /^SHA256 written ([0-9a-f]{64}) read \1 backing \1$/, why);
  assert.match(r.stdout, /^LLDLOAD-ISER exit \d+$/m, why);
  assert.ok(tagged(r.stdout, 'SYSTEM').includes('    iscsi: ready'), why);
});
