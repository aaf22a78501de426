// `--mode logicalunit`: new, delete, update, stat (tgt target.c tgt_device_create/destroy/update).

import { LUN_UNSET, OP_DELETE, OP_NEW, OP_STATS, OP_UPDATE, parsePayload } from './ipc.js';
import {
  TGTADM_INVALID_REQUEST, TGTADM_LUN_ACTIVE, TGTADM_LUN_EXIST, TGTADM_NO_LUN, TGTADM_NO_TARGET,
  TGTADM_SUCCESS, TGTADM_UNKNOWN_PARAM, TGTADM_UNSUPPORTED_OPERATION,
} from './errors.js';
import type { LuResult } from './host.js';
import { statHeader, statLu } from './stat.js';
import { fail, ok, type MgmtReply, type MgmtRequest } from './reply.js';

/** SCSI peripheral device types tgtadm sends in device_type (SPC-4 table 49) -> the types stgt emulates. */
const DEVICE_TYPES: ReadonlyMap<number, string> = new Map([
  [0x00, 'disk'],
  [0x01, 'tape'],
  [0x05, 'cd/dvd'],
  [0x08, 'changer'],
  [0xff, 'passthrough'], // tgt's TYPE_PT, tgtadm's `--device-type pt`
]);

export async function deviceMgmt(m: MgmtRequest): Promise<MgmtReply> {
  const { req, host } = m;
  const target = host.targets.get(req.tid);
  switch (req.op) {
    case OP_NEW:
      return fail(await createDevice(m));
    case OP_DELETE: {
      // tgt looks the LU up through its target and reports a missing target as a missing LU.
      const lun = lunOf(req.lun);
      if (lun === 0 && target !== undefined) return fail(TGTADM_INVALID_REQUEST); // LUN 0 goes only with its target
      if (lun === null) return fail(TGTADM_NO_LUN);
      return fail(luResultCode(await host.deleteLogicalUnit(req.tid, lun)));
    }
    case OP_UPDATE: {
      if (target === undefined) return fail(TGTADM_NO_TARGET);
      const lun = lunOf(req.lun);
      const lu = lun === null ? undefined : target.luns.get(lun);
      if (lu === undefined || lun === null) return fail(TGTADM_NO_LUN);
      const parsed = parsePayload(req.payload);
      const pairs = parsed.opsKind !== null ? [...parsed.pairs, ...parsed.ops] : parsed.pairs;
      // tgt answers any rejected parameter with "invalid request" (spc.c lu_config returns
      // TGTADM_INVALID_REQUEST), except a changer's: smc.c's own parser answers a key nobody knows
      // with "unknown parameter". Pairs apply in order, as tgt's loop does: `online=0,path=/new.iso`
      // ejects and then loads.
      for (let i = 0; i < pairs.length; i++) {
        const [k, v] = pairs[i]!;
        if (k.trim() === 'path') {
          if (luResultCode(await host.changeMedium(req.tid, lun, v)) !== TGTADM_SUCCESS) return fail(TGTADM_INVALID_REQUEST);
          continue;
        }
        // A changer takes its element parameters (element_type=..., address=...) as one group.
        const configure = host.configureChanger?.(req.tid, lun, pairs.slice(i));
        if (configure !== undefined && configure !== null) {
          return fail(configure === 'ok' ? TGTADM_SUCCESS : configure === 'unknown-param' ? TGTADM_UNKNOWN_PARAM : TGTADM_INVALID_REQUEST);
        }
        if (lu.updateParams([[k, v]]) !== 'ok') return fail(TGTADM_INVALID_REQUEST);
      }
      return fail(TGTADM_SUCCESS);
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

/**
 * --blocksize must be a power of two from 512 to 1 MiB; tgt ignores a bad one (target.c
 * tgt_device_create leaves blk_shift 0): null, and the device type picks its own.
 */
function parseBlockSize(s: string | undefined): number | null {
  if (s === undefined) return null;
  const n = /^(0x[0-9a-f]+|[0-9]+)$/i.test(s) ? Number(s) : NaN; // strtoul(s, 0) forms
  return Number.isInteger(n) && n >= 512 && n <= 1 << 20 && (n & (n - 1)) === 0 ? n : null;
}

async function createDevice({ req, host }: MgmtRequest): Promise<number> {
  const kv = new Map(parsePayload(req.payload).pairs);
  const target = host.targets.get(req.tid);
  if (target === undefined) return TGTADM_NO_TARGET;
  const lun = lunOf(req.lun);
  if (lun === null) return TGTADM_INVALID_REQUEST;
  if (target.luns.has(lun)) return TGTADM_LUN_EXIST;
  const deviceType = DEVICE_TYPES.get(req.deviceType);
  if (deviceType === undefined) return TGTADM_UNSUPPORTED_OPERATION;
  const oflags = parseOflags(kv.get('bsoflags'));
  if (oflags === null) return TGTADM_INVALID_REQUEST;
  return luResultCode(
    await host.addLogicalUnit(req.tid, {
      lun,
      deviceType,
      bstype: kv.get('bstype') ?? null,
      path: kv.get('path') ?? '',
      bsopts: kv.get('bsopts') ?? '',
      oflags,
      blockSize: parseBlockSize(kv.get('blocksize')),
    }),
  );
}

/** The daemon's answer about a LU as tgtadm's code. */
function luResultCode(r: LuResult): number {
  switch (r) {
    case 'ok':
      return TGTADM_SUCCESS;
    case 'no-target':
      // tgt looks a LU up through its target: a missing target is a missing LU (delete; `new`
      // answered "can't find the target" above, and a target gone while the device opened is 'exists').
      return TGTADM_NO_LUN;
    case 'no-lun':
      return TGTADM_NO_LUN;
    case 'exists':
      return TGTADM_LUN_EXIST;
    case 'active':
      return TGTADM_LUN_ACTIVE;
    case 'invalid':
      return TGTADM_INVALID_REQUEST;
  }
}
