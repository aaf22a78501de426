// Linux kernel initiator (open-iscsi in a QEMU VM) on RBD LUNs of a real one-node Ceph: ext4 + fio verify on an image, a snapshot exported read-only (issue 12 part 2)
//
// The host starts the cluster (test/ceph/cluster.ts) and tgtd (stgt's with the rbd store loaded
// by `bsload`, or STGT_VM_TARGET=debian for tgt with tgt-rbd) on 127.0.0.1; the guest reaches it as
// 10.0.2.100:3260 as in kernel-initiator.test.ts. Before the boot the host builds an ext4 file
// system with a known file tree (mke2fs -d, no mount needed), imports it as rbd/vm, snapshots it
// (rbd/vm@base) and grows the image. In one boot the guest runs fs-flow.sh on rbd/vm (mkfs over
// it, files, remount, sha256, fio verify, e2fsck) and then rbd-snap-flow.sh on rbd/vm@base: the
// disk is read-only, a forced write is refused with DATA PROTECT, and the snapshot still holds the
// host's tree although the image was reformatted. Skipped with the reason only where Ceph or the
// rbd addon is missing. (With STGT_VM_TARGET=debian the snapshot steps fail at snap-read-only:
// tgt's bs_rbd does not report a snapshot LU as write-protected, so the kernel mounts it writable.)
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureImage, requireVmTools, runInGuest, type VmImage } from './harness.js';
import { HostTarget, targetBinaries } from './target-host.js';
import { expectSteps } from './steps.js';
import { CephCluster, cephUnavailable } from '../ceph/cluster.js';
import { findRbdAddon } from '../../src/bs/rbd-addon.js';
import { repoRoot, run } from '../helpers/daemon.js';

const IQN_RW = 'iqn.2026-12.org.stgt.vmtest:rbd';
const IQN_SNAP = 'iqn.2026-12.org.stgt.vmtest:rbd-snap';
const GUEST_PORT = 3260;
const PORTAL = `10.0.2.100:${GUEST_PORT}`;
const STEPS = ['iscsid', 'discovery', 'login', 'mkfs', 'mount', 'write-files', 'umount', 'remount', 'verify-checksums',
  'fio-verify', 'umount-2', 'e2fsck', 'logout', 'snap-login', 'snap-read-only', 'snap-write-refused', 'snap-mount',
  'snap-verify', 'snap-umount', 'snap-logout'];

const kind = process.env.STGT_VM_TARGET ?? 'stgt';

function unavailable(): string | null {
  const ceph = cephUnavailable();
  if (ceph !== null) return ceph;
  if (kind === 'stgt' && findRbdAddon(join(repoRoot(), 'dist')) === null) return 'rbd addon not built (apt-get install librbd-dev librados-dev; npm run build:native)';
  return null;
}
const SKIP = unavailable();
if (SKIP !== null) console.log(`# rbd VM tests skipped: ${SKIP}`);

/** A directory of random files and SUMS (sha256sum's format, paths relative to the root) listing them. */
function fileTree(dir: string): void {
  mkdirSync(join(dir, 'sub'), { recursive: true });
  const sums: string[] = [];
  for (let i = 0; i < 24; i++) {
    const rel = i % 2 === 0 ? `./f${i}` : `./sub/f${i}`;
    const data = randomBytes(1000 + i * 37_000);
    writeFileSync(join(dir, rel), data);
    sums.push(`${createHash('sha256').update(data).digest('hex')}  ${rel}`);
  }
  writeFileSync(join(dir, 'SUMS'), sums.join('\n') + '\n');
}

describe(`kernel initiator in a VM on RBD LUNs of ${kind} tgtd`, { skip: SKIP ?? false, timeout: 30 * 60_000 }, () => {
  let image: VmImage;
  let cluster: CephCluster | null = null;
  let target: HostTarget | null = null;

  before(async () => {
    requireVmTools();
    const bins = targetBinaries();
    image = await ensureImage((line) => process.stderr.write(`${line}\n`));
    cluster = await CephCluster.start();
    const c = cluster;
    // The snapshot's content: an ext4 file system made from a host directory, imported as the image.
    const tree = join(c.dir, 'tree');
    fileTree(tree);
    const fs = join(c.dir, 'base.ext4');
    const mk = await run('mke2fs', ['-q', '-F', '-t', 'ext4', '-d', tree, fs, '32M'], { timeoutMs: 60_000 });
    assert.equal(mk.code, 0, mk.stderr);
    await c.rbdOk('import', fs, 'rbd/vm');
    await c.rbdOk('snap', 'create', 'rbd/vm@base');
    // fs-flow.sh wants at least 256 MiB.
    await c.rbdOk('resize', '--size', '256M', 'rbd/vm');
    target = await HostTarget.start(bins);
    const t = target;
    if (bins.kind === 'stgt') t.tgtadm('--mode', 'system', '--op', 'bsload', '--bstype', 'rbd');
    for (const [tid, iqn, path] of [[1, IQN_RW, 'rbd/vm'], [2, IQN_SNAP, 'rbd/vm@base']] as const) {
      t.tgtadm('--mode', 'target', '--op', 'new', '--tid', String(tid), '-T', iqn);
      t.tgtadm('--mode', 'logicalunit', '--op', 'new', '--tid', String(tid), '--lun', '1', '-b', path, '--bstype', 'rbd',
        '--bsopts', c.bsopts);
      t.tgtadm('--mode', 'target', '--op', 'bind', '--tid', String(tid), '-I', 'ALL');
    }
  });

  after(async () => {
    target?.stop();
    await cluster?.stop();
  });

  test('ext4 + fio verify on rbd/vm, then rbd/vm@base read-only: write refused, the snapshot\'s files intact', async (t: TestContext) => {
    const r = await runInGuest('bash /mnt/repo/test/vm/guest/fs-flow.sh && exec bash /mnt/repo/test/vm/guest/rbd-snap-flow.sh\n', {
      image,
      label: 'rbd-flow',
      timeoutMs: 10 * 60_000,
      forwards: [{ guestPort: GUEST_PORT, hostPort: target!.port }],
      env: { PORTAL, IQN_PLAIN: IQN_RW, IQNS_ALL: `${IQN_RW} ${IQN_SNAP}`, IQN_SNAP },
      log: (line) => t.diagnostic(line),
    });
    expectSteps(t, r, STEPS, target!.log(), assert);
    // The snapshot was not changed by the refused write or anything else: Ceph still has the host's file system.
    const exported = join(cluster!.dir, 'base.export');
    await cluster!.rbdOk('export', 'rbd/vm@base', exported);
    const same = await run('cmp', [exported, join(cluster!.dir, 'base.ext4')], { timeoutMs: 60_000 });
    assert.equal(same.code, 0, `the snapshot changed in Ceph: ${same.stdout}${same.stderr}`);
  });
});
