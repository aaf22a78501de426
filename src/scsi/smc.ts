// SMC-3 commands of the changer device type (tgt's usr/smc.c): rows and handlers over MediaChanger, with
// tape drive LUs (found through the daemon's DeviceEnv) as its data transfer elements: a virtual tape library.
import { parseMoveMedium, parseNoFields, parseReadElementStatus } from './cdb-fields.js';
import type { DeviceEnv, OpRow } from './command-table.js';
import type { Cmd } from './command.js';
import { DeviceState } from './device-type.js';
import type { LogicalUnit, LuParamResult } from './logical-unit.js';
import { Op } from './opcodes.js';
import { Access } from './persistent-reservations.js';
import { SBC_MEDIUM_ROWS } from './sbc-medium.js';
import { Reason } from './sense.js';
import { MediaChanger, type DriveHooks } from './smc-library.js';

/** SMC-3 operation codes. */
export const SmcOp = {
  InitializeElementStatus: 0x07,
  InitializeElementStatusWithRange: 0x37,
  MoveMedium: 0xa5,
  ReadElementStatus: 0xb8,
} as const;

interface Changer {
  library: MediaChanger;
  hooks: DriveHooks | null;
}

const CHANGER = new DeviceState<Changer>('media changer', () => ({ library: new MediaChanger(), hooks: null }));

/** tgt's default SMC mode pages (smc.c smc_lu_init) besides Element Address Assignment, which follows the elements. */
const SMC_MODE_PAGES = [
  '0x1a:0:10:8:0:0:0:0:0:0:0:0:0', // Power Condition
  '0x1e:0:2:0:0', // Transport Geometry Parameters
  '0x1f:0:0x12:15:7:15:15:15:15:0:0:0:0:15:15:15:15:0:0:0:0', // Device Capabilities
];

/** The drives behind data transfer elements are LUs the daemon knows. */
function driveHooks(env: DeviceEnv, tidOf: number): DriveHooks {
  return {
    removable: (tid, lun) => {
      const lu = env.findLu(tid || tidOf, lun);
      return lu === undefined || !lu.removable || lu.preventRemoval ? Reason.MediumRemovalPrevented : null;
    },
    loadUnload: async (tid, lun, path) => ((await env.changeMedium(tid || tidOf, lun, path)) ? null : Reason.MediumNotPresent),
    identity: (tid, lun) => {
      const lu = env.findLu(tid || tidOf, lun);
      return lu ? { peripheralType: lu.peripheralType, vendor: lu.vendorId, product: lu.productId, serial: lu.scsiSn } : null;
    },
  };
}

function refreshAddressPage(lu: LogicalUnit, m: MediaChanger): void {
  lu.modePages.setFromParam(`0x1d:0:18:${[...m.addressAssignment()].join(':')}`);
}

/** A new changer LU: online, removable as tgt's, its mode pages; elements come with `--params`. */
export function setupChangerLu(lu: LogicalUnit, env: DeviceEnv): void {
  lu.removable = true;
  lu.online = true;
  const ch = lu.state(CHANGER);
  ch.hooks = driveHooks(env, lu.tid);
  for (const page of SMC_MODE_PAGES) lu.modePages.setFromParam(page);
  refreshAddressPage(lu, ch.library);
}

/**
 * tgtadm `--op update --params` of a changer (tgt smc.c smc_lu_config): element parameters for
 * the library, the LU's own (vendor_id, ...) passed on to it.
 */
export function configureChanger(lu: LogicalUnit, pairs: readonly [string, string][]): LuParamResult {
  const ch = lu.state(CHANGER);
  const text = pairs.map(([k, v]) => `${k.trim()}=${v}`).join(',');
  const r = ch.library.configure(text, (tok) => {
    const eq = tok.indexOf('=');
    return lu.updateParams([[tok.slice(0, eq < 0 ? tok.length : eq), eq < 0 ? '' : tok.slice(eq + 1)]]);
  });
  refreshAddressPage(lu, ch.library);
  return r;
}

function readElementStatus(c: Cmd): void {
  const p = c.p;
  c.task.transferLength = p.allocLen;
  const ch = c.lu!.state(CHANGER);
  if (ch.hooks === null) return c.fail(Reason.InternalTargetFailure);
  const r = ch.library.readElementStatus(p.format, p.lba, p.blocks, p.sili, p.fixed, ch.hooks);
  if (Buffer.isBuffer(r)) c.dataIn(r, p.allocLen);
  else c.fail(r);
}

function moveMedium(c: Cmd): void {
  c.task.transferLength = 0;
  const ch = c.lu!.state(CHANGER);
  const hooks = ch.hooks;
  if (hooks === null) return c.fail(Reason.InternalTargetFailure);
  ch.library.move(c.p.lba, c.p.address, c.p.msf, hooks).then(
    (why) => (why ? c.fail(why) : c.good()),
    (e: unknown) => c.internalError(e),
  );
}

/** INITIALIZE ELEMENT STATUS (WITH RANGE): the inventory is always known; accepted. */
function initializeElementStatus(c: Cmd): void {
  c.task.transferLength = 0;
  c.good();
}

/** The changer type's own rows; device-types.ts adds the SPC rows it shares. */
export const SMC_ROWS: readonly OpRow[] = [
  { op: SmcOp.InitializeElementStatus, name: 'INITIALIZE ELEMENT STATUS', usage: '07 00 00 00 00 07', parse: parseNoFields, exec: initializeElementStatus, access: Access.Write, flags: 0 },
  SBC_MEDIUM_ROWS.find((r) => r.op === Op.PreventAllow)!,
  { op: SmcOp.InitializeElementStatusWithRange, name: 'INITIALIZE ELEMENT STATUS WITH RANGE', usage: '37 01 ff ff 00 00 ff ff 00 07', parse: parseNoFields, exec: initializeElementStatus, access: Access.Write, flags: 0 },
  { op: SmcOp.MoveMedium, name: 'MOVE MEDIUM', usage: 'a5 00 ff ff ff ff ff ff 00 00 01 07', parse: parseMoveMedium, exec: moveMedium, access: Access.Write, flags: 0 },
  { op: SmcOp.ReadElementStatus, name: 'READ ELEMENT STATUS', usage: 'b8 1f ff ff ff ff 03 ff ff ff 00 07', parse: parseReadElementStatus, exec: readElementStatus, access: Access.Read, flags: 0 },
];
