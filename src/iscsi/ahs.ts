// RFC 7143 11.2.2 Additional Header Segments: Extended CDB (11.3.5) and Bidirectional Read Expected Data Transfer Length (11.3.6).
//
// An AHS is AHSLength (2 bytes, the length of the AHS-specific part starting at byte 3, without
// padding), AHSType (1 byte), then the AHS-specific bytes, padded to a multiple of 4. The AHS
// area is TotalAHSLength*4 bytes right after the BHS.

export const AhsType = { ExtendedCdb: 1, BidiReadLength: 2 } as const;

/** Size of one AHS including its 3 header bytes and padding. */
function ahsSize(ahsLength: number): number {
  return (3 + ahsLength + 3) & ~3;
}

/**
 * Offset of the first AHS of `type` in the AHS area, -1 if absent, -2 if the area is malformed
 * (an AHS that runs past the end). Scans all AHSs so malformed trailing ones are detected too.
 */
export function ahsFind(ahs: Buffer, type: number): number {
  let off = 0;
  let found = -1;
  while (off < ahs.length) {
    if (off + 3 > ahs.length) return -2;
    const len = ahs.readUInt16BE(off);
    const size = ahsSize(len);
    if (off + 3 + len > ahs.length) return -2;
    if (found < 0 && ahs[off + 2] === type) found = off;
    off += size;
  }
  return found;
}

/** True if every AHS in the area is well formed (lengths stay within the area). */
export function ahsValid(ahs: Buffer): boolean {
  return ahsFind(ahs, 0x100) !== -2;
}

/**
 * The full CDB: the 16 BHS bytes followed by the extended CDB bytes (RFC 7143 11.3.5). Returns
 * the BHS view when there is no extended-CDB AHS, null when the AHS is malformed. Long CDBs are
 * rare (32-byte variable-length CDBs), so only that case allocates.
 */
export function fullCdb(bhs: Buffer, ahs: Buffer): Buffer | null {
  const base = bhs.subarray(32, 48);
  if (ahs.length === 0) return base;
  const off = ahsFind(ahs, AhsType.ExtendedCdb);
  if (off === -1) return base;
  if (off < 0) return null;
  const len = ahs.readUInt16BE(off);
  if (len < 2) return null; // reserved byte plus at least one CDB byte
  const ext = ahs.subarray(off + 4, off + 3 + len);
  return Buffer.concat([base, ext], 16 + ext.length);
}

/**
 * Bidirectional Read Expected Data Transfer Length (RFC 7143 11.3.6): AHSLength 5, reserved
 * byte, 4-byte length. -1 when absent, -2 when malformed.
 */
export function bidiReadLength(ahs: Buffer): number {
  if (ahs.length === 0) return -1;
  const off = ahsFind(ahs, AhsType.BidiReadLength);
  if (off < 0) return off;
  if (ahs.readUInt16BE(off) !== 5) return -2;
  return ahs.readUInt32BE(off + 4);
}

/** Encodes an extended CDB AHS for the CDB bytes beyond the 16th (used by tests and initiators). */
export function encodeExtendedCdbAhs(cdb: Buffer): Buffer {
  const ext = cdb.subarray(16);
  const len = ext.length + 1;
  const out = Buffer.alloc(ahsSize(len));
  out.writeUInt16BE(len, 0); // AHSLength
  out[2] = AhsType.ExtendedCdb; // AHSType
  ext.copy(out, 4); // byte 3 reserved, then ExtendedCDB
  return out;
}

/** Encodes a Bidirectional Read Expected Data Transfer Length AHS (8 bytes). */
export function encodeBidiReadLengthAhs(length: number): Buffer {
  const out = Buffer.alloc(8);
  out.writeUInt16BE(5, 0); // AHSLength = 0x0005
  out[2] = AhsType.BidiReadLength;
  out.writeUInt32BE(length >>> 0, 4);
  return out;
}
