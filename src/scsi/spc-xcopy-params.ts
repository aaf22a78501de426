// SPC-4 6.4.3 EXTENDED COPY(LID1) parameter list: header, CSCD descriptors (6.4.5) and segment descriptors (6.4.6), decoded and checked against the copy manager's limits.
import { Reason, fieldPointer } from './sense.js';
import type { SenseReason } from './sense.js';
import { u64 } from './cdb-fields.js';

/**
 * The copy manager's limits (RECEIVE COPY RESULTS OPERATING PARAMETERS and the Third-party Copy
 * VPD page report them). Chosen so that libiscsi's DescrLimits can exceed each one alone: 17 CSCD
 * descriptors with one segment, or one CSCD with 65 segments, both fit in the list length.
 */
export const XcopyLimit = {
  cscdDescriptors: 16,
  segmentDescriptors: 64,
  /** MAXIMUM DESCRIPTOR LIST LENGTH: CSCD plus segment descriptor bytes. */
  descriptorListBytes: 4096,
  /** MAXIMUM SEGMENT LENGTH in bytes (what one segment descriptor may move). */
  segmentBytes: 64 << 20,
  /** MAXIMUM INLINE DATA LENGTH: bytes of inline data after the segment descriptors (04h segments). */
  inlineBytes: 64 * 1024,
  /** EXTENDED COPY commands one LU's copy manager runs at once (TOTAL CONCURRENT COPIES). */
  concurrentCopies: 16,
} as const;

/** CSCD descriptor type codes (SPC-4 Table 115) and segment descriptor type codes (Table 114). */
export const Descriptor = {
  identification: 0xe4,
  blockToBlock: 0x02,
  inlineToStream: 0x04,
  embeddedToStream: 0x05,
  blockToBlockOffset: 0x0a,
} as const;
/** IMPLEMENTED DESCRIPTOR TYPE CODES, ascending. */
export const IMPLEMENTED_DESCRIPTORS = [
  Descriptor.blockToBlock, Descriptor.inlineToStream, Descriptor.embeddedToStream, Descriptor.blockToBlockOffset, Descriptor.identification,
];

/** LIST ID USAGE (SPC-4 Table 110): 00b hold results, 10b do not hold, 11b no list identifier (01b reserved). */
export const ListIdUsage = { hold: 0, noHold: 2, none: 3 } as const;

/** An identification CSCD descriptor (E4h, SPC-4 6.4.5.6): which LU, as a VPD 83h designator names it. */
export interface Cscd {
  /** Offset of the descriptor in the parameter list (field pointers). */
  readonly at: number;
  /** PERIPHERAL DEVICE TYPE. */
  readonly peripheralType: number;
  /** The designation descriptor (4-byte header and designator). */
  readonly designator: Buffer;
  /**
   * Device type specific parameters, byte 28 and 29..31: for a block device (SPC-4 Table 124) PAD
   * and DISK BLOCK LENGTH (0: not given); for a stream device (Table 125) PAD, FIXED (byte 28 bit 0)
   * and STREAM BLOCK LENGTH.
   */
  readonly pad: boolean;
  readonly fixed: boolean;
  readonly blockLength: number;
}

/** A block-to-block segment (02h, SPC-4 6.4.6.5) or block-to-block with byte offsets (0Ah, 6.4.6.7). */
export interface Segment {
  readonly at: number;
  readonly type: number;
  /** DC: NUMBER OF BLOCKS counts destination blocks (02h only). CAT: keep a residue for the next segment. */
  readonly dc: boolean;
  readonly cat: boolean;
  readonly src: number;
  readonly dst: number;
  /** 02h: NUMBER OF BLOCKS; 0Ah: NUMBER OF BYTES. */
  readonly count: number;
  readonly srcLba: number;
  readonly dstLba: number;
  /** 0Ah: SOURCE / DESTINATION BYTE OFFSET into the first block. */
  readonly srcByteOffset: number;
  readonly dstByteOffset: number;
  /** 04h / 05h: STREAM DEVICE TRANSFER LENGTH (8..11), and the bytes to write (a copy of the inline or embedded data). */
  readonly streamLength: number;
  readonly data: Buffer | null;
}

export interface XcopyList {
  readonly listId: number;
  readonly usage: number;
  readonly cscds: readonly Cscd[];
  readonly segments: readonly Segment[];
}

/** Why a parameter list is refused: ILLEGAL REQUEST sense, with a field pointer into the list when one helps. */
export interface XcopyListError {
  readonly reason: SenseReason;
  readonly field: number;
}

const HEADER = 16;
const CSCD_LEN = 32;
/** DESCRIPTOR LENGTH (bytes after the first four) of the implemented fixed-length segment types; 05h's varies. */
const SEGMENT_LEN: Readonly<Record<number, number>> = {
  [Descriptor.blockToBlock]: 0x18, [Descriptor.inlineToStream]: 0x14, [Descriptor.blockToBlockOffset]: 0x1c,
};
/** 05h: the fixed part after the first four bytes (4..15), before EMBEDDED DATA. */
const EMBEDDED_HEAD = 12;

function bad(reason: SenseReason, byte = -1, bit = -1): XcopyListError {
  return { reason, field: byte >= 0 ? fieldPointer(byte, bit, false) : -1 };
}

/**
 * Decodes and checks `d`, the whole parameter list (its length is the CDB's PARAMETER LIST LENGTH,
 * at least 1). Checks in the order that makes each error the one libiscsi's ExtendedCopy tests
 * provoke: lengths first (PARAMETER LIST LENGTH ERROR), then counts (TOO MANY ... DESCRIPTORS),
 * then each descriptor's type and fields.
 */
export function parseXcopyList(d: Buffer): XcopyList | XcopyListError {
  // 6.4.3.1 header: 0 LIST IDENTIFIER, 1 STR(5) LIST ID USAGE(4:3) PRIORITY(2:0), 2..3 CSCD DESCRIPTOR
  // LIST LENGTH, 8..11 SEGMENT DESCRIPTOR LIST LENGTH, 12..15 INLINE DATA LENGTH
  if (d.length < HEADER) return bad(Reason.ParamListLengthError);
  const listId = d[0]!;
  const usage = (d[1]! >> 3) & 3;
  const cscdBytes = d.readUInt16BE(2);
  const segBytes = d.readUInt32BE(8);
  const inlineBytes = d.readUInt32BE(12);
  if (usage === 1) return bad(Reason.InvalidFieldInParamList, 1, 4);
  if (usage === ListIdUsage.none && listId !== 0) return bad(Reason.InvalidFieldInParamList, 0);
  if (cscdBytes + segBytes > XcopyLimit.descriptorListBytes) return bad(Reason.ParamListLengthError);
  if (inlineBytes > XcopyLimit.inlineBytes) return bad(Reason.InlineDataLengthExceeded, 12);
  if (HEADER + cscdBytes + segBytes + inlineBytes > d.length) return bad(Reason.ParamListLengthError);

  const cscds: Cscd[] = [];
  const cscdEnd = HEADER + cscdBytes;
  for (let at = HEADER; at < cscdEnd; at += CSCD_LEN) {
    if (cscds.length >= XcopyLimit.cscdDescriptors) return bad(Reason.TooManyTargetDescriptors, at);
    // Every CSCD descriptor type but IPv6 and IP copy service (64 bytes, not implemented) is 32 bytes.
    if (d[at] !== Descriptor.identification) return bad(Reason.UnsupportedTargetDescriptorType, at);
    if (at + CSCD_LEN > cscdEnd) return bad(Reason.InvalidFieldInParamList, 2);
    // 6.4.5.6: 1 LU ID TYPE(7:6) NUL(5) PERIPHERAL DEVICE TYPE(4:0), 2..3 RELATIVE INITIATOR PORT
    // IDENTIFIER, 4..23 designation descriptor, 24..31 device type specific parameters. LU ID TYPE
    // and NUL are obsolete in SPC-4 (ignored: libiscsi ValidTgtDescr expects GOOD with LU ID TYPE 3);
    // the relative initiator port is ours to choose (any).
    const desLen = d[at + 7]!;
    if (desLen > 20) return bad(Reason.InvalidFieldInParamList, at + 7);
    const peripheralType = d[at + 1]! & 0x1f;
    cscds.push({
      at,
      peripheralType,
      designator: Buffer.from(d.subarray(at + 4, at + 8 + desLen)),
      // Table 124 block / Table 125 stream device parameters: 28 PAD(2) FIXED(0, stream), 29..31 BLOCK LENGTH
      pad: (d[at + 28]! & 0x04) !== 0,
      fixed: (d[at + 28]! & 0x01) !== 0,
      blockLength: d.readUIntBE(at + 29, 3),
    });
  }

  const segments: Segment[] = [];
  const segEnd = cscdEnd + segBytes;
  // 6.4.3.1: the inline data follows the segment descriptors
  const inline = d.subarray(segEnd, segEnd + inlineBytes);
  for (let at = cscdEnd; at < segEnd; ) {
    if (segments.length >= XcopyLimit.segmentDescriptors) return bad(Reason.TooManySegmentDescriptors, at);
    if (at + 4 > segEnd) return bad(Reason.InvalidFieldInParamList, 8);
    const type = d[at]!;
    const embedded = type === Descriptor.embeddedToStream;
    const length = d.readUInt16BE(at + 2);
    // 05h: 4..15 then EMBEDDED DATA padded to a multiple of four bytes
    const want = embedded ? (length >= EMBEDDED_HEAD && length % 4 === 0 ? length : -1) : SEGMENT_LEN[type];
    if (want === undefined) return bad(Reason.UnsupportedSegmentDescriptorType, at);
    // 6.4.6.1 header: 1 DC(1) CAT(0), 2..3 DESCRIPTOR LENGTH, 4..5 SOURCE CSCD DESCRIPTOR ID, 6..7 DESTINATION CSCD DESCRIPTOR ID
    if (length !== want) return bad(Reason.InvalidFieldInParamList, at + 2);
    if (at + 4 + want > segEnd) return bad(Reason.InvalidFieldInParamList, 8);
    const dc = (d[at + 1]! & 0x02) !== 0;
    if (dc && type !== Descriptor.blockToBlock) return bad(Reason.InvalidFieldInParamList, at + 1, 1);
    if (type === Descriptor.inlineToStream || embedded) {
      // 04h (6.4.6.6): 4..5 reserved, 6..7 DESTINATION CSCD DESCRIPTOR ID, 8..11 STREAM DEVICE
      // TRANSFER LENGTH, 12..19 INLINE DATA OFFSET (into the inline data), 20..23 INLINE DATA NUMBER
      // OF BYTES. 05h (6.4.6.7): 6..7, 8..11 as 04h, 14..15 EMBEDDED DATA NUMBER OF BYTES, 16.. EMBEDDED DATA.
      let data: Buffer;
      if (embedded) {
        const n = d.readUInt16BE(at + 14);
        if (n > length - EMBEDDED_HEAD) return bad(Reason.InvalidFieldInParamList, at + 14);
        data = Buffer.from(d.subarray(at + 16, at + 16 + n));
      } else {
        const off = u64(d, at + 12);
        const n = d.readUInt32BE(at + 20);
        if (off > inline.length || n > inline.length - off) return bad(Reason.InvalidFieldInParamList, off > inline.length ? at + 12 : at + 20);
        data = Buffer.from(inline.subarray(off, off + n));
      }
      segments.push({
        at, type, dc: false, cat: (d[at + 1]! & 0x01) !== 0, src: -1, dst: d.readUInt16BE(at + 6), count: data.length,
        srcLba: 0, dstLba: 0, srcByteOffset: 0, dstByteOffset: 0, streamLength: d.readUInt32BE(at + 8), data,
      });
      at += 4 + want;
      continue;
    }
    const offsets = type === Descriptor.blockToBlockOffset;
    segments.push({
      at,
      type,
      dc,
      cat: (d[at + 1]! & 0x01) !== 0,
      src: d.readUInt16BE(at + 4),
      dst: d.readUInt16BE(at + 6),
      // 02h: 10..11 NUMBER OF BLOCKS; 0Ah: 8..11 NUMBER OF BYTES; both 12..19 SOURCE LBA, 20..27 DESTINATION LBA
      count: offsets ? d.readUInt32BE(at + 8) : d.readUInt16BE(at + 10),
      srcLba: u64(d, at + 12),
      dstLba: u64(d, at + 20),
      // 0Ah: 28..29 SOURCE BYTE OFFSET, 30..31 DESTINATION BYTE OFFSET
      srcByteOffset: offsets ? d.readUInt16BE(at + 28) : 0,
      dstByteOffset: offsets ? d.readUInt16BE(at + 30) : 0,
      streamLength: 0,
      data: null,
    });
    at += 4 + want;
  }
  return { listId, usage, cscds, segments };
}
