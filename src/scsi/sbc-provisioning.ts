// SBC-4 4.7 Logical block provisioning: WRITE SAME(10/16), UNMAP, GET LBA STATUS (from the store's allocation map when it has one).
import { parseGetLbaStatus, parseUnmap, parseWriteSame10, parseWriteSame16 } from './cdb-fields.js';
import { Op, OpFlag, ServiceAction } from './opcodes.js';
import type { OpRow } from './command-table.js';
import { Access } from './persistent-reservations.js';
import { Reason } from './sense.js';
import type { Cmd } from './command.js';
import { checkRange, checkWritable } from './sbc-io.js';
import type { IoError } from '../bs/api.js';

/** Block Limits VPD: MAXIMUM WRITE SAME LENGTH (blocks). */
export const MAX_WRITE_SAME_BLOCKS = 0x100000;
/**
 * Block Limits VPD: MAXIMUM UNMAP LBA COUNT (1 Mi blocks: libiscsi Inquiry.BlockLimits calls more
 * than 1024*1024 insane) and MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT.
 */
export const MAX_UNMAP_BLOCKS = 0x100000;
export const MAX_UNMAP_DESCRIPTORS = 256;
/** Bytes written per backing-store call by WRITE SAME. */
const WS_CHUNK = 1 << 20;

function isZero(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

function writeSame(c: Cmd): void {
  const lu = c.lu!;
  const p = c.p;
  const bs = lu.blockSize;
  c.task.transferLength = p.ndob ? 0 : bs;
  if (p.protect !== 0) return c.fail(Reason.InvalidFieldInCdb);
  // SBC-4 4.7.3.4: UNMAP=1 asks for the unmap operation, which exists only with logical block
  // provisioning management (LBPME=1, LBPWS/LBPWS10=1 in VPD B2h). A fully provisioned LU answers
  // INVALID COMMAND OPERATION CODE, as LIO does without emulate_tpws, rather than writing the data
  // and letting the initiator believe the blocks were unmapped (libiscsi WriteSame*.UnmapVPD takes
  // GOOD to mean "unmap available" and then requires LBPME and LBPWS*).
  if (p.unmap && !lu.thin) return c.fail(Reason.InvalidOpcode);
  // SBC-4 5.48: ANCHOR needs UNMAP, and anchored LBAs are not supported (ANC_SUP=0 in VPD B2h).
  if (p.anchor) return c.fail(Reason.InvalidFieldInCdb);
  // SBC-4 5.48/5.49: NUMBER OF LOGICAL BLOCKS zero means "to the last LBA" when Block Limits WSNZ
  // is 0 (the default); with WSNZ=1 (`--params wsnz=1`) it is refused.
  let blocks = p.blocks;
  if (blocks === 0) {
    if (!checkRange(c, lu, p.lba, 0)) return;
    if (lu.wsnz) return c.fail(Reason.InvalidFieldInCdb);
    blocks = lu.blocks - p.lba;
  }
  if (!checkRange(c, lu, p.lba, blocks)) return;
  if (blocks > MAX_WRITE_SAME_BLOCKS) return c.fail(Reason.InvalidFieldInCdb);
  if (!checkWritable(c, lu)) return;
  let pattern: Buffer;
  if (p.ndob) {
    pattern = Buffer.alloc(bs);
  } else {
    // exactly one logical block of Data-Out (libiscsi writesame*_invalid_dataout_size)
    if (c.task.dataOutLength !== bs) return c.fail(Reason.InvalidFieldInIu);
    pattern = c.dataOutFlat(bs)!;
  }
  const off = p.lba * bs;
  const total = blocks * bs;
  c.stats.wrSubmBytes += total;
  c.stats.wrSubmCmds++;
  c.ioBytes = total;
  c.flushAfter = !lu.modePages.wce;
  // SBC-4 5.48: UNMAP=1 asks for the unmap operation, and the data is written only where it is
  // not performed. A thin LU deallocates the whole range (as LIO does), which then reads back as
  // zeros (LBPRZ=1) whatever the pattern (libiscsi WriteSame*.UnmapUntilEnd sends 0xFF).
  if (p.unmap && lu.thin) {
    lu.dev.unmap!(off, total, c.onWriteDone);
    return;
  }
  const chunkBlocks = Math.max(1, Math.floor(WS_CHUNK / bs));
  const chunk = Buffer.allocUnsafe(Math.min(blocks, chunkBlocks) * bs);
  for (let o = 0; o < chunk.length; o += bs) pattern.copy(chunk, o);
  let done = 0;
  const step = (err: NodeJS.ErrnoException | null): void => {
    try {
      if (err) {
        c.stats.errs++;
        return c.ioFail(err, true);
      }
      if (done >= total) return c.onWriteDone(null);
      const n = Math.min(chunk.length, total - done);
      const at = off + done;
      done += n;
      lu.dev.write(at, [n === chunk.length ? chunk : chunk.subarray(0, n)], step);
    } catch (e) {
      c.internalError(e);
    }
  };
  step(null);
}

function unmap(c: Cmd): void {
  const lu = c.lu!;
  const p = c.p;
  c.task.transferLength = p.paramLen;
  // SBC-4 5.32: UNMAP exists only with logical block provisioning management (LBPU=1).
  if (!lu.thin) return c.fail(Reason.InvalidOpcode);
  if (p.anchor) return c.fail(Reason.InvalidFieldInCdb);
  if (!checkWritable(c, lu)) return;
  if (p.paramLen === 0) return c.good();
  if (p.paramLen < 8) return c.fail(Reason.ParamListLengthError);
  const data = c.dataOutFlat(p.paramLen);
  if (!data) return c.fail(Reason.InvalidFieldInIu);
  // 5.32.2 parameter list: 0..1 UNMAP DATA LENGTH, 2..3 UNMAP BLOCK DESCRIPTOR DATA LENGTH, 8.. descriptors
  // (0..7 UNMAP LOGICAL BLOCK ADDRESS, 8..11 NUMBER OF LOGICAL BLOCKS)
  const descLen = Math.min(data.readUInt16BE(2), p.paramLen - 8) & ~15;
  const n = descLen / 16;
  if (n > MAX_UNMAP_DESCRIPTORS) return c.fail(Reason.InvalidFieldInParamList);
  const ranges: number[] = [];
  for (let i = 0; i < n; i++) {
    const d = 8 + 16 * i;
    const lba = data.readUInt32BE(d) * 0x100000000 + data.readUInt32BE(d + 4);
    const cnt = data.readUInt32BE(d + 8);
    if (lba + cnt > lu.blocks || lba > lu.blocks) return c.fail(Reason.LbaOutOfRange);
    if (cnt > MAX_UNMAP_BLOCKS) return c.fail(Reason.InvalidFieldInParamList);
    if (cnt > 0) ranges.push(lba * lu.blockSize, cnt * lu.blockSize);
  }
  let i = 0;
  const next = (err: NodeJS.ErrnoException | null): void => {
    try {
      if (err) return c.ioFail(err, true);
      if (i >= ranges.length) return c.good();
      const off = ranges[i]!;
      const len = ranges[i + 1]!;
      i += 2;
      lu.dev.unmap!(off, len, next);
    } catch (e) {
      c.internalError(e);
    }
  };
  next(null);
}

/** Blocks examined per GET LBA STATUS without an allocation map: the answer covers a prefix of the range, as SBC-4 allows. */
const GLS_SCAN_BLOCKS = 1024;
/** LBA status descriptors one GET LBA STATUS returns at most from an allocation map. */
const GLS_MAX_DESCRIPTORS = 64;
/** NUMBER OF LOGICAL BLOCKS of one descriptor is 32 bits. */
const GLS_MAX_RUN = 0xffffffff;

/** One LBA status descriptor: first LBA, number of blocks, provisioning status (0 mapped, 1 deallocated). */
type LbaRun = [number, number, number];

/** Appends `n` blocks of status `st` at `lba`, merging with the last descriptor when it has the same status and room. */
function addRun(runs: LbaRun[], lba: number, n: number, st: number): void {
  const last = runs[runs.length - 1];
  if (last !== undefined && last[2] === st && last[1] + n <= GLS_MAX_RUN) last[1] += n;
  else runs.push([lba, n, st]);
}

/**
 * The LBA status of the LU from `lba` on, from the device's allocation map (contract 2.1), as at
 * most `max` descriptors. A block with any allocated byte is mapped; one that is a hole throughout
 * is deallocated (reads zeros: LBPRZ=1). Calls `cb` with the runs (at least one) or the store's error.
 */
function mapRuns(c: Cmd, lba: number, max: number, cb: (err: IoError, runs: LbaRun[]) => void): void {
  const lu = c.lu!;
  const bs = lu.blockSize;
  const blocks = lu.blocks;
  const runs: LbaRun[] = [];
  let at = lba;
  const next = (): void => {
    if (at >= blocks) return cb(null, runs);
    const off = at * bs;
    lu.dev.allocation!(off, (blocks - at) * bs, (err, run) => {
      try {
        if (err || run === undefined) return cb(err ?? new Error('no allocation run'), runs);
        let n: number;
        let st: number;
        if (run.allocated) {
          st = 0;
          n = Math.ceil((off + run.length) / bs) - at;
        } else {
          st = 1;
          n = Math.floor((off + run.length) / bs) - at;
          // a hole that ends inside this block: the block holds data after it
          if (n === 0) {
            st = 0;
            n = 1;
          }
        }
        n = Math.min(Math.max(n, 1), blocks - at);
        const last = runs[runs.length - 1];
        if (runs.length >= max && (last === undefined || last[2] !== st || last[1] + n > GLS_MAX_RUN)) return cb(null, runs);
        addRun(runs, at, n, st);
        at += n;
        next();
      } catch (e) {
        cb(e as Error, runs);
      }
    });
  };
  next();
}

function getLbaStatus(c: Cmd): void {
  const lu = c.lu!;
  const p = c.p;
  c.task.transferLength = p.allocLen;
  if (p.lba >= lu.blocks) return c.fail(Reason.LbaOutOfRange);
  const remaining = lu.blocks - p.lba;
  const emit = (runs: LbaRun[]): void => {
    // SBC-4 5.7.2: 0..3 PARAMETER DATA LENGTH, 8.. descriptors: 0..7 LBA, 8..11 NUMBER OF LOGICAL
    // BLOCKS, 12 PROVISIONING STATUS (0 mapped, 1 deallocated)
    const b = Buffer.alloc(8 + 16 * runs.length);
    b.writeUInt32BE(4 + 16 * runs.length, 0);
    runs.forEach(([lba, n, st], i) => {
      const d = 8 + 16 * i;
      b.writeUInt32BE(Math.floor(lba / 0x100000000), d);
      b.writeUInt32BE(lba >>> 0, d + 4);
      b.writeUInt32BE(n, d + 8);
      b[d + 12] = st;
    });
    c.dataIn(b, p.allocLen);
  };
  if (!lu.thin) return emit([[p.lba, Math.min(remaining, GLS_MAX_RUN), 0]]);
  if (typeof lu.dev.allocation === 'function') {
    // As many descriptors as the allocation length holds (at least one, at most GLS_MAX_DESCRIPTORS).
    const max = Math.min(GLS_MAX_DESCRIPTORS, Math.max(1, Math.floor((p.allocLen - 8) / 16)));
    return mapRuns(c, p.lba, max, (err, runs) => {
      try {
        if (err) return c.ioFail(err, false);
        emit(runs);
      } catch (e) {
        c.internalError(e);
      }
    });
  }
  // No allocation map: with LBPRZ=1 a deallocated block reads as zeros, so an all-zero block is
  // reported deallocated and anything else mapped.
  const scan = Math.min(remaining, GLS_SCAN_BLOCKS);
  const bs = lu.blockSize;
  const data = Buffer.allocUnsafe(scan * bs);
  lu.dev.read(p.lba * bs, data, (err) => {
    try {
      if (err) return c.ioFail(err, false);
      const runs: LbaRun[] = [];
      for (let i = 0; i < scan; i++) addRun(runs, p.lba + i, 1, isZero(data.subarray(i * bs, (i + 1) * bs)) ? 1 : 0);
      emit(runs);
    } catch (e) {
      c.internalError(e);
    }
  });
}

const M = OpFlag.NeedsMedium;

/** SBC-4 logical block provisioning commands. */
export const SBC_PROVISIONING_ROWS: readonly OpRow[] = [
  { op: Op.WriteSame10, name: 'WRITE SAME(10)', usage: '41 ec ff ff ff ff 1f ff ff 07', parse: parseWriteSame10, exec: writeSame, access: Access.Write, flags: M },
  { op: Op.Unmap, name: 'UNMAP', usage: '42 01 00 00 00 00 1f ff ff 07', parse: parseUnmap, exec: unmap, access: Access.Write, flags: M },
  { op: Op.WriteSame16, name: 'WRITE SAME(16)', usage: '93 ed ff ff ff ff ff ff ff ff ff ff ff ff 1f 07', parse: parseWriteSame16, exec: writeSame, access: Access.Write, flags: M },
  { op: Op.ServiceActionIn16, sa: ServiceAction.GetLbaStatus, name: 'GET LBA STATUS', usage: '9e 12 ff ff ff ff ff ff ff ff ff ff ff ff 00 07', parse: parseGetLbaStatus, exec: getLbaStatus, access: Access.Read, flags: M },
];
