// tgt's on-disk virtual tape format, version 2 (facts from tgt usr/bs_ssc.h, usr/libssc.c, usr/tgtimg.c).
//
// A tape file is a doubly linked list of 48-byte block headers, each followed by its data:
//   offset 0     BOT header (blk_sz = capacity in MB, next = 1152)
//   offset 48    MAM (medium auxiliary memory, 1104 bytes, IBM Ultrium layout with C padding)
//   offset 1152  first block header ... an EOD header ends the list (next == curr).
// Every integer is big-endian except the CRC, which is the CRC32C of header bytes 4..47 stored in
// host (little-endian x86) order; tgt only warns on a bad CRC, so do we.
import { crc32cJs } from '../native/crc32c.js';

export const TAPE_FORMAT_VERSION = 2;
export const BLK_HDR_SIZE = 48;
export const MAM_SIZE = 1104;
/** The MAM sits right after the BOT header; the first real block header after the MAM. */
export const MAM_OFFSET = BLK_HDR_SIZE;
export const FIRST_HDR_OFFSET = BLK_HDR_SIZE + MAM_SIZE;

/** bs_ssc.h block types (one value per header, not a bit set in practice). */
export const BlkType = {
  Noop: 0x00,
  CompressedData: 0x01,
  UncompressedData: 0x02,
  EncryptedData: 0x04,
  Bot: 0x10,
  Eod: 0x20,
  Filemark: 0x40,
  Setmark: 0x80,
} as const;

/** SMC-3 cartridge types as tgt's media.h numbers them (the MAM medium_type byte). */
export const CartType = { Unspecified: 0, Data: 1, Clean: 2, Diagnostics: 3, Worm: 4, Microcode: 5 } as const;

export interface BlkHeader {
  /** Bytes of data stored after this header. */
  ondiskSize: number;
  /** Block size as written (BOT: capacity in MB). */
  blkSize: number;
  blkType: number;
  /** Logical block number: BOT is 0, the first block after it 1. */
  blkNum: number;
  /** File offsets of the previous, this and the next header. */
  prev: number;
  curr: number;
  next: number;
}

// Block header layout: 0 h_csum[4], 4 ondisk_sz, 8 blk_sz, 12 blk_type, 16 blk_num, 24 prev, 32 curr, 40 next.
export function encodeHeader(h: BlkHeader, into: Buffer = Buffer.alloc(BLK_HDR_SIZE)): Buffer {
  into.writeUInt32BE(h.ondiskSize >>> 0, 4);
  into.writeUInt32BE(h.blkSize >>> 0, 8);
  into.writeUInt32BE(h.blkType >>> 0, 12);
  into.writeBigUInt64BE(BigInt(h.blkNum), 16);
  into.writeBigUInt64BE(BigInt(h.prev), 24);
  into.writeBigUInt64BE(BigInt(h.curr), 32);
  into.writeBigUInt64BE(BigInt(h.next), 40);
  into.writeUInt32LE(crc32cJs(into, 0, 4, BLK_HDR_SIZE), 0);
  return into;
}

export interface DecodedHeader {
  header: BlkHeader;
  crcOk: boolean;
}

export function decodeHeader(b: Buffer): DecodedHeader {
  const u64 = (o: number): number => Number(b.readBigUInt64BE(o));
  return {
    header: {
      ondiskSize: b.readUInt32BE(4),
      blkSize: b.readUInt32BE(8),
      blkType: b.readUInt32BE(12),
      blkNum: u64(16),
      prev: u64(24),
      curr: u64(32),
      next: u64(40),
    },
    crcOk: b.readUInt32LE(0) === crc32cJs(b, 0, 4, BLK_HDR_SIZE),
  };
}

/** MAM field offsets inside its 1104 bytes (struct MAM of bs_ssc.h, with its explicit padding). */
const M = {
  tapeFmtVersion: 0, // u32
  remainingCapacity: 8, // u64
  maxCapacity: 16, // u64
  tapeAlert: 24,
  loadCount: 32,
  mamSpaceRemaining: 40,
  mediumManufacturer: 256, // 8 bytes
  mediumSerialNumber: 264, // 32 bytes
  mediumLength: 296, // u32
  mediumWidth: 300, // u32
  mediumType: 336, // u8
  mediumTypeInformation: 338, // u16
  applicationVendor: 344, // 8 bytes
  barcode: 568, // 32 bytes
  vendorUnique: 840, // 256 bytes
} as const;
const VENDOR_UNIQUE_LEN = 256;

/** The MAM fields stgt reads or writes; `raw` keeps the whole 1104 bytes. */
export interface Mam {
  tapeFmtVersion: number;
  remainingCapacity: number;
  maxCapacity: number;
  mediumType: number;
  /** NUL-terminated strings as C reads them. */
  barcode: string;
  mediumSerialNumber: string;
  raw: Buffer;
}

function cString(b: Buffer, off: number, len: number): string {
  const s = b.subarray(off, off + len);
  const z = s.indexOf(0);
  return s.subarray(0, z < 0 ? len : z).toString('latin1');
}

export function decodeMam(b: Buffer): Mam {
  return {
    tapeFmtVersion: b.readUInt32BE(M.tapeFmtVersion),
    remainingCapacity: Number(b.readBigUInt64BE(M.remainingCapacity)),
    maxCapacity: Number(b.readBigUInt64BE(M.maxCapacity)),
    mediumType: b[M.mediumType]!,
    barcode: cString(b, M.barcode, 32),
    mediumSerialNumber: cString(b, M.mediumSerialNumber, 32),
    raw: b,
  };
}

export type TapeMediaType = 'data' | 'clean' | 'worm';

/** tgtimg's media type test: a case-insensitive prefix ("data", "clean", "worm"), or null. */
export function tapeMediaType(s: string): TapeMediaType | null {
  const l = s.toLowerCase();
  if (l.startsWith('data')) return 'data';
  if (l.startsWith('clean')) return 'clean';
  if (l.startsWith('worm')) return 'worm';
  return null;
}

/**
 * A new, empty tape image as tgtimg writes it: BOT header, MAM, EOD header (1200 bytes).
 * `sizeMb` 0 means tgtimg's default of 8000 MB. `now` is the creation time in seconds (it goes into
 * the medium serial number "<barcode>_<time>"). Strings longer than their 32-byte fields are cut
 * (tgt's sprintf would run into the next field).
 */
export function newTapeImage(barcode: string, sizeMb: number, type: TapeMediaType, now: number): Buffer {
  const size = sizeMb === 0 ? 8000 : sizeMb;
  const img = Buffer.alloc(FIRST_HDR_OFFSET + BLK_HDR_SIZE);
  encodeHeader({ ondiskSize: 0, blkSize: size, blkType: BlkType.Bot, blkNum: 0, prev: 0, curr: 0, next: FIRST_HDR_OFFSET }, img.subarray(0, BLK_HDR_SIZE));
  const m = img.subarray(MAM_OFFSET, MAM_OFFSET + MAM_SIZE);
  const bytes = BigInt(size) * 1048576n;
  m.writeUInt32BE(TAPE_FORMAT_VERSION, M.tapeFmtVersion);
  m.writeBigUInt64BE(bytes, M.maxCapacity);
  m.writeBigUInt64BE(bytes, M.remainingCapacity);
  m.writeBigUInt64BE(BigInt(VENDOR_UNIQUE_LEN), M.mamSpaceRemaining);
  m.writeUInt32BE(384, M.mediumLength); // 384 tracks
  m.writeUInt32BE(127, M.mediumWidth); // 12.7 mm in tenths
  m.write('Foo     ', M.mediumManufacturer, 8, 'latin1');
  m.write('Bar     ', M.applicationVendor, 8, 'latin1');
  if (type === 'clean') {
    m[M.mediumType] = CartType.Clean;
    m.writeUInt16BE(20, M.mediumTypeInformation); // maximum cleaning loads
  } else {
    m[M.mediumType] = type === 'worm' ? CartType.Worm : CartType.Data;
  }
  // The serial and the barcode are NUL-terminated inside 32 bytes when they fit.
  Buffer.from(`${barcode}_${Math.trunc(now)}`, 'latin1').subarray(0, 32).copy(m, M.mediumSerialNumber);
  Buffer.from(barcode.padEnd(31, ' '), 'latin1').subarray(0, 32).copy(m, M.barcode);
  encodeHeader(
    { ondiskSize: 0, blkSize: 0, blkType: BlkType.Eod, blkNum: 1, prev: 0, curr: FIRST_HDR_OFFSET, next: FIRST_HDR_OFFSET },
    img.subarray(FIRST_HDR_OFFSET),
  );
  return img;
}
