// SBC-4 5.x device commands: READ CAPACITY(10/16), SYNCHRONIZE CACHE, PRE-FETCH, FORMAT UNIT, READ DEFECT DATA.
import { parseCache10, parseCache16, parseFormatUnit, parseReadCapacity10, parseReadCapacity16, parseReadDefectData10, parseReadDefectData12 } from './cdb-fields.js';
import { Op, OpFlag, ServiceAction } from './opcodes.js';
import type { OpRow } from './command-table.js';
import { Access } from './persistent-reservations.js';
import { Reason } from './sense.js';
import type { Cmd } from './command.js';
import { checkRange, checkWritable } from './sbc-io.js';

function readCapacity10(c: Cmd): void {
  const lu = c.lu!;
  c.task.transferLength = 8;
  // SBC-4 5.16: LOGICAL BLOCK ADDRESS must be zero unless PMI (obsolete) is set.
  if (!c.p.pf && c.p.lba !== 0) return c.fail(Reason.InvalidFieldInCdb);
  // 0..3 RETURNED LOGICAL BLOCK ADDRESS (FFFFFFFFh: use READ CAPACITY(16)), 4..7 BLOCK LENGTH IN BYTES
  const b = Buffer.alloc(8);
  const last = lu.blocks - 1;
  b.writeUInt32BE(last > 0xfffffffe ? 0xffffffff : Math.max(last, 0), 0);
  b.writeUInt32BE(lu.blockSize, 4);
  c.dataIn(b, 8);
}

function readCapacity16(c: Cmd): void {
  const lu = c.lu!;
  // SBC-4 5.17: 0..7 RETURNED LBA, 8..11 BLOCK LENGTH, 12 P_TYPE|PROT_EN, 13 P_I_EXPONENT|LBPPBE,
  // 14 LBPME(7) LBPRZ(6) LOWEST ALIGNED LBA(13:8), 15 LOWEST ALIGNED LBA(7:0)
  if (!c.p.pf && c.p.lba !== 0) {
    c.task.transferLength = c.p.allocLen;
    return c.fail(Reason.InvalidFieldInCdb);
  }
  const b = Buffer.alloc(32);
  const last = Math.max(lu.blocks - 1, 0);
  b.writeUInt32BE(Math.floor(last / 0x100000000), 0);
  b.writeUInt32BE(last >>> 0, 4);
  b.writeUInt32BE(lu.blockSize, 8);
  b[13] = lu.lbppbe & 0x0f;
  b[14] = (lu.thin ? 0xc0 : 0) | ((lu.laLba >> 8) & 0x3f);
  b[15] = lu.laLba & 0xff;
  c.dataIn(b, c.p.allocLen);
}

function syncCache(c: Cmd): void {
  const lu = c.lu!;
  c.task.transferLength = 0;
  // SBC-4 5.26: NUMBER OF LOGICAL BLOCKS 0 means "to the end of the medium".
  if (!checkRange(c, lu, c.p.lba, c.p.blocks)) return;
  lu.dev.flush(c.onFlushDone);
}

function preFetch(c: Cmd): void {
  const lu = c.lu!;
  c.task.transferLength = 0;
  if (!checkRange(c, lu, c.p.lba, c.p.blocks)) return;
  // SBC-4 5.10: nothing is cached above the backing store; GOOD says "no cache room guaranteed".
  c.good();
}

function formatUnit(c: Cmd): void {
  const lu = c.lu!;
  c.task.transferLength = c.p.fmtData ? c.task.dataOutLength : 0;
  // Protection information cannot be enabled (FMTPINFO must be 0).
  if (c.p.protect !== 0) return c.fail(Reason.InvalidFieldInCdb);
  if (!checkWritable(c, lu)) return;
  // SBC-4 5.3: a virtual medium needs no formatting; the parameter header, if any, is accepted.
  c.good();
}

/**
 * SBC-4 5.20 / 5.21 READ DEFECT DATA(10/12): a virtual medium has no defects, so the answer is a
 * header with an empty list, echoing REQ_PLIST, REQ_GLIST and the requested DEFECT LIST FORMAT.
 */
function readDefectData(c: Cmd): void {
  const p = c.p;
  c.task.transferLength = p.allocLen;
  if (p.opcode === Op.ReadDefectData10) {
    // 0 reserved, 1 REQ_PLIST|REQ_GLIST|DEFECT LIST FORMAT, 2..3 DEFECT LIST LENGTH (0)
    const b = Buffer.alloc(4);
    b[1] = p.defectFlags;
    return c.dataIn(b, p.allocLen);
  }
  // 0 reserved, 1 REQ_PLIST|REQ_GLIST|DEFECT LIST FORMAT, 2..3 GENERATION CODE (0: not
  // supported), 4..7 DEFECT LIST LENGTH (0)
  const b = Buffer.alloc(8);
  b[1] = p.defectFlags;
  c.dataIn(b, p.allocLen);
}

const M = OpFlag.NeedsMedium;

/** SBC-4 device commands. */
export const SBC_DEVICE_ROWS: readonly OpRow[] = [
  { op: Op.FormatUnit, name: 'FORMAT UNIT', usage: '04 ff 00 00 00 07', parse: parseFormatUnit, exec: formatUnit, access: Access.Write, flags: M },
  { op: Op.ReadCapacity10, name: 'READ CAPACITY(10)', usage: '25 00 ff ff ff ff 00 00 01 07', parse: parseReadCapacity10, exec: readCapacity10, access: Access.Always, flags: M },
  { op: Op.PreFetch10, name: 'PRE-FETCH(10)', usage: '34 02 ff ff ff ff 1f ff ff 07', parse: parseCache10, exec: preFetch, access: Access.Read, flags: M },
  { op: Op.SyncCache10, name: 'SYNCHRONIZE CACHE(10)', usage: '35 06 ff ff ff ff 1f ff ff 07', parse: parseCache10, exec: syncCache, access: Access.Write, flags: M },
  { op: Op.ReadDefectData10, name: 'READ DEFECT DATA(10)', usage: '37 00 1f 00 00 00 00 ff ff 07', parse: parseReadDefectData10, exec: readDefectData, access: Access.Read, flags: 0 },
  { op: Op.PreFetch16, name: 'PRE-FETCH(16)', usage: '90 02 ff ff ff ff ff ff ff ff ff ff ff ff 1f 07', parse: parseCache16, exec: preFetch, access: Access.Read, flags: M },
  { op: Op.SyncCache16, name: 'SYNCHRONIZE CACHE(16)', usage: '91 06 ff ff ff ff ff ff ff ff ff ff ff ff 1f 07', parse: parseCache16, exec: syncCache, access: Access.Write, flags: M },
  // SPC-4 Table 63: READ CAPACITY(16) is allowed under every reservation
  { op: Op.ServiceActionIn16, sa: ServiceAction.ReadCapacity16, name: 'READ CAPACITY(16)', usage: '9e 10 ff ff ff ff ff ff ff ff ff ff ff ff 00 07', parse: parseReadCapacity16, exec: readCapacity16, access: Access.Always, flags: M },
  { op: Op.ReadDefectData12, name: 'READ DEFECT DATA(12)', usage: 'b7 1f ff ff ff ff ff ff ff ff 00 07', parse: parseReadDefectData12, exec: readDefectData, access: Access.Read, flags: 0 },
];
