// SBC-4 5.x / SPC-4 6.x CDB fields: the decoded record and one pure parser per CDB layout (rows of opcodes.ts name them).
import type { OpUsage } from './opcodes.js';

/** Decodes one CDB layout into a ParsedCdb (a row's `parse`). */
export type CdbParser = (cdb: Buffer, p: ParsedCdb) => void;

/** Decoded CDB. One instance lives in each pooled command record and is overwritten per command. */
export class ParsedCdb {
  opcode = 0;
  /** Service action (byte 1 bits 4:0) for opcodes that have one, else 0. */
  sa = 0;
  /** The command's row (command-table.ts), set by CommandSet.parse. */
  info: OpUsage | undefined = undefined;
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
  /** REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS REPD: the extended parameter data. */
  repd = false;
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
  /** SANITIZE AUSE; a reserved CDB field is non-zero (SANITIZE byte 1 bit 6, bytes 2..6). */
  ause = false;
  reservedSet = false;
  /** REPORT TARGET PORT GROUPS PARAMETER DATA FORMAT (3 bits). */
  dataFormat = 0;
  /** WRITE ATOMIC(16) ATOMIC BOUNDARY (blocks). */
  atomicBoundary = 0;
  /** READ DEFECT DATA REQ_PLIST, REQ_GLIST and DEFECT LIST FORMAT (5 bits). */
  defectFlags = 0;
  /** MMC-6: READ TOC MSF; GET EVENT STATUS NOTIFICATION POLLED; READ BUFFER CAPACITY BLOCK. */
  msf = false;
  /** MMC-6 2- to 4-bit codes: READ TOC FORMAT, GET CONFIGURATION RT, READ TRACK INFORMATION ADDRESS TYPE, notification class request. */
  format = 0;
  /** MMC-6 32-bit operands: READ TOC track, GET CONFIGURATION starting feature, track/LBA number, RESERVE TRACK size. */
  address = 0;
  /** SSC-3 READ/WRITE(6) FIXED and SILI; ERASE LONG; LOAD UNLOAD LOAD. */
  fixed = false;
  sili = false;
  /** SSC-3 24-bit TRANSFER LENGTH / COUNT (signed for SPACE). */
  count = 0;
  /** RECEIVE COPY RESULTS LIST IDENTIFIER. */
  listId = 0;

  reset(): void {
    this.opcode = this.sa = this.lba = this.blocks = this.allocLen = this.paramLen = 0;
    this.info = undefined;
    this.fua = this.dpo = this.unmap = this.anchor = this.ndob = this.immed = false;
    this.evpd = this.dbd = this.llbaa = this.pf = this.sp = this.rctd = this.repd = false;
    this.start = this.loej = this.desc = this.fmtData = this.selfTest = this.ause = this.reservedSet = false;
    this.bytchk = this.protect = this.pageCode = this.subpage = this.pc = this.selectReport = 0;
    this.reportingOptions = this.reqOpcode = this.reqSa = this.powerCondition = this.prevent = 0;
    this.prScope = this.prType = this.selfTestCode = this.group = this.defectFlags = this.atomicBoundary = this.dataFormat = 0;
    this.msf = this.fixed = this.sili = false;
    this.format = this.address = this.count = this.listId = 0;
  }
}

export function u64(c: Buffer, off: number): number {
  return c.readUInt32BE(off) * 0x100000000 + c.readUInt32BE(off + 4);
}

/** Byte 1 of READ/WRITE/VERIFY(10/12/16): PROTECT 7:5, DPO 4, FUA 3. */
function rwFlags(c: Buffer, p: ParsedCdb): void {
  p.protect = c[1]! >> 5;
  p.dpo = (c[1]! & 0x10) !== 0;
  p.fua = (c[1]! & 0x08) !== 0;
}


// ---- parsers: each decodes one CDB layout into `p`. The caller has checked the CDB is at least
// the row's CDB length long and has reset `p`; a parser reads fields, it never judges them.

/** TEST UNIT READY, RESERVE/RELEASE(6/10): nothing the engine honours. */
export function parseNoFields(_c: Buffer, _p: ParsedCdb): void {}

/** SPC-4 6.39 REQUEST SENSE: 1 DESC, 4 ALLOCATION LENGTH. */
export function parseRequestSense(c: Buffer, p: ParsedCdb): void {
  p.desc = (c[1]! & 0x01) !== 0;
  p.allocLen = c[4]!;
}

/** SBC-4 5.3 FORMAT UNIT: 1 FMTPINFO 7:6, LONGLIST 5, FMTDATA 4, CMPLST 3, DEFECT LIST FORMAT 2:0. */
export function parseFormatUnit(c: Buffer, p: ParsedCdb): void {
  p.fmtData = (c[1]! & 0x10) !== 0;
  p.protect = c[1]! >> 6;
}

/** SBC-4 5.14 / 5.39 READ(6) / WRITE(6): 1..3 LBA (21 bits), 4 TRANSFER LENGTH (0 means 256). */
export function parseRw6(c: Buffer, p: ParsedCdb): void {
  p.lba = ((c[1]! & 0x1f) << 16) | c.readUInt16BE(2);
  p.blocks = c[4] === 0 ? 256 : c[4]!;
}

/** SPC-4 6.4.1 EXTENDED COPY(LID1): 10..13 PARAMETER LIST LENGTH. */
export function parseExtendedCopy(c: Buffer, p: ParsedCdb): void {
  p.paramLen = c.readUInt32BE(10);
}

/** SPC-4 6.18 RECEIVE COPY RESULTS: 2 LIST IDENTIFIER, 10..13 ALLOCATION LENGTH. */
export function parseReceiveCopyResults(c: Buffer, p: ParsedCdb): void {
  p.listId = c[2]!;
  p.allocLen = c.readUInt32BE(10);
}

/** SPC-4 6.6 INQUIRY: 1 EVPD, 2 PAGE CODE, 3..4 ALLOCATION LENGTH. */
export function parseInquiry(c: Buffer, p: ParsedCdb): void {
  p.evpd = (c[1]! & 0x01) !== 0;
  p.pageCode = c[2]!;
  p.allocLen = c.readUInt16BE(3);
}

/** SPC-4 6.11 MODE SELECT(6): 1 PF 4, SP 0; 4 PARAMETER LIST LENGTH. */
export function parseModeSelect6(c: Buffer, p: ParsedCdb): void {
  p.pf = (c[1]! & 0x10) !== 0;
  p.sp = (c[1]! & 0x01) !== 0;
  p.paramLen = c[4]!;
}

/** SPC-4 6.12 MODE SELECT(10): 1 PF 4, SP 0; 7..8 PARAMETER LIST LENGTH. */
export function parseModeSelect10(c: Buffer, p: ParsedCdb): void {
  p.pf = (c[1]! & 0x10) !== 0;
  p.sp = (c[1]! & 0x01) !== 0;
  p.paramLen = c.readUInt16BE(7);
}

/** SPC-4 6.13 MODE SENSE(6): 1 DBD 3; 2 PC 7:6, PAGE CODE 5:0; 3 SUBPAGE CODE; 4 ALLOCATION LENGTH. */
export function parseModeSense6(c: Buffer, p: ParsedCdb): void {
  p.dbd = (c[1]! & 0x08) !== 0;
  p.pc = c[2]! >> 6;
  p.pageCode = c[2]! & 0x3f;
  p.subpage = c[3]!;
  p.allocLen = c[4]!;
}

/** SPC-4 6.14 MODE SENSE(10): 1 LLBAA 4, DBD 3; 2 PC/PAGE CODE; 3 SUBPAGE; 7..8 ALLOCATION LENGTH. */
export function parseModeSense10(c: Buffer, p: ParsedCdb): void {
  p.llbaa = (c[1]! & 0x10) !== 0;
  p.dbd = (c[1]! & 0x08) !== 0;
  p.pc = c[2]! >> 6;
  p.pageCode = c[2]! & 0x3f;
  p.subpage = c[3]!;
  p.allocLen = c.readUInt16BE(7);
}

/** SBC-4 5.25 START STOP UNIT: 1 IMMED; 3 POWER CONDITION MODIFIER; 4 POWER CONDITION 7:4, LOEJ 1, START 0. */
export function parseStartStopUnit(c: Buffer, p: ParsedCdb): void {
  p.immed = (c[1]! & 0x01) !== 0;
  p.powerCondition = c[4]! >> 4;
  p.loej = (c[4]! & 0x02) !== 0;
  p.start = (c[4]! & 0x01) !== 0;
}

/** SPC-4 6.42 SEND DIAGNOSTIC: 1 SELF-TEST CODE 7:5, PF 4, SELFTEST 2; 3..4 PARAMETER LIST LENGTH. */
export function parseSendDiagnostic(c: Buffer, p: ParsedCdb): void {
  p.selfTestCode = c[1]! >> 5;
  p.pf = (c[1]! & 0x10) !== 0;
  p.selfTest = (c[1]! & 0x04) !== 0;
  p.paramLen = c.readUInt16BE(3);
}

/** SPC-4 6.17 / SBC-4 5.13 PREVENT ALLOW MEDIUM REMOVAL: 4 PREVENT 1:0. */
export function parsePreventAllow(c: Buffer, p: ParsedCdb): void {
  p.prevent = c[4]! & 0x03;
}

/** SBC-4 5.16 READ CAPACITY(10): 2..5 LBA (obsolete), 8 PMI (kept in pf to stay small). */
export function parseReadCapacity10(c: Buffer, p: ParsedCdb): void {
  p.lba = c.readUInt32BE(2);
  p.pf = (c[8]! & 0x01) !== 0;
}

/**
 * SBC-4 READ/WRITE/WRITE AND VERIFY/VERIFY(10): 1 flags (BYTCHK 2:1 for VERIFY / WRITE AND
 * VERIFY), 2..5 LBA, 6 GROUP, 7..8 TRANSFER LENGTH.
 */
export function parseRw10(c: Buffer, p: ParsedCdb): void {
  rwFlags(c, p);
  p.bytchk = (c[1]! >> 1) & 0x03;
  p.lba = c.readUInt32BE(2);
  p.group = c[6]! & 0x1f;
  p.blocks = c.readUInt16BE(7);
}

/** The (12) forms: 2..5 LBA, 6..9 TRANSFER LENGTH, 10 GROUP. */
export function parseRw12(c: Buffer, p: ParsedCdb): void {
  rwFlags(c, p);
  p.bytchk = (c[1]! >> 1) & 0x03;
  p.lba = c.readUInt32BE(2);
  p.blocks = c.readUInt32BE(6);
  p.group = c[10]! & 0x1f;
}

/** The (16) forms and ORWRITE(16): 2..9 LBA, 10..13 TRANSFER LENGTH, 14 GROUP. */
export function parseRw16(c: Buffer, p: ParsedCdb): void {
  rwFlags(c, p);
  p.bytchk = (c[1]! >> 1) & 0x03;
  p.lba = u64(c, 2);
  p.blocks = c.readUInt32BE(10);
  p.group = c[14]! & 0x1f;
}

/**
 * SBC-4 5.50 WRITE ATOMIC(16): 1 WRPROTECT 7:5, DPO 4, FUA 3; 2..9 LBA; 10..11 ATOMIC BOUNDARY;
 * 12..13 NUMBER OF LOGICAL BLOCKS; 14 GROUP.
 */
export function parseWriteAtomic16(c: Buffer, p: ParsedCdb): void {
  rwFlags(c, p);
  p.lba = u64(c, 2);
  p.atomicBoundary = c.readUInt16BE(10);
  p.blocks = c.readUInt16BE(12);
  p.group = c[14]! & 0x1f;
}

/** SBC-4 5.2 COMPARE AND WRITE: 1 WRPROTECT/DPO/FUA, 2..9 LBA, 13 NUMBER OF LOGICAL BLOCKS, 14 GROUP. */
export function parseCompareAndWrite(c: Buffer, p: ParsedCdb): void {
  rwFlags(c, p);
  p.lba = u64(c, 2);
  p.blocks = c[13]!;
  p.group = c[14]! & 0x1f;
}

/** SBC-4 5.10 / 5.26 PRE-FETCH / SYNCHRONIZE CACHE(10): 1 IMMED 1, 2..5 LBA, 6 GROUP, 7..8 NUMBER OF LOGICAL BLOCKS. */
export function parseCache10(c: Buffer, p: ParsedCdb): void {
  p.immed = (c[1]! & 0x02) !== 0;
  p.lba = c.readUInt32BE(2);
  p.group = c[6]! & 0x1f;
  p.blocks = c.readUInt16BE(7);
}

/** The (16) forms: 2..9 LBA, 10..13 NUMBER OF LOGICAL BLOCKS, 14 GROUP. */
export function parseCache16(c: Buffer, p: ParsedCdb): void {
  p.immed = (c[1]! & 0x02) !== 0;
  p.lba = u64(c, 2);
  p.blocks = c.readUInt32BE(10);
  p.group = c[14]! & 0x1f;
}

/** SBC-4 5.48 WRITE SAME(10): 1 WRPROTECT 7:5, ANCHOR 4, UNMAP 3; 2..5 LBA; 6 GROUP; 7..8 NUMBER OF LOGICAL BLOCKS. */
export function parseWriteSame10(c: Buffer, p: ParsedCdb): void {
  p.protect = c[1]! >> 5;
  p.anchor = (c[1]! & 0x10) !== 0;
  p.unmap = (c[1]! & 0x08) !== 0;
  p.lba = c.readUInt32BE(2);
  p.group = c[6]! & 0x1f;
  p.blocks = c.readUInt16BE(7);
}

/** SBC-4 5.49 WRITE SAME(16): 1 WRPROTECT, ANCHOR 4, UNMAP 3, NDOB 0; 2..9 LBA; 10..13 NUMBER OF LOGICAL BLOCKS. */
export function parseWriteSame16(c: Buffer, p: ParsedCdb): void {
  p.protect = c[1]! >> 5;
  p.anchor = (c[1]! & 0x10) !== 0;
  p.unmap = (c[1]! & 0x08) !== 0;
  p.ndob = (c[1]! & 0x01) !== 0;
  p.lba = u64(c, 2);
  p.blocks = c.readUInt32BE(10);
  p.group = c[14]! & 0x1f;
}

/** SBC-4 5.32 UNMAP: 1 ANCHOR 0, 6 GROUP, 7..8 PARAMETER LIST LENGTH. */
export function parseUnmap(c: Buffer, p: ParsedCdb): void {
  p.anchor = (c[1]! & 0x01) !== 0;
  p.group = c[6]! & 0x1f;
  p.paramLen = c.readUInt16BE(7);
}

/**
 * SBC-4 5.30 SANITIZE: 1 IMMED 7, reserved 6, AUSE 5, SERVICE ACTION 4:0; 2..6 reserved;
 * 7..8 PARAMETER LIST LENGTH.
 */
export function parseSanitize(c: Buffer, p: ParsedCdb): void {
  p.immed = (c[1]! & 0x80) !== 0;
  p.ause = (c[1]! & 0x20) !== 0;
  p.reservedSet = (c[1]! & 0x40) !== 0 || c[2] !== 0 || c[3] !== 0 || c[4] !== 0 || c[5] !== 0 || c[6] !== 0;
  p.paramLen = c.readUInt16BE(7);
}

/** SPC-4 6.15 PERSISTENT RESERVE IN: 1 SERVICE ACTION, 7..8 ALLOCATION LENGTH. */
export function parsePrIn(c: Buffer, p: ParsedCdb): void {
  p.allocLen = c.readUInt16BE(7);
}

/** SPC-4 6.16 PERSISTENT RESERVE OUT: 1 SERVICE ACTION, 2 SCOPE 7:4 TYPE 3:0, 5..8 PARAMETER LIST LENGTH. */
export function parsePrOut(c: Buffer, p: ParsedCdb): void {
  p.prScope = c[2]! >> 4;
  p.prType = c[2]! & 0x0f;
  p.paramLen = c.readUInt32BE(5);
}

/** SBC-4 5.7 GET LBA STATUS: 2..9 STARTING LBA, 10..13 ALLOCATION LENGTH. */
export function parseGetLbaStatus(c: Buffer, p: ParsedCdb): void {
  p.lba = u64(c, 2);
  p.allocLen = c.readUInt32BE(10);
}

/** SBC-4 5.17 READ CAPACITY(16): 2..9 LBA (obsolete), 10..13 ALLOCATION LENGTH, 14 PMI (in pf). */
export function parseReadCapacity16(c: Buffer, p: ParsedCdb): void {
  parseGetLbaStatus(c, p);
  p.pf = (c[14]! & 0x01) !== 0;
}

/** SPC-4 6.33 REPORT LUNS: 2 SELECT REPORT, 6..9 ALLOCATION LENGTH. */
export function parseReportLuns(c: Buffer, p: ParsedCdb): void {
  p.selectReport = c[2]!;
  p.allocLen = c.readUInt32BE(6);
}

/** SBC-4 5.20 READ DEFECT DATA(10): 2 REQ_PLIST 4, REQ_GLIST 3, DEFECT LIST FORMAT 2:0; 7..8 ALLOCATION LENGTH. */
export function parseReadDefectData10(c: Buffer, p: ParsedCdb): void {
  p.defectFlags = c[2]! & 0x1f;
  p.allocLen = c.readUInt16BE(7);
}

/**
 * SBC-4 5.21 READ DEFECT DATA(12): 1 REQ_PLIST 4, REQ_GLIST 3, DEFECT LIST FORMAT 2:0;
 * 2..5 ADDRESS DESCRIPTOR INDEX; 6..9 ALLOCATION LENGTH.
 */
export function parseReadDefectData12(c: Buffer, p: ParsedCdb): void {
  p.defectFlags = c[1]! & 0x1f;
  p.allocLen = c.readUInt32BE(6);
}

/** SPC-4 6.37 REPORT TARGET PORT GROUPS: 1 PARAMETER DATA FORMAT 7:5, SERVICE ACTION; 6..9 ALLOCATION LENGTH. */
export function parseRtpg(c: Buffer, p: ParsedCdb): void {
  p.dataFormat = c[1]! >> 5;
  p.allocLen = c.readUInt32BE(6);
}

/** SPC-4 6.42 SET TARGET PORT GROUPS: 6..9 PARAMETER LIST LENGTH. */
export function parseStpg(c: Buffer, p: ParsedCdb): void {
  p.paramLen = c.readUInt32BE(6);
}

/** SPC-4 6.36 REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS: 2 REPD 7; 6..9 ALLOCATION LENGTH. */
export function parseRstmf(c: Buffer, p: ParsedCdb): void {
  p.repd = (c[2]! & 0x80) !== 0;
  p.allocLen = c.readUInt32BE(6);
}

/**
 * SPC-4 6.35 REPORT SUPPORTED OPERATION CODES: 2 RCTD 7, REPORTING OPTIONS 2:0; 3 REQUESTED
 * OPERATION CODE; 4..5 REQUESTED SERVICE ACTION; 6..9 ALLOCATION LENGTH.
 */
export function parseRsoc(c: Buffer, p: ParsedCdb): void {
  p.rctd = (c[2]! & 0x80) !== 0;
  p.reportingOptions = c[2]! & 0x07;
  p.reqOpcode = c[3]!;
  p.reqSa = c.readUInt16BE(4);
  p.allocLen = c.readUInt32BE(6);
}

// ---- MMC-6 layouts (cd/dvd device type, mmc.ts)

/** MMC-6 6.26 READ TOC/PMA/ATIP: 1 MSF (bit 1), 2 FORMAT 3:0, 6 TRACK/SESSION NUMBER, 7..8 ALLOCATION LENGTH. */
export function parseReadToc(c: Buffer, p: ParsedCdb): void {
  p.msf = (c[1]! & 0x02) !== 0;
  p.format = c[2]! & 0x0f;
  p.address = c[6]!;
  p.allocLen = c.readUInt16BE(7);
}

/** MMC-6 6.6 GET CONFIGURATION: 1 RT 1:0, 2..3 STARTING FEATURE NUMBER, 7..8 ALLOCATION LENGTH. */
export function parseGetConfiguration(c: Buffer, p: ParsedCdb): void {
  p.format = c[1]! & 0x03;
  p.address = c.readUInt16BE(2);
  p.allocLen = c.readUInt16BE(7);
}

/** MMC-6 6.22 READ DISC INFORMATION: 1 DATA TYPE 2:0, 7..8 ALLOCATION LENGTH. */
export function parseReadDiscInformation(c: Buffer, p: ParsedCdb): void {
  p.format = c[1]! & 0x07;
  p.allocLen = c.readUInt16BE(7);
}

/** MMC-6 6.27 READ TRACK INFORMATION: 1 ADDRESS/NUMBER TYPE 1:0, 2..5 LBA/TRACK/SESSION NUMBER, 7..8 ALLOCATION LENGTH. */
export function parseReadTrackInformation(c: Buffer, p: ParsedCdb): void {
  p.format = c[1]! & 0x03;
  p.address = c.readUInt32BE(2);
  p.allocLen = c.readUInt16BE(7);
}

/** MMC-6 6.7 GET EVENT STATUS NOTIFICATION: 1 POLLED (bit 0), 4 NOTIFICATION CLASS REQUEST, 7..8 ALLOCATION LENGTH. */
export function parseGetEventStatus(c: Buffer, p: ParsedCdb): void {
  p.msf = (c[1]! & 0x01) !== 0;
  p.format = c[4]!;
  p.allocLen = c.readUInt16BE(7);
}

/** MMC-6 6.11 MECHANISM STATUS: 8..9 ALLOCATION LENGTH. */
export function parseMechanismStatus(c: Buffer, p: ParsedCdb): void {
  p.allocLen = c.readUInt16BE(8);
}

/** MMC-6 6.21 READ BUFFER CAPACITY: 1 BLOCK (bit 0), 7..8 ALLOCATION LENGTH. */
export function parseReadBufferCapacity(c: Buffer, p: ParsedCdb): void {
  p.msf = (c[1]! & 0x01) !== 0;
  p.allocLen = c.readUInt16BE(7);
}

/** MMC-6 6.34 RESERVE TRACK (ARSV=0): 5..8 RESERVATION SIZE in blocks. */
export function parseReserveTrack(c: Buffer, p: ParsedCdb): void {
  p.address = c.readUInt32BE(5);
}

// ---- SSC-3 layouts (tape device type, ssc.ts)

/** SSC-3 READ(6) / WRITE(6): 1 SILI (bit 1, read only), FIXED (bit 0); 2..4 TRANSFER LENGTH (bytes, or blocks when FIXED). */
export function parseTapeRw6(c: Buffer, p: ParsedCdb): void {
  p.sili = (c[1]! & 0x02) !== 0;
  p.fixed = (c[1]! & 0x01) !== 0;
  p.count = c.readUIntBE(2, 3);
}

/** SSC-3 WRITE FILEMARKS(6): 1 WSMK (bit 1), IMMED (bit 0); 2..4 FILEMARK COUNT. */
export function parseWriteFilemarks(c: Buffer, p: ParsedCdb): void {
  p.sili = (c[1]! & 0x02) !== 0; // WSMK: setmarks
  p.immed = (c[1]! & 0x01) !== 0;
  p.count = c.readUIntBE(2, 3);
}

/** SSC-3 SPACE(6): 1 CODE 3:0; 2..4 COUNT (two's complement). */
export function parseSpace(c: Buffer, p: ParsedCdb): void {
  p.format = c[1]! & 0x0f;
  p.count = c.readIntBE(2, 3);
}

/** SSC-3 REWIND, ERASE(6), LOAD UNLOAD: 1 IMMED (bit 0), ERASE LONG (bit 1); 4 LOAD UNLOAD flags (LOAD bit 0). */
export function parseTapeMotion(c: Buffer, p: ParsedCdb): void {
  p.immed = (c[1]! & 0x01) !== 0;
  p.fixed = (c[1]! & 0x02) !== 0; // ERASE LONG
  p.start = (c[4]! & 0x01) !== 0; // LOAD UNLOAD: LOAD
  p.format = c[4]!;
}

/** SSC-3 READ POSITION: 1 SERVICE ACTION 4:0; 7..8 ALLOCATION LENGTH. */
export function parseReadPosition(c: Buffer, p: ParsedCdb): void {
  p.format = c[1]! & 0x1f;
  p.allocLen = c.readUInt16BE(7);
}

// ---- SMC-3 layouts (changer device type, smc.ts)

/**
 * SMC-3 6.10 READ ELEMENT STATUS: 1 VOLTAG (bit 4, -> sili), ELEMENT TYPE CODE 3:0 (-> format);
 * 2..3 STARTING ELEMENT ADDRESS (-> lba); 4..5 NUMBER OF ELEMENTS (-> blocks); 6 DVCID (bit 0, -> fixed);
 * 7..9 ALLOCATION LENGTH.
 */
export function parseReadElementStatus(c: Buffer, p: ParsedCdb): void {
  p.sili = (c[1]! & 0x10) !== 0;
  p.format = c[1]! & 0x0f;
  p.lba = c.readUInt16BE(2);
  p.blocks = c.readUInt16BE(4);
  p.fixed = (c[6]! & 0x01) !== 0;
  p.allocLen = c.readUIntBE(7, 3);
}

/** SMC-3 6.6 MOVE MEDIUM: 4..5 SOURCE ADDRESS (-> lba), 6..7 DESTINATION ADDRESS (-> address), 10 INVERT (bit 0, -> msf). */
export function parseMoveMedium(c: Buffer, p: ParsedCdb): void {
  p.lba = c.readUInt16BE(4);
  p.address = c.readUInt16BE(6);
  p.msf = (c[10]! & 0x01) !== 0;
}
