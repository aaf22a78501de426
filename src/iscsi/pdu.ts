// RFC 7143 11 iSCSI PDU: Basic Header Segment (BHS) opcodes and field accessors.
//
// Every accessor reads straight from a 48-byte BHS Buffer (or a larger buffer whose first 48
// bytes are the BHS) and returns a number: the hot path allocates nothing per PDU. Offsets are
// those of RFC 7143 11.2.1 and of each PDU's own section; all multi-byte fields are big-endian.

export const BHS_LENGTH = 48;

/** RFC 7143 11.2.1.2 opcodes (the low 6 bits of byte 0). */
export const Op = {
  // initiator opcodes
  NopOut: 0x00,
  ScsiCommand: 0x01,
  TaskMgmt: 0x02,
  Login: 0x03,
  Text: 0x04,
  DataOut: 0x05,
  Logout: 0x06,
  Snack: 0x10,
  // target opcodes
  NopIn: 0x20,
  ScsiResponse: 0x21,
  TaskMgmtResponse: 0x22,
  LoginResponse: 0x23,
  TextResponse: 0x24,
  DataIn: 0x25,
  LogoutResponse: 0x26,
  R2T: 0x31,
  AsyncMessage: 0x32,
  Reject: 0x3f,
} as const;

/** Reserved tag value (RFC 7143 11.2.1.5 / 11.18). */
export const RESERVED_TAG = 0xffffffff;

/** Byte 0 bit 6: immediate delivery (RFC 7143 11.2.1.2). */
export const FLAG_IMMEDIATE = 0x40;
/** Byte 1 bit 7: Final (F) for most PDUs, Transit (T) for Login. */
export const FLAG_FINAL = 0x80;

// ---------------------------------------------------------------------------------------------
// RFC 7143 11.2.1 fields common to all PDUs

/** Byte 0, low 6 bits (of the BHS at `at` in `bhs`: a framer reads it before cutting the PDU out). */
export function opcode(bhs: Buffer, at = 0): number {
  return bhs[at]! & 0x3f;
}
/** Byte 0 bit 6 (I). */
export function isImmediate(bhs: Buffer): boolean {
  return (bhs[0]! & FLAG_IMMEDIATE) !== 0;
}
/** Byte 1 bit 7 (F; T on Login). */
export function isFinal(bhs: Buffer): boolean {
  return (bhs[1]! & FLAG_FINAL) !== 0;
}
/** Byte 1 bit 6: Continue (C) on Login and Text PDUs (RFC 7143 11.10.1, 11.12.2). */
export function isContinue(bhs: Buffer): boolean {
  return (bhs[1]! & 0x40) !== 0;
}
/** Byte 4: TotalAHSLength in 4-byte words (of the BHS at `at`, as for opcode). */
export function totalAHSLength(bhs: Buffer, at = 0): number {
  return bhs[at + 4]! * 4;
}
/** Bytes 5-7: DataSegmentLength in bytes, excluding padding. */
export function dataSegmentLength(bhs: Buffer): number {
  return (bhs[5]! << 16) | (bhs[6]! << 8) | bhs[7]!;
}
/** Bytes 16-19: Initiator Task Tag. */
export function itt(bhs: Buffer): number {
  return bhs.readUInt32BE(16);
}
/** Bytes 20-23: Target Transfer Tag (NOP-Out, Data-Out, Text, SNACK). */
export function ttt(bhs: Buffer): number {
  return bhs.readUInt32BE(20);
}
/** Bytes 24-27: CmdSN (all initiator PDUs that carry one). */
export function cmdSN(bhs: Buffer): number {
  return bhs.readUInt32BE(24);
}
/** Bytes 28-31: ExpStatSN. */
export function expStatSN(bhs: Buffer): number {
  return bhs.readUInt32BE(28);
}

/**
 * Bytes 8-15: LUN decoded per SAM-5 4.7. Peripheral device addressing (method 00b, bus 0) and
 * flat space addressing (method 01b) both put a 14-bit number in the first two bytes. Any other
 * method (logical unit / extended addressing) returns -1, which the SCSI layer answers with
 * LOGICAL UNIT NOT SUPPORTED.
 */
export function lun(bhs: Buffer): number {
  const b0 = bhs[8]!;
  const method = b0 >> 6;
  if (method === 0) {
    // Peripheral: byte 0 low 6 bits are the bus identifier; only bus 0 maps to a LUN.
    return (b0 & 0x3f) === 0 ? bhs[9]! : -1;
  }
  if (method === 1) return ((b0 & 0x3f) << 8) | bhs[9]!;
  return -1;
}

/** Encodes `n` in SAM-5 form at bytes 8-15: peripheral below 256, flat space up to 16383. */
export function writeLun(bhs: Buffer, n: number): void {
  bhs.fill(0, 8, 16);
  if (n < 256) {
    bhs[9] = n;
  } else {
    bhs[8] = 0x40 | ((n >> 8) & 0x3f);
    bhs[9] = n & 0xff;
  }
}

// ---------------------------------------------------------------------------------------------
// RFC 7143 11.3 SCSI Command

/** Byte 1 bit 6 (R). */
export function readBit(bhs: Buffer): boolean {
  return (bhs[1]! & 0x40) !== 0;
}
/** Byte 1 bit 5 (W). */
export function writeBit(bhs: Buffer): boolean {
  return (bhs[1]! & 0x20) !== 0;
}
/** Byte 1 bits 0-2 (ATTR): task attribute, numbered as scsi/api.ts TaskAttr. */
export function attr(bhs: Buffer): number {
  return bhs[1]! & 0x07;
}
/** Bytes 20-23: Expected Data Transfer Length. */
export function expectedDataTransferLength(bhs: Buffer): number {
  return bhs.readUInt32BE(20);
}
/** Bytes 32-47: the CDB (first 16 bytes; see ahs.ts for the extended CDB). A view, not a copy. */
export function cdb(bhs: Buffer): Buffer {
  return bhs.subarray(32, 48);
}

// ---------------------------------------------------------------------------------------------
// RFC 7143 11.7 SCSI Data-Out

/** Bytes 36-39: DataSN. */
export function dataSN(bhs: Buffer): number {
  return bhs.readUInt32BE(36);
}
/** Bytes 40-43: Buffer Offset. */
export function bufferOffset(bhs: Buffer): number {
  return bhs.readUInt32BE(40);
}

// ---------------------------------------------------------------------------------------------
// RFC 7143 11.5 Task Management Function Request

/** Byte 1 bits 0-6: Function. */
export function tmfFunction(bhs: Buffer): number {
  return bhs[1]! & 0x7f;
}
/** Bytes 20-23: Referenced Task Tag. */
export function refTaskTag(bhs: Buffer): number {
  return bhs.readUInt32BE(20);
}
/** Bytes 32-35: RefCmdSN. */
export function refCmdSN(bhs: Buffer): number {
  return bhs.readUInt32BE(32);
}
/** Bytes 36-39: ExpDataSN (TMF) — same offset as DataSN. */
export function expDataSN(bhs: Buffer): number {
  return bhs.readUInt32BE(36);
}

// ---------------------------------------------------------------------------------------------
// RFC 7143 11.14 Logout Request

/** Byte 1 bits 0-6: Reason Code (0 close session, 1 close connection, 2 remove for recovery). */
export function logoutReason(bhs: Buffer): number {
  return bhs[1]! & 0x7f;
}
/** Bytes 20-21: CID of the connection to close (Logout) — also Login's CID. */
export function cid(bhs: Buffer): number {
  return bhs.readUInt16BE(20);
}

// ---------------------------------------------------------------------------------------------
// RFC 7143 11.16 SNACK Request

/** Byte 1 bits 0-3: Type. */
export function snackType(bhs: Buffer): number {
  return bhs[1]! & 0x0f;
}
/** Bytes 40-43: BegRun. */
export function begRun(bhs: Buffer): number {
  return bhs.readUInt32BE(40);
}
/** Bytes 44-47: RunLength. */
export function runLength(bhs: Buffer): number {
  return bhs.readUInt32BE(44);
}

// ---------------------------------------------------------------------------------------------
// RFC 7143 11.12 Login Request

/** Byte 1 bits 2-3: CSG. */
export function loginCsg(bhs: Buffer): number {
  return (bhs[1]! >> 2) & 0x03;
}
/** Byte 1 bits 0-1: NSG. */
export function loginNsg(bhs: Buffer): number {
  return bhs[1]! & 0x03;
}
/** Byte 2: Version-max. */
export function versionMax(bhs: Buffer): number {
  return bhs[2]!;
}
/** Byte 3: Version-min. */
export function versionMin(bhs: Buffer): number {
  return bhs[3]!;
}
/** Bytes 8-13: ISID, as a view. */
export function isid(bhs: Buffer): Buffer {
  return bhs.subarray(8, 14);
}
/** Bytes 14-15: TSIH. */
export function tsih(bhs: Buffer): number {
  return bhs.readUInt16BE(14);
}

/** Login stages (RFC 7143 11.12.3). */
export const Stage = { Security: 0, Operational: 1, FullFeature: 3 } as const;

/**
 * Builds the plain LoginRequest object the login engine takes. Login is not on the hot path, so
 * one object per Login PDU is fine. `data` is the data segment (without padding or digest).
 */
export function parseLoginRequest(bhs: Buffer, data: Buffer): {
  transit: boolean; cont: boolean; csg: number; nsg: number; versionMax: number; versionMin: number;
  isid: Buffer; tsih: number; itt: number; cid: number; cmdSN: number; expStatSN: number; data: Buffer;
} {
  return {
    transit: isFinal(bhs),
    cont: isContinue(bhs),
    csg: loginCsg(bhs),
    nsg: loginNsg(bhs),
    versionMax: versionMax(bhs),
    versionMin: versionMin(bhs),
    isid: Buffer.from(isid(bhs)),
    tsih: tsih(bhs),
    itt: itt(bhs),
    cid: cid(bhs),
    cmdSN: cmdSN(bhs),
    expStatSN: expStatSN(bhs),
    data,
  };
}

/** Number of pad bytes that bring `len` to a 4-byte boundary (RFC 7143 11.2.3, 11.2.4). */
export function padding(len: number): number {
  return (4 - (len & 3)) & 3;
}
/** `len` rounded up to a multiple of 4. */
export function padded(len: number): number {
  return (len + 3) & ~3;
}
