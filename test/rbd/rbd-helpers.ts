// What the rbd tests share: why they cannot run here, and PERSISTENT RESERVE OUT as a client sends it.
import { join } from 'node:path';
import { repoRoot } from '../helpers/daemon.js';
import type { ScsiClient } from '../helpers/scsi-client.js';
import { cephUnavailable } from '../ceph/cluster.js';
import { findRbdAddon } from '../../src/bs/rbd-addon.js';

/** Why the rbd tests cannot run here (Ceph not installed, the addon not built), or null. */
export function rbdUnavailable(): string | null {
  const ceph = cephUnavailable();
  if (ceph !== null) return ceph;
  if (findRbdAddon(join(repoRoot(), 'dist')) === null) return 'rbd addon not built (apt-get install librbd-dev librados-dev; npm run build:native)';
  return null;
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
