// SAM-5 4.x command lifecycle: the engine's pooled per-command record (parsed CDB, status, completion).
import { Status } from './api.js';
import type { ItNexus, ScsiTask } from './api.js';
import { ParsedCdb } from './cdb-fields.js';
import { LuStats, type LogicalUnit } from './logical-unit.js';
import type { AluaGroups, AluaState, TargetPortGroup } from './alua.js';
import type { CommandCatalog } from './opcodes.js';
import type { PrNexus, Registration } from './persistent-reservations.js';
import { Reason, buildSense } from './sense.js';
import type { SenseReason } from './sense.js';
import type { IoError } from '../bs/api.js';
import { IoKind } from '../metrics/latency.js';

/** What command handlers may ask of the target that owns the command. */
export interface EngineContext {
  readonly tid: number;
  readonly name: string;
  /** LUs in ascending LUN order (REPORT LUNS). */
  sortedLuns(): LogicalUnit[];
  /** Ids of every I_T nexus (unit attentions to "all other initiators"). */
  nexusIds(): Iterable<number>;
  /** `nexus` as persistent reservations see it: its initiator port and its target port (SPC-4 5.13). */
  prNexus(nexus: ItNexus): PrNexus;
  /** Whether a RELATIVE TARGET PORT IDENTIFIER names one of the target's ports (REGISTER AND MOVE). */
  isTargetPort(relPort: number): boolean;
  /** Ids of the I_T nexuses a registration is of (PR unit attentions). */
  nexusIdsOf(reg: Registration): number[];
  /** PREEMPT AND ABORT: abort the tasks on `lu` of the I_T nexuses of these registrations (except `by`). */
  abortForRegistrations(lu: LogicalUnit, regs: readonly Registration[], by: Cmd | null): void;
  /** The commands of `lu`'s device type (REPORT SUPPORTED OPERATION CODES). */
  commandsOf(lu: LogicalUnit): CommandCatalog;
  /** Called by Cmd when it is finished. */
  finish(c: Cmd): void;
  /** The target's port groups (REPORT/SET TARGET PORT GROUPS, INQUIRY TPGS). */
  readonly alua: AluaGroups;
  /** The target port group `nexus` came in through (its ALUA state, VPD 83h designators). */
  portGroupOf(nexus: ItNexus): TargetPortGroup;
  /** SET TARGET PORT GROUPS: group `id` to `state`, unit attentions for all nexuses but `by`. */
  setAluaState(state: AluaState, id: number, by: ItNexus): unknown;
  /** Largest data transfer per command, in bytes (Block Limits MAXIMUM TRANSFER LENGTH). */
  readonly maxXferBytes: number;
  /** The targets whose LUs an EXTENDED COPY may use as copy targets (every target of the daemon). */
  copyScope(): Iterable<CopyScopeTarget>;
}

/** A target as the copy manager sees it: its name (in its LUs' designators), its LUs and its I_T nexuses (SPC-2 reservation holders). */
export interface CopyScopeTarget {
  readonly tid: number;
  readonly name: string;
  readonly luns: ReadonlyMap<number, LogicalUnit>;
  readonly nexuses: ReadonlyMap<number, ItNexus>;
}

/** Pending task management function waiting for aborted, in-flight commands to drain. */
export interface TmfWait {
  remaining: number;
  onDrained(): void;
}

/** The counters of a command without a LU (never shown). */
const NO_STATS = new LuStats();

export class Cmd {
  task: ScsiTask = null!;
  done: (task: ScsiTask) => void = noop;
  lu: LogicalUnit | null = null;

  /**
   * The LU's counters for this command's I_T nexus (`tgtadm --op stat`), looked up once per
   * command. A nexus that goes away while the command runs drops its row: what the command still
   * counts then lands in a row no `--op stat` shows, as countersOf's sink would.
   */
  stats: LuStats = NO_STATS;

  ctx: EngineContext;
  readonly p = new ParsedCdb();
  // TaskSetEntry
  attr = 0;
  exclusive = false;
  atomic = false;
  started = false;
  /** In its LU's task set (not yet finished). */
  inSet = false;
  /** A TMF asked for this running command to be aborted: report it aborted when it completes. */
  abortRequested = false;
  tmfWaits: TmfWait[] = [];
  /**
   * Set by a command that waits for an operation outliving it (SANITIZE with IMMED=0): a task
   * management function that aborts the command calls it to complete the command now, leaving
   * the operation running.
   */
  onAbort: (() => void) | null = null;
  /** Bytes being moved by the current read/write (for counters). */
  ioBytes = 0;
  /** IoKind of the media I/O that completed (latency histograms); t0: performance.now() at arrival, when the LU times commands. */
  ioKind = 0;
  t0 = 0;
  /** The write needs a flush before completion (FUA, or write cache disabled). */
  flushAfter = false;
  /** Where the current media read lands (readInto); becomes the task's dataIn when it succeeds. */
  private rdBuf: Buffer | null = null;

  // Pre-bound completions so the hot path allocates no closures.
  readonly onReadDone: (err: IoError) => void;
  readonly onWriteDone: (err: IoError) => void;
  readonly onFlushDone: (err: IoError) => void;

  constructor(ctx: EngineContext) {
    this.ctx = ctx;
    this.onReadDone = (err) => {
      try {
        const data = this.rdBuf;
        this.rdBuf = null;
        if (err || data === null) {
          this.stats.errs++;
          this.ioFail(err, false);
          return;
        }
        this.stats.rdDoneBytes += this.ioBytes;
        this.stats.rdDoneCmds++;
        this.ioKind = IoKind.Read;
        this.task.dataIn = data;
        this.good();
      } catch (e) {
        this.internalError(e);
      }
    };
    this.onWriteDone = (err) => {
      try {
        const lu = this.lu!;
        if (err) {
          this.stats.errs++;
          this.ioFail(err, true);
          return;
        }
        this.stats.wrDoneBytes += this.ioBytes;
        this.stats.wrDoneCmds++;
        this.ioKind = IoKind.Write;
        if (this.flushAfter) lu.dev.flush(this.onFlushDone);
        else this.good();
      } catch (e) {
        this.internalError(e);
      }
    };
    this.onFlushDone = (err) => {
      try {
        if (err) this.ioFail(err, true);
        else this.good();
      } catch (e) {
        this.internalError(e);
      }
    };
  }

  init(task: ScsiTask, done: (task: ScsiTask) => void, lu: LogicalUnit | null): void {
    this.task = task;
    this.done = done;
    this.lu = lu;
    this.stats = lu !== null ? lu.countersOf(task.nexus.id) : NO_STATS;
    this.attr = task.attr;
    this.exclusive = false;
    this.atomic = false;
    this.started = false;
    this.inSet = false;
    this.abortRequested = false;
    this.tmfWaits.length = 0;
    this.onAbort = null;
    this.ioKind = IoKind.None;
    this.ioBytes = 0;
    this.flushAfter = false;
    this.rdBuf = null;
  }

  /**
   * The buffer a media read of `len` bytes goes to, remembered for onReadDone: the transport's
   * readBuffer when it is large enough (zero copy to the wire), else a new one (contract v2: the
   * store fills all of it or fails, so no stale bytes reach the initiator).
   */
  readInto(len: number): Buffer {
    const own = this.task.readBuffer;
    const b = own === null || own.length < len ? Buffer.allocUnsafe(len) : own.length === len ? own : own.subarray(0, len);
    this.rdBuf = b;
    return b;
  }

  /**
   * Back to the pool: drop the finished command's task (its data buffers) and `done` (the
   * transport's callback, which holds the connection), so a pooled Cmd keeps no client alive.
   */
  release(): void {
    this.task = null!;
    this.done = noop;
    this.lu = null;
    this.stats = NO_STATS;
    this.rdBuf = null;
    this.onAbort = null;
  }

  get nexus(): ItNexus {
    return this.task.nexus;
  }

  /** Completes with GOOD. */
  good(): void {
    this.task.status = Status.Good;
    this.ctx.finish(this);
  }

  /** Completes with GOOD and parameter data clipped to `allocLen` (SPC-4 4.2.5.6). */
  dataIn(buf: Buffer, allocLen: number): void {
    this.task.transferLength = allocLen;
    this.task.dataIn = buf.length > allocLen ? buf.subarray(0, allocLen) : buf;
    this.good();
  }

  /**
   * Completes with CHECK CONDITION and sense for `reason` (INFORMATION = `info` when >= 0; the
   * sense key specific field pointer = `field` when >= 0, see `fieldPointer`; COMMAND-SPECIFIC
   * INFORMATION = `cmdInfo` when >= 0).
   */
  fail(reason: SenseReason, info = -1, field = -1, cmdInfo = -1): void {
    const descriptor = this.lu ? this.lu.descriptorSense : false;
    this.task.status = Status.CheckCondition;
    this.task.sense = buildSense(reason, descriptor, info, field, cmdInfo);
    this.task.dataIn = null;
    this.ctx.finish(this);
  }

  /** Completes with RESERVATION CONFLICT (no sense data). */
  conflict(): void {
    this.task.status = Status.ReservationConflict;
    this.task.sense = null;
    this.task.dataIn = null;
    this.ctx.finish(this);
  }

  /**
   * Maps a backing-store errno to sense (codes: SPC-4 Annex D). A failed read is always MEDIUM
   * ERROR / UNRECOVERED READ ERROR: every DATA PROTECT code of ASC 27h names a write protection,
   * which would mislead on a read. A failed write or flush: ENOSPC/EDQUOT (the file could not get
   * its blocks) -> DATA PROTECT / SPACE ALLOCATION FAILED WRITE PROTECT (what SBC-4 thin
   * provisioning says when the pool is exhausted); EROFS (the host remounted the filesystem read-only) -> DATA PROTECT
   * / WRITE PROTECTED, as no retry can succeed; anything else -> MEDIUM ERROR / WRITE ERROR.
   */
  ioFail(err: IoError, write: boolean): void {
    const code = err ? err.code : undefined;
    if (!write) this.fail(Reason.UnrecoveredReadError);
    else if (code === 'ENOSPC' || code === 'EDQUOT') this.fail(Reason.SpaceAllocationFailed);
    else if (code === 'EROFS') this.fail(Reason.WriteProtected);
    else this.fail(Reason.WriteError);
  }

  internalError(_e: unknown): void {
    // A thrown exception is a bug in the engine; the initiator sees a CHECK CONDITION, never a crash.
    try {
      this.fail(Reason.InternalTargetFailure);
    } catch {
      /* finishing twice or a broken transport callback: nothing more to do */
    }
  }

  /**
   * The first `len` bytes of Data-Out as buffers (views, no copy), or null when fewer were received.
   * Returns the transport's own array when it holds exactly `len` bytes.
   */
  dataOutBufs(len: number): readonly Buffer[] | null {
    const t = this.task;
    if (t.dataOutLength < len) return null;
    if (t.dataOutLength === len) return t.dataOut;
    const out: Buffer[] = [];
    let need = len;
    for (const b of t.dataOut) {
      if (need <= 0) break;
      if (b.length <= need) {
        out.push(b);
        need -= b.length;
      } else {
        out.push(b.subarray(0, need));
        need = 0;
      }
    }
    return out;
  }

  /** The first `len` bytes of Data-Out as one contiguous buffer, or null when fewer were received. */
  dataOutFlat(len: number): Buffer | null {
    const bufs = this.dataOutBufs(len);
    if (!bufs) return null;
    if (bufs.length === 1) return bufs[0]!;
    return Buffer.concat(bufs as Buffer[], len);
  }
}

function noop(): void {}
