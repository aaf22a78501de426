// SBC-4 5.x media access: READ, WRITE, WRITE AND VERIFY, VERIFY, ORWRITE, COMPARE AND WRITE.
import { DataDir } from './api.js';
import { parseCompareAndWrite, parseRw10, parseRw12, parseRw16, parseRw6, parseWriteAtomic16 } from './cdb-fields.js';
import { Op, OpFlag } from './opcodes.js';
import type { OpRow } from './command-table.js';
import { Access } from './persistent-reservations.js';
import { Reason } from './sense.js';
import type { Cmd } from './command.js';
import type { LogicalUnit } from './logical-unit.js';
import { IoKind } from '../metrics/latency.js';

/**
 * SBC-4 4.5: the range [lba, lba+blocks) must lie on the medium, else LBA OUT OF RANGE.
 * Returns false (and fails the command) when it does not.
 */
export function checkRange(c: Cmd, lu: LogicalUnit, lba: number, blocks: number): boolean {
  const n = lu.blocks;
  if (lba > n || lba + blocks > n || !Number.isSafeInteger(lba + blocks)) {
    c.fail(Reason.LbaOutOfRange);
    return false;
  }
  return true;
}

/** Common checks of a write-class command; false when the command already failed. */
export function checkWritable(c: Cmd, lu: LogicalUnit): boolean {
  if (lu.writeProtected) {
    c.fail(Reason.WriteProtected);
    return false;
  }
  return true;
}

/** Protection information is not supported (PROTECT=0 in INQUIRY): any *PROTECT field must be 0. */
function checkProtect(c: Cmd): boolean {
  if (c.p.protect !== 0) {
    c.fail(Reason.InvalidFieldInCdb);
    return false;
  }
  return true;
}

function checkXferLimit(c: Cmd, bytes: number): boolean {
  if (bytes > c.ctx.maxXferBytes) {
    c.fail(Reason.InvalidFieldInCdb);
    return false;
  }
  return true;
}

function read(c: Cmd): void {
  const lu = c.lu!;
  const p = c.p;
  const len = p.blocks * lu.blockSize;
  c.task.transferLength = len;
  if (!checkProtect(c) || !checkRange(c, lu, p.lba, p.blocks) || !checkXferLimit(c, len)) return;
  if (p.blocks === 0) return c.good();
  c.stats.rdSubmBytes += len;
  c.stats.rdSubmCmds++;
  c.ioBytes = len;
  lu.dev.read(p.lba * lu.blockSize, c.readInto(len), c.onReadDone);
}

function write(c: Cmd): void {
  const lu = c.lu!;
  const p = c.p;
  const len = p.blocks * lu.blockSize;
  c.task.transferLength = len;
  if (!checkProtect(c) || !checkRange(c, lu, p.lba, p.blocks) || !checkWritable(c, lu) || !checkXferLimit(c, len)) return;
  if (p.blocks === 0) return c.good();
  // RFC 7143 11.4.5.1 residual overflow: when the initiator's Expected Data Transfer Length is
  // shorter than the CDB's transfer length, the command runs on the data that was transferred and
  // the response reports the untransferred bytes as a residual overflow (transferLength stays the
  // CDB's length so the transport computes it). Only whole blocks can reach the medium, so a
  // partial tail block is not written (libiscsi iSCSIResiduals.Write*Residuals: GOOD, the first
  // EDTL bytes' blocks written, nothing beyond). Extra Data-Out beyond the CDB's length is ignored.
  const bytes = writableBytes(c.task.dataOutLength, len, lu.blockSize);
  if (bytes === 0) return c.good();
  const bufs = c.dataOutBufs(bytes)!;
  // Only the store sees the data, and only until its callback (BackingDevice.write).
  c.task.dataOutTransient = true;
  c.stats.wrSubmBytes += bytes;
  c.stats.wrSubmCmds++;
  c.ioBytes = bytes;
  // SBC-4 4.15: FUA, or a disabled write cache, means stable storage before GOOD.
  // WRITE AND VERIFY also implies the data reached the medium (SBC-4 5.42).
  c.flushAfter = p.fua || !lu.modePages.wce || isWriteAndVerify(p.opcode);
  lu.dev.write(p.lba * lu.blockSize, bufs, c.onWriteDone);
}

/** Bytes of a write that go to the medium: the whole blocks of min(Data-Out received, CDB length). */
export function writableBytes(received: number, cdbBytes: number, blockSize: number): number {
  const n = Math.min(received, cdbBytes);
  return n - (n % blockSize);
}

function isWriteAndVerify(op: number): boolean {
  return op === Op.WriteAndVerify10 || op === Op.WriteAndVerify12 || op === Op.WriteAndVerify16;
}

function writeAndVerify(c: Cmd): void {
  // SBC-4 5.42: BYTCHK 00b verify the medium, 01b compare with the Data-Out; both hold trivially
  // once the write (with flush) succeeded. Other values are not defined for WRITE AND VERIFY here.
  if (c.p.bytchk > 1) {
    c.task.transferLength = c.p.blocks * c.lu!.blockSize;
    return c.fail(Reason.InvalidFieldInCdb);
  }
  write(c);
}

/** Offset of the first differing byte of a and b (same length), or -1. */
export function firstDiff(a: Buffer, b: Buffer): number {
  if (a.equals(b)) return -1;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}

function verify(c: Cmd): void {
  const lu = c.lu!;
  const p = c.p;
  const bs = lu.blockSize;
  // SBC-4 5.35: BYTCHK 00b medium verification only; 01b compare blocks*bs bytes; 11b compare one
  // block against every block of the range; 10b reserved.
  const outLen = p.bytchk === 1 ? p.blocks * bs : p.bytchk === 3 ? (p.blocks > 0 ? bs : 0) : 0;
  c.task.transferLength = outLen;
  if (p.bytchk === 2) return c.fail(Reason.InvalidFieldInCdb);
  if (!checkProtect(c) || !checkRange(c, lu, p.lba, p.blocks) || !checkXferLimit(c, p.blocks * bs)) return;
  if (p.blocks === 0) return c.good();
  let expect: Buffer | null = null;
  if (p.bytchk !== 0) {
    expect = c.dataOutFlat(outLen);
    if (!expect) return c.fail(Reason.InvalidFieldInIu);
  }
  const len = p.blocks * bs;
  readThen(c, p.lba * bs, len, (data) => {
    if (expect) {
      if (p.bytchk === 1) {
        const d = firstDiff(data, expect);
        if (d >= 0) return c.fail(Reason.MiscompareDuringVerify, d);
      } else {
        for (let o = 0; o < len; o += bs) {
          const d = firstDiff(data.subarray(o, o + bs), expect);
          if (d >= 0) return c.fail(Reason.MiscompareDuringVerify, o + d);
        }
      }
    }
    c.good();
  });
}

/**
 * The read half of VERIFY, COMPARE AND WRITE and ORWRITE: counts it, turns an I/O error into sense
 * and an exception in `then` into an internal error.
 */
function readThen(c: Cmd, offset: number, len: number, then: (data: Buffer) => void): void {
  c.stats.rdSubmBytes += len;
  c.stats.rdSubmCmds++;
  // Scratch memory: this data is compared or merged, never sent, so it is not the transport's.
  const data = Buffer.allocUnsafe(len);
  c.lu!.dev.read(offset, data, (err) => {
    try {
      if (err) return c.ioFail(err, false);
      c.stats.rdDoneBytes += len;
      c.stats.rdDoneCmds++;
      c.ioKind = IoKind.Read;
      then(data);
    } catch (e) {
      c.internalError(e);
    }
  });
}

/** The write half of COMPARE AND WRITE and ORWRITE; FUA or WCE=0 flush before GOOD (SBC-4 4.15). */
function writeBack(c: Cmd, offset: number, data: Buffer): void {
  c.stats.wrSubmBytes += data.length;
  c.stats.wrSubmCmds++;
  c.ioBytes = data.length;
  c.flushAfter = c.p.fua || !c.lu!.modePages.wce;
  c.lu!.dev.write(offset, [data], c.onWriteDone);
}

/** Maximum NUMBER OF LOGICAL BLOCKS of COMPARE AND WRITE (Block Limits VPD byte 5). */
export const MAX_COMPARE_AND_WRITE = 255;

function compareAndWrite(c: Cmd): void {
  const lu = c.lu!;
  const p = c.p;
  const bs = lu.blockSize;
  const len = p.blocks * bs;
  // SBC-4 5.3: the Data-Out holds the verify data then the write data: 2 * NUMBER OF LOGICAL BLOCKS.
  c.task.transferLength = 2 * len;
  if (!checkProtect(c)) return;
  if (p.blocks > MAX_COMPARE_AND_WRITE) return c.fail(Reason.InvalidFieldInCdb);
  // SBC-4 5.3: NUMBER OF LOGICAL BLOCKS zero transfers no data. An initiator that sends Data-Out
  // anyway has a CDB that disagrees with its own transfer (e.g. 256 blocks truncated to the one-byte
  // field): the NUMBER OF LOGICAL BLOCKS field is invalid (libiscsi CompareAndWrite.Simple at 256).
  const sendsData = (c.task.dir & DataDir.Write) !== 0 && c.task.expectedLength > 0;
  if (p.blocks === 0 && sendsData) return c.fail(Reason.InvalidFieldInCdb);
  if (!checkRange(c, lu, p.lba, p.blocks) || !checkWritable(c, lu)) return;
  if (p.blocks === 0) return c.good();
  if (c.task.dataOutLength !== 2 * len) return c.fail(Reason.InvalidFieldInIu);
  const buf = c.dataOutFlat(2 * len)!;
  const verifyData = buf.subarray(0, len);
  const writeData = buf.subarray(len, 2 * len);
  // The engine runs COMPARE AND WRITE alone in the task set (exclusive), so read-compare-write is atomic.
  readThen(c, p.lba * bs, len, (data) => {
    const d = firstDiff(data, verifyData);
    // SBC-4 5.3: MISCOMPARE DURING VERIFY OPERATION, INFORMATION = offset of the first mismatch
    if (d >= 0) return c.fail(Reason.MiscompareDuringVerify, d);
    writeBack(c, p.lba * bs, writeData);
  });
}

function orWrite(c: Cmd): void {
  const lu = c.lu!;
  const p = c.p;
  const bs = lu.blockSize;
  const len = p.blocks * bs;
  c.task.transferLength = len;
  if (!checkProtect(c) || !checkRange(c, lu, p.lba, p.blocks) || !checkWritable(c, lu) || !checkXferLimit(c, len)) return;
  if (p.blocks === 0) return c.good();
  const src = c.dataOutFlat(len);
  if (!src) return c.fail(Reason.InvalidFieldInIu);
  // SBC-4 5.9: ORWRITE = read, OR with the Data-Out, write back (runs exclusive, so atomic).
  readThen(c, p.lba * bs, len, (data) => {
    for (let i = 0; i < len; i++) data[i] = data[i]! | src[i]!;
    writeBack(c, p.lba * bs, data);
  });
}

/**
 * Block Limits MAXIMUM ATOMIC TRANSFER LENGTH, in blocks (SBC-4 6.6.4), capped there at MAXIMUM
 * TRANSFER LENGTH. There is no atomic boundary support (both boundary fields 0).
 */
export const MAX_ATOMIC_BLOCKS = 8192;

/**
 * Block Limits ATOMIC ALIGNMENT and ATOMIC TRANSFER LENGTH GRANULARITY: the physical block (2^lbppbe
 * logical blocks) when it holds more than one logical block, so an atomic write never covers part
 * of a physical block; 0 (no restriction) otherwise.
 */
export function atomicUnit(lu: LogicalUnit): number {
  return lu.lbppbe > 0 ? 1 << lu.lbppbe : 0;
}

/**
 * SBC-4 4.29 / 5.50 WRITE ATOMIC(16): all of the blocks or none. The row is Atomic, so the write
 * runs alone in the task set: no other command sees part of it; every check (range, length,
 * protection, write protect, a short Data-Out) is made before the first byte goes to the store.
 * The store gets it as one write; what a host crash leaves of a write the store had not finished
 * is the store's (a file store offers no more than the file system's own guarantee).
 */
function writeAtomic(c: Cmd): void {
  const lu = c.lu!;
  const p = c.p;
  const len = p.blocks * lu.blockSize;
  c.task.transferLength = len;
  if (!checkProtect(c)) return;
  // no atomic boundary support (MAXIMUM ATOMIC BOUNDARY SIZE 0): a non-zero ATOMIC BOUNDARY is invalid
  if (p.atomicBoundary !== 0) return c.fail(Reason.InvalidFieldInCdb);
  if (!checkRange(c, lu, p.lba, p.blocks) || !checkWritable(c, lu)) return;
  if (p.blocks > maxAtomicBlocks(c.ctx.maxXferBytes, lu.blockSize)) return c.fail(Reason.InvalidFieldInCdb);
  if (p.blocks === 0) return c.good();
  // SBC-4 5.50: an LBA off the ATOMIC ALIGNMENT or a length off the GRANULARITY is an invalid field
  const unit = atomicUnit(lu);
  if (unit > 1 && (p.lba % unit !== 0 || p.blocks % unit !== 0)) return c.fail(Reason.InvalidFieldInCdb);
  // all or nothing: a Data-Out shorter than the CDB's length writes nothing
  if (c.task.dataOutLength < len) return c.fail(Reason.InvalidFieldInIu);
  const bufs = c.dataOutBufs(len)!;
  c.stats.wrSubmBytes += len;
  c.stats.wrSubmCmds++;
  c.ioBytes = len;
  c.flushAfter = p.fua || !lu.modePages.wce;
  lu.dev.write(p.lba * lu.blockSize, bufs, c.onWriteDone);
}

/** MAXIMUM ATOMIC TRANSFER LENGTH of an LU with `blockSize` (never above MAXIMUM TRANSFER LENGTH). */
export function maxAtomicBlocks(maxXferBytes: number, blockSize: number): number {
  return Math.min(MAX_ATOMIC_BLOCKS, Math.floor(maxXferBytes / blockSize));
}

const M = OpFlag.NeedsMedium;

/** SBC-4 media access commands. */
export const SBC_IO_ROWS: readonly OpRow[] = [
  { op: Op.Read6, name: 'READ(6)', usage: '08 1f ff ff ff 07', parse: parseRw6, exec: read, access: Access.Read, flags: M },
  { op: Op.Write6, name: 'WRITE(6)', usage: '0a 1f ff ff ff 07', parse: parseRw6, exec: write, access: Access.Write, flags: M },
  { op: Op.Read10, name: 'READ(10)', usage: '28 fa ff ff ff ff 1f ff ff 07', parse: parseRw10, exec: read, access: Access.Read, flags: M },
  { op: Op.Write10, name: 'WRITE(10)', usage: '2a fa ff ff ff ff 1f ff ff 07', parse: parseRw10, exec: write, access: Access.Write, flags: M },
  { op: Op.WriteAndVerify10, name: 'WRITE AND VERIFY(10)', usage: '2e f2 ff ff ff ff 1f ff ff 07', parse: parseRw10, exec: writeAndVerify, access: Access.Write, flags: M },
  { op: Op.Verify10, name: 'VERIFY(10)', usage: '2f f6 ff ff ff ff 1f ff ff 07', parse: parseRw10, exec: verify, access: Access.Read, flags: M },
  { op: Op.Read12, name: 'READ(12)', usage: 'a8 fa ff ff ff ff ff ff ff ff 1f 07', parse: parseRw12, exec: read, access: Access.Read, flags: M },
  { op: Op.Write12, name: 'WRITE(12)', usage: 'aa fa ff ff ff ff ff ff ff ff 1f 07', parse: parseRw12, exec: write, access: Access.Write, flags: M },
  { op: Op.WriteAndVerify12, name: 'WRITE AND VERIFY(12)', usage: 'ae f2 ff ff ff ff ff ff ff ff 1f 07', parse: parseRw12, exec: writeAndVerify, access: Access.Write, flags: M },
  { op: Op.Verify12, name: 'VERIFY(12)', usage: 'af f6 ff ff ff ff ff ff ff ff 1f 07', parse: parseRw12, exec: verify, access: Access.Read, flags: M },
  { op: Op.Read16, name: 'READ(16)', usage: '88 fa ff ff ff ff ff ff ff ff ff ff ff ff 1f 07', parse: parseRw16, exec: read, access: Access.Read, flags: M },
  { op: Op.Write16, name: 'WRITE(16)', usage: '8a fa ff ff ff ff ff ff ff ff ff ff ff ff 1f 07', parse: parseRw16, exec: write, access: Access.Write, flags: M },
  { op: Op.WriteAndVerify16, name: 'WRITE AND VERIFY(16)', usage: '8e f2 ff ff ff ff ff ff ff ff ff ff ff ff 1f 07', parse: parseRw16, exec: writeAndVerify, access: Access.Write, flags: M },
  { op: Op.Verify16, name: 'VERIFY(16)', usage: '8f f6 ff ff ff ff ff ff ff ff ff ff ff ff 1f 07', parse: parseRw16, exec: verify, access: Access.Read, flags: M },
  // read-compare-write and read-OR-write run alone in the task set, so they are atomic
  { op: Op.CompareAndWrite, name: 'COMPARE AND WRITE', usage: '89 fa ff ff ff ff ff ff ff ff 00 00 00 ff 1f 07', parse: parseCompareAndWrite, exec: compareAndWrite, access: Access.Write, flags: M | OpFlag.Atomic },
  { op: Op.WriteAtomic16, name: 'WRITE ATOMIC(16)', usage: '9c f8 ff ff ff ff ff ff ff ff ff ff ff ff 1f 07', parse: parseWriteAtomic16, exec: writeAtomic, access: Access.Write, flags: M | OpFlag.Atomic },
  { op: Op.OrWrite16, name: 'ORWRITE(16)', usage: '8b fa ff ff ff ff ff ff ff ff ff ff ff ff 1f 07', parse: parseRw16, exec: orWrite, access: Access.Write, flags: M | OpFlag.Atomic },
];
