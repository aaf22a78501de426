// dm-multipath in a VM over two stgt gateways of one RBD image: a verified writer while one gateway is SIGKILLed and restarted, a reservation through the map (issue 12 part 3)
//
// The host starts a one-node Ceph (test/ceph/cluster.ts) and two tgtd on 127.0.0.1, gateway A and
// gateway B, each exporting rbd/mp with the same LU identity, A's portal in ALUA group 1
// (active/optimized) and B's in group 2 (active/non-optimized), as README "Several gateways, one
// image" says. The guest reaches A as 10.0.2.100:3260 and B as 10.0.2.101:3260, logs in to both,
// and multipathd (ALUA prioritizer, group_by_prio) builds one map with A's path active. In one boot
// guest/rbd-multipath-flow.sh registers a key on both paths with sg_persist and reserves WRITE
// EXCLUSIVE - REGISTRANTS ONLY through the map, writes CHUNKS x 256 KiB of known data through the
// map while the host SIGKILLs A (write KILL_AT) and restarts it (write RESTART_AT), reads every
// chunk back through the map and through each path, and checks the reservation; the host checks
// that another initiator is refused a write by both gateways. Skipped with the reason only where
// Ceph or the rbd addon is missing.
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ensureImage, requireVmTools, runInGuest, type VmImage } from './harness.js';
import { HostTarget, targetBinaries } from './target-host.js';
import { expectSteps } from './steps.js';
import { serveHostRequests } from './host-requests.js';
import { CephCluster } from '../ceph/cluster.js';
import { ScsiClient } from '../helpers/scsi-client.js';
import { rbdUnavailable } from '../rbd/rbd-helpers.js';

const IQN = 'iqn.2026-12.org.stgt.vmtest:rbd-multipath';
const KEY = '0x5354475432';
const CHUNKS = 48;
const KILL_AT = 12;
const RESTART_AT = 28;
const STEPS = ['start', 'login-both', 'multipath', 'register-reserve', 'write-failover', 'verify', 'reservation-held', 'release', 'teardown'];

const SKIP = process.env.STGT_VM_TARGET === 'debian' ? 'stgt only (tgt 1.0.85 has no ALUA groups and no shared reservations)' : rbdUnavailable();
if (SKIP !== null) console.log(`# rbd multipath VM test skipped: ${SKIP}`);

describe('dm-multipath over two stgt gateways of one RBD image (kernel initiator in a VM)', { skip: SKIP ?? false, timeout: 20 * 60_000 }, () => {
  let image: VmImage;
  let cluster: CephCluster | null = null;
  const gateways: HostTarget[] = [];

  /** The same configuration on both gateways, and on A again after its restart. */
  const configure = (g: HostTarget): void => {
    const [a, b] = gateways;
    g.tgtadm('--mode', 'system', '--op', 'bsload', '--bstype', 'rbd');
    g.tgtadm('--mode', 'target', '--op', 'new', '--tid', '1', '-T', IQN);
    g.tgtadm('--mode', 'logicalunit', '--op', 'new', '--tid', '1', '--lun', '1', '-b', 'rbd/mp', '--bstype', 'rbd', '--bsopts', cluster!.bsopts);
    g.tgtadm('--mode', 'logicalunit', '--op', 'update', '--tid', '1', '--lun', '1', '--params', 'scsi_id=rbd-mp,scsi_sn=rbdmp0001');
    g.setParam(1, 'alua_group', `1:127.0.0.1:${a!.port}`);
    g.setParam(1, 'alua_group', `2:127.0.0.1:${b!.port}`);
    g.setParam(1, 'alua_state', '2:active_nonoptimized');
    g.tgtadm('--mode', 'target', '--op', 'bind', '--tid', '1', '-I', 'ALL');
  };

  before(async () => {
    requireVmTools();
    const bins = targetBinaries();
    image = await ensureImage((line) => process.stderr.write(`${line}\n`));
    cluster = await CephCluster.start();
    await cluster.createImage('mp', 64 << 20);
    gateways.push(await HostTarget.start(bins), await HostTarget.start(bins));
    for (const g of gateways) configure(g);
  });

  after(async () => {
    for (const g of gateways) g.stop();
    await cluster?.stop();
  });

  test('a writer through the map loses nothing while gateway A is SIGKILLed and restarted; I/O moves to B and back; the reservation holds', async (t: TestContext) => {
    const [a, b] = gateways as [HostTarget, HostTarget];
    const hostDir = fs.mkdtempSync(path.join(cluster!.dir, 'host-'));
    const outsiderRefused = async (g: HostTarget, name: string): Promise<void> => {
      const s = await ScsiClient.login(g.port, IQN, `iqn.2026-12.org.stgt.vmtest:outsider-${name}`);
      try {
        await s.clearUa(1);
        const w = await s.write16(1, 0, randomBytes(4096));
        if (w.status !== 0x18) throw new Error(`gateway ${name} let an unregistered initiator write (status ${w.status})`);
      } finally {
        s.close();
      }
    };
    const actions: Record<string, () => Promise<void>> = {
      'kill-a': () => a.kill(),
      'restart-a': async () => {
        await a.restart();
        configure(a);
      },
      outsider: async () => {
        await outsiderRefused(a, 'a');
        await outsiderRefused(b, 'b');
      },
    };
    const host = serveHostRequests(hostDir, actions, (m) => t.diagnostic(m));
    let r;
    try {
      r = await runInGuest('exec bash /mnt/repo/test/vm/guest/rbd-multipath-flow.sh\n', {
        image,
        label: 'rbd-multipath',
        timeoutMs: 12 * 60_000,
        forwards: [
          { guestPort: 3260, hostPort: a.port },
          { guestPort: 3260, hostPort: b.port, guestAddr: '10.0.2.101' },
        ],
        shares: [{ tag: 'host', hostPath: hostDir, guestPath: '/mnt/host' }],
        env: { PORTAL: '10.0.2.100:3260', PORTAL2: '10.0.2.101:3260', IQN, KEY, HOST_DIR: '/mnt/host', CHUNKS: String(CHUNKS),
          KILL_AT: String(KILL_AT), RESTART_AT: String(RESTART_AT) },
        log: (line) => t.diagnostic(line),
      });
    } finally {
      host.stop();
    }
    const explain = expectSteps(t, r, STEPS, `--- gateway A:\n${a.log()}\n--- gateway B:\n${b.log()}`, assert);
    const fo = /^FAILOVER acked=(\d+) path_b_writes_while_a_down=(\d+) path_a_writes_after_restart=(\d+)$/m.exec(r.stdout);
    const ve = /^VERIFY verified=(\d+) lost=(\d+) reads=(\d+)$/m.exec(r.stdout);
    assert.ok(fo && ve, explain);
    console.log(`# multipath failover: ${fo[1]} writes of 256 KiB acknowledged, ${ve[1]} of ${ve[3]} chunk reads verified (map, path A, path B), ` +
      `lost ${ve[2]}; ${fo[2]} writes through B while A was down, ${fo[3]} through A after its restart`);
    assert.equal(Number(fo[1]), CHUNKS);
    assert.equal(Number(ve[2]), 0);
    assert.equal(Number(ve[1]), 3 * CHUNKS);
    assert.deepEqual([...host.served].sort(), ['kill-a', 'outsider', 'restart-a']);
  });
});
