// RFC 7143 11 initiator PDUs for the hostile initiator: BHS builders with every field named, and TCP framing with CRC32C digests (12.1).
//
// Builders take every field explicitly, so a fuzzer can put any value anywhere; DataSegmentLength
// is set from the data unless the caller overrides it afterwards (a lying length). `frame` lays
// out BHS, AHS, header digest, data, padding and data digest the way a correct initiator would,
// and can spoil either digest on purpose.

import { crc32cHeader, crc32cList, writeDigest } from '../../src/iscsi/crc32c.js';

export const BHS = 48;

/** Initiator opcodes (RFC 7143 11.2.1.2), byte 0 bits 5..0. */
export const IOp = {
  NopOut: 0x00, ScsiCommand: 0x01, TaskMgmt: 0x02, Login: 0x03, Text: 0x04, DataOut: 0x05, Logout: 0x06, Snack: 0x10,
} as const;

const IMMEDIATE = 0x40;
const FINAL = 0x80;

/** One PDU before framing. `ahs` is the whole AHS area (a multiple of 4 bytes). */
export interface Pdu {
  bhs: Buffer;
  ahs: Buffer | null;
  data: Buffer | null;
}

export interface Digests {
  header: boolean;
  data: boolean;
}

const pad4 = (n: number): number => (n + 3) & ~3;
const ZERO4 = Buffer.alloc(4);

function bhs(opcode: number, immediate: boolean, flags: number): Buffer {
  const b = Buffer.alloc(BHS);
  b[0] = (immediate ? IMMEDIATE : 0) | (opcode & 0x3f); // byte 0: .|I|Opcode
  b[1] = flags; // byte 1: F and opcode-specific flags
  return b;
}

/** Bytes 5..7 DataSegmentLength. */
export function setDsl(b: Buffer, n: number): void {
  b.writeUIntBE(n & 0xffffff, 5, 3);
}

/** Bytes 8..15 LUN: single-level peripheral addressing for < 256, flat space above (SAM-5 4.7). */
export function writeLun(b: Buffer, lun: number): void {
  b.fill(0, 8, 16);
  if (lun < 256) b[9] = lun;
  else b.writeUInt16BE(0x4000 | (lun & 0x3fff), 8);
}

/** RFC 7143 11.3 SCSI Command. `flags` is byte 1 minus F (R 0x40, W 0x20, ATTR 0x07). */
export function scsiCommand(o: {
  immediate: boolean; final?: boolean; flags: number; lun: number; itt: number; edtl: number; cmdSN: number;
  expStatSN: number; cdb: Buffer; ahs?: Buffer | null; data?: Buffer | null;
}): Pdu {
  const b = bhs(IOp.ScsiCommand, o.immediate, (o.final === false ? 0 : FINAL) | (o.flags & 0x7f));
  writeLun(b, o.lun);
  b.writeUInt32BE(o.itt >>> 0, 16); // Initiator Task Tag
  b.writeUInt32BE(o.edtl >>> 0, 20); // Expected Data Transfer Length
  b.writeUInt32BE(o.cmdSN >>> 0, 24); // CmdSN
  b.writeUInt32BE(o.expStatSN >>> 0, 28); // ExpStatSN
  o.cdb.copy(b, 32, 0, Math.min(16, o.cdb.length)); // CDB (bytes 32..47)
  return withData(b, o.ahs ?? null, o.data ?? null);
}

/** RFC 7143 11.7 SCSI Data-Out. */
export function dataOut(o: {
  final: boolean; lun: number; itt: number; ttt: number; expStatSN: number; dataSN: number; offset: number; data: Buffer | null;
}): Pdu {
  const b = bhs(IOp.DataOut, false, o.final ? FINAL : 0);
  writeLun(b, o.lun);
  b.writeUInt32BE(o.itt >>> 0, 16); // Initiator Task Tag
  b.writeUInt32BE(o.ttt >>> 0, 20); // Target Transfer Tag
  b.writeUInt32BE(o.expStatSN >>> 0, 28); // ExpStatSN
  b.writeUInt32BE(o.dataSN >>> 0, 36); // DataSN
  b.writeUInt32BE(o.offset >>> 0, 40); // Buffer Offset
  return withData(b, null, o.data);
}

/** RFC 7143 11.18 NOP-Out. */
export function nopOut(o: {
  immediate: boolean; lun: number; itt: number; ttt: number; cmdSN: number; expStatSN: number; data: Buffer | null;
}): Pdu {
  const b = bhs(IOp.NopOut, o.immediate, FINAL);
  writeLun(b, o.lun);
  b.writeUInt32BE(o.itt >>> 0, 16); // Initiator Task Tag
  b.writeUInt32BE(o.ttt >>> 0, 20); // Target Transfer Tag
  b.writeUInt32BE(o.cmdSN >>> 0, 24);
  b.writeUInt32BE(o.expStatSN >>> 0, 28);
  return withData(b, null, o.data);
}

/** RFC 7143 11.5 Task Management Function Request. */
export function taskMgmt(o: {
  immediate: boolean; fn: number; lun: number; itt: number; rtt: number; cmdSN: number; expStatSN: number;
  refCmdSN: number; expDataSN: number;
}): Pdu {
  const b = bhs(IOp.TaskMgmt, o.immediate, FINAL | (o.fn & 0x7f)); // byte 1: 1|Function
  writeLun(b, o.lun);
  b.writeUInt32BE(o.itt >>> 0, 16); // Initiator Task Tag
  b.writeUInt32BE(o.rtt >>> 0, 20); // Referenced Task Tag
  b.writeUInt32BE(o.cmdSN >>> 0, 24);
  b.writeUInt32BE(o.expStatSN >>> 0, 28);
  b.writeUInt32BE(o.refCmdSN >>> 0, 32); // RefCmdSN
  b.writeUInt32BE(o.expDataSN >>> 0, 36); // ExpDataSN
  return withData(b, null, null);
}

/** RFC 7143 11.10 Text Request (byte 1: F, C). */
export function textRequest(o: {
  immediate: boolean; final: boolean; cont: boolean; itt: number; ttt: number; cmdSN: number; expStatSN: number; data: Buffer | null;
}): Pdu {
  const b = bhs(IOp.Text, o.immediate, (o.final ? FINAL : 0) | (o.cont ? 0x40 : 0));
  b.writeUInt32BE(o.itt >>> 0, 16);
  b.writeUInt32BE(o.ttt >>> 0, 20); // Target Transfer Tag
  b.writeUInt32BE(o.cmdSN >>> 0, 24);
  b.writeUInt32BE(o.expStatSN >>> 0, 28);
  return withData(b, null, o.data);
}

/** RFC 7143 11.14 Logout Request (byte 1: 1|ReasonCode). */
export function logout(o: { immediate: boolean; reason: number; itt: number; cid: number; cmdSN: number; expStatSN: number }): Pdu {
  const b = bhs(IOp.Logout, o.immediate, FINAL | (o.reason & 0x7f));
  b.writeUInt32BE(o.itt >>> 0, 16);
  b.writeUInt16BE(o.cid & 0xffff, 20); // CID (bytes 20..21)
  b.writeUInt32BE(o.cmdSN >>> 0, 24);
  b.writeUInt32BE(o.expStatSN >>> 0, 28);
  return withData(b, null, null);
}

/** RFC 7143 11.16 SNACK Request (byte 1: 1|.|.|.|Type). */
export function snack(o: { type: number; lun: number; itt: number; ttt: number; expStatSN: number; begRun: number; runLength: number }): Pdu {
  const b = bhs(IOp.Snack, false, FINAL | (o.type & 0x0f));
  writeLun(b, o.lun);
  b.writeUInt32BE(o.itt >>> 0, 16);
  b.writeUInt32BE(o.ttt >>> 0, 20); // Target Transfer Tag or SNACK Tag
  b.writeUInt32BE(o.expStatSN >>> 0, 28);
  b.writeUInt32BE(o.begRun >>> 0, 40); // BegRun
  b.writeUInt32BE(o.runLength >>> 0, 44); // RunLength
  return withData(b, null, null);
}

/** RFC 7143 11.12 Login Request (byte 1: T|C|.|.|CSG|NSG; 2 Version-max; 3 Version-min). */
export function loginRequest(o: {
  transit: boolean; cont: boolean; csg: number; nsg: number; versionMax?: number; versionMin?: number; isid: Buffer;
  tsih: number; itt: number; cid: number; cmdSN: number; expStatSN: number; data: Buffer | null;
}): Pdu {
  const b = bhs(IOp.Login, true, (o.transit ? 0x80 : 0) | (o.cont ? 0x40 : 0) | ((o.csg & 3) << 2) | (o.nsg & 3));
  b[2] = o.versionMax ?? 0;
  b[3] = o.versionMin ?? 0;
  o.isid.copy(b, 8, 0, 6); // ISID (bytes 8..13)
  b.writeUInt16BE(o.tsih & 0xffff, 14); // TSIH
  b.writeUInt32BE(o.itt >>> 0, 16);
  b.writeUInt16BE(o.cid & 0xffff, 20); // CID
  b.writeUInt32BE(o.cmdSN >>> 0, 24);
  b.writeUInt32BE(o.expStatSN >>> 0, 28);
  return withData(b, null, o.data);
}

/** A BHS with only an opcode and tags: unknown or target-only opcodes sent by an initiator. */
export function bareOpcode(opcode: number, immediate: boolean, itt: number, cmdSN: number, data: Buffer | null): Pdu {
  const b = bhs(opcode, immediate, FINAL);
  b.writeUInt32BE(itt >>> 0, 16);
  b.writeUInt32BE(cmdSN >>> 0, 24);
  return withData(b, null, data);
}

function withData(b: Buffer, ahs: Buffer | null, data: Buffer | null): Pdu {
  if (ahs !== null) b[4] = ahs.length >> 2; // TotalAHSLength in 4-byte words
  setDsl(b, data?.length ?? 0);
  return { bhs: b, ahs, data };
}

/** key=value\0 pairs (RFC 7143 6.1). Values are taken as given: a fuzzer may put anything there. */
export function keys(pairs: ReadonlyArray<readonly [string, string]>): Buffer {
  return Buffer.from(pairs.map(([k, v]) => `${k}=${v}\0`).join(''), 'utf8');
}

/**
 * The PDU as it goes on the wire: BHS, AHS, header digest, data, padding, data digest (RFC 7143
 * 11.2). `spoil` makes the named digest wrong (one bit of it flipped).
 */
export function frame(p: Pdu, dig: Digests, spoil: 'header' | 'data' | null = null): Buffer {
  const ahsLen = p.ahs?.length ?? 0;
  const dataLen = p.data?.length ?? 0;
  const padded = pad4(dataLen);
  const hd = dig.header ? 4 : 0;
  const dd = dig.data && dataLen > 0 ? 4 : 0;
  const out = Buffer.allocUnsafe(BHS + ahsLen + hd + padded + dd);
  p.bhs.copy(out, 0);
  if (p.ahs !== null) p.ahs.copy(out, BHS);
  let off = BHS + ahsLen;
  if (hd > 0) {
    writeDigest(out, off, crc32cHeader(out.subarray(0, off)) ^ (spoil === 'header' ? 1 : 0));
    off += 4;
  }
  if (dataLen > 0) {
    p.data!.copy(out, off);
    ZERO4.copy(out, off + dataLen, 0, padded - dataLen);
    if (dd > 0) {
      const crc = crc32cList([p.data!], padded - dataLen);
      writeDigest(out, off + padded, crc ^ (spoil === 'data' ? 0x80000000 : 0));
    }
  }
  return out;
}
