// SPC-4 6.4 EXTENDED COPY(LID1) and 6.18 RECEIVE COPY RESULTS: each disk LU's copy manager, copying between any LUs this daemon serves; 7.8.17 Third-party Copy VPD page.
import { Status } from './api.js';
import { parseExtendedCopy, parseReceiveCopyResults } from './cdb-fields.js';
import { Op, OpFlag, ServiceAction } from './opcodes.js';
import type { OpRow } from './command-table.js';
import type { Cmd } from './command.js';
import { DeviceState } from './device-type.js';
import type { LogicalUnit } from './logical-unit.js';
import { luDesignators, sameDesignator } from './lu-designators.js';
import { Access } from './persistent-reservations.js';
import { Reason, buildSense, fieldPointer, segmentPointer } from './sense.js';
import type { SenseReason } from './sense.js';
import { Descriptor, IMPLEMENTED_DESCRIPTORS, ListIdUsage, XcopyLimit, parseXcopyList } from './spc-xcopy-params.js';
import type { Cscd, Segment, XcopyList } from './spc-xcopy-params.js';
import type { IoError } from '../bs/api.js';
import { loadedTape } from './ssc.js';
import type { TapeSense } from './ssc-tape.js';

/*
 * Decisions where SPC-4 leaves the copy manager a choice (written down so they are not rediscovered):
 * - A copy target is any LU of any target of this daemon whose VPD 83h LU designator (T10 vendor
 *   ID or NAA) equals the CSCD descriptor's; CSCD descriptor ID FFFFh is the LU that received the
 *   command. Nothing outside the daemon is reachable (COPY TARGET DEVICE NOT REACHABLE).
 * - Every segment is checked (indexes, copy targets, ranges, reservations, write protection)
 *   before any data moves, so a refused EXTENDED COPY changed nothing.
 * - A copy target another initiator holds under an SPC-2 or persistent reservation that the
 *   EXTENDED COPY's I_T nexus would conflict with by a READ (source) or WRITE (destination) ends
 *   the command with RESERVATION CONFLICT, as if the initiator had sent that READ or WRITE.
 * - A range beyond a copy target's capacity ends it with COPY ABORTED and no additional sense
 *   code (the segment pointer names the LBA field): libiscsi ValidSegDescr accepts 00h/00h, 08h/04h
 *   or 0Dh/02h, and LOGICAL BLOCK ADDRESS OUT OF RANGE is an ILLEGAL REQUEST code.
 * - A copy within one LU whose ranges overlap behaves as if the whole source were read first
 *   (it runs backwards when the destination is above the source).
 * - Data moves through the backing store API in chunks of at most COPY_CHUNK bytes, one chunk at
 *   a time per command; an abort of the command, or the close of any LU it uses, stops it between
 *   chunks (a chunk in flight completes first).
 * - Results are held (LIST ID USAGE 00b) per I_T nexus and list identifier until the same list
 *   identifier is used again, the nexus goes away, or HELD_RESULTS newer ones push them out.
 * - Inline data (04h) and embedded data (05h) segments write their bytes to a stream copy target:
 *   a tape drive LU of the daemon with a tape loaded, at its current position, as WRITE(6) would.
 *   With FIXED=1 in the CSCD descriptor the bytes are blocks of its STREAM BLOCK LENGTH (a last
 *   partial block is padded with zeros when PAD=1, else the segment is inexact); with FIXED=0 they
 *   are variable-length blocks of STREAM DEVICE TRANSFER LENGTH bytes (the last one shorter; 0:
 *   one block of all of them). Zero bytes write nothing. The tape's early-warning condition is not
 *   an error (the data is on the tape); a tape too full for the data ends the copy with COPY
 *   ABORTED / END-OF-PARTITION/MEDIUM DETECTED.
 */

/** Bytes read and written per backing-store call. */
export const COPY_CHUNK = 1 << 20;
/** Completed copies whose results one I_T nexus may hold per LU. */
const HELD_RESULTS = 32;
/** CSCD descriptor ID of the LU whose copy manager received the command (SPC-4 Table 117). */
const THIS_LU = 0xffff;

/** COPY MANAGER STATUS (SPC-4 6.18.3): 00h in progress, 01h completed without errors, 02h completed with errors. */
const CopyManagerStatus = { inProgress: 0x00, good: 0x01, failed: 0x02 } as const;

/** What RECEIVE COPY RESULTS reports of one EXTENDED COPY. */
interface CopyRecord {
  status: number;
  segments: number;
  bytes: number;
  /** The sense data the command ended with (FAILED SEGMENT DETAILS), or null. */
  sense: Buffer | null;
}

/** One running EXTENDED COPY. */
interface CopyOp {
  readonly cmd: Cmd;
  readonly lus: Set<LogicalUnit>;
  /** An LU it uses is being closed: stop between chunks. */
  stopped: boolean;
  /** Called when the op has ended (no I/O left in flight). */
  readonly ended: (() => void)[];
}

/** Per-LU copy manager state: copies running on or through it, and the held results of its own copies. */
class CopyManager {
  /** Copies that use this LU (received by it, or reading or writing it). */
  readonly users = new Set<CopyOp>();
  /** Copies this LU's copy manager runs. */
  running = 0;
  /** nexus id -> list identifier -> record (Map order: oldest first). */
  readonly results = new Map<number, Map<number, CopyRecord>>();
  /** nexus id -> list identifiers of running copies (OPERATION IN PROGRESS for a duplicate). */
  readonly active = new Map<number, Set<number>>();
}
const COPY_MANAGER = new DeviceState('copy manager', () => new CopyManager());

/**
 * Stops every EXTENDED COPY that reads or writes `lu` (the LU is being closed): `done` runs once
 * none of them has I/O in flight. They end with COPY ABORTED / COPY TARGET DEVICE NOT REACHABLE.
 */
export function stopCopiesUsing(lu: LogicalUnit, done: () => void): void {
  const ops = [...lu.state(COPY_MANAGER).users];
  let left = ops.length + 1;
  const one = (): void => {
    if (--left === 0) done();
  };
  for (const op of ops) {
    op.stopped = true;
    op.ended.push(one);
  }
  one();
}

/** SPC-4 6.18: held copy results end with the I_T nexus that they belong to. */
export function dropCopyResults(lu: LogicalUnit, nexusId: number): void {
  lu.state(COPY_MANAGER).results.delete(nexusId);
}

// ---- finding copy targets

/** The copy target a CSCD descriptor names: an LU of this daemon with that LU designator. */
function findCopyTarget(c: Cmd, cscd: Cscd): LogicalUnit | null {
  for (const t of c.ctx.copyScope()) {
    for (const lu of t.luns.values()) {
      if (lu.lun === 0 && lu.typeName === 'controller') continue;
      if (luDesignators(t.name, lu).some((mine) => sameDesignator(cscd.designator, mine))) return lu;
    }
  }
  return null;
}

/** One segment resolved to LUs and byte ranges. */
interface Plan {
  readonly seg: Segment;
  readonly index: number;
  readonly src: LogicalUnit;
  readonly dst: LogicalUnit;
  /** Byte offsets on the two devices and the length. */
  readonly srcOff: number;
  readonly dstOff: number;
  readonly len: number;
  /** Destination blocks padded with zeros after the data (PAD with an inexact DC=0 02h segment). */
  readonly padTo: number;
  /** 04h / 05h: the blocks to write to the stream destination, and whether they are fixed-length; null for block segments. */
  readonly stream: { readonly blocks: readonly Buffer[]; readonly fixed: boolean } | null;
}

/** A refusal found while planning: the sense reason and its fields (COPY ABORTED: segment pointer and number). */
interface Refusal {
  readonly reason: SenseReason | 'conflict';
  readonly field: number;
  readonly segment: number;
}

/** Whether a READ (`access` Read) or WRITE of `target` from the EXTENDED COPY's initiator port would meet a reservation conflict. */
function conflicts(c: Cmd, target: LogicalUnit, access: Access): boolean {
  const n = c.nexus;
  if (target.reservedBy !== -1) {
    // An SPC-2 reservation belongs to an I_T nexus of the copy target's own SCSI target: the same
    // initiator port logged in there holds it too.
    if (target.tid === c.lu!.tid) {
      if (target.reservedBy !== n.id) return true;
    } else {
      let holder: string | undefined;
      for (const t of c.ctx.copyScope()) if (t.tid === target.tid) holder = t.nexuses.get(target.reservedBy)?.initiatorPort;
      if (holder !== n.initiatorPort) return true;
    }
  }
  // On the LU's own target the I_T nexus is the command's; on another target, the initiator port
  // through whichever of that target's ports (the copy manager acts for the initiator port there).
  const pn = target.tid === c.lu!.tid ? c.ctx.prNexus(n) : { port: n.initiatorPort, relPort: null };
  return target.pr.reserved && target.pr.conflicts(pn, access);
}

/** Peripheral device types of copy targets: direct access block and sequential-access (stream). */
const BLOCK_DEVICE = 0x00;
const STREAM_DEVICE = 0x01;

/**
 * The LU CSCD descriptor ID `id` names (field `idAt` of segment `index`), or why it cannot be used;
 * `type` is the peripheral device type the segment moves data to or from.
 */
function resolve(c: Cmd, list: XcopyList, id: number, idAt: number, index: number, memo: Map<number, LogicalUnit | null>, type = BLOCK_DEVICE): LogicalUnit | Refusal {
  let lu: LogicalUnit | null | undefined = c.lu!;
  if (id !== THIS_LU) {
    const cscd = list.cscds[id];
    if (cscd === undefined) return { reason: Reason.CopyTargetNotReachable, field: segmentPointer(idAt), segment: index };
    lu = memo.get(id);
    if (lu === undefined) memo.set(id, (lu = findCopyTarget(c, cscd)));
    if (lu === null) return { reason: Reason.CopyTargetNotReachable, field: segmentPointer(idAt), segment: index };
    if (cscd.peripheralType !== lu.peripheralType) return { reason: Reason.IncorrectCopyTargetType, field: segmentPointer(idAt), segment: index };
    if (type === BLOCK_DEVICE && cscd.blockLength !== 0 && cscd.blockLength !== lu.blockSize) return { reason: Reason.InvalidFieldInParamList, field: fieldPointer(cscd.at + 29, -1, false), segment: -1 };
  }
  if (lu.peripheralType !== type) return { reason: Reason.IncorrectCopyTargetType, field: segmentPointer(idAt), segment: index };
  // A copy target that cannot serve I/O now is not reachable (no medium, offline, sanitizing).
  const ready = type === STREAM_DEVICE ? loadedTape(lu) !== null : lu.online && lu.sanitize === null && lu.blocks > 0;
  if (!ready) return { reason: Reason.CopyTargetNotReachable, field: segmentPointer(idAt), segment: index };
  return lu;
}

function isRefusal(x: LogicalUnit | Refusal): x is Refusal {
  return 'reason' in x;
}

/** Plans every segment, or says why the command is refused before anything moves. */
function plan(c: Cmd, list: XcopyList): Plan[] | Refusal {
  const memo = new Map<number, LogicalUnit | null>();
  const plans: Plan[] = [];
  for (const [index, seg] of list.segments.entries()) {
    if (seg.data !== null) {
      const p = planStream(c, list, seg, index, memo);
      if ('reason' in p) return p;
      plans.push(p);
      continue;
    }
    const src = resolve(c, list, seg.src, 4, index, memo);
    if (isRefusal(src)) return src;
    const dst = resolve(c, list, seg.dst, 6, index, memo);
    if (isRefusal(dst)) return dst;
    const sbs = src.blockSize;
    const dbs = dst.blockSize;
    const inList = (byte: number): Refusal => ({ reason: Reason.InvalidFieldInParamList, field: fieldPointer(seg.at + byte, -1, false), segment: -1 });
    let len: number;
    if (seg.type === Descriptor.blockToBlock) {
      len = seg.count * (seg.dc ? dbs : sbs);
    } else {
      len = seg.count;
      if (seg.srcByteOffset >= sbs) return inList(28);
      if (seg.dstByteOffset >= dbs) return inList(30);
    }
    if (len > XcopyLimit.segmentBytes) return inList(seg.type === Descriptor.blockToBlock ? 10 : 8);
    const srcOff = seg.srcLba * sbs + seg.srcByteOffset;
    const dstOff = seg.dstLba * dbs + seg.dstByteOffset;
    // 02h moves whole blocks at both ends: a count that does not fill the last destination block is
    // padded with zeros when the destination's PAD bit asks for it, else the segment is inexact
    // (CAT, keeping the residue for the next segment, is not implemented).
    let padTo = 0;
    if (seg.type === Descriptor.blockToBlock && (len % sbs !== 0 || len % dbs !== 0)) {
      const dpad = list.cscds[seg.dst]?.pad === true;
      if (len % sbs !== 0 || !dpad) return { reason: Reason.UnexpectedInexactSegment, field: segmentPointer(10), segment: index };
      padTo = Math.ceil(len / dbs) * dbs - len;
    }
    if (srcOff + len > src.size) return { reason: Reason.CopyAborted, field: segmentPointer(12), segment: index };
    if (dstOff + len + padTo > dst.size) return { reason: Reason.CopyAborted, field: segmentPointer(20), segment: index };
    if (conflicts(c, src, Access.Read) || conflicts(c, dst, Access.Write)) return { reason: 'conflict', field: -1, segment: index };
    if (len > 0 && dst.writeProtected) return { reason: Reason.CopyWriteProtected, field: segmentPointer(6), segment: index };
    plans.push({ seg, index, src, dst, srcOff, dstOff, len, padTo, stream: null });
  }
  return plans;
}

/** Plans an inline (04h) or embedded (05h) data segment: its stream destination and the blocks it writes there. */
function planStream(c: Cmd, list: XcopyList, seg: Segment, index: number, memo: Map<number, LogicalUnit | null>): Plan | Refusal {
  const dst = resolve(c, list, seg.dst, 6, index, memo, STREAM_DEVICE);
  if (isRefusal(dst)) return dst;
  const data = seg.data!;
  const cscd = list.cscds[seg.dst];
  const fixed = cscd?.fixed === true;
  const blocks: Buffer[] = [];
  if (fixed) {
    // Table 125: FIXED=1 needs the STREAM BLOCK LENGTH the blocks have
    const bl = cscd!.blockLength;
    if (bl === 0) return { reason: Reason.InvalidFieldInParamList, field: fieldPointer(cscd!.at + 29, -1, false), segment: -1 };
    if (data.length % bl !== 0 && !cscd!.pad) return { reason: Reason.UnexpectedInexactSegment, field: segmentPointer(seg.type === Descriptor.embeddedToStream ? 14 : 20), segment: index };
    for (let o = 0; o < data.length; o += bl) {
      const b = Buffer.alloc(bl);
      data.copy(b, 0, o, Math.min(o + bl, data.length));
      blocks.push(b);
    }
  } else {
    const step = seg.streamLength > 0 ? seg.streamLength : data.length;
    for (let o = 0; o < data.length; o += step) blocks.push(data.subarray(o, Math.min(o + step, data.length)));
  }
  if (conflicts(c, dst, Access.Write)) return { reason: 'conflict', field: -1, segment: index };
  if (data.length > 0 && dst.writeProtected) return { reason: Reason.CopyWriteProtected, field: segmentPointer(6), segment: index };
  return { seg, index, src: c.lu!, dst, srcOff: 0, dstOff: 0, len: data.length, padTo: 0, stream: { blocks, fixed } };
}

/** Writes a stream plan's blocks to its tape. The early-warning condition is success (the data is written). */
function writeStream(op: CopyOp, p: Plan, progress: (bytes: number) => void, done: (r: SenseReason | null) => void): void {
  if (op.cmd.abortRequested || op.stopped) return done(Reason.CopyTargetNotReachable);
  const tape = loadedTape(p.dst);
  if (tape === null) return done(Reason.CopyTargetNotReachable);
  if (p.stream!.blocks.length === 0) return done(null);
  tape.write(p.stream!.blocks, p.stream!.fixed).then((s: TapeSense | null) => {
    if (s !== null && s.reason !== Reason.EndOfMediumDetected) return done(s.reason === Reason.VolumeOverflow ? Reason.CopyEndOfMedium : Reason.CopyWriteError);
    progress(p.len);
    done(null);
  }, () => done(Reason.CopyWriteError));
}

// ---- moving the data

function writeFailure(err: IoError): SenseReason {
  const code = err ? err.code : undefined;
  if (code === 'ENOSPC' || code === 'EDQUOT') return Reason.CopySpaceAllocationFailed;
  if (code === 'EROFS') return Reason.CopyWriteProtected;
  return Reason.CopyWriteError;
}

/** Buffers one copy reuses for every chunk: the source blocks of a chunk, and the destination's when it must be merged. */
interface ChunkBuffers {
  readonly src: Buffer;
  dst: Buffer | null;
}

const alignDown = (x: number, a: number): number => x - (x % a);
const alignUp = (x: number, a: number): number => alignDown(x + a - 1, a);

/**
 * Copies `p.len` bytes (then `p.padTo` zeros) from `p.src` to `p.dst`, at most COPY_CHUNK at a
 * time, each chunk ending on a destination block boundary. A chunk whose ends are not on block
 * boundaries (byte offsets, segment 0Ah) reads the destination's blocks first and merges, so the
 * bytes around the copied range are kept (SPC-4 6.4.6.7). Calls `done(null)` on success, else the reason.
 */
function copySegment(op: CopyOp, p: Plan, bufs: ChunkBuffers, progress: (bytes: number) => void, done: (r: SenseReason | null) => void): void {
  const sbs = p.src.blockSize;
  const dbs = p.dst.blockSize;
  const total = p.len + p.padTo;
  const step = Math.max(dbs, alignDown(COPY_CHUNK, dbs));
  // Same LU with the destination inside the source range, above its start: copy from the end, so
  // every chunk is read before a later one overwrites it.
  const backwards = p.src === p.dst && p.dstOff > p.srcOff && p.dstOff < p.srcOff + p.len;
  let moved = 0;
  const guard = (fn: (err: IoError) => void) => (err: IoError): void => {
    try {
      fn(err);
    } catch {
      done(Reason.InternalTargetFailure);
    }
  };
  const next = (): void => {
    if (op.cmd.abortRequested || op.stopped) return done(Reason.CopyTargetNotReachable);
    if (moved >= total) return done(null);
    // The chunk [at, at + n) of the segment's bytes.
    let at: number;
    let end: number;
    if (!backwards) {
      at = moved;
      end = Math.min(total, alignDown(p.dstOff + at + step, dbs) - p.dstOff);
    } else {
      end = total - moved;
      at = Math.max(0, alignUp(p.dstOff + end - step, dbs) - p.dstOff);
    }
    const n = end - at;
    const dataLen = Math.max(0, Math.min(end, p.len) - at);
    const sFirst = alignDown(p.srcOff + at, sbs);
    const sLen = dataLen > 0 ? alignUp(p.srcOff + at + dataLen, sbs) - sFirst : 0;
    const dFirst = alignDown(p.dstOff + at, dbs);
    const dLen = alignUp(p.dstOff + end, dbs) - dFirst;
    const src = bufs.src.subarray(0, sLen);
    const dstAligned = dFirst === p.dstOff + at && dLen === n;
    const direct = dstAligned && dataLen === n && sFirst === p.srcOff + at && sLen === n;
    let dst = src;
    if (!direct) {
      if (bufs.dst === null) bufs.dst = Buffer.allocUnsafe(bufs.src.length);
      dst = bufs.dst.subarray(0, dLen);
    }
    const write = (): void => {
      if (op.cmd.abortRequested || op.stopped) return done(Reason.CopyTargetNotReachable);
      if (!direct) {
        const into = p.dstOff + at - dFirst;
        if (dataLen > 0) src.copy(dst, into, p.srcOff + at - sFirst, p.srcOff + at - sFirst + dataLen);
        dst.fill(0, into + dataLen, into + n);
      }
      p.dst.dev.write(dFirst, [dst], guard((err) => {
        if (err) return done(writeFailure(err));
        moved += n;
        progress(dataLen);
        next();
      }));
    };
    const merge = (): void => {
      if (dstAligned) return write();
      p.dst.dev.read(dFirst, dst, guard((err) => (err ? done(Reason.CopyReadError) : write())));
    };
    if (sLen === 0) return merge();
    p.src.dev.read(sFirst, src, guard((err) => (err ? done(Reason.CopyReadError) : merge())));
  };
  next();
}

function finishOp(op: CopyOp): void {
  for (const lu of op.lus) lu.state(COPY_MANAGER).users.delete(op);
  for (const f of op.ended.splice(0)) f();
}

// ---- the commands

function holdResults(mgr: CopyManager, nexusId: number, listId: number, rec: CopyRecord): void {
  let byList = mgr.results.get(nexusId);
  if (byList === undefined) mgr.results.set(nexusId, (byList = new Map()));
  byList.delete(listId);
  byList.set(listId, rec);
  while (byList.size > HELD_RESULTS) byList.delete(byList.keys().next().value!);
}

/** SPC-4 6.4 EXTENDED COPY(LID1). */
function extendedCopy(c: Cmd): void {
  const lu = c.lu!;
  const p = c.p;
  c.task.transferLength = p.paramLen;
  // 6.4.1: a parameter list length of zero transfers nothing and is not an error.
  if (p.paramLen === 0) return c.good();
  const data = c.dataOutFlat(p.paramLen);
  if (!data) return c.fail(Reason.InvalidFieldInIu);
  const list = parseXcopyList(data);
  if ('reason' in list) return c.fail(list.reason, -1, list.field);
  const mgr = lu.state(COPY_MANAGER);
  const nexusId = c.nexus.id;
  const tracked = list.usage !== ListIdUsage.none;
  if (tracked && mgr.active.get(nexusId)?.has(list.listId) === true) return c.fail(Reason.OperationInProgress, -1, fieldPointer(0, -1, false));
  if (mgr.running >= XcopyLimit.concurrentCopies) return c.fail(Reason.InsufficientResources);
  const plans = plan(c, list);
  const rec: CopyRecord = { status: CopyManagerStatus.inProgress, segments: 0, bytes: 0, sense: null };
  if (list.usage === ListIdUsage.hold) holdResults(mgr, nexusId, list.listId, rec);
  if (!Array.isArray(plans)) {
    rec.status = CopyManagerStatus.failed;
    if (plans.reason === 'conflict') return c.conflict();
    rec.sense = buildSense(plans.reason, lu.descriptorSense, -1, plans.field, plans.segment);
    return c.fail(plans.reason, -1, plans.field, plans.segment);
  }
  if (tracked) {
    let ids = mgr.active.get(nexusId);
    if (ids === undefined) mgr.active.set(nexusId, (ids = new Set()));
    ids.add(list.listId);
  }
  const op: CopyOp = { cmd: c, lus: new Set([lu]), stopped: false, ended: [] };
  for (const pl of plans) op.lus.add(pl.src).add(pl.dst);
  for (const l of op.lus) l.state(COPY_MANAGER).users.add(op);
  mgr.running++;
  const blockPlans = plans.filter((pl) => pl.stream === null);
  const maxBs = Math.max(...blockPlans.map((pl) => Math.max(pl.src.blockSize, pl.dst.blockSize)), 1);
  const bufs: ChunkBuffers = { src: Buffer.allocUnsafe(blockPlans.length > 0 ? COPY_CHUNK + 2 * maxBs : 0), dst: null };
  let ended = false;
  const end = (reason: SenseReason | null, segment: number): void => {
    if (ended) return;
    ended = true;
    mgr.running--;
    if (tracked) mgr.active.get(nexusId)?.delete(list.listId);
    if (reason === null) rec.status = CopyManagerStatus.good;
    else {
      rec.status = CopyManagerStatus.failed;
      rec.sense = buildSense(reason, lu.descriptorSense, -1, -1, segment);
    }
    finishOp(op);
    if (reason === null) c.good();
    else c.fail(reason, -1, -1, segment);
  };
  let i = 0;
  const nextSegment = (): void => {
    try {
      if (i >= plans.length) return flushAll(op, plans, (err) => end(err ? Reason.CopyWriteError : null, plans.length - 1));
      const pl = plans[i]!;
      const segmentDone = (reason: SenseReason | null): void => {
        if (reason !== null) return end(reason, pl.index);
        rec.segments = ++i;
        nextSegment();
      };
      if (pl.stream !== null) writeStream(op, pl, (n) => (rec.bytes += n), segmentDone);
      else copySegment(op, pl, bufs, (n) => (rec.bytes += n), segmentDone);
    } catch {
      end(Reason.InternalTargetFailure, i);
    }
  };
  nextSegment();
}

/** Destinations whose write cache is disabled (MODE caching page WCE=0) get their writes on stable storage first. */
function flushAll(op: CopyOp, plans: readonly Plan[], done: (err: IoError) => void): void {
  const lus = [...new Set(plans.filter((pl) => pl.stream === null && pl.len > 0 && !pl.dst.modePages.wce).map((pl) => pl.dst))];
  const one = (err: IoError): void => {
    if (err) return done(err);
    const lu = lus.pop();
    if (lu === undefined || op.stopped) return done(null);
    lu.dev.flush(one);
  };
  one(null);
}

/** SPC-4 6.18.4 OPERATING PARAMETERS (LID1 layout). */
function operatingParameters(lu: LogicalUnit): Buffer {
  const b = Buffer.alloc(44 + IMPLEMENTED_DESCRIPTORS.length);
  b.writeUInt32BE(b.length - 4, 0); // 0..3 AVAILABLE DATA
  b[4] = 0x01; // 4 SNLID: LIST ID USAGE 11b (no list identifier) is supported
  b.writeUInt16BE(XcopyLimit.cscdDescriptors, 8); // 8..9 MAXIMUM CSCD DESCRIPTOR COUNT
  b.writeUInt16BE(XcopyLimit.segmentDescriptors, 10); // 10..11 MAXIMUM SEGMENT DESCRIPTOR COUNT
  b.writeUInt32BE(XcopyLimit.descriptorListBytes, 12); // 12..15 MAXIMUM DESCRIPTOR LIST LENGTH
  b.writeUInt32BE(XcopyLimit.segmentBytes, 16); // 16..19 MAXIMUM SEGMENT LENGTH
  b.writeUInt32BE(XcopyLimit.inlineBytes, 20); // 20..23 MAXIMUM INLINE DATA LENGTH
  b.writeUInt32BE(0, 24); // 24..27 HELD DATA LIMIT: no segment type holds data
  b.writeUInt32BE(0, 28); // 28..31 MAXIMUM STREAM DEVICE TRANSFER SIZE: no stream devices
  b.writeUInt16BE(XcopyLimit.concurrentCopies, 34); // 34..35 TOTAL CONCURRENT COPIES
  b[36] = XcopyLimit.concurrentCopies; // 36 MAXIMUM CONCURRENT COPIES
  b[37] = Math.log2(lu.blockSize); // 37 DATA SEGMENT GRANULARITY (log2 bytes): whole blocks for 02h
  b[38] = 0; // 38 INLINE DATA GRANULARITY (log2 bytes): any byte count
  b[39] = 0; // 39 HELD DATA GRANULARITY
  b[43] = IMPLEMENTED_DESCRIPTORS.length; // 43 IMPLEMENTED DESCRIPTOR LIST LENGTH
  IMPLEMENTED_DESCRIPTORS.forEach((t, k) => (b[44 + k] = t));
  return b;
}

/** SPC-4 6.18.3 COPY STATUS (LID1). */
function copyStatus(rec: CopyRecord): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt32BE(8, 0); // 0..3 AVAILABLE DATA
  b[4] = rec.status; // 4 HDD(7)=0 | COPY MANAGER STATUS
  b.writeUInt16BE(Math.min(rec.segments, 0xffff), 5); // 5..6 SEGMENTS PROCESSED
  // 7 TRANSFER COUNT UNITS (00h bytes, 01h KiB, 02h MiB, ...) and 8..11 TRANSFER COUNT
  let units = 0;
  let count = rec.bytes;
  while (count > 0xffffffff) {
    count = Math.floor(count / 1024);
    units++;
  }
  b[7] = units;
  b.writeUInt32BE(count, 8);
  return b;
}

/** SPC-4 6.18.5 FAILED SEGMENT DETAILS (LID1): the sense data of a copy that ended with CHECK CONDITION. */
function failedSegmentDetails(rec: CopyRecord): Buffer {
  if (rec.status !== CopyManagerStatus.failed) return Buffer.alloc(4); // AVAILABLE DATA 0: nothing failed (yet)
  const sense = rec.sense ?? Buffer.alloc(0);
  const b = Buffer.alloc(60 + sense.length);
  b.writeUInt32BE(b.length - 4, 0); // 0..3 AVAILABLE DATA
  b[56] = rec.sense !== null ? Status.CheckCondition : Status.ReservationConflict; // 56 COPY COMMAND STATUS
  b.writeUInt16BE(sense.length, 58); // 58..59 SENSE DATA LENGTH
  sense.copy(b, 60); // 60.. SENSE DATA
  return b;
}

/** SPC-4 6.18 RECEIVE COPY RESULTS. */
function receiveCopyResults(c: Cmd): void {
  const lu = c.lu!;
  const p = c.p;
  c.task.transferLength = p.allocLen;
  if (p.sa === ServiceAction.OperatingParameters) return c.dataIn(operatingParameters(lu), p.allocLen);
  const rec = lu.state(COPY_MANAGER).results.get(c.nexus.id)?.get(p.listId);
  // No held results for this list identifier on this I_T nexus (libiscsi CopyStatus: INVALID FIELD IN CDB).
  if (rec === undefined) return c.fail(Reason.InvalidFieldInCdb, -1, fieldPointer(2));
  switch (p.sa) {
    case ServiceAction.CopyStatus:
      return c.dataIn(copyStatus(rec), p.allocLen);
    case ServiceAction.ReceiveData: {
      // 6.18.2: 0..3 AVAILABLE DATA, then held data; no implemented segment type holds any.
      return c.dataIn(Buffer.alloc(4), p.allocLen);
    }
    default:
      return c.dataIn(failedSegmentDetails(rec), p.allocLen);
  }
}

// ---- Third-party Copy VPD page

/** One third-party copy descriptor (SPC-4 7.8.17.1): 0..1 TYPE, 2..3 LENGTH, body padded to a multiple of 4. */
function tpcDescriptor(type: number, body: Buffer): Buffer {
  const len = (body.length + 3) & ~3;
  const b = Buffer.alloc(4 + len);
  b.writeUInt16BE(type, 0);
  b.writeUInt16BE(len, 2);
  body.copy(b, 4);
  return b;
}

/** SPC-4 7.8.17 Third-party Copy VPD page body (after the 4-byte page header). */
export function thirdPartyCopyPage(lu: LogicalUnit): Buffer {
  // 0001h Supported Commands: 4 LIST LENGTH, then OPERATION CODE, SERVICE ACTION LENGTH, SERVICE ACTIONS
  const cmds = Buffer.from([
    Op.ExtendedCopy, 1, ServiceAction.ExtendedCopyLid1,
    Op.ReceiveCopyResults, 4, ServiceAction.CopyStatus, ServiceAction.ReceiveData, ServiceAction.OperatingParameters, ServiceAction.FailedSegmentDetails,
  ]);
  const supported = Buffer.concat([Buffer.from([cmds.length]), cmds]);
  // 0004h Parameter Data: 4..7 reserved, 8..9 MAXIMUM CSCD DESCRIPTOR COUNT, 10..11 MAXIMUM SEGMENT
  // DESCRIPTOR COUNT, 12..15 MAXIMUM DESCRIPTOR LIST LENGTH, 16..19 MAXIMUM INLINE DATA LENGTH
  const params = Buffer.alloc(0x1c);
  params.writeUInt16BE(XcopyLimit.cscdDescriptors, 4);
  params.writeUInt16BE(XcopyLimit.segmentDescriptors, 6);
  params.writeUInt32BE(XcopyLimit.descriptorListBytes, 8);
  params.writeUInt32BE(XcopyLimit.inlineBytes, 12);
  // 0008h Supported Descriptors: 4 LIST LENGTH, then descriptor type codes
  const descs = Buffer.from([IMPLEMENTED_DESCRIPTORS.length, ...IMPLEMENTED_DESCRIPTORS]);
  // 000Ch Supported CSCD Descriptor IDs: 4..5 LIST LENGTH, then 2-byte IDs above 07FFh
  const ids = Buffer.alloc(4);
  ids.writeUInt16BE(2, 0);
  ids.writeUInt16BE(THIS_LU, 2);
  // 8001h General Copy Operations: 4..7 TOTAL CONCURRENT COPIES, 8..11 MAXIMUM IDENTIFIED CONCURRENT
  // COPIES, 12..15 MAXIMUM SEGMENT LENGTH, 16 DATA SEGMENT GRANULARITY, 17 INLINE DATA GRANULARITY
  const general = Buffer.alloc(0x20);
  general.writeUInt32BE(XcopyLimit.concurrentCopies, 0);
  general.writeUInt32BE(XcopyLimit.concurrentCopies, 4);
  general.writeUInt32BE(XcopyLimit.segmentBytes, 8);
  general[12] = Math.log2(lu.blockSize);
  return Buffer.concat([
    tpcDescriptor(0x0001, supported),
    tpcDescriptor(0x0004, params),
    tpcDescriptor(0x0008, descs),
    tpcDescriptor(0x000c, ids),
    tpcDescriptor(0x8001, general),
  ]);
}

const M = OpFlag.NeedsMedium | OpFlag.BadSaIsFieldError;
const RCR_USAGE = 'ff 00 00 00 00 00 00 00 ff ff ff ff 00 07';

export const SPC_XCOPY_ROWS: readonly OpRow[] = [
  { op: Op.ExtendedCopy, sa: ServiceAction.ExtendedCopyLid1, name: 'EXTENDED COPY(LID1)', usage: '83 00 00 00 00 00 00 00 00 00 ff ff ff ff 00 07', parse: parseExtendedCopy, exec: extendedCopy, access: Access.Write, flags: M },
  { op: Op.ReceiveCopyResults, sa: ServiceAction.CopyStatus, name: 'RECEIVE COPY STATUS(LID1)', usage: `84 00 ${RCR_USAGE}`, parse: parseReceiveCopyResults, exec: receiveCopyResults, access: Access.Read, flags: M },
  { op: Op.ReceiveCopyResults, sa: ServiceAction.ReceiveData, name: 'RECEIVE COPY DATA(LID1)', usage: `84 01 ${RCR_USAGE}`, parse: parseReceiveCopyResults, exec: receiveCopyResults, access: Access.Read, flags: M },
  { op: Op.ReceiveCopyResults, sa: ServiceAction.OperatingParameters, name: 'RECEIVE COPY OPERATING PARAMETERS', usage: `84 03 00 00 00 00 00 00 00 00 ff ff ff ff 00 07`, parse: parseReceiveCopyResults, exec: receiveCopyResults, access: Access.Read, flags: M },
  { op: Op.ReceiveCopyResults, sa: ServiceAction.FailedSegmentDetails, name: 'RECEIVE COPY FAILURE DETAILS(LID1)', usage: `84 04 ${RCR_USAGE}`, parse: parseReceiveCopyResults, exec: receiveCopyResults, access: Access.Read, flags: M },
];
