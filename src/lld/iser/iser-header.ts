// RFC 7145 9.2 iSER header: the 28 bytes before every iSCSI control PDU in an RDMA Send, and the RDMA CM private data (Linux struct iser_cm_hdr).
//
// Byte 0: opcode in the high nibble (1 = iSCSI control-type PDU, 2 = Hello, 3 = HelloReply),
// W (0x08: Write STag valid, the initiator buffer the target RDMA-READs) and R (0x04: Read STag
// valid, the buffer the target RDMA-WRITEs). Bytes 1-3 reserved. 4-7 Write STag, 8-15 Write Base
// Offset, 16-19 Read STag, 20-27 Read Base Offset, all big-endian. ZBVA is not used, so the base
// offsets are the initiator's virtual addresses.

export const ISER_HEADER_LENGTH = 28;

export const IserOpcode = { Control: 0x1, Hello: 0x2, HelloReply: 0x3 } as const;

const OFF_FLAGS = 0;
const OFF_WRITE_STAG = 4;
const OFF_WRITE_VA = 8;
const OFF_READ_STAG = 16;
const OFF_READ_VA = 20;
const FLAG_WRITE_VALID = 0x08;
const FLAG_READ_VALID = 0x04;

/** A parsed iSER header; STags are null when their valid bit is clear. */
export interface IserHeader {
  opcode: number;
  writeStag: number | null;
  writeVA: bigint;
  readStag: number | null;
  readVA: bigint;
}

/** Parse the header at the start of `b`; null when `b` is too short. */
export function parseIserHeader(b: Buffer): IserHeader | null {
  if (b.length < ISER_HEADER_LENGTH) return null;
  const f = b[OFF_FLAGS]!;
  return {
    opcode: f >> 4,
    writeStag: (f & FLAG_WRITE_VALID) !== 0 ? b.readUInt32BE(OFF_WRITE_STAG) : null,
    writeVA: b.readBigUInt64BE(OFF_WRITE_VA),
    readStag: (f & FLAG_READ_VALID) !== 0 ? b.readUInt32BE(OFF_READ_STAG) : null,
    readVA: b.readBigUInt64BE(OFF_READ_VA),
  };
}

/** The header of a target-originated control PDU: opcode 1, no STags (the target advertises no buffers). */
export function writeControlHeader(b: Buffer, offset = 0): void {
  b.fill(0, offset, offset + ISER_HEADER_LENGTH);
  b[offset + OFF_FLAGS] = IserOpcode.Control << 4;
}

/** An initiator's header (tests and a future initiator): STags given are marked valid. */
export function writeInitiatorHeader(
  b: Buffer, write: { stag: number; va: bigint } | null, read: { stag: number; va: bigint } | null, offset = 0,
): void {
  b.fill(0, offset, offset + ISER_HEADER_LENGTH);
  let f = IserOpcode.Control << 4;
  if (write !== null) {
    f |= FLAG_WRITE_VALID;
    b.writeUInt32BE(write.stag, offset + OFF_WRITE_STAG);
    b.writeBigUInt64BE(write.va, offset + OFF_WRITE_VA);
  }
  if (read !== null) {
    f |= FLAG_READ_VALID;
    b.writeUInt32BE(read.stag, offset + OFF_READ_STAG);
    b.writeBigUInt64BE(read.va, offset + OFF_READ_VA);
  }
  b[offset + OFF_FLAGS] = f;
}

// ---------------------------------------------------------------- RDMA CM private data (iser.md E1)

/** struct iser_cm_hdr flags: ZBVA not supported (initiator) / not used (target). */
export const CM_ZBVA_NOT_SUPPORTED = 0x80;
/** struct iser_cm_hdr flags: Send-with-Invalidate not supported (initiator) / not used (target). */
export const CM_SEND_W_INV_NOT_SUPPORTED = 0x40;
export const CM_HEADER_LENGTH = 4;

/**
 * The initiator's CM header flags, or null when the private data is too short to hold one (tgt
 * accepts such initiators; IB pads private data with zeros, so lengths are never compared).
 */
export function parseCmHeader(privateData: Uint8Array): number | null {
  return privateData.length >= CM_HEADER_LENGTH ? privateData[0]! : null;
}

/** The target's accept private data: ZBVA not used and, as this target never sends with invalidate, 0x40. */
export function targetCmHeader(): Buffer {
  const b = Buffer.alloc(CM_HEADER_LENGTH);
  b[0] = CM_ZBVA_NOT_SUPPORTED | CM_SEND_W_INV_NOT_SUPPORTED;
  return b;
}
