// RFC 7143 12.1 / Appendix B.4 CRC32C (Castagnoli): iSCSI header and data digests (through
// iscsi/crc32c.ts), and the block-header CRC of tgt's tape format (scsi/ssc-format.ts).
//
// Headers are short (48 bytes + AHS), so they use the inline slicing-by-8 JS below: a native
// call costs more than it saves there. Data segments use @node-rs/crc32 (SSE4.2 / ARMv8 CRC) when
// it loads, the same JS otherwise. Both take a running CRC (`crc` = the value returned for the
// previous part, 0 to start), so a digest can span a list of Buffers:
//   crc32cData(b, crc32cData(a)) === crc32cData(Buffer.concat([a, b]))

/** Reflected Castagnoli polynomial 0x1EDC6F41. */
const POLY = 0x82f63b78;

/** Eight 256-entry tables for slicing-by-8; computed once, never written after. */
const T: readonly Uint32Array[] = buildTables();

function buildTables(): Uint32Array[] {
  const t: Uint32Array[] = [];
  for (let k = 0; k < 8; k++) t.push(new Uint32Array(256));
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let j = 0; j < 8; j++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[0]![i] = c >>> 0;
  }
  for (let i = 0; i < 256; i++) {
    let c = t[0]![i]!;
    for (let k = 1; k < 8; k++) {
      c = t[0]![c & 0xff]! ^ (c >>> 8);
      t[k]![i] = c >>> 0;
    }
  }
  return t;
}

/**
 * CRC32C of buf[start, end) in JS, continuing from `crc` (a finished CRC value, as returned by
 * this function; 0 for a fresh start).
 */
export function crc32cJs(buf: Uint8Array, crc = 0, start = 0, end = buf.length): number {
  const t0 = T[0]!, t1 = T[1]!, t2 = T[2]!, t3 = T[3]!, t4 = T[4]!, t5 = T[5]!, t6 = T[6]!, t7 = T[7]!;
  let c = ~crc >>> 0;
  let i = start;
  const fast = end - ((end - start) & 7);
  while (i < fast) {
    const lo = (c ^ (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24))) >>> 0;
    c =
      t7[lo & 0xff]! ^ t6[(lo >>> 8) & 0xff]! ^ t5[(lo >>> 16) & 0xff]! ^ t4[lo >>> 24]! ^
      t3[buf[i + 4]!]! ^ t2[buf[i + 5]!]! ^ t1[buf[i + 6]!]! ^ t0[buf[i + 7]!]!;
    i += 8;
  }
  while (i < end) c = t0[(c ^ buf[i++]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

type Native = (input: Uint8Array, initialState?: number) => number;

/**
 * The native implementation once it has loaded, null before and when the addon is missing (then
 * JS is used: the same digests). Loaded in the background at the first data digest, not at start:
 * most daemons never negotiate DataDigest, and loading the addon is a good part of tgtd's CPU to
 * ready (BENCHMARKS.md "Start-up"); no top-level await either, so this file compiles to CommonJS
 * (the installed tgtd). The first digests of the first connection that uses them are JS.
 */
let native: Native | null = null;
let nativeLoad: Promise<boolean> | null = null;

/** Starts loading the addon if nobody has; resolves whether data digests now run on it. */
export function crc32cLoadNative(): Promise<boolean> {
  nativeLoad ??= import('@node-rs/crc32').then(
    (m: { crc32c?: Native }) => {
      if (typeof m.crc32c === 'function') native = m.crc32c;
      return native !== null;
    },
    () => false,
  );
  return nativeLoad;
}

/** True when data digests run on the native addon (false until it has loaded). */
export function crc32cNative(): boolean {
  return native !== null;
}

/** CRC32C of a header (BHS + AHS): JS, no native call. */
export function crc32cHeader(buf: Uint8Array, crc = 0): number {
  return crc32cJs(buf, crc, 0, buf.length);
}

/** CRC32C of a data segment (or part of one, continuing from `crc`). */
export function crc32cData(buf: Uint8Array, crc = 0): number {
  if (nativeLoad === null) void crc32cLoadNative();
  if (native !== null && buf.length >= 64) return native(buf, crc) >>> 0;
  return crc32cJs(buf, crc, 0, buf.length);
}

/**
 * CRC32C over a list of buffers plus `pad` zero bytes (RFC 7143 11.2.4: the data digest covers
 * the data segment including its padding).
 */
export function crc32cList(bufs: readonly Uint8Array[], pad = 0): number {
  let crc = 0;
  for (let i = 0; i < bufs.length; i++) crc = crc32cData(bufs[i]!, crc);
  if (pad > 0) crc = crc32cJs(ZEROS, crc, 0, pad);
  return crc;
}
const ZEROS = new Uint8Array(4);

/**
 * Digests travel least significant byte first (RFC 7143 Appendix B.4: 32 zero bytes give the
 * bytes aa 36 91 8a, i.e. CRC 0x8a9136aa written little-endian).
 */
export function writeDigest(buf: Buffer, offset: number, crc: number): void {
  buf.writeUInt32LE(crc >>> 0, offset);
}
export function readDigest(buf: Buffer, offset: number): number {
  return buf.readUInt32LE(offset);
}
