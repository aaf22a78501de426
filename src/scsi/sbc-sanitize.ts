// SBC-4 5.30 SANITIZE and 4.11 sanitize operations: OVERWRITE, BLOCK ERASE and EXIT FAILURE MODE, run in the background with progress.
import { parseSanitize } from './cdb-fields.js';
import type { OpRow } from './command-table.js';
import type { Cmd } from './command.js';
import type { LogicalUnit, SanitizeStatus } from './logical-unit.js';
import { Op, OpFlag, ServiceAction } from './opcodes.js';
import { Access } from './persistent-reservations.js';
import { Reason } from './sense.js';
import { checkWritable } from './sbc-io.js';

/**
 * Pace of an overwrite, in bytes per second. A sanitize of a large LU must not take the backing
 * storage (shared with every other LU of the daemon) for itself; real drives take hours per pass
 * too. It also keeps a 1 GiB pass long enough (8 s) for the SANITIZE IN PROGRESS checks libiscsi's
 * Sanitize.Reset makes three seconds after it starts.
 */
export const SANITIZE_BYTES_PER_SECOND = 128 * 1024 * 1024;
/** Bytes per write of an overwrite pass. */
const CHUNK = 1024 * 1024;

/** Bytes a BLOCK ERASE deallocates per backing-store call (progress and a close are seen between them). */
const ERASE_CHUNK = 64 * 1024 * 1024;

/**
 * SBC-4 4.11.3 BLOCK ERASE needs every block deallocated afterwards (GET LBA STATUS reports the
 * whole LU deallocated, which libiscsi's Sanitize.BlockErase checks): offered by a thin LU whose
 * backing device has an allocation map to prove it (contract 2.1 `allocation`; rdwr on a regular
 * file). Elsewhere it is an unknown service action, absent from REPORT SUPPORTED OPERATION CODES,
 * with WABEREQ 0.
 */
export function blockEraseAvailable(lu: LogicalUnit): boolean {
  return lu.thin && typeof lu.dev.allocation === 'function';
}

/**
 * SANITIZE (SBC-4 5.30): OVERWRITE (01h), BLOCK ERASE (02h, blockEraseAvailable) and EXIT FAILURE
 * MODE (1Fh). CRYPTOGRAPHIC ERASE (03h) needs an encrypted medium whose key it changes; nothing is
 * encrypted here, so it is an unknown service action (INVALID FIELD IN CDB, absent from REPORT
 * SUPPORTED OPERATION CODES, WACEREQ 0), as SBC-4 5.30.1 has it for a service action not supported.
 */
function sanitize(c: Cmd): void {
  const lu = c.lu!;
  const p = c.p;
  c.task.transferLength = p.paramLen;
  if (p.reservedSet) return c.fail(Reason.InvalidFieldInCdb);
  if (p.sa === ServiceAction.SanitizeExitFailureMode) return exitFailureMode(c, lu);
  if (p.sa === ServiceAction.SanitizeBlockErase) return blockErase(c, lu);
  // OVERWRITE: 5.30.2 PARAMETER LIST LENGTH below 5 or above the block length + 4 is an invalid field
  const bs = lu.blockSize;
  if (p.paramLen < 5 || p.paramLen > bs + 4) return c.fail(Reason.InvalidFieldInCdb);
  if (!checkWritable(c, lu)) return;
  const param = c.dataOutFlat(p.paramLen);
  if (!param) return c.fail(Reason.InvalidFieldInIu);
  // 5.30.2.2 parameter list: 0 INVERT 7, TEST 6:5, OVERWRITE COUNT 4:0; 2..3 INITIALIZATION
  // PATTERN LENGTH; 4.. INITIALIZATION PATTERN
  const invert = (param[0]! & 0x80) !== 0;
  const test = (param[0]! >> 5) & 0x03;
  const count = param[0]! & 0x1f;
  const patLen = param.readUInt16BE(2);
  if (test !== 0 || count === 0 || patLen === 0 || patLen > bs || patLen > p.paramLen - 4) {
    return c.fail(Reason.InvalidFieldInParamList);
  }
  // The pattern is repeated to fill each logical block; the Data-Out is the transport's, so copied.
  const block = Buffer.alloc(bs);
  for (let o = 0; o < bs; o += patLen) param.copy(block, o, 4, 4 + patLen);
  const chunkBlocks = Math.max(1, Math.floor(Math.min(CHUNK, lu.size) / bs));
  const plain = Buffer.allocUnsafe(chunkBlocks * bs);
  for (let o = 0; o < plain.length; o += bs) block.copy(plain, o);
  // INVERT=1: the pattern is inverted between consecutive passes
  let inverted: Buffer | null = null;
  if (invert && count > 1) {
    inverted = Buffer.allocUnsafe(plain.length);
    for (let i = 0; i < plain.length; i++) inverted[i] = ~plain[i]! & 0xff;
  }
  overwrite(c, lu, plain, inverted, count);
}

/**
 * 4.11.4 EXIT FAILURE MODE: leaves sanitize failure mode when the failed SANITIZE allowed it
 * (AUSE=1); else INVALID FIELD IN CDB and the mode stays. With no failure it has nothing to do.
 */
function exitFailureMode(c: Cmd, lu: LogicalUnit): void {
  if (c.p.paramLen !== 0) return c.fail(Reason.InvalidFieldInCdb);
  const san = lu.sanitize;
  if (san !== null && !san.ause) return c.fail(Reason.InvalidFieldInCdb);
  lu.sanitize = null;
  c.good();
}

/** A sanitize operation of an LU, from its start to its end (what OVERWRITE and BLOCK ERASE share). */
interface Operation {
  readonly st: SanitizeStatus;
  /** Ends it: `err` leaves the LU in sanitize failure mode; the waiting command, if any, completes. */
  end(err: unknown): void;
  /** st.stop was called (the LU is closing): the next step must end the operation instead of writing. */
  stopping(): boolean;
  /**
   * The operation waits with nothing in flight (a pacing timer): `cancel` stops that wait when the
   * LU closes meanwhile, and the operation ends at once. null: something is in flight again.
   */
  idle(cancel: (() => void) | null): void;
}

/**
 * Starts a sanitize operation over `total` bytes of work. The operation belongs to the LU, not to
 * the command: IMMED=1 answers GOOD at once; IMMED=0 answers when it ends, and an ABORT TASK or a
 * reset that aborts the command completes it (TASK ABORTED) while the operation goes on (4.11.1).
 * Success clears `lu.sanitize`; an error leaves it failed (sanitize failure mode).
 */
function begin(c: Cmd, lu: LogicalUnit, total: number): Operation {
  let stopped: (() => void) | null = null;
  let cancel: (() => void) | null = null;
  let waiter: Cmd | null = null;
  const end = (err: unknown): void => {
    if (!st.running) return;
    st.running = false;
    cancel = null;
    const s = stopped;
    stopped = null;
    if (s !== null) s();
    if (err) st.failed = true;
    else if (lu.sanitize === st) lu.sanitize = null;
    const w = waiter;
    waiter = null;
    if (w === null) return;
    w.onAbort = null;
    if (err) w.fail(Reason.SanitizeFailed);
    else w.good();
  };
  const st: SanitizeStatus = {
    running: true, done: 0, total, failed: false, ause: c.p.ause,
    stop(cb) {
      if (!st.running) return cb();
      stopped = cb;
      const k = cancel;
      if (k !== null) {
        // waiting with nothing in flight: stop the wait and end now
        k();
        end(new Error('the LU is closing'));
      }
    },
  };
  lu.sanitize = st;
  if (c.p.immed) c.good();
  else {
    waiter = c;
    c.onAbort = () => {
      waiter = null;
      c.good(); // reported as TASK ABORTED: the command was aborted
    };
  }
  return {
    st,
    end,
    stopping: () => stopped !== null,
    idle(k) {
      cancel = k;
    },
  };
}

/**
 * Runs `passes` overwrite passes of the whole medium, then a flush, paced at
 * SANITIZE_BYTES_PER_SECOND.
 */
function overwrite(c: Cmd, lu: LogicalUnit, plain: Buffer, inverted: Buffer | null, passes: number): void {
  const size = lu.size;
  const op = begin(c, lu, size * passes);
  const st = op.st;
  const dev = lu.dev;
  const started = Date.now();
  let pass = 0;
  let off = 0;
  const write = (at: number, buf: Buffer): void => {
    try {
      dev.write(at, [buf], step);
    } catch (e) {
      op.end(e ?? new Error('write threw'));
    }
  };
  let inFlight = 0;
  const step = (err: NodeJS.ErrnoException | null): void => {
    try {
      if (err) return op.end(err);
      if (op.stopping()) return op.end(new Error('the LU is closing'));
      // progress counts what the store has written
      st.done += inFlight;
      inFlight = 0;
      if (off >= size) {
        pass++;
        off = 0;
        if (pass >= passes) return dev.flush((e) => op.end(e));
      }
      const src = inverted !== null && pass % 2 === 1 ? inverted : plain;
      const n = Math.min(src.length, size - off);
      const at = off;
      off += n;
      inFlight = n;
      const buf = n === src.length ? src : src.subarray(0, n);
      // a chunk starts once the time for the ones before it has passed: the first goes at once
      const wait = started + (st.done / SANITIZE_BYTES_PER_SECOND) * 1000 - Date.now();
      if (wait > 1) {
        const timer = setTimeout(() => {
          op.idle(null);
          write(at, buf);
        }, wait);
        op.idle(() => clearTimeout(timer));
      }
      else write(at, buf);
    } catch (e) {
      op.end(e ?? new Error('sanitize step threw'));
    }
  };
  if (size === 0) return op.end(null);
  step(null);
}

/**
 * 4.11.3 BLOCK ERASE on a thin LU: deallocates every block through the store's unmap (reads then
 * return zeros, LBPRZ=1, so WABEREQ 01b: a read after it succeeds), flushes, and checks with the
 * allocation map that nothing is still allocated; if something is (a filesystem that cannot punch
 * holes, where unmap writes zeros), the operation failed: sanitize failure mode, as for any
 * sanitize that could not complete. 5.30.3: PARAMETER LIST LENGTH must be 0.
 */
function blockErase(c: Cmd, lu: LogicalUnit): void {
  if (c.p.paramLen !== 0) return c.fail(Reason.InvalidFieldInCdb);
  if (!checkWritable(c, lu)) return;
  const size = lu.size;
  const op = begin(c, lu, size);
  const dev = lu.dev;
  let off = 0;
  const verify = (at: number): void => {
    if (at >= size) return op.end(null);
    dev.allocation!(at, size - at, (err, run) => {
      try {
        if (err || run === undefined) return op.end(err ?? new Error('no allocation run'));
        if (run.allocated) return op.end(new Error(`bytes ${at}..${at + run.length} are still allocated after unmap`));
        verify(at + run.length);
      } catch (e) {
        op.end(e ?? new Error('sanitize verify threw'));
      }
    });
  };
  const step = (err: NodeJS.ErrnoException | null): void => {
    try {
      if (err) return op.end(err);
      if (op.stopping()) return op.end(new Error('the LU is closing'));
      op.st.done = off;
      if (off >= size) return dev.flush((e) => (e ? op.end(e) : verify(0)));
      const at = off;
      const n = Math.min(ERASE_CHUNK, size - off);
      off += n;
      dev.unmap!(at, n, step);
    } catch (e) {
      op.end(e ?? new Error('sanitize step threw'));
    }
  };
  step(null);
}

const SANITIZE_USAGE = '48 bf 00 00 00 00 00 ff ff 07';
/**
 * Needs the medium, conflicts as a write (SPC-4 Table 63 via SBC-4), unknown service actions
 * are INVALID FIELD IN CDB (5.30.1), and it runs in sanitize failure mode to leave it.
 */
const SANITIZE_FLAGS = OpFlag.NeedsMedium | OpFlag.BadSaIsFieldError | OpFlag.SanitizeRecovery;

export const SBC_SANITIZE_ROWS: readonly OpRow[] = [
  { op: Op.Sanitize, sa: ServiceAction.SanitizeOverwrite, name: 'SANITIZE / OVERWRITE', usage: SANITIZE_USAGE, parse: parseSanitize, exec: sanitize, access: Access.Write, flags: SANITIZE_FLAGS },
  { op: Op.Sanitize, sa: ServiceAction.SanitizeBlockErase, name: 'SANITIZE / BLOCK ERASE', usage: SANITIZE_USAGE, parse: parseSanitize, exec: sanitize, access: Access.Write, flags: SANITIZE_FLAGS, available: blockEraseAvailable },
  { op: Op.Sanitize, sa: ServiceAction.SanitizeExitFailureMode, name: 'SANITIZE / EXIT FAILURE MODE', usage: SANITIZE_USAGE, parse: parseSanitize, exec: sanitize, access: Access.Write, flags: SANITIZE_FLAGS },
];
