// `--mode logicalunit`: new, delete, update, stat (tgt target.c tgt_device_create/destroy/update).

import { LUN_UNSET, OP_DELETE, OP_NEW, OP_STATS, OP_UPDATE, parsePayload } from './ipc.js';
import {
  TGTADM_INVALID_REQUEST, TGTADM_LUN_ACTIVE, TGTADM_LUN_EXIST, TGTADM_NO_LUN, TGTADM_NO_TARGET,
  TGTADM_SUCCESS, TGTADM_UNSUPPORTED_OPERATION,
} from './errors.js';
import { noMediumLogicalUnit } from './no-medium.js';
import { statHeader, statLu } from './stat.js';
import { fail, ok, type MgmtReply, type MgmtRequest } from './reply.js';

/** SCSI peripheral device types tgtadm sends in device_type (SPC-4 table 49). */
const TYPE_DISK = 0x00;

export async function deviceMgmt(m: MgmtRequest): Promise<MgmtReply> {
  const { req, host } = m;
  const target = host.targets.get(req.tid);
  switch (req.op) {
    case OP_NEW:
      return fail(await createDevice(m));
    case OP_DELETE: {
      // tgt looks the LU up through its target and reports a missing target as a missing LU.
      if (target === undefined) return fail(TGTADM_NO_LUN);
      const lun = lunOf(req.lun);
      if (lun === 0) return fail(TGTADM_INVALID_REQUEST); // LUN 0 goes only with its target
      const lu = lun === null ? undefined : target.luns.get(lun);
      if (lu === undefined) return fail(TGTADM_NO_LUN);
      if (lu.taskSet.list.length > 0) return fail(TGTADM_LUN_ACTIVE); // commands in flight
      target.removeLun(lu.lun);
      await host.closeLogicalUnit(lu);
      host.release('bs', lu.bsName);
      return ok();
    }
    case OP_UPDATE: {
      if (target === undefined) return fail(TGTADM_NO_TARGET);
      const lun = lunOf(req.lun);
      const lu = lun === null ? undefined : target.luns.get(lun);
      if (lu === undefined) return fail(TGTADM_NO_LUN);
      const parsed = parsePayload(req.payload);
      const pairs = parsed.opsKind !== null ? [...parsed.pairs, ...parsed.ops] : parsed.pairs;
      // tgt answers any rejected parameter with "invalid request" (spc.c lu_config returns
      // TGTADM_INVALID_REQUEST), never with "unknown parameter".
      return fail(lu.updateParams(pairs) === 'ok' ? TGTADM_SUCCESS : TGTADM_INVALID_REQUEST);
    }
    case OP_STATS: {
      if (target === undefined) return fail(TGTADM_NO_TARGET);
      const lun = lunOf(req.lun);
      const lu = lun === null ? undefined : target.luns.get(lun);
      if (lu === undefined) return fail(TGTADM_NO_LUN);
      return ok(statHeader() + statLu(target.tid, lu));
    }
    default:
      return fail(TGTADM_UNSUPPORTED_OPERATION);
  }
}

function lunOf(v: bigint): number | null {
  return v === LUN_UNSET || v > 0x3fffn ? null : Number(v);
}

/** "sync", "direct", "sync:direct" (either order); anything else is invalid. */
export function parseOflags(s: string | undefined): { sync: boolean; direct: boolean } | null {
  const f = { sync: false, direct: false };
  if (s === undefined || s === '') return f;
  for (const w of s.split(':')) {
    if (w === 'sync') f.sync = true;
    else if (w === 'direct') f.direct = true;
    else return null;
  }
  return f;
}

/** --blocksize must be a power of two from 512 to 1 MiB; tgt ignores a bad one and keeps 512. */
function parseBlockSize(s: string | undefined): number {
  if (s === undefined) return 512;
  const n = /^(0x[0-9a-f]+|[0-9]+)$/i.test(s) ? Number(s) : NaN; // strtoul(s, 0) forms
  return Number.isInteger(n) && n >= 512 && n <= 1 << 20 && (n & (n - 1)) === 0 ? n : 512;
}

async function createDevice({ req, host }: MgmtRequest): Promise<number> {
  const kv = new Map(parsePayload(req.payload).pairs);
  const target = host.targets.get(req.tid);
  if (target === undefined) return TGTADM_NO_TARGET;
  const lun = lunOf(req.lun);
  if (lun === null) return TGTADM_INVALID_REQUEST;
  if (target.luns.has(lun)) return TGTADM_LUN_EXIST;
  if (req.deviceType !== TYPE_DISK) return TGTADM_UNSUPPORTED_OPERATION;
  const oflags = parseOflags(kv.get('bsoflags'));
  if (oflags === null) return TGTADM_INVALID_REQUEST;
  const path = kv.get('path') ?? '';
  const bstype = kv.get('bstype') ?? null;
  if (path === '' && (bstype === null || bstype === 'rdwr')) {
    // tgt creates a disk without -b as an empty removable drive that is offline (no medium):
    // sbc.c leaves it with no backing file, so it prints "Backing store path: None".
    const bsName = bstype ?? 'rdwr';
    if (!host.bstores().some((b) => b.name === bsName && b.state === 'ready')) return TGTADM_INVALID_REQUEST;
    host.acquire('bs', bsName);
    target.addLun(noMediumLogicalUnit(target.tid, lun, bsName, oflags, parseBlockSize(kv.get('blocksize'))));
    return TGTADM_SUCCESS;
  }
  const lu = await host.createLogicalUnit(target, {
    lun,
    bstype,
    path,
    bsopts: kv.get('bsopts') ?? '',
    oflags,
    blockSize: parseBlockSize(kv.get('blocksize')),
  });
  // The device was opened asynchronously: the LUN may have been taken meanwhile.
  if (target.luns.has(lun) || host.targets.get(req.tid) !== target) {
    await host.closeLogicalUnit(lu);
    return TGTADM_LUN_EXIST;
  }
  host.acquire('bs', lu.bsName);
  target.addLun(lu);
  return TGTADM_SUCCESS;
}
