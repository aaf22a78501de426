// Linux kernel initiator (open-iscsi in a QEMU VM) against tgtd on the host's loopback (RFC 7143; issue 5)
//
// The target runs on 127.0.0.1 (STGT_VM_TARGET=stgt, the default, or debian for tgt itself);
// the guest reaches it as 10.0.2.100:3260 through QEMU's restricted user network. Two guest runs
// cover the life cycle of a file system on an iSCSI disk and the login variants; a third runs the
// first flow through a relay that corrupts Data-In payloads and requires it to fail, so a target
// that answers with wrong data cannot pass. Hard failures: checksum mismatch, fio verify error,
// e2fsck error, missing disk, refused login.
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { ensureImage, requireVmTools, runInGuest, type GuestResult, type VmImage } from './harness.js';
import { HostTarget, targetBinaries } from './target-host.js';
import { parseSteps } from './steps.js';

const IQN_PLAIN = 'iqn.2026-11.org.stgt.vmtest:plain';
const IQN_CHAP = 'iqn.2026-11.org.stgt.vmtest:chap';
const IQN_MULTI = 'iqn.2026-11.org.stgt.vmtest:multi';
const IQN_CORRUPT = 'iqn.2026-11.org.stgt.vmtest:corrupt';
const CHAP_USER = 'vmtester';
const CHAP_PASS = 'stgt-secret-42';
const MULTI_MIB = 64;
const GUEST_PORT = 3260;
const PORTAL = `10.0.2.100:${GUEST_PORT}`;

const FS_STEPS = ['iscsid', 'discovery', 'login', 'mkfs', 'mount', 'write-files', 'umount', 'remount',
  'verify-checksums', 'fio-verify', 'umount-2', 'e2fsck', 'logout'];
const VARIANT_STEPS = ['iscsid', 'digest-login', 'digest-io', 'digest-fio', 'digest-logout',
  'chap-wrong-secret-refused', 'chap-login', 'chap-io', 'chap-logout', 'multi-login', 'multi-lun-io', 'multi-logout'];
/** Steps that can only fail because of the data the target returned. */
const DATA_STEPS = ['mkfs', 'mount', 'write-files', 'remount', 'verify-checksums', 'fio-verify', 'umount-2', 'e2fsck'];

const kind = process.env.STGT_VM_TARGET ?? 'stgt';

describe(`kernel initiator in a VM against ${kind} tgtd`, { timeout: 30 * 60_000 }, () => {
  let image: VmImage;
  let target: HostTarget;

  before(async () => {
    requireVmTools();
    const bins = targetBinaries();
    const t0 = Date.now();
    image = await ensureImage((line) => process.stderr.write(`${line}\n`));
    process.stderr.write(`stgt-vm: image ${image.dir} ${image.built ? `built in ${image.buildMs} ms` : 'from cache'} (${Date.now() - t0} ms)\n`);
    target = await HostTarget.start(bins);
    target.addTarget(1, IQN_PLAIN, [target.backingFile('plain.img', 256)]);
    // tgt offers no digest unless told to (its default is None): allow CRC32C as an admin would.
    target.setParam(1, 'HeaderDigest', 'CRC32C,None');
    target.setParam(1, 'DataDigest', 'CRC32C,None');
    target.addTarget(2, IQN_CHAP, [target.backingFile('chap.img', 32)]);
    target.addChap(2, CHAP_USER, CHAP_PASS);
    target.addTarget(3, IQN_MULTI, [1, 2, 3].map((i) => target.backingFile(`multi${i}.img`, MULTI_MIB)));
    target.addTarget(4, IQN_CORRUPT, [target.backingFile('corrupt.img', 256)]);
  });

  after(() => {
    target?.stop();
  });

  const run = (t: TestContext, label: string, script: string, env: Record<string, string>, corrupt = false): Promise<GuestResult> =>
    runInGuest(script, {
      image,
      label,
      timeoutMs: 8 * 60_000,
      forwards: [{ guestPort: GUEST_PORT, hostPort: target.port, corruptDataIn: corrupt }],
      env: { PORTAL, ...env },
      log: (line) => t.diagnostic(line),
    });

  const explain = (r: GuestResult): string =>
    `guest exit ${r.code}\n--- stdout:\n${r.stdout.slice(-4000)}\n--- stderr (tail):\n${r.stderr.slice(-6000)}` +
    `\n--- console log: ${r.consoleLog}\n--- tgtd output (tail):\n${target.log().slice(-3000)}`;

  const expectAllSteps = (t: TestContext, r: GuestResult, names: string[]): void => {
    const steps = parseSteps(r.stdout);
    t.diagnostic(`${r.accel}: boot ${r.bootMs} ms, total ${r.totalMs} ms; ` + steps.map((s) => `${s.name} ${s.ms}ms`).join(', '));
    const failed = steps.find((s) => !s.ok);
    assert.equal(failed, undefined, `step ${failed?.name} failed\n${explain(r)}`);
    assert.deepEqual(steps.map((s) => s.name), names, `not every step ran\n${explain(r)}`);
    assert.equal(r.code, 0, explain(r));
    assert.match(r.stdout, /^ALL DONE$/m, explain(r));
  };

  test('discovery, login, mkfs.ext4, write, remount, sha256 verify, fio verify, e2fsck, logout', async (t) => {
    const r = await run(t, 'fs-flow', 'exec bash /mnt/repo/test/vm/guest/fs-flow.sh\n', {
      IQN_PLAIN,
      IQNS_ALL: [IQN_PLAIN, IQN_CHAP, IQN_MULTI].join(' '),
    });
    expectAllSteps(t, r, FS_STEPS);
  });

  test('CRC32C header and data digests, CHAP (wrong secret refused), three LUNs as three disks', async (t) => {
    const r = await run(t, 'login-variants', 'exec bash /mnt/repo/test/vm/guest/login-variants.sh\n', {
      IQN_PLAIN,
      IQN_CHAP,
      CHAP_USER,
      CHAP_PASS,
      IQN_MULTI,
      MULTI_BYTES: String(MULTI_MIB * 1024 * 1024),
    });
    expectAllSteps(t, r, VARIANT_STEPS);
  });

  test('self-check: the same flow fails when the target returns wrong data (corrupted Data-In)', async (t) => {
    const r = await run(t, 'corrupt', 'exec bash /mnt/repo/test/vm/guest/fs-flow.sh\n', {
      IQN_PLAIN: IQN_CORRUPT,
      IQNS_ALL: IQN_CORRUPT,
    }, true);
    const steps = parseSteps(r.stdout);
    t.diagnostic(`corrupt run: exit ${r.code}; ` + steps.map((s) => `${s.name} ${s.ok ? 'ok' : 'FAILED'}`).join(', '));
    assert.notEqual(r.code, 0, `the flow passed although Data-In was corrupted\n${explain(r)}`);
    assert.doesNotMatch(r.stdout, /^ALL DONE$/m);
    const failed = steps.find((s) => !s.ok);
    assert.ok(failed, `no step reported the failure\n${explain(r)}`);
    assert.ok(DATA_STEPS.includes(failed.name), `failed at ${failed.name}, not at a data check\n${explain(r)}`);
  });
});
