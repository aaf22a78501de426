// SPC-4 6.6 INQUIRY: standard data and VPD pages 00h, 80h, 83h (SPC-4 7.8) and B0h/B1h/B2h (SBC-4 6.6).
import { parseInquiry } from './cdb-fields.js';
import { designator, luDesignators } from './lu-designators.js';
import { thirdPartyCopyPage } from './spc-xcopy.js';
import { Op, OpFlag } from './opcodes.js';
import type { OpRow } from './command-table.js';
import { Access } from './persistent-reservations.js';
import { Reason } from './sense.js';
import type { Cmd } from './command.js';
import type { LogicalUnit } from './logical-unit.js';
import { MAX_COMPARE_AND_WRITE, atomicUnit, maxAtomicBlocks } from './sbc-io.js';
import { MAX_UNMAP_BLOCKS, MAX_UNMAP_DESCRIPTORS, MAX_WRITE_SAME_BLOCKS } from './sbc-provisioning.js';
import { blockEraseAvailable } from './sbc-sanitize.js';

/** SPC-4 Table 142 version descriptors: SAM-5, iSCSI, SPC-4, SBC-3. */
const VERSION_DESCRIPTORS = [0x00a0, 0x0960, 0x0460, 0x04c0];

/** Standard INQUIRY data for `lu`, or for a LUN that is not there (qualifier 011b, type 1Fh). */
export function standardInquiry(lu: LogicalUnit | null, explicitAlua = false): Buffer {
  const b = Buffer.alloc(96);
  if (!lu) {
    // SPC-4 6.6.2: PERIPHERAL QUALIFIER 011b "not capable of supporting a device on this LUN"
    b[0] = 0x7f;
    b[2] = 0x06;
    b[3] = 0x12;
    b[4] = b.length - 5;
    return b;
  }
  b[0] = lu.peripheralType & 0x1f; // 0 PERIPHERAL QUALIFIER 000b | PERIPHERAL DEVICE TYPE
  b[1] = lu.removable ? 0x80 : 0x00; // 1 RMB
  b[2] = 0x06; // 2 VERSION: SPC-4
  b[3] = 0x12; // 3 HISUP | RESPONSE DATA FORMAT 2
  b[4] = b.length - 5; // 4 ADDITIONAL LENGTH
  // 5 SCCS|ACC|TPGS|3PC|PROTECT: TPGS 01b implicit ALUA (REPORT TARGET PORT GROUPS), 11b implicit
  // and explicit (SET TARGET PORT GROUPS too; `--params alua_explicit=1`); 3PC on a disk, whose
  // copy manager answers EXTENDED COPY (spc-xcopy.ts)
  b[5] = (explicitAlua ? 0x30 : 0x10) | (lu.typeName === 'disk' ? 0x08 : 0);
  b[6] = 0x00; // 6 ENCSERV|VS|MULTIP
  b[7] = 0x02; // 7 CMDQUE: task sets with tagged commands (SAM-5 8.6)
  b.write(lu.vendorField, 8, 8, 'latin1'); // 8..15 T10 VENDOR IDENTIFICATION
  b.write(lu.productField, 16, 16, 'latin1'); // 16..31 PRODUCT IDENTIFICATION
  b.write(lu.revisionField, 32, 4, 'latin1'); // 32..35 PRODUCT REVISION LEVEL
  // 58..73 VERSION DESCRIPTOR 1..8
  VERSION_DESCRIPTORS.forEach((v, i) => b.writeUInt16BE(v, 58 + 2 * i));
  return b;
}

function vpdHeader(lu: LogicalUnit, page: number, body: Buffer): Buffer {
  // SPC-4 7.8.1: 0 PERIPHERAL QUALIFIER|TYPE, 1 PAGE CODE, 2..3 PAGE LENGTH
  const b = Buffer.alloc(4 + body.length);
  b[0] = lu.peripheralType & 0x1f;
  b[1] = page;
  b.writeUInt16BE(body.length, 2);
  body.copy(b, 4);
  return b;
}

/** SCSI name string, NUL-terminated and padded to a multiple of 4 (SPC-4 7.8.6.11). */
function nameString(s: string): Buffer {
  const raw = Buffer.from(s, 'utf8');
  const len = (raw.length + 4) & ~3;
  const b = Buffer.alloc(len);
  raw.copy(b);
  return b;
}

function deviceIdPage(c: Cmd, lu: LogicalUnit): Buffer {
  const tname = c.ctx.name;
  const parts = luDesignators(tname, lu);
  // Relative target port identifier (type 4, PIV, target port, iSCSI protocol 5) and target port
  // group (type 5) of the port the command came in on (alua.ts: one port per group, numbered as it)
  const pg = c.ctx.portGroupOf(c.nexus);
  const rel = Buffer.alloc(4);
  rel.writeUInt16BE(pg.relativePorts[0]!, 2);
  parts.push(designator(0x51, 0x94, rel));
  const tpg = Buffer.alloc(4);
  tpg.writeUInt16BE(pg.id, 2);
  parts.push(designator(0x51, 0x95, tpg));
  // SCSI name string of the target port (type 8, UTF-8): "<iqn>,t,0x<portal group tag>" (RFC 7143 13.1 / SPC-4 7.8.6.11)
  parts.push(designator(0x53, 0x98, nameString(`${tname},t,0x${pg.portalGroupTag.toString(16).padStart(4, '0')}`)));
  // SCSI name string of the target device (association 10b)
  parts.push(designator(0x53, 0xa8, nameString(tname)));
  return Buffer.concat(parts);
}

function blockLimitsPage(c: Cmd, lu: LogicalUnit): Buffer {
  // SBC-4 6.6.4 Block Limits, page length 3Ch
  const b = Buffer.alloc(0x3c);
  const maxXfer = Math.floor(c.ctx.maxXferBytes / lu.blockSize);
  b[0] = lu.wsnz ? 0x01 : 0; // 4 WSNZ: 1 refuses WRITE SAME with zero blocks (`--params wsnz=1`; default 0, as tgt)
  b[1] = MAX_COMPARE_AND_WRITE; // 5 MAXIMUM COMPARE AND WRITE LENGTH
  b.writeUInt16BE(lu.optimalXferGran & 0xffff, 2); // 6..7 OPTIMAL TRANSFER LENGTH GRANULARITY
  b.writeUInt32BE(maxXfer, 4); // 8..11 MAXIMUM TRANSFER LENGTH
  b.writeUInt32BE(lu.optimalXferLen >>> 0, 8); // 12..15 OPTIMAL TRANSFER LENGTH
  b.writeUInt32BE(maxXfer, 12); // 16..19 MAXIMUM PREFETCH LENGTH
  if (lu.thin) {
    b.writeUInt32BE(MAX_UNMAP_BLOCKS, 16); // 20..23 MAXIMUM UNMAP LBA COUNT
    b.writeUInt32BE(MAX_UNMAP_DESCRIPTORS, 20); // 24..27 MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT
    b.writeUInt32BE(1 << lu.lbppbe, 24); // 28..31 OPTIMAL UNMAP GRANULARITY
  }
  b.writeUInt32BE(0, 32); // 36..43 MAXIMUM WRITE SAME LENGTH
  b.writeUInt32BE(MAX_WRITE_SAME_BLOCKS, 36);
  // 44..47 MAXIMUM ATOMIC TRANSFER LENGTH (WRITE ATOMIC(16)); 48..51 ATOMIC ALIGNMENT, 52..55
  // ATOMIC TRANSFER LENGTH GRANULARITY; 56..63 the atomic boundary limits 0: no boundaries
  b.writeUInt32BE(maxAtomicBlocks(c.ctx.maxXferBytes, lu.blockSize), 40);
  b.writeUInt32BE(atomicUnit(lu), 44);
  b.writeUInt32BE(atomicUnit(lu), 48);
  return b;
}

function characteristicsPage(lu: LogicalUnit): Buffer {
  // SBC-4 6.6.2: 4..5 MEDIUM ROTATION RATE, 6 PRODUCT TYPE, 7 WABEREQ|WACEREQ|NOMINAL FORM FACTOR
  const b = Buffer.alloc(0x3c);
  b.writeUInt16BE(lu.rotationRate, 0);
  // WABEREQ 01b: a read of a block not written since a BLOCK ERASE succeeds (it reads zeros,
  // LBPRZ=1); 00b where BLOCK ERASE is not offered. WACEREQ 00b: no CRYPTOGRAPHIC ERASE.
  if (blockEraseAvailable(lu)) b[3] = 0x40;
  return b;
}

function provisioningPage(lu: LogicalUnit): Buffer {
  // SBC-4 6.6.5: 4 THRESHOLD EXPONENT, 5 LBPU(7) LBPWS(6) LBPWS10(5) LBPRZ(4:2) ANC_SUP(1) DP(0),
  // 6 MINIMUM PERCENTAGE|PROVISIONING TYPE (010b thin), 7 THRESHOLD PERCENTAGE
  const b = Buffer.alloc(4);
  if (lu.thin) {
    b[1] = 0x80 | 0x40 | 0x20 | 0x04;
    b[2] = 0x02;
  }
  return b;
}

function supportedPages(lu: LogicalUnit): number[] {
  return lu.typeName === 'disk' ? [0x00, 0x80, 0x83, 0x8f, 0xb0, 0xb1, 0xb2] : [0x00, 0x80, 0x83];
}

function vpd(c: Cmd, lu: LogicalUnit, page: number): Buffer | null {
  if (!supportedPages(lu).includes(page)) return null;
  switch (page) {
    case 0x00:
      return vpdHeader(lu, 0x00, Buffer.from(supportedPages(lu)));
    case 0x80:
      return vpdHeader(lu, 0x80, Buffer.from(lu.scsiSn, 'latin1'));
    case 0x83:
      return vpdHeader(lu, 0x83, deviceIdPage(c, lu));
    case 0x8f:
      return vpdHeader(lu, 0x8f, thirdPartyCopyPage(lu));
    case 0xb0:
      return vpdHeader(lu, 0xb0, blockLimitsPage(c, lu));
    case 0xb1:
      return vpdHeader(lu, 0xb1, characteristicsPage(lu));
    case 0xb2:
      return vpdHeader(lu, 0xb2, provisioningPage(lu));
    default:
      return null;
  }
}

/** INQUIRY handler; also answers for LUNs that do not exist (lu null). */
export function inquiry(c: Cmd): void {
  const p = c.p;
  const lu = c.lu;
  c.task.transferLength = p.allocLen;
  if (!p.evpd) {
    // SPC-4 6.6.1: PAGE CODE must be zero when EVPD is zero
    if (p.pageCode !== 0) return c.fail(Reason.InvalidFieldInCdb);
    return c.dataIn(standardInquiry(lu, c.ctx.alua.explicit), p.allocLen);
  }
  if (!lu) return c.fail(Reason.LunNotSupported);
  const data = vpd(c, lu, p.pageCode);
  if (!data) return c.fail(Reason.InvalidFieldInCdb);
  c.dataIn(data, p.allocLen);
}

export const SPC_INQUIRY_ROWS: readonly OpRow[] = [
  { op: Op.Inquiry, name: 'INQUIRY', usage: '12 01 ff ff ff 07', parse: parseInquiry, exec: inquiry, access: Access.Always, flags: OpFlag.UaExempt | OpFlag.OfflineOk | OpFlag.Spc2ReservationOk | OpFlag.SanitizeOk | OpFlag.AluaUnavailableOk | OpFlag.NoLu },
];
