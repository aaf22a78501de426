// SBC-4 5.x / SPC-4 6.x CDB parsing: pure decoding of the fields the engine uses into a reusable record.
import { Op, ServiceAction, lookupOp } from './opcodes.js';
import type { OpInfo } from './opcodes.js';
import { Reason } from './sense.js';
import type { SenseReason } from './sense.js';

/** Decoded CDB. One instance lives in each pooled command record and is overwritten per command. */
export class ParsedCdb {
  opcode = 0;
  /** Service action (byte 1 bits 4:0) for opcodes that have one, else 0. */
  sa = 0;
  info: OpInfo | undefined = undefined;
  /** LOGICAL BLOCK ADDRESS (exact below 2^53, which covers any addressable medium). */
  lba = 0;
  /** TRANSFER LENGTH / NUMBER OF LOGICAL BLOCKS / VERIFICATION LENGTH / PREFETCH LENGTH, in blocks. */
  blocks = 0;
  /** ALLOCATION LENGTH (data-in commands). */
  allocLen = 0;
  /** PARAMETER LIST LENGTH (data-out commands). */
  paramLen = 0;
  fua = false;
  dpo = false;
  /** VERIFY / WRITE AND VERIFY BYTCHK (2 bits). */
  bytchk = 0;
  /** WRPROTECT / RDPROTECT / VRPROTECT / ORPROTECT (3 bits, byte 1 bits 7:5). */
  protect = 0;
  unmap = false;
  anchor = false;
  ndob = false;
  immed = false;
  /** INQUIRY EVPD. */
  evpd = false;
  /** INQUIRY / MODE SENSE PAGE CODE. */
  pageCode = 0;
  subpage = 0;
  /** MODE SENSE PC (page control, 2 bits). */
  pc = 0;
  dbd = false;
  llbaa = false;
  /** MODE SELECT PF / SP. */
  pf = false;
  sp = false;
  /** REPORT LUNS SELECT REPORT. */
  selectReport = 0;
  /** RSOC REPORTING OPTIONS (3 bits), RCTD, requested opcode and service action. */
  reportingOptions = 0;
  rctd = false;
  reqOpcode = 0;
  reqSa = 0;
  /** START STOP UNIT START / LOEJ / POWER CONDITION; PREVENT ALLOW PREVENT (2 bits). */
  start = false;
  loej = false;
  powerCondition = 0;
  prevent = 0;
  /** REQUEST SENSE DESC. */
  desc = false;
  /** PR OUT SCOPE and TYPE (byte 2). */
  prScope = 0;
  prType = 0;
  /** FORMAT UNIT FMTDATA; SEND DIAGNOSTIC SELFTEST / SELF-TEST CODE. */
  fmtData = false;
  selfTest = false;
  selfTestCode = 0;
  /** GROUP NUMBER (informational). */
  group = 0;
  /** READ DEFECT DATA REQ_PLIST, REQ_GLIST and DEFECT LIST FORMAT (5 bits). */
  defectFlags = 0;

  reset(): void {
    this.opcode = this.sa = this.lba = this.blocks = this.allocLen = this.paramLen = 0;
    this.info = undefined;
    this.fua = this.dpo = this.unmap = this.anchor = this.ndob = this.immed = false;
    this.evpd = this.dbd = this.llbaa = this.pf = this.sp = this.rctd = false;
    this.start = this.loej = this.desc = this.fmtData = this.selfTest = false;
    this.bytchk = this.protect = this.pageCode = this.subpage = this.pc = this.selectReport = 0;
    this.reportingOptions = this.reqOpcode = this.reqSa = this.powerCondition = this.prevent = 0;
    this.prScope = this.prType = this.selfTestCode = this.group = this.defectFlags = 0;
  }
}

function u64(c: Buffer, off: number): number {
  return c.readUInt32BE(off) * 0x100000000 + c.readUInt32BE(off + 4);
}

/** Byte 1 of READ/WRITE/VERIFY(10/12/16): PROTECT 7:5, DPO 4, FUA 3. */
function rwFlags(c: Buffer, p: ParsedCdb): void {
  p.protect = c[1]! >> 5;
  p.dpo = (c[1]! & 0x10) !== 0;
  p.fua = (c[1]! & 0x08) !== 0;
}

/**
 * Decodes `cdb` into `p`. Returns null on success, else the reason: INVALID COMMAND OPERATION CODE
 * for an unknown opcode or service action, INVALID FIELD IN CDB when the CDB is shorter than its layout.
 */
export function parseCdb(c: Buffer, p: ParsedCdb): SenseReason | null {
  p.reset();
  if (c.length < 6) return Reason.InvalidFieldInCdb;
  const opcode = c[0]!;
  p.opcode = opcode;
  const sa = c[1]! & 0x1f;
  const info = lookupOp(opcode, sa);
  if (!info) {
    // an unknown service action of a known opcode is an invalid field (SPC-4 4.5.1 / RSOC semantics)
    return lookupOp(opcode, -1) === undefined && !isSaOpcode(opcode) ? Reason.InvalidOpcode : saReason(opcode);
  }
  p.info = info;
  if (c.length < info.cdbLen) return Reason.InvalidFieldInCdb;
  if (info.sa >= 0) p.sa = sa;
  switch (opcode) {
    case Op.TestUnitReady:
    case Op.Reserve6:
    case Op.Release6:
    case Op.Reserve10:
    case Op.Release10:
      break;
    case Op.RequestSense:
      // SPC-4 6.39: 1 DESC, 4 ALLOCATION LENGTH
      p.desc = (c[1]! & 0x01) !== 0;
      p.allocLen = c[4]!;
      break;
    case Op.FormatUnit:
      // SBC-4 5.3: 1 FMTPINFO 7:6, LONGLIST 5, FMTDATA 4, CMPLST 3, DEFECT LIST FORMAT 2:0
      p.fmtData = (c[1]! & 0x10) !== 0;
      p.protect = c[1]! >> 6;
      break;
    case Op.Read6:
    case Op.Write6:
      // SBC-4 5.14 / 5.39: 1..3 LBA (21 bits), 4 TRANSFER LENGTH (0 means 256)
      p.lba = ((c[1]! & 0x1f) << 16) | c.readUInt16BE(2);
      p.blocks = c[4] === 0 ? 256 : c[4]!;
      break;
    case Op.Inquiry:
      // SPC-4 6.6: 1 EVPD, 2 PAGE CODE, 3..4 ALLOCATION LENGTH
      p.evpd = (c[1]! & 0x01) !== 0;
      p.pageCode = c[2]!;
      p.allocLen = c.readUInt16BE(3);
      break;
    case Op.ModeSelect6:
      // SPC-4 6.11: 1 PF 4, SP 0; 4 PARAMETER LIST LENGTH
      p.pf = (c[1]! & 0x10) !== 0;
      p.sp = (c[1]! & 0x01) !== 0;
      p.paramLen = c[4]!;
      break;
    case Op.ModeSelect10:
      p.pf = (c[1]! & 0x10) !== 0;
      p.sp = (c[1]! & 0x01) !== 0;
      p.paramLen = c.readUInt16BE(7);
      break;
    case Op.ModeSense6:
      // SPC-4 6.13: 1 DBD 3; 2 PC 7:6, PAGE CODE 5:0; 3 SUBPAGE CODE; 4 ALLOCATION LENGTH
      p.dbd = (c[1]! & 0x08) !== 0;
      p.pc = c[2]! >> 6;
      p.pageCode = c[2]! & 0x3f;
      p.subpage = c[3]!;
      p.allocLen = c[4]!;
      break;
    case Op.ModeSense10:
      // SPC-4 6.14: 1 LLBAA 4, DBD 3; 2 PC/PAGE CODE; 3 SUBPAGE; 7..8 ALLOCATION LENGTH
      p.llbaa = (c[1]! & 0x10) !== 0;
      p.dbd = (c[1]! & 0x08) !== 0;
      p.pc = c[2]! >> 6;
      p.pageCode = c[2]! & 0x3f;
      p.subpage = c[3]!;
      p.allocLen = c.readUInt16BE(7);
      break;
    case Op.StartStopUnit:
      // SBC-4 5.25: 1 IMMED; 3 POWER CONDITION MODIFIER; 4 POWER CONDITION 7:4, LOEJ 1, START 0
      p.immed = (c[1]! & 0x01) !== 0;
      p.powerCondition = c[4]! >> 4;
      p.loej = (c[4]! & 0x02) !== 0;
      p.start = (c[4]! & 0x01) !== 0;
      break;
    case Op.SendDiagnostic:
      // SPC-4 6.42: 1 SELF-TEST CODE 7:5, PF 4, SELFTEST 2; 3..4 PARAMETER LIST LENGTH
      p.selfTestCode = c[1]! >> 5;
      p.pf = (c[1]! & 0x10) !== 0;
      p.selfTest = (c[1]! & 0x04) !== 0;
      p.paramLen = c.readUInt16BE(3);
      break;
    case Op.PreventAllow:
      // SPC-4 6.17 / SBC-4 5.13: 4 PREVENT 1:0
      p.prevent = c[4]! & 0x03;
      break;
    case Op.ReadCapacity10:
      // SBC-4 5.16: 2..5 LBA (obsolete), 8 PMI
      p.lba = c.readUInt32BE(2);
      p.pf = (c[8]! & 0x01) !== 0; // PMI, kept in pf to stay small
      break;
    case Op.Read10:
    case Op.Write10:
    case Op.WriteAndVerify10:
    case Op.Verify10:
      // SBC-4 5.15 etc.: 1 flags (BYTCHK 2:1 for VERIFY/WRITE AND VERIFY), 2..5 LBA, 6 GROUP, 7..8 TRANSFER LENGTH
      rwFlags(c, p);
      p.bytchk = (c[1]! >> 1) & 0x03;
      p.lba = c.readUInt32BE(2);
      p.group = c[6]! & 0x1f;
      p.blocks = c.readUInt16BE(7);
      break;
    case Op.Read12:
    case Op.Write12:
    case Op.WriteAndVerify12:
    case Op.Verify12:
      rwFlags(c, p);
      p.bytchk = (c[1]! >> 1) & 0x03;
      p.lba = c.readUInt32BE(2);
      p.blocks = c.readUInt32BE(6);
      p.group = c[10]! & 0x1f;
      break;
    case Op.Read16:
    case Op.Write16:
    case Op.WriteAndVerify16:
    case Op.Verify16:
    case Op.OrWrite16:
      rwFlags(c, p);
      p.bytchk = (c[1]! >> 1) & 0x03;
      p.lba = u64(c, 2);
      p.blocks = c.readUInt32BE(10);
      p.group = c[14]! & 0x1f;
      break;
    case Op.CompareAndWrite:
      // SBC-4 5.2: 1 WRPROTECT/DPO/FUA, 2..9 LBA, 13 NUMBER OF LOGICAL BLOCKS, 14 GROUP
      rwFlags(c, p);
      p.lba = u64(c, 2);
      p.blocks = c[13]!;
      p.group = c[14]! & 0x1f;
      break;
    case Op.PreFetch10:
    case Op.SyncCache10:
      // SBC-4 5.10 / 5.26: 1 IMMED 1, 2..5 LBA, 7..8 NUMBER OF LOGICAL BLOCKS
      p.immed = (c[1]! & 0x02) !== 0;
      p.lba = c.readUInt32BE(2);
      p.group = c[6]! & 0x1f;
      p.blocks = c.readUInt16BE(7);
      break;
    case Op.PreFetch16:
    case Op.SyncCache16:
      p.immed = (c[1]! & 0x02) !== 0;
      p.lba = u64(c, 2);
      p.blocks = c.readUInt32BE(10);
      p.group = c[14]! & 0x1f;
      break;
    case Op.WriteSame10:
      // SBC-4 5.48: 1 WRPROTECT 7:5, ANCHOR 4, UNMAP 3; 2..5 LBA; 7..8 NUMBER OF LOGICAL BLOCKS
      p.protect = c[1]! >> 5;
      p.anchor = (c[1]! & 0x10) !== 0;
      p.unmap = (c[1]! & 0x08) !== 0;
      p.lba = c.readUInt32BE(2);
      p.group = c[6]! & 0x1f;
      p.blocks = c.readUInt16BE(7);
      break;
    case Op.WriteSame16:
      // SBC-4 5.49: 1 WRPROTECT, ANCHOR 4, UNMAP 3, NDOB 0; 2..9 LBA; 10..13 NUMBER OF LOGICAL BLOCKS
      p.protect = c[1]! >> 5;
      p.anchor = (c[1]! & 0x10) !== 0;
      p.unmap = (c[1]! & 0x08) !== 0;
      p.ndob = (c[1]! & 0x01) !== 0;
      p.lba = u64(c, 2);
      p.blocks = c.readUInt32BE(10);
      p.group = c[14]! & 0x1f;
      break;
    case Op.Unmap:
      // SBC-4 5.32: 1 ANCHOR 0, 6 GROUP, 7..8 PARAMETER LIST LENGTH
      p.anchor = (c[1]! & 0x01) !== 0;
      p.group = c[6]! & 0x1f;
      p.paramLen = c.readUInt16BE(7);
      break;
    case Op.PrIn:
      // SPC-4 6.15: 1 SERVICE ACTION, 7..8 ALLOCATION LENGTH
      p.allocLen = c.readUInt16BE(7);
      break;
    case Op.PrOut:
      // SPC-4 6.16: 1 SERVICE ACTION, 2 SCOPE 7:4 TYPE 3:0, 5..8 PARAMETER LIST LENGTH
      p.prScope = c[2]! >> 4;
      p.prType = c[2]! & 0x0f;
      p.paramLen = c.readUInt32BE(5);
      break;
    case Op.ServiceActionIn16:
      // SBC-4 5.17 READ CAPACITY(16) / 5.7 GET LBA STATUS: 2..9 LBA, 10..13 ALLOCATION LENGTH
      p.lba = u64(c, 2);
      p.allocLen = c.readUInt32BE(10);
      if (sa === ServiceAction.ReadCapacity16) p.pf = (c[14]! & 0x01) !== 0; // PMI
      break;
    case Op.ReportLuns:
      // SPC-4 6.33: 2 SELECT REPORT, 6..9 ALLOCATION LENGTH
      p.selectReport = c[2]!;
      p.allocLen = c.readUInt32BE(6);
      break;
    case Op.ReadDefectData10:
      // SBC-4 5.20: 2 REQ_PLIST 4, REQ_GLIST 3, DEFECT LIST FORMAT 2:0; 7..8 ALLOCATION LENGTH
      p.defectFlags = c[2]! & 0x1f;
      p.allocLen = c.readUInt16BE(7);
      break;
    case Op.ReadDefectData12:
      // SBC-4 5.21: 1 REQ_PLIST 4, REQ_GLIST 3, DEFECT LIST FORMAT 2:0; 2..5 ADDRESS DESCRIPTOR INDEX;
      // 6..9 ALLOCATION LENGTH
      p.defectFlags = c[1]! & 0x1f;
      p.allocLen = c.readUInt32BE(6);
      break;
    case Op.MaintenanceIn:
      // SPC-4 6.35: 2 RCTD 7, REPORTING OPTIONS 2:0; 3 REQUESTED OPCODE; 4..5 REQUESTED SA; 6..9 ALLOCATION LENGTH
      p.rctd = (c[2]! & 0x80) !== 0;
      p.reportingOptions = c[2]! & 0x07;
      p.reqOpcode = c[3]!;
      p.reqSa = c.readUInt16BE(4);
      p.allocLen = c.readUInt32BE(6);
      break;
    default:
      return Reason.InvalidOpcode;
  }
  return null;
}

function isSaOpcode(opcode: number): boolean {
  return opcode === Op.PrIn || opcode === Op.PrOut || opcode === Op.ServiceActionIn16 || opcode === Op.MaintenanceIn;
}

function saReason(opcode: number): SenseReason {
  // SPC-4 6.15/6.16: an unsupported service action of PERSISTENT RESERVE IN/OUT is an invalid field;
  // SERVICE ACTION IN(16) / MAINTENANCE IN service actions we lack are reported as unsupported commands.
  return opcode === Op.PrIn || opcode === Op.PrOut ? Reason.InvalidFieldInCdb : Reason.InvalidOpcode;
}
