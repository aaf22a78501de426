// SCSI commands for the hostile initiator (SBC-4 / SPC-4 CDBs): plain ones, READ/WRITE with lengths that disagree, random CDBs, AHS.
//
// Pure generators: each returns what goes into a SCSI Command PDU (flags, LUN, EDTL, CDB, data,
// AHS); the connection's fuzzer adds the tags and sequence numbers.

import type { Rand } from './rand.js';
import type { ConnLimits } from './hostile-ffp.js';

export const BLOCK = 512;

/** A SCSI Command PDU's content. `flags` is byte 1 minus F (R 0x40, W 0x20, ATTR 0x07). */
export interface CmdSpec {
  flags: number;
  lun?: number;
  edtl: number;
  cdb: Buffer;
  data?: Buffer | null;
  ahs?: Buffer | null;
}

/** Opcodes of src/scsi/opcodes.ts plus a few the engine does not know. */
const OPCODES = [
  0x00, 0x03, 0x04, 0x08, 0x0a, 0x12, 0x15, 0x16, 0x17, 0x1a, 0x1b, 0x1d, 0x1e, 0x25, 0x28, 0x2a, 0x2e, 0x2f, 0x34,
  0x35, 0x37, 0x41, 0x42, 0x55, 0x56, 0x57, 0x5a, 0x5e, 0x5f, 0x7f, 0x88, 0x89, 0x8a, 0x8b, 0x8e, 0x8f, 0x90, 0x91,
  0x93, 0x9e, 0xa0, 0xa3, 0xa8, 0xaa, 0xae, 0xaf, 0xb7, 0x4d, 0x1c, 0xa2, 0x3c, 0x3b,
];

/** CDB length by group code (SPC-4 4.2.5.1). */
function cdbLength(op: number): number {
  const group = op >> 5;
  return group === 0 ? 6 : group === 1 || group === 2 ? 10 : group === 5 ? 12 : 16;
}

/** READ/WRITE CDB of the given size with LBA and block count (SBC-4 5.x). */
export function rwCdb(write: boolean, size: 6 | 10 | 12 | 16, lba: number, blocks: number): Buffer {
  const c = Buffer.alloc(16);
  switch (size) {
    case 6:
      c[0] = write ? 0x0a : 0x08;
      c.writeUIntBE(lba & 0x1fffff, 1, 3); // 21-bit LBA
      c[4] = blocks & 0xff; // 0 means 256 blocks
      break;
    case 10:
      c[0] = write ? 0x2a : 0x28;
      c.writeUInt32BE(lba >>> 0, 2);
      c.writeUInt16BE(blocks & 0xffff, 7);
      break;
    case 12:
      c[0] = write ? 0xaa : 0xa8;
      c.writeUInt32BE(lba >>> 0, 2);
      c.writeUInt32BE(blocks >>> 0, 6);
      break;
    case 16:
      c[0] = write ? 0x8a : 0x88;
      c.writeUInt32BE(Math.floor(lba / 0x100000000) >>> 0, 2);
      c.writeUInt32BE(lba >>> 0, 6);
      c.writeUInt32BE(blocks >>> 0, 10);
      break;
  }
  return c;
}

/** An LBA where `blocks` blocks still fit on LUN 1. */
export function randomLba(r: Rand, lim: ConnLimits, blocks: number): number {
  return r.int(Math.max(1, lim.blocks - blocks));
}

/** TEST UNIT READY, INQUIRY (+VPD), READ CAPACITY(10/16), REPORT LUNS, MODE SENSE, SYNC CACHE, small READs. */
export function simpleCdb(r: Rand, lim: ConnLimits): CmdSpec {
  let cdb: Buffer;
  let edtl = 0;
  let lun = 1;
  switch (r.int(9)) {
    case 0: cdb = Buffer.from([0, 0, 0, 0, 0, 0]); break;
    case 1: cdb = Buffer.from([0x12, 0, 0, 0, 0xff, 0]); edtl = 255; lun = r.pick([0, 1]); break;
    case 2: cdb = Buffer.from([0x12, 1, r.pick([0, 0x80, 0x83, 0xb0, 0xb1, 0xb2, 0x86, r.byte()]), 0, 0xff, 0]); edtl = 255; break;
    case 3: cdb = Buffer.from([0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0]); edtl = 8; break;
    case 4: cdb = Buffer.from([0xa0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0]); edtl = 4096; lun = 0; break;
    case 5: cdb = Buffer.from([0x1a, 0, 0x3f, 0, 0xff, 0]); edtl = 255; break;
    case 6: cdb = Buffer.from([0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0]); edtl = 32; break;
    case 7: cdb = Buffer.from([0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0]); break;
    default: {
      const n = r.range(1, 16);
      cdb = rwCdb(false, r.pick([10, 16] as const), randomLba(r, lim, n), n);
      edtl = n * BLOCK;
    }
  }
  return { flags: edtl > 0 ? 0x40 : 0, lun, edtl, cdb };
}

/** A WRITE whose lengths disagree: EDTL vs CDB vs immediate data, W bit vs data, LBA range. */
export function badWriteCdb(r: Rand, lim: ConnLimits): CmdSpec {
  const n = r.range(0, 16);
  const size = r.pick([6, 10, 12, 16] as const);
  let lba = randomLba(r, lim, n);
  let edtl = n * BLOCK;
  let flags = 0x20;
  let data: Buffer | null = r.bytes(Math.min(n * BLOCK, lim.maxRecv));
  switch (r.int(9)) {
    case 0: edtl = r.int(n * BLOCK + 1); data = r.bytes(Math.min(edtl, lim.maxRecv)); break; // EDTL < CDB length
    case 1: edtl = n * BLOCK + r.range(1, 4096); break; // EDTL > CDB length, data short
    case 2: if (data.length > 0) edtl = r.int(data.length); break; // immediate data beyond EDTL
    case 3: flags = 0; break; // data without W
    case 4: edtl = 0; data = null; break; // W with nothing to write
    case 5: flags = 0x60; break; // R and W: bidirectional without the AHS
    case 6: lba = lim.blocks - r.int(4); break; // runs off the end
    case 7: lba = 0xffffffff - r.int(4); break; // LBA + length wraps
    default: edtl = r.u32(); break; // absurd EDTL
  }
  return { flags, edtl, cdb: rwCdb(true, size, lba, n), data };
}

/** A READ whose lengths disagree (underflow, overflow, no R bit, zero, out of range). */
export function badReadCdb(r: Rand, lim: ConnLimits): CmdSpec {
  const n = r.range(0, 64);
  let lba = randomLba(r, lim, n);
  let edtl = n * BLOCK;
  let flags = 0x40;
  switch (r.int(7)) {
    case 0: edtl = 0; break;
    case 1: edtl = r.int(n * BLOCK + 1); break;
    case 2: edtl = n * BLOCK + r.range(1, 65536); break;
    case 3: flags = 0; break;
    case 4: flags = 0x60; break;
    case 5: lba = lim.blocks - r.int(4); break;
    default: edtl = r.u32(); break;
  }
  return { flags, edtl, cdb: rwCdb(false, r.pick([6, 10, 12, 16] as const), lba, n) };
}

/** Any opcode with random CDB bytes, flags, task attribute and EDTL (the caller picks the LUN). */
export function randomCdb(r: Rand): CmdSpec {
  const op = r.chance(0.7) ? r.pick(OPCODES) : r.byte();
  const cdb = r.bytes(16);
  cdb[0] = op;
  if (r.chance(0.5)) cdb.fill(0, cdbLength(op)); // a well-sized CDB half of the time
  if (r.chance(0.3)) cdb[1] = cdb[1]! & 0x1f; // keep obsolete/protect bits quiet sometimes
  const flags = (r.chance(0.5) ? 0x40 : 0) | (r.chance(0.4) ? 0x20 : 0) | r.int(8);
  const edtl = r.pick([0, 0, 8, 18, 24, 96, 255, 512, 4096, r.int(65537), r.u32()]);
  const data = (flags & 0x20) !== 0 && r.chance(0.6) ? r.bytes(Math.min(edtl, r.int(4097))) : null;
  return { flags, edtl, cdb, data };
}

/** Commands with AHS (RFC 7143 11.2.2): extended CDB, bidirectional read length, malformed areas. */
export function ahsCommand(r: Rand): CmdSpec {
  let ahs: Buffer;
  let flags = 0x40;
  switch (r.int(4)) {
    case 0: { // a 32-byte variable-length CDB: 16 bytes in the AHS (AHSLength 17 = reserved + 16)
      ahs = Buffer.alloc(20);
      ahs.writeUInt16BE(17, 0);
      ahs[2] = 1;
      r.bytes(16).copy(ahs, 4);
      break;
    }
    case 1: { // bidirectional read length, AHSLength 5
      ahs = Buffer.alloc(8);
      ahs.writeUInt16BE(r.chance(0.8) ? 5 : r.int(9), 0);
      ahs[2] = 2;
      ahs.writeUInt32BE(r.pick([0, 512, 4096, r.u32()]), 4);
      flags = 0x60;
      break;
    }
    case 2: { // AHSLength running past the area
      ahs = Buffer.alloc(4 * r.range(1, 4));
      ahs.writeUInt16BE(ahs.length + r.range(0, 300), 0);
      ahs[2] = r.byte();
      break;
    }
    default:
      ahs = r.bytes(4 * r.range(1, 16));
  }
  const cdb = r.bytes(16);
  cdb[0] = r.pick([0x7f, 0x28, 0x2a, 0x00, 0x12, r.byte()]);
  return { flags, edtl: r.pick([0, 512, 4096]), cdb, ahs };
}
