// tgtadm's option tables: long options, short option string, mode/op/device-type names (tgt usr/tgtadm.c; tgt-compat.md A3, §1.3).
import type { LongOption } from './getopt.js';
import * as ipc from '../mgmt/ipc.js';

/** Short options; note F: and O: take an argument although --force and --outgoing do not. */
export const SHORT_OPTIONS = 'dhVL:o:m:t:s:c:l:n:v:b:E:f:y:T:I:Q:u:p:H:F:P:B:Y:O:C:S:';

/** In tgtadm's table order, which is the order glibc lists ambiguous candidates in. */
export const LONG_OPTIONS: readonly LongOption[] = [
  ['debug', false, 'd'], ['help', false, 'h'], ['version', false, 'V'], ['lld', true, 'L'],
  ['op', true, 'o'], ['mode', true, 'm'], ['tid', true, 't'], ['sid', true, 's'], ['cid', true, 'c'],
  ['lun', true, 'l'], ['name', true, 'n'], ['value', true, 'v'], ['backing-store', true, 'b'],
  ['bstype', true, 'E'], ['bsopts', true, 'S'], ['bsoflags', true, 'f'], ['blocksize', true, 'y'],
  ['targetname', true, 'T'], ['initiator-address', true, 'I'], ['initiator-name', true, 'Q'],
  ['user', true, 'u'], ['password', true, 'p'], ['host', true, 'H'], ['force', false, 'F'],
  ['params', true, 'P'], ['bus', true, 'B'], ['device-type', true, 'Y'], ['outgoing', false, 'O'],
  ['control-port', true, 'C'],
].map(([name, hasArg, val]) => ({ name: name as string, hasArg: hasArg as boolean, val: val as string }));

export const MODE_NAMES: Readonly<Record<string, number>> = {
  system: ipc.MODE_SYSTEM, sys: ipc.MODE_SYSTEM,
  target: ipc.MODE_TARGET, tgt: ipc.MODE_TARGET,
  logicalunit: ipc.MODE_DEVICE, lu: ipc.MODE_DEVICE,
  portal: ipc.MODE_PORTAL, pt: ipc.MODE_PORTAL,
  session: ipc.MODE_SESSION, sess: ipc.MODE_SESSION,
  connection: ipc.MODE_CONNECTION, conn: ipc.MODE_CONNECTION,
  account: ipc.MODE_ACCOUNT,
  lld: ipc.MODE_LLD,
};

/**
 * stgt's ops after tgt's OP_STOP = 8 (the same numbers as mgmt/handlers.ts, which the client does
 * not import: it would pull the daemon's handlers into tgtadm). Stock tgtadm rejects these names
 * with "unknown operation".
 */
export const OP_LLDLOAD = 9;
export const OP_LLDUNLOAD = 10;
export const OP_BSLOAD = 11;
export const OP_BSUNLOAD = 12;

export const OP_NAMES: Readonly<Record<string, number>> = {
  new: ipc.OP_NEW, delete: ipc.OP_DELETE, bind: ipc.OP_BIND, unbind: ipc.OP_UNBIND, show: ipc.OP_SHOW,
  update: ipc.OP_UPDATE, stat: ipc.OP_STATS, start: ipc.OP_START, stop: ipc.OP_STOP,
  lldload: OP_LLDLOAD, lldunload: OP_LLDUNLOAD, bsload: OP_BSLOAD, bsunload: OP_BSUNLOAD,
};

/** tgtadm_req.lld is char[64] and tgtd forces lld[63] = 0: longer names (module paths) would be cut. */
export const LLD_NAME_MAX = 63;

/** SCSI peripheral device types (SPC-4 table 49) sent in tgtadm_req.device_type. */
export const TYPE_DISK = 0x00;
export const TYPE_TAPE = 0x01;
export const TYPE_MMC = 0x05;
export const TYPE_MEDIUM_CHANGER = 0x08;
export const TYPE_OSD = 0x11;
export const TYPE_PT = 0xff;

export const DEVICE_TYPE_NAMES: Readonly<Record<string, number>> = {
  disk: TYPE_DISK, tape: TYPE_TAPE, cd: TYPE_MMC, changer: TYPE_MEDIUM_CHANGER,
  osd: TYPE_OSD, ssc: TYPE_TAPE, pt: TYPE_PT,
};

/** Own-object lookup (so "constructor" or "__proto__" are not names). */
export function lookup(table: Readonly<Record<string, number>>, key: string): number | undefined {
  return Object.prototype.hasOwnProperty.call(table, key) ? table[key] : undefined;
}
