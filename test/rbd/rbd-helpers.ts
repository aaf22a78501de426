// What the rbd tests share: why they cannot run here, two gateways on one image, and PERSISTENT RESERVE OUT as a client sends it.
import { before, after } from 'node:test';
import { join } from 'node:path';
import { repoRoot, TestDaemon } from '../helpers/daemon.js';
import type { ScsiClient } from '../helpers/scsi-client.js';
import { cephUnavailable, CephCluster } from '../ceph/cluster.js';
import { findRbdAddon } from '../../src/bs/rbd-addon.js';

/** Why the rbd tests cannot run here (Ceph not installed, the addon not built), or null. */
export function rbdUnavailable(): string | null {
  const ceph = cephUnavailable();
  if (ceph !== null) return ceph;
  if (findRbdAddon(join(repoRoot(), 'dist')) === null) return 'rbd addon not built (apt-get install librbd-dev librados-dev; npm run build:native)';
  return null;
}

/**
 * A test file's cluster: started before its tests (unless `skip` gives a reason not to), stopped after
 * them together with the daemons and clients the tests pushed to `daemons` and `clients`.
 */
export class CephFixture {
  private started: CephCluster | null = null;
  readonly daemons: TestDaemon[] = [];
  readonly clients: ScsiClient[] = [];

  constructor(skip: string | null) {
    before(async () => {
      if (skip === null) this.started = await CephCluster.start();
    }, { timeout: 120_000 });
    after(async () => {
      this.clients.forEach((c) => c.close());
      for (const x of this.daemons) {
        if (x.running) await x.stop(30_000).catch((e: Error) => console.log(`tgtd stop: ${e.message}`));
      }
      await this.started?.stop();
    });
  }

  /** The cluster (only inside a test that is not skipped). */
  get cluster(): CephCluster {
    if (this.started === null) throw new Error('no Ceph cluster: the tests are skipped');
    return this.started;
  }
}

/** The target both gateways export and the LUN of the image in it. */
export const GATEWAY_IQN = 'iqn.2026-12.org.stgt.test:gateways';
export const GATEWAY_LUN = 1;

/**
 * Two tgtd on image `image` (created here, 16 MiB), configured as the README's "Several gateways"
 * section says: the same target name and LU identity, both portals in both daemons' ALUA groups
 * (group 1: gateway A's portal, group 2: B's, active/non-optimized). `bsopts` defaults to the
 * cluster's own; `disableFeatures` are image features turned off before the gateways open it. Started
 * daemons are pushed to `daemons` (the caller stops them).
 */
export async function startGateways(c: CephCluster, image: string, daemons: TestDaemon[],
  o: { bsopts?: string; disableFeatures?: readonly string[] } = {}): Promise<[TestDaemon, TestDaemon]> {
  await c.createImage(image, 16 << 20);
  if (o.disableFeatures?.length) await c.rbdOk('feature', 'disable', `rbd/${image}`, ...o.disableFeatures);
  const bsopts = o.bsopts ?? c.bsopts;
  const pair: TestDaemon[] = [];
  for (let i = 0; i < 2; i++) {
    const g = await TestDaemon.start({ args: ['--bstype', 'rdwr,null,memory,rbd'] });
    daemons.push(g);
    pair.push(g);
  }
  const lun = String(GATEWAY_LUN);
  for (const g of pair) {
    await g.addTarget(1, GATEWAY_IQN);
    await g.addLun(1, GATEWAY_LUN, `rbd/${image}`, ['--bstype', 'rbd', '--bsopts', bsopts]);
    await g.tgtadmOk('--mode', 'logicalunit', '--op', 'update', '--tid', '1', '--lun', lun, '--params', `scsi_id=${image},scsi_sn=${image}`);
    for (const [v, k] of [[`1:127.0.0.1:${pair[0]!.iscsiPort}`, 'alua_group'], [`2:127.0.0.1:${pair[1]!.iscsiPort}`, 'alua_group'],
      ['2:active_nonoptimized', 'alua_state']] as const) {
      await g.tgtadmOk('--mode', 'target', '--op', 'update', '--tid', '1', '--name', k, '--value', v);
    }
  }
  return [pair[0]!, pair[1]!];
}

/** SPC-4 6.16.3 Table 230 byte 20: ALL_TG_PT (register through every target port). */
export const ALL_TG_PT = 0x04;

/**
 * PERSISTENT RESERVE OUT (SPC-4 6.16) service action `sa` with RESERVATION KEY `key`, SERVICE ACTION
 * RESERVATION KEY `saKey`, TYPE `type`, and parameter list byte 20 `flags` (ALL_TG_PT, APTPL).
 */
export function prOut(s: ScsiClient, lun: number, sa: number, key: bigint, saKey: bigint, type = 0, flags = 0): ReturnType<ScsiClient['command']> {
  const cdb = Buffer.alloc(10);
  cdb[0] = 0x5f;
  cdb[1] = sa; // SERVICE ACTION
  cdb[2] = type; // SCOPE 0 (LU) | TYPE
  cdb.writeUInt32BE(24, 5); // PARAMETER LIST LENGTH
  const param = Buffer.alloc(24);
  param.writeBigUInt64BE(key, 0); // RESERVATION KEY
  param.writeBigUInt64BE(saKey, 8); // SERVICE ACTION RESERVATION KEY
  param[20] = flags; // SPEC_I_PT | ALL_TG_PT | APTPL
  return s.command(cdb, { lun, write: param });
}
