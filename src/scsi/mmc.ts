// MMC-6 commands of the cd/dvd device type (tgt's usr/mmc.c): the rows and their handlers over MmcMedium.
//
// The medium is the LU's backing file: an ISO is a DVD-ROM, an empty file a blank DVD+R that
// WRITE fills and CLOSE TRACK/SESSION finalizes. "Medium present" is the LU's online state, as in
// tgt: `--params online=0` ejects, START STOP UNIT with LOEJ ejects and loads, a new path loads.
import { parseGetConfiguration, parseGetEventStatus, parseMechanismStatus, parseNoFields, parseReadBufferCapacity, parseReadCapacity10, parseReadDiscInformation, parseReadToc, parseReadTrackInformation, parseReserveTrack, parseStartStopUnit } from './cdb-fields.js';
import type { OpRow } from './command-table.js';
import type { Cmd } from './command.js';
import { DeviceState } from './device-type.js';
import type { LogicalUnit } from './logical-unit.js';
import { MMC_BLOCK_SIZE, MmcMedium, type MmcResult } from './mmc-media.js';
import { Op, OpFlag } from './opcodes.js';
import { Access } from './persistent-reservations.js';
import { SBC_DEVICE_ROWS } from './sbc-device.js';
import { SBC_IO_ROWS } from './sbc-io.js';
import { SBC_MEDIUM_ROWS } from './sbc-medium.js';
import { Reason } from './sense.js';

/** MMC-6 operation codes beyond SPC/SBC's. */
export const MmcOp = {
  ReadToc: 0x43,
  GetConfiguration: 0x46,
  GetEventStatusNotification: 0x4a,
  ReadDiscInformation: 0x51,
  ReadTrackInformation: 0x52,
  ReserveTrack: 0x53,
  CloseTrackSession: 0x5b,
  ReadBufferCapacity: 0x5c,
  SetCdSpeed: 0xbb,
  MechanismStatus: 0xbd,
} as const;

const MEDIUM = new DeviceState('mmc medium', () => new MmcMedium());

/**
 * The LU's medium, brought in line with the LU first: tgtadm can take the medium away
 * (`online=0`) or give one (`online=1`, a new `path=`) between two commands.
 */
export function mmcMedium(lu: LogicalUnit): MmcMedium {
  const m = lu.state(MEDIUM);
  const has = lu.online && lu.path !== null;
  if (has && !m.present) m.insert(lu.size);
  else if (!has && m.present) m.remove(false);
  return m;
}

/**
 * Makes a new LU a DVD drive: removable, the MMC mode pages tgt sets (mmc.c mmc_lu_init: MM
 * capabilities 2Ah, write parameters 05h, ...), online when it has a medium.
 */
export function setupCdLu(lu: LogicalUnit): void {
  lu.removable = true;
  lu.online = lu.path !== null;
  for (const page of MMC_MODE_PAGES) lu.modePages.setFromParam(page);
  mmcMedium(lu);
}

/** A new image is in the drive (`--params path=`): a new medium event, profile from its size. */
export function mmcMediumChanged(lu: LogicalUnit): void {
  const m = lu.state(MEDIUM);
  if (lu.online && lu.path !== null) m.insert(lu.size);
  else m.remove(false);
}

/** tgt's default MMC mode pages as `mode_page=` strings (the byte values are tgt's). */
const MMC_MODE_PAGES = [
  '1:0:10:0:8:0:0:0:0:8:0:0:0', // Read/Write Error Recovery
  '3:0:6:0:0:0:0:0:0', // MRW
  '0x05:0:0x32:0x62:5:8:0x10:0:0:0:0:0:0:0:0x10:0:0x96:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0', // Write Parameters
  '0x1a:0:10:8:0:0:0:0:0:0:0:0:0', // Power Condition
  '0x1d:0:10:0:0:7:0:0:2:0:2:0:20', // Timeout & Protect
  // MM Capabilities and Mechanical Status
  '0x2a:0:0x3e:0x3f:0x37:0xf3:0xf3:0x29:0x23:0x10:0x8a:0x01:0x00:0x08:0x00:0x10:0x8a:0x00:0x00:0x10:0x8a:0x10:0x8a:0x00:' +
    '0x01:0x00:0x00:0x00:0x00:0x10:0x8a:0x00:0x05:0x00:0x00:0x10:0x8a:0x00:0x00:0x0b:0x06:0x00:0x00:0x08:0x45:0x00:0x00:0x05:' +
    '0x83:0x00:0x00:0x02:0xc2:0x00:0x00:0x00:0x00:0x00:0x00:0x00:0x00:0x00:0x00:0x00:0x00',
];

/** Completes with the parameter data or the reason. */
function answer(c: Cmd, r: MmcResult): void {
  if (Buffer.isBuffer(r)) c.dataIn(r, c.p.allocLen);
  else c.fail(r);
}

function readCapacity(c: Cmd): void {
  c.task.transferLength = 8;
  const r = mmcMedium(c.lu!).readCapacity();
  if (Buffer.isBuffer(r)) c.dataIn(r, 8);
  else c.fail(r);
}

function readToc(c: Cmd): void {
  c.task.transferLength = c.p.allocLen;
  answer(c, mmcMedium(c.lu!).readToc(c.p.msf, c.p.format, c.p.address));
}

function getConfiguration(c: Cmd): void {
  c.task.transferLength = c.p.allocLen;
  const lu = c.lu!;
  answer(c, mmcMedium(lu).getConfiguration(c.p.format, c.p.address, Buffer.from(lu.scsiSn.slice(0, 8), 'latin1')));
}

function readDiscInformation(c: Cmd): void {
  c.task.transferLength = c.p.allocLen;
  if (c.p.format !== 0) return c.fail(Reason.InvalidFieldInCdb); // only standard disc information
  answer(c, mmcMedium(c.lu!).discInformation());
}

function readTrackInformation(c: Cmd): void {
  c.task.transferLength = c.p.allocLen;
  answer(c, mmcMedium(c.lu!).trackInformation(c.p.format, c.p.address));
}

function getEventStatus(c: Cmd): void {
  c.task.transferLength = c.p.allocLen;
  answer(c, mmcMedium(c.lu!).eventStatus(c.p.msf, c.p.format));
}

function mechanismStatus(c: Cmd): void {
  c.task.transferLength = c.p.allocLen;
  c.dataIn(mmcMedium(c.lu!).mechanismStatus(), c.p.allocLen);
}

function readBufferCapacity(c: Cmd): void {
  c.task.transferLength = c.p.allocLen;
  answer(c, mmcMedium(c.lu!).bufferCapacity(c.p.msf));
}

function reserveTrack(c: Cmd): void {
  c.task.transferLength = 0;
  const m = mmcMedium(c.lu!);
  const np = m.notPresent();
  if (np) return c.fail(np);
  m.reservedBlocks = c.p.address;
  c.good();
}

function closeTrack(c: Cmd): void {
  c.task.transferLength = 0;
  const why = mmcMedium(c.lu!).close();
  if (why) c.fail(why);
  else c.good();
}

function accepted(c: Cmd): void {
  c.task.transferLength = 0;
  c.good();
}

/**
 * START STOP UNIT (MMC-6 6.39): LOEJ with START=0 opens the tray (refused while PREVENT is in
 * force), with START=1 closes it and loads the LU's image again; without LOEJ it only spins.
 */
function startStopUnit(c: Cmd): void {
  const lu = c.lu!;
  const p = c.p;
  c.task.transferLength = 0;
  if (p.powerCondition !== 0 || !p.loej) return c.good();
  const m = mmcMedium(lu);
  if (!p.start && lu.preventRemoval) return c.fail(Reason.MediumRemovalPrevented);
  const why = m.loadEject(p.start, () => (lu.path !== null ? lu.size : null));
  if (why) return c.fail(why);
  lu.online = m.present;
  c.good();
}

const sbc = (rows: readonly OpRow[], op: number): OpRow => rows.find((r) => r.op === op)!;
const SBC_WRITE10 = sbc(SBC_IO_ROWS, Op.Write10);
const SBC_WRITE12 = sbc(SBC_IO_ROWS, Op.Write12);

/** WRITE(10/12) of a DVD+R: the image grows to the end of the write (tgt: "update the size of the device"). */
function write(c: Cmd): void {
  const lu = c.lu!;
  const m = mmcMedium(lu);
  const why = m.checkIo(true);
  if (why) {
    c.task.transferLength = c.p.blocks * MMC_BLOCK_SIZE;
    return c.fail(why);
  }
  const end = c.p.lba + c.p.blocks;
  if (end * lu.blockSize > lu.size) lu.size = end * lu.blockSize;
  m.wrote(end);
  (c.p.opcode === Op.Write10 ? SBC_WRITE10 : SBC_WRITE12).exec(c);
}

const M = OpFlag.NeedsMedium;

/** The cd/dvd type's own rows; device-types.ts adds the SPC and SBC rows it shares. */
export const MMC_ROWS: readonly OpRow[] = [
  { op: Op.StartStopUnit, name: 'START STOP UNIT', usage: '1b 01 00 0f f7 07', parse: parseStartStopUnit, exec: startStopUnit, access: (p) => (p.start && p.powerCondition === 0 ? Access.Always : Access.Write), flags: 0 },
  sbc(SBC_MEDIUM_ROWS, Op.PreventAllow),
  { op: Op.ReadCapacity10, name: 'READ CAPACITY', usage: '25 00 00 00 00 00 00 00 00 07', parse: parseReadCapacity10, exec: readCapacity, access: Access.Always, flags: 0 },
  sbc(SBC_IO_ROWS, Op.Read10),
  sbc(SBC_IO_ROWS, Op.Read12),
  { ...SBC_WRITE10, exec: write, flags: M },
  { ...SBC_WRITE12, exec: write, flags: M },
  sbc(SBC_DEVICE_ROWS, Op.SyncCache10),
  { op: MmcOp.ReadToc, name: 'READ TOC/PMA/ATIP', usage: '43 02 0f 00 00 00 ff ff ff 07', parse: parseReadToc, exec: readToc, access: Access.Read, flags: 0 },
  { op: MmcOp.GetConfiguration, name: 'GET CONFIGURATION', usage: '46 03 ff ff 00 00 00 ff ff 07', parse: parseGetConfiguration, exec: getConfiguration, access: Access.Always, flags: OpFlag.UaExempt },
  { op: MmcOp.GetEventStatusNotification, name: 'GET EVENT STATUS NOTIFICATION', usage: '4a 01 00 00 ff 00 00 ff ff 07', parse: parseGetEventStatus, exec: getEventStatus, access: Access.Always, flags: OpFlag.UaExempt },
  { op: MmcOp.ReadDiscInformation, name: 'READ DISC INFORMATION', usage: '51 07 00 00 00 00 00 ff ff 07', parse: parseReadDiscInformation, exec: readDiscInformation, access: Access.Read, flags: 0 },
  { op: MmcOp.ReadTrackInformation, name: 'READ TRACK INFORMATION', usage: '52 03 ff ff ff ff 00 ff ff 07', parse: parseReadTrackInformation, exec: readTrackInformation, access: Access.Read, flags: 0 },
  { op: MmcOp.ReserveTrack, name: 'RESERVE TRACK', usage: '53 00 00 00 00 ff ff ff ff 07', parse: parseReserveTrack, exec: reserveTrack, access: Access.Write, flags: 0 },
  { op: MmcOp.CloseTrackSession, name: 'CLOSE TRACK/SESSION', usage: '5b 01 07 00 ff ff 00 00 00 07', parse: parseNoFields, exec: closeTrack, access: Access.Write, flags: 0 },
  { op: MmcOp.ReadBufferCapacity, name: 'READ BUFFER CAPACITY', usage: '5c 01 00 00 00 00 00 ff ff 07', parse: parseReadBufferCapacity, exec: readBufferCapacity, access: Access.Read, flags: 0 },
  { op: MmcOp.SetCdSpeed, name: 'SET CD SPEED', usage: 'bb 03 ff ff ff ff 00 00 00 00 00 07', parse: parseNoFields, exec: accepted, access: Access.Always, flags: 0 },
  { op: MmcOp.MechanismStatus, name: 'MECHANISM STATUS', usage: 'bd 00 00 00 00 00 00 00 ff ff 00 07', parse: parseMechanismStatus, exec: mechanismStatus, access: Access.Always, flags: 0 },
];
