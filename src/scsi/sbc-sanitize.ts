// SBC-4 5.30 SANITIZE and 4.11 sanitize operations: OVERWRITE and EXIT FAILURE MODE, run in the background with progress.
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

/**
 * SANITIZE (SBC-4 5.30). Supported: OVERWRITE (01h) and EXIT FAILURE MODE (1Fh). BLOCK ERASE needs
 * GET LBA STATUS to report the whole LU deallocated afterwards, which the backing store contract
 * (no allocation map) cannot say; CRYPTOGRAPHIC ERASE needs an encrypted medium. Both are unknown
 * service actions here: INVALID FIELD IN CDB, absent from REPORT SUPPORTED OPERATION CODES, and
 * WABEREQ / WACEREQ are 0 in the Block Device Characteristics VPD page.
 */
function sanitize(c: Cmd): void {
  const lu = c.lu!;
  const p = c.p;
  c.task.transferLength = p.paramLen;
  if (p.reservedSet) return c.fail(Reason.InvalidFieldInCdb);
  if (p.sa === ServiceAction.SanitizeExitFailureMode) return exitFailureMode(c, lu);
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
  overwrite(c, lu, plain, inverted, count, p.ause, p.immed);
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

/**
 * Runs `passes` overwrite passes of the whole medium, then a flush, paced at
 * SANITIZE_BYTES_PER_SECOND. The operation belongs to the LU, not to the command: IMMED=1
 * answers GOOD at once; IMMED=0 answers when it ends, and an ABORT TASK or a reset that aborts the
 * command completes it (TASK ABORTED) while the operation goes on (4.11.1). Success clears
 * `lu.sanitize`; an error leaves it failed (sanitize failure mode).
 */
function overwrite(c: Cmd, lu: LogicalUnit, plain: Buffer, inverted: Buffer | null, passes: number, ause: boolean, immed: boolean): void {
  const size = lu.size;
  // Set by st.stop (the LU is closing): the next step ends the operation instead of writing.
  let stopped: (() => void) | null = null;
  let timer: NodeJS.Timeout | null = null;
  const st: SanitizeStatus = {
    running: true, done: 0, total: size * passes, failed: false, ause,
    stop(cb) {
      if (!st.running) return cb();
      stopped = cb;
      if (timer !== null) {
        // waiting for its pacing slot: nothing in flight
        clearTimeout(timer);
        timer = null;
        end(new Error('the LU is closing'));
      }
    },
  };
  lu.sanitize = st;
  const dev = lu.dev;
  let waiter: Cmd | null = null;
  if (immed) c.good();
  else {
    waiter = c;
    c.onAbort = () => {
      waiter = null;
      c.good(); // reported as TASK ABORTED: the command was aborted
    };
  }
  const started = Date.now();
  let pass = 0;
  let off = 0;
  const end = (err: unknown): void => {
    st.running = false;
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
  const write = (at: number, buf: Buffer): void => {
    try {
      dev.write(at, [buf], step);
    } catch (e) {
      end(e ?? new Error('write threw'));
    }
  };
  let inFlight = 0;
  const step = (err: NodeJS.ErrnoException | null): void => {
    try {
      if (err) return end(err);
      if (stopped !== null) return end(new Error('the LU is closing'));
      // progress counts what the store has written
      st.done += inFlight;
      inFlight = 0;
      if (off >= size) {
        pass++;
        off = 0;
        if (pass >= passes) return dev.flush((e) => end(e));
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
        timer = setTimeout(() => {
          timer = null;
          write(at, buf);
        }, wait);
      }
      else write(at, buf);
    } catch (e) {
      end(e ?? new Error('sanitize step threw'));
    }
  };
  if (size === 0) return end(null);
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
  { op: Op.Sanitize, sa: ServiceAction.SanitizeExitFailureMode, name: 'SANITIZE / EXIT FAILURE MODE', usage: SANITIZE_USAGE, parse: parseSanitize, exec: sanitize, access: Access.Write, flags: SANITIZE_FLAGS },
];
