// RFC 7143 11 target PDUs: writers that fill a caller-provided 48-byte BHS.
//
// Each writer zeroes the 48 bytes first (RFC 7143: reserved fields are sent as 0), then sets the
// fields of its section. Arguments are positional numbers so that no object is built per PDU.
// DataSegmentLength is the unpadded length; the transport appends padding and digests.

import { Op, FLAG_FINAL, RESERVED_TAG, writeLun } from './pdu.js';

function clear(bhs: Buffer): void {
  bhs.fill(0, 0, 48);
}

/** Bytes 5-7: DataSegmentLength (24 bits). */
export function setDataSegmentLength(bhs: Buffer, len: number): void {
  bhs[5] = (len >>> 16) & 0xff;
  bhs[6] = (len >>> 8) & 0xff;
  bhs[7] = len & 0xff;
}
/** Byte 4: TotalAHSLength, given in bytes (must be a multiple of 4). */
export function setTotalAHSLength(bhs: Buffer, bytes: number): void {
  bhs[4] = bytes >>> 2;
}
/** StatSN/ExpCmdSN/MaxCmdSN at bytes 24/28/32: the same in every target response PDU. */
export function setSequence(bhs: Buffer, statSN: number, expCmdSN: number, maxCmdSN: number): void {
  bhs.writeUInt32BE(statSN >>> 0, 24);
  bhs.writeUInt32BE(expCmdSN >>> 0, 28);
  bhs.writeUInt32BE(maxCmdSN >>> 0, 32);
}

/** Residual flags of SCSI Response byte 1 (RFC 7143 11.4.1) and Data-In (11.7.5). */
export const Residual = {
  /** o: bidirectional read residual overflow. */
  BidiOverflow: 0x10,
  /** u: bidirectional read residual underflow. */
  BidiUnderflow: 0x08,
  /** O: residual overflow. */
  Overflow: 0x04,
  /** U: residual underflow. */
  Underflow: 0x02,
} as const;

/**
 * RFC 7143 11.4 SCSI Response. `flags` = Residual bits; `response` 0 = command completed at
 * target; the data segment (sense) length is `dataLength` (sense length + 2 byte SenseLength).
 */
export function writeScsiResponse(
  bhs: Buffer, itt: number, response: number, status: number, flags: number,
  residualCount: number, bidiResidualCount: number, expDataSN: number,
  statSN: number, expCmdSN: number, maxCmdSN: number, dataLength: number,
): void {
  clear(bhs);
  bhs[0] = Op.ScsiResponse;
  bhs[1] = FLAG_FINAL | (flags & 0x1e); // byte 1: 1 . . o u O U .
  bhs[2] = response; // byte 2: Response
  bhs[3] = status; // byte 3: Status
  setDataSegmentLength(bhs, dataLength);
  bhs.writeUInt32BE(itt >>> 0, 16); // Initiator Task Tag
  // bytes 20-23: SNACK Tag, 0 (no R-Data SNACK support at ERL 0)
  setSequence(bhs, statSN, expCmdSN, maxCmdSN);
  bhs.writeUInt32BE(expDataSN >>> 0, 36); // ExpDataSN
  bhs.writeUInt32BE(bidiResidualCount >>> 0, 40); // Bidirectional Read Residual Count
  bhs.writeUInt32BE(residualCount >>> 0, 44); // Residual Count
}

/** Data-In byte 1 bits (RFC 7143 11.7.1). */
export const DataInFlag = { Final: 0x80, Ack: 0x40, Overflow: 0x04, Underflow: 0x02, Status: 0x01 } as const;

/**
 * RFC 7143 11.7 SCSI Data-In. `flags` combines DataInFlag; status and residual are meaningful
 * only with S (11.7.4: "the Status field is only valid if S is set"); when S is clear they are 0.
 * StatSN is only set when S is set; ExpCmdSN/MaxCmdSN always.
 */
export function writeDataIn(
  bhs: Buffer, itt: number, ttt: number, lun: number, flags: number, status: number,
  dataSN: number, bufferOffset: number, residualCount: number,
  statSN: number, expCmdSN: number, maxCmdSN: number, dataLength: number,
): void {
  clear(bhs);
  bhs[0] = Op.DataIn;
  const withStatus = (flags & DataInFlag.Status) !== 0;
  bhs[1] = withStatus ? flags & 0xc7 : flags & 0xc0;
  if (withStatus) bhs[3] = status; // byte 3: Status
  setDataSegmentLength(bhs, dataLength);
  // LUN is required with the A bit (11.7.4), harmless otherwise; RFC says reserved when not A.
  if ((flags & DataInFlag.Ack) !== 0) writeLun(bhs, lun);
  bhs.writeUInt32BE(itt >>> 0, 16); // Initiator Task Tag
  bhs.writeUInt32BE(ttt >>> 0, 20); // Target Transfer Tag (0xffffffff unless A)
  setSequence(bhs, withStatus ? statSN : 0, expCmdSN, maxCmdSN);
  bhs.writeUInt32BE(dataSN >>> 0, 36); // DataSN
  bhs.writeUInt32BE(bufferOffset >>> 0, 40); // Buffer Offset
  if (withStatus) bhs.writeUInt32BE(residualCount >>> 0, 44); // Residual Count
}

/** RFC 7143 11.8 Ready To Transfer (R2T). */
export function writeR2T(
  bhs: Buffer, itt: number, ttt: number, lun: number, r2tSN: number,
  bufferOffset: number, desiredLength: number, statSN: number, expCmdSN: number, maxCmdSN: number,
): void {
  clear(bhs);
  bhs[0] = Op.R2T;
  bhs[1] = FLAG_FINAL;
  writeLun(bhs, lun);
  bhs.writeUInt32BE(itt >>> 0, 16);
  bhs.writeUInt32BE(ttt >>> 0, 20);
  setSequence(bhs, statSN, expCmdSN, maxCmdSN); // StatSN: the next StatSN, not advanced (11.8)
  bhs.writeUInt32BE(r2tSN >>> 0, 36); // R2TSN
  bhs.writeUInt32BE(bufferOffset >>> 0, 40); // Buffer Offset
  bhs.writeUInt32BE(desiredLength >>> 0, 44); // Desired Data Transfer Length
}

/**
 * RFC 7143 11.19 NOP-In. A reply to a NOP-Out echoes its ITT with TTT 0xffffffff; a target
 * ping uses ITT 0xffffffff and a TTT of its own. `lun` is echoed (11.19.2).
 */
export function writeNopIn(
  bhs: Buffer, itt: number, ttt: number, lun: number,
  statSN: number, expCmdSN: number, maxCmdSN: number, dataLength: number,
): void {
  clear(bhs);
  bhs[0] = Op.NopIn;
  bhs[1] = FLAG_FINAL;
  setDataSegmentLength(bhs, dataLength);
  writeLun(bhs, lun);
  bhs.writeUInt32BE(itt >>> 0, 16);
  bhs.writeUInt32BE(ttt >>> 0, 20);
  setSequence(bhs, statSN, expCmdSN, maxCmdSN);
}

// RFC 7143 11.6.1 TMF Response codes: TmfResponse in ../scsi/api.ts (one table for engine and wire).

/**
 * RFC 7143 11.6 Task Management Function Response. RFC 7144 puts SAM-5's 3-byte ADDITIONAL
 * RESPONSE INFORMATION (QUERY ASYNCHRONOUS EVENT: UADE DEPTH | SENSE KEY, ASC, ASCQ) in bytes
 * 8..10, reserved in RFC 7143 (FreeBSD's CTL target writes it there too); `info` is 0 otherwise.
 */
export function writeTmfResponse(
  bhs: Buffer, itt: number, response: number, statSN: number, expCmdSN: number, maxCmdSN: number, info = 0,
): void {
  clear(bhs);
  bhs[0] = Op.TaskMgmtResponse;
  bhs[1] = FLAG_FINAL;
  bhs[2] = response; // byte 2: Response
  bhs.writeUIntBE(info & 0xffffff, 8, 3); // bytes 8..10: Additional Response Information
  bhs.writeUInt32BE(itt >>> 0, 16);
  setSequence(bhs, statSN, expCmdSN, maxCmdSN);
}

/**
 * RFC 7143 11.13 Login Response. byte 1 = T C . . CSG NSG. TSIH is written big-endian as the RFC
 * says (tgt writes it in host order, a quirk initiators tolerate only because they echo it).
 */
export function writeLoginResponse(
  bhs: Buffer, transit: boolean, cont: boolean, csg: number, nsg: number,
  versionMax: number, versionActive: number, isid: Buffer, tsih: number, itt: number,
  statSN: number, expCmdSN: number, maxCmdSN: number, statusClass: number, statusDetail: number,
  dataLength: number,
): void {
  clear(bhs);
  bhs[0] = Op.LoginResponse;
  bhs[1] = (transit ? 0x80 : 0) | (cont ? 0x40 : 0) | ((csg & 3) << 2) | (nsg & 3);
  bhs[2] = versionMax; // Version-max
  bhs[3] = versionActive; // Version-active
  setDataSegmentLength(bhs, dataLength);
  isid.copy(bhs, 8, 0, 6); // ISID
  bhs.writeUInt16BE(tsih & 0xffff, 14); // TSIH
  bhs.writeUInt32BE(itt >>> 0, 16);
  setSequence(bhs, statSN, expCmdSN, maxCmdSN);
  bhs[36] = statusClass; // Status-Class
  bhs[37] = statusDetail; // Status-Detail
}

/** RFC 7143 11.11 Text Response. The LUN is 0 (reserved for discovery) unless echoed. */
export function writeTextResponse(
  bhs: Buffer, final: boolean, cont: boolean, itt: number, ttt: number,
  statSN: number, expCmdSN: number, maxCmdSN: number, dataLength: number,
): void {
  clear(bhs);
  bhs[0] = Op.TextResponse;
  bhs[1] = (final ? 0x80 : 0) | (cont ? 0x40 : 0);
  setDataSegmentLength(bhs, dataLength);
  bhs.writeUInt32BE(itt >>> 0, 16);
  bhs.writeUInt32BE(ttt >>> 0, 20);
  setSequence(bhs, statSN, expCmdSN, maxCmdSN);
}

/** RFC 7143 11.15.1 Logout Response codes. */
export const LogoutResponse = {
  Closed: 0,
  CidNotFound: 1,
  RecoveryNotSupported: 2,
  CleanupFailed: 3,
} as const;

/** RFC 7143 11.15 Logout Response with Time2Wait / Time2Retain (bytes 40-41, 42-43). */
export function writeLogoutResponse(
  bhs: Buffer, itt: number, response: number, statSN: number, expCmdSN: number, maxCmdSN: number,
  time2Wait: number, time2Retain: number,
): void {
  clear(bhs);
  bhs[0] = Op.LogoutResponse;
  bhs[1] = FLAG_FINAL;
  bhs[2] = response;
  bhs.writeUInt32BE(itt >>> 0, 16);
  setSequence(bhs, statSN, expCmdSN, maxCmdSN);
  bhs.writeUInt16BE(time2Wait & 0xffff, 40);
  bhs.writeUInt16BE(time2Retain & 0xffff, 42);
}

/** RFC 7143 11.9.1 AsyncEvent codes. */
export const AsyncEvent = {
  ScsiEvent: 0,
  LogoutRequest: 1,
  DropConnection: 2,
  DropAllConnections: 3,
  Renegotiate: 4,
  VendorSpecific: 255,
} as const;

/** RFC 7143 11.9 Asynchronous Message; ITT is 0xffffffff (11.9). */
export function writeAsyncMessage(
  bhs: Buffer, lun: number, asyncEvent: number, asyncVCode: number,
  parameter1: number, parameter2: number, parameter3: number,
  statSN: number, expCmdSN: number, maxCmdSN: number, dataLength: number,
): void {
  clear(bhs);
  bhs[0] = Op.AsyncMessage;
  bhs[1] = FLAG_FINAL;
  setDataSegmentLength(bhs, dataLength);
  writeLun(bhs, lun);
  bhs.writeUInt32BE(RESERVED_TAG, 16);
  setSequence(bhs, statSN, expCmdSN, maxCmdSN);
  bhs[36] = asyncEvent; // AsyncEvent
  bhs[37] = asyncVCode; // AsyncVCode
  bhs.writeUInt16BE(parameter1 & 0xffff, 38);
  bhs.writeUInt16BE(parameter2 & 0xffff, 40);
  bhs.writeUInt16BE(parameter3 & 0xffff, 42);
}

/** RFC 7143 11.17.1 Reject reasons. */
export const RejectReason = {
  DataDigestError: 0x02,
  SnackReject: 0x03,
  ProtocolError: 0x04,
  CommandNotSupported: 0x05,
  ImmediateCommandReject: 0x06,
  TaskInProgress: 0x07,
  InvalidDataAck: 0x08,
  InvalidPduField: 0x09,
  LongOperationReject: 0x0a,
  NegotiationReset: 0x0b,
  WaitingForLogout: 0x0c,
} as const;

/**
 * RFC 7143 11.17 Reject. The data segment is the complete offending header (BHS, 48 bytes; the
 * RFC 11.17.2 says "Header" i.e. BHS plus AHS if any): `rejectedHeader` is copied into `data`
 * by the caller; this writes DataSegmentLength = its length. ITT is 0xffffffff; bytes 36-39
 * carry DataSN/R2TSN only for data SNACK rejects (0 otherwise).
 */
export function writeReject(
  bhs: Buffer, reason: number, statSN: number, expCmdSN: number, maxCmdSN: number,
  headerLength: number, dataOrR2TSN = 0,
): void {
  clear(bhs);
  bhs[0] = Op.Reject;
  bhs[1] = FLAG_FINAL;
  bhs[2] = reason;
  setDataSegmentLength(bhs, headerLength);
  bhs.writeUInt32BE(RESERVED_TAG, 16);
  setSequence(bhs, statSN, expCmdSN, maxCmdSN);
  bhs.writeUInt32BE(dataOrR2TSN >>> 0, 36);
}
