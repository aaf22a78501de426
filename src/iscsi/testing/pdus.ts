// Test fixture: initiator PDUs built byte by byte from RFC 7143 11.3-11.14 (an oracle independent of pdu-write.ts).
//
// Each builder fills a fresh 48-byte BHS field by field at the offsets of its RFC section and
// returns it with its data segment; `wireBytes` adds padding and digests (RFC 7143 11.2) for a
// byte-stream transport. The decoder of what the target sends back is in target-pdu.ts.

import { crc32cHeader, crc32cList, writeDigest } from '../crc32c.js';
import { encodeText } from '../text-keys.js';

/** One PDU as an initiator sends it: BHS, AHS (usually empty), data segment (no padding). */
export interface InitiatorPdu {
  bhs: Buffer;
  ahs: Buffer;
  data: Buffer;
}

/** The fields every initiator request carries (RFC 7143 11.2.1). */
interface Common {
  itt: number;
  cmdSN: number;
  expStatSN: number;
  /** I bit (byte 0 bit 6). */
  immediate?: boolean;
}

function base(op: number, c: Common, data: Buffer): Buffer {
  const b = Buffer.alloc(48);
  b[0] = op | (c.immediate === true ? 0x40 : 0); // byte 0: . I opcode
  b[5] = (data.length >>> 16) & 0xff; // bytes 5-7: DataSegmentLength
  b[6] = (data.length >>> 8) & 0xff;
  b[7] = data.length & 0xff;
  b.writeUInt32BE(c.itt >>> 0, 16); // Initiator Task Tag
  b.writeUInt32BE(c.cmdSN >>> 0, 24); // CmdSN
  b.writeUInt32BE(c.expStatSN >>> 0, 28); // ExpStatSN
  return b;
}

/** SAM-5 peripheral-device LUN (LUN < 256) at bytes 8-15. */
function lun(b: Buffer, n: number): void {
  b[9] = n & 0xff;
}

/** RFC 7143 11.12 Login Request. */
export function loginRequest(o: {
  transit: boolean; cont?: boolean; csg: number; nsg: number; isid: Buffer; tsih?: number; itt: number; cid?: number;
  cmdSN: number; expStatSN: number; keys: [string, string][]; versionMax?: number; versionMin?: number;
}): InitiatorPdu {
  const data = encodeText(o.keys);
  const b = base(0x03, { ...o, immediate: true }, data);
  b[1] = (o.transit ? 0x80 : 0) | (o.cont === true ? 0x40 : 0) | ((o.csg & 3) << 2) | (o.nsg & 3); // T C . . CSG NSG
  b[2] = o.versionMax ?? 0; // Version-max
  b[3] = o.versionMin ?? 0; // Version-min
  o.isid.copy(b, 8, 0, 6); // ISID
  b.writeUInt16BE(o.tsih ?? 0, 14); // TSIH
  b.writeUInt16BE(o.cid ?? 0, 20); // CID
  return { bhs: b, ahs: Buffer.alloc(0), data };
}

export interface CommandFields extends Common {
  lun?: number;
  cdb: number[] | Buffer;
  read?: boolean;
  write?: boolean;
  /** Expected Data Transfer Length. */
  edtl: number;
  /** Immediate data (RFC 7143 11.3.5). */
  data?: Buffer;
  /** F bit: no unsolicited Data-Out follows (default true unless InitialR2T=No data is sent). */
  final?: boolean;
  /** ATTR (default 1, SIMPLE). */
  attr?: number;
  /** Additional header segments, already padded (e.g. an extended CDB, RFC 7143 11.3.5). */
  ahs?: Buffer;
}

/** RFC 7143 11.3 SCSI Command. */
export function scsiCommand(o: CommandFields): InitiatorPdu {
  const data = o.data ?? Buffer.alloc(0);
  const b = base(0x01, o, data);
  // byte 1: F R W . . ATTR
  b[1] = (o.final === false ? 0 : 0x80) | (o.read === true ? 0x40 : 0) | (o.write === true ? 0x20 : 0) | ((o.attr ?? 1) & 7);
  lun(b, o.lun ?? 1);
  b.writeUInt32BE(o.edtl >>> 0, 20); // Expected Data Transfer Length
  Buffer.from(o.cdb).copy(b, 32, 0, 16); // CDB (bytes 32-47)
  const ahs = o.ahs ?? Buffer.alloc(0);
  b[4] = ahs.length >>> 2; // TotalAHSLength in 4-byte words
  return { bhs: b, ahs, data };
}

/** RFC 7143 11.7 SCSI Data-Out. */
export function dataOut(o: {
  itt: number; ttt: number; lun?: number; expStatSN: number; dataSN: number; offset: number; final: boolean; data: Buffer;
}): InitiatorPdu {
  const b = base(0x05, { itt: o.itt, cmdSN: 0, expStatSN: o.expStatSN }, o.data);
  b[1] = o.final ? 0x80 : 0; // F
  lun(b, o.lun ?? 1);
  b.writeUInt32BE(o.ttt >>> 0, 20); // Target Transfer Tag
  // bytes 24-27 reserved (base wrote CmdSN 0)
  b.writeUInt32BE(o.dataSN >>> 0, 36); // DataSN
  b.writeUInt32BE(o.offset >>> 0, 40); // Buffer Offset
  return { bhs: b, ahs: Buffer.alloc(0), data: o.data };
}

/** RFC 7143 11.18 NOP-Out: ITT 0xffffffff answers a target ping (with its TTT). */
export function nopOut(o: Common & { ttt?: number; lun?: number; data?: Buffer }): InitiatorPdu {
  const data = o.data ?? Buffer.alloc(0);
  const b = base(0x00, o, data);
  b[1] = 0x80;
  lun(b, o.lun ?? 0);
  b.writeUInt32BE((o.ttt ?? 0xffffffff) >>> 0, 20); // Target Transfer Tag
  return { bhs: b, ahs: Buffer.alloc(0), data };
}

/** RFC 7143 11.10 Text Request. */
export function textRequest(o: Common & { keys: [string, string][]; final?: boolean; cont?: boolean; ttt?: number }): InitiatorPdu {
  const data = encodeText(o.keys);
  const b = base(0x04, o, data);
  b[1] = (o.final === false ? 0 : 0x80) | (o.cont === true ? 0x40 : 0); // F C
  b.writeUInt32BE((o.ttt ?? 0xffffffff) >>> 0, 20); // Target Transfer Tag
  return { bhs: b, ahs: Buffer.alloc(0), data };
}

/** RFC 7143 11.14 Logout Request: reason 0 session, 1 connection, 2 remove for recovery. */
export function logoutRequest(o: Common & { reason: number; cid: number }): InitiatorPdu {
  const b = base(0x06, o, Buffer.alloc(0));
  b[1] = 0x80 | (o.reason & 0x7f); // 1 Reason Code
  b.writeUInt16BE(o.cid, 20); // CID (reasons 1 and 2)
  return { bhs: b, ahs: Buffer.alloc(0), data: Buffer.alloc(0) };
}

/** RFC 7143 11.5 Task Management Function Request. */
export function tmfRequest(o: Common & { fn: number; lun?: number; refTaskTag?: number; refCmdSN?: number; expDataSN?: number }): InitiatorPdu {
  const b = base(0x02, o, Buffer.alloc(0));
  b[1] = 0x80 | (o.fn & 0x7f); // 1 Function
  lun(b, o.lun ?? 1);
  b.writeUInt32BE((o.refTaskTag ?? 0xffffffff) >>> 0, 20); // Referenced Task Tag
  b.writeUInt32BE((o.refCmdSN ?? 0) >>> 0, 32); // RefCmdSN
  b.writeUInt32BE((o.expDataSN ?? 0) >>> 0, 36); // ExpDataSN
  return { bhs: b, ahs: Buffer.alloc(0), data: Buffer.alloc(0) };
}

/** The PDU as it goes on a TCP stream: BHS, AHS, [header digest], data, padding, [data digest] (RFC 7143 11.2). */
export function wireBytes(p: InitiatorPdu, digests: { header: boolean; data: boolean }): Buffer {
  const parts: Buffer[] = [p.bhs, p.ahs];
  if (digests.header) {
    const d = Buffer.alloc(4);
    writeDigest(d, 0, crc32cHeader(Buffer.concat([p.bhs, p.ahs])));
    parts.push(d);
  }
  if (p.data.length > 0) {
    const pad = (4 - (p.data.length & 3)) & 3;
    parts.push(p.data, Buffer.alloc(pad));
    if (digests.data) {
      const d = Buffer.alloc(4);
      writeDigest(d, 0, crc32cList([p.data], pad));
      parts.push(d);
    }
  }
  return Buffer.concat(parts);
}

/** READ(10) / WRITE(10) CDB (SBC-4 5.16 / 5.39). */
export function rw10(op: 0x28 | 0x2a, lba: number, blocks: number): number[] {
  return [op, 0, (lba >>> 24) & 0xff, (lba >>> 16) & 0xff, (lba >>> 8) & 0xff, lba & 0xff, 0, (blocks >> 8) & 0xff, blocks & 0xff, 0];
}
