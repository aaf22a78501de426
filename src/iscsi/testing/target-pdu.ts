// Test fixture: what a target sent, decoded by RFC 7143 11.4-11.19 field offsets, and expected target BHSs for byte-exact checks.

import { crc32cHeader, crc32cList, readDigest } from '../crc32c.js';

/** Target opcodes (RFC 7143 11.2.1.2), named for test messages. */
export const TOp = {
  NopIn: 0x20, ScsiResponse: 0x21, TmfResponse: 0x22, LoginResponse: 0x23, TextResponse: 0x24, DataIn: 0x25,
  LogoutResponse: 0x26, R2T: 0x31, AsyncMessage: 0x32, Reject: 0x3f,
} as const;

/** One captured target PDU: a private copy of its BHS and of its joined data segment. */
export class TargetPdu {
  constructor(readonly bhs: Buffer, readonly data: Buffer) {}

  get opcode(): number {
    return this.bhs[0]! & 0x3f;
  }
  /** Byte 1 (F/S/residual bits, T/C/CSG/NSG on Login Response). */
  get flags(): number {
    return this.bhs[1]!;
  }
  get final(): boolean {
    return (this.bhs[1]! & 0x80) !== 0;
  }
  /** Byte 2: Response (SCSI/TMF/Logout), Reason (Reject). */
  get response(): number {
    return this.bhs[2]!;
  }
  /** Byte 3: Status (SCSI Response, Data-In with S). */
  get status(): number {
    return this.bhs[3]!;
  }
  get dataSegmentLength(): number {
    return (this.bhs[5]! << 16) | (this.bhs[6]! << 8) | this.bhs[7]!;
  }
  get itt(): number {
    return this.bhs.readUInt32BE(16);
  }
  get ttt(): number {
    return this.bhs.readUInt32BE(20);
  }
  get statSN(): number {
    return this.bhs.readUInt32BE(24);
  }
  get expCmdSN(): number {
    return this.bhs.readUInt32BE(28);
  }
  get maxCmdSN(): number {
    return this.bhs.readUInt32BE(32);
  }
  /** Bytes 36-39: DataSN (Data-In), R2TSN (R2T), ExpDataSN (SCSI Response). */
  get sn36(): number {
    return this.bhs.readUInt32BE(36);
  }
  /** Bytes 40-43: Buffer Offset (Data-In, R2T), Bidi residual (SCSI Response). */
  get offset(): number {
    return this.bhs.readUInt32BE(40);
  }
  /** Bytes 44-47: Desired Data Transfer Length (R2T), Residual Count (Response, Data-In). */
  get word44(): number {
    return this.bhs.readUInt32BE(44);
  }
  /** Login Response bytes 36-37: Status-Class << 8 | Status-Detail. */
  get loginStatus(): number {
    return (this.bhs[36]! << 8) | this.bhs[37]!;
  }
  get tsih(): number {
    return this.bhs.readUInt16BE(14);
  }
  toString(): string {
    return `op 0x${this.opcode.toString(16)} itt 0x${this.itt.toString(16)} ${this.bhs.toString('hex')}`;
  }
}

/** Digests in effect for one target PDU, decided from its BHS (Login Responses never carry them). */
export type DigestsFor = (bhs: Buffer) => { header: boolean; data: boolean };

/**
 * Splits a target byte stream into PDUs (RFC 7143 11.2), checking digests. Returns the PDUs and
 * the number of bytes they used (a trailing incomplete PDU is left for the next call).
 */
export function parseTargetStream(bytes: Buffer, digestsFor: DigestsFor): { pdus: TargetPdu[]; used: number } {
  const out: TargetPdu[] = [];
  let o = 0;
  while (bytes.length - o >= 48) {
    const bhs = bytes.subarray(o, o + 48);
    const dg = digestsFor(bhs);
    const ahs = bhs[4]! * 4;
    const len = (bhs[5]! << 16) | (bhs[6]! << 8) | bhs[7]!;
    let p = o + 48 + ahs;
    const whole = p + (dg.header ? 4 : 0) + len + ((4 - (len & 3)) & 3) + (dg.data && len > 0 ? 4 : 0);
    if (whole > bytes.length) break;
    if (dg.header) {
      if (readDigest(bytes, p) !== crc32cHeader(bytes.subarray(o, p))) throw new Error(`bad header digest at ${o}`);
      p += 4;
    }
    const data = Buffer.from(bytes.subarray(p, p + len));
    const pad = (4 - (len & 3)) & 3;
    p += len + pad;
    if (dg.data && len > 0) {
      if (readDigest(bytes, p) !== crc32cList([data], pad)) throw new Error(`bad data digest at ${o}`);
      p += 4;
    }
    out.push(new TargetPdu(Buffer.from(bhs), data));
    o = p;
  }
  return { pdus: out, used: o };
}

// ------------------------------------------------------------------ expected BHSs (byte-exact oracles)

/** Sequence fields every target response carries (bytes 24-35). */
export interface Seq {
  statSN: number;
  expCmdSN: number;
  maxCmdSN: number;
}

function bhs(op: number, byte1: number, len: number, itt: number, s: Seq): Buffer {
  const b = Buffer.alloc(48);
  b[0] = op;
  b[1] = byte1;
  b[5] = (len >>> 16) & 0xff;
  b[6] = (len >>> 8) & 0xff;
  b[7] = len & 0xff;
  b.writeUInt32BE(itt >>> 0, 16);
  b.writeUInt32BE(s.statSN >>> 0, 24);
  b.writeUInt32BE(s.expCmdSN >>> 0, 28);
  b.writeUInt32BE(s.maxCmdSN >>> 0, 32);
  return b;
}

/** RFC 7143 11.8 R2T: F=1, LUN, TTT, StatSN (not advanced), R2TSN, Buffer Offset, Desired Length. */
export function r2tBhs(o: Seq & { itt: number; ttt: number; lun: number; r2tSN: number; offset: number; length: number }): Buffer {
  const b = bhs(0x31, 0x80, 0, o.itt, o);
  b[9] = o.lun;
  b.writeUInt32BE(o.ttt >>> 0, 20);
  b.writeUInt32BE(o.r2tSN >>> 0, 36);
  b.writeUInt32BE(o.offset >>> 0, 40);
  b.writeUInt32BE(o.length >>> 0, 44);
  return b;
}

/**
 * RFC 7143 11.7 Data-In: byte 1 F . . . . O U S; Status, StatSN and Residual only with S; TTT
 * 0xffffffff and LUN reserved without the A bit.
 */
export function dataInBhs(o: Seq & {
  itt: number; final: boolean; status?: number; underflow?: boolean; overflow?: boolean; dataSN: number; offset: number;
  residual?: number; length: number;
}): Buffer {
  const s = o.status !== undefined;
  const byte1 = (o.final ? 0x80 : 0) | (s ? 0x01 : 0) | (o.overflow === true ? 0x04 : 0) | (o.underflow === true ? 0x02 : 0);
  const b = bhs(0x25, byte1, o.length, o.itt, { ...o, statSN: s ? o.statSN : 0 });
  if (s) b[3] = o.status!;
  b.writeUInt32BE(0xffffffff, 20);
  b.writeUInt32BE(o.dataSN >>> 0, 36);
  b.writeUInt32BE(o.offset >>> 0, 40);
  if (s) b.writeUInt32BE((o.residual ?? 0) >>> 0, 44);
  return b;
}

/** RFC 7143 11.4 SCSI Response: byte 1 1 . . o u O U .; Response 0; ExpDataSN; residual counts. */
export function scsiResponseBhs(o: Seq & {
  itt: number; status: number; underflow?: boolean; overflow?: boolean; residual?: number; expDataSN?: number;
  senseLength?: number;
}): Buffer {
  const byte1 = 0x80 | (o.overflow === true ? 0x04 : 0) | (o.underflow === true ? 0x02 : 0);
  const b = bhs(0x21, byte1, o.senseLength === undefined ? 0 : o.senseLength + 2, o.itt, o);
  b[3] = o.status;
  b.writeUInt32BE((o.expDataSN ?? 0) >>> 0, 36);
  b.writeUInt32BE((o.residual ?? 0) >>> 0, 44);
  return b;
}

/** RFC 7143 11.19 NOP-In answering a NOP-Out: ITT echoed, TTT 0xffffffff, LUN echoed. */
export function nopInBhs(o: Seq & { itt: number; lun?: number; length?: number }): Buffer {
  const b = bhs(0x20, 0x80, o.length ?? 0, o.itt, o);
  b[9] = o.lun ?? 0;
  b.writeUInt32BE(0xffffffff, 20);
  return b;
}

/** RFC 7143 11.15 Logout Response: Response, Time2Wait (40-41), Time2Retain (42-43). */
export function logoutResponseBhs(o: Seq & { itt: number; response: number; time2Wait: number; time2Retain: number }): Buffer {
  const b = bhs(0x26, 0x80, 0, o.itt, o);
  b[2] = o.response;
  b.writeUInt16BE(o.time2Wait, 40);
  b.writeUInt16BE(o.time2Retain, 42);
  return b;
}

/** RFC 7143 11.6 TMF Response. */
export function tmfResponseBhs(o: Seq & { itt: number; response: number }): Buffer {
  const b = bhs(0x22, 0x80, 0, o.itt, o);
  b[2] = o.response;
  return b;
}

/** RFC 7143 11.17 Reject: Reason, ITT 0xffffffff, the rejected BHS as data. */
export function rejectBhs(o: Seq & { reason: number }): Buffer {
  const b = bhs(0x3f, 0x80, 48, 0xffffffff, o);
  b[2] = o.reason;
  return b;
}

/** RFC 7143 11.11 Text Response: F C, TTT 0xffffffff when final, LUN 0. */
export function textResponseBhs(o: Seq & { itt: number; final: boolean; cont?: boolean; ttt?: number; length: number }): Buffer {
  const b = bhs(0x24, (o.final ? 0x80 : 0) | (o.cont === true ? 0x40 : 0), o.length, o.itt, o);
  b.writeUInt32BE((o.ttt ?? 0xffffffff) >>> 0, 20);
  return b;
}
