// SCSI passthrough (tgt's device type "pt"): every CDB goes to the device behind the LU's store (sg/bsg), whose status, sense and data come back as they are.
//
// tgt hands every command of such an LU to the store (target_cmd_perform_passthrough). stgt keeps
// one command for itself: REPORT LUNS, whose answer is the target's LU inventory (SPC-4 6.33),
// which the device behind it does not know. Everything else, INQUIRY and REPORT SUPPORTED
// OPERATION CODES included, is the device's. The target's own unit attentions are not reported on
// these LUs (the row is UA-exempt, as tgt bypasses them); the device reports its own.
import { Status, DataDir } from './api.js';
import { parseNoFields } from './cdb-fields.js';
import type { OpRow } from './command-table.js';
import type { Cmd } from './command.js';
import { OpFlag } from './opcodes.js';
import { Access } from './persistent-reservations.js';
import { Reason } from './sense.js';
import type { IoError, PassthroughResult } from '../bs/api.js';

/**
 * SPC-4 4.2.5.1: the CDB length its GROUP CODE (opcode bits 7:5) gives, or -1 when the CDB is not
 * whole in `given` bytes. Group 3 holds the variable-length CDBs (7Fh: 8 + ADDITIONAL CDB LENGTH);
 * vendor-specific groups 6 and 7 and the reserved codes of group 3 take every byte given.
 */
export function cdbLength(cdb: Buffer): number {
  const given = cdb.length;
  if (given === 0) return -1;
  const op = cdb[0]!;
  let len: number;
  switch (op >> 5) {
    case 0:
      len = 6;
      break;
    case 1:
    case 2:
      len = 10;
      break;
    case 4:
      len = 16;
      break;
    case 5:
      len = 12;
      break;
    case 3:
      len = op === 0x7f ? (given >= 8 ? 8 + cdb[7]! : 8) : given;
      break;
    default:
      len = given;
  }
  return len <= given ? len : -1;
}

/** Completes `c` as the device answered (or with the sense for a host failure). */
function complete(c: Cmd, dataIn: Buffer | null, err: IoError, res: PassthroughResult | undefined): void {
  const t = c.task;
  if (err || res === undefined) {
    return c.fail(err?.code === 'EINVAL' ? Reason.InvalidFieldInCdb : Reason.InternalTargetFailure);
  }
  switch (res.outcome) {
    case 'timeout':
      return c.fail(Reason.CommandTimeoutDuringProcessing);
    case 'failed':
      return c.fail(Reason.InternalTargetFailure);
    case 'busy':
      t.status = Status.Busy;
      t.sense = null;
      t.dataIn = null;
      return c.ctx.finish(c);
    case 'done':
      break;
  }
  if (dataIn !== null) {
    c.stats.rdDoneBytes += res.dataInLength;
    c.stats.rdDoneCmds++;
  }
  if (t.dataOutLength > 0) {
    c.stats.wrDoneBytes += res.dataOutLength;
    c.stats.wrDoneCmds++;
    // the residual of a write is what the device left of what was sent (RFC 7143 11.4.5)
    t.transferLength = res.dataOutLength;
  }
  t.status = res.status;
  t.sense = res.sense.length > 0 ? Buffer.from(res.sense) : null;
  t.dataIn = dataIn === null ? null : dataIn.subarray(0, Math.min(res.dataInLength, dataIn.length));
  c.ctx.finish(c);
}

/** Hands the command to the LU's device (BackingDevice.passthrough). */
function passThrough(c: Cmd): void {
  const t = c.task;
  const dev = c.lu!.dev;
  const len = cdbLength(t.cdb);
  if (len < 0) return c.fail(Reason.InvalidFieldInCdb);
  if (dev.passthrough === undefined) return c.fail(Reason.InternalTargetFailure);
  const cdb = Buffer.from(t.cdb.subarray(0, len)); // the task's CDB is a view into a receive buffer
  const dataOut = t.dir === DataDir.Write || t.dir === DataDir.Bidi ? c.dataOutFlat(t.dataOutLength) : null;
  const inLen = t.dir === DataDir.Bidi ? t.expectedReadLength : t.dir === DataDir.Read ? t.expectedLength : 0;
  const own = t.readBuffer;
  const dataIn = inLen === 0 ? null : own !== null && own.length >= inLen ? own.subarray(0, inLen) : Buffer.alloc(inLen);
  if (dataIn !== null) {
    c.stats.rdSubmBytes += inLen;
    c.stats.rdSubmCmds++;
  }
  if (dataOut !== null && dataOut.length > 0) {
    c.stats.wrSubmBytes += dataOut.length;
    c.stats.wrSubmCmds++;
  }
  dev.passthrough({ cdb, dataOut: dataOut !== null && dataOut.length > 0 ? dataOut : null, dataIn }, (err, res) => {
    try {
      complete(c, dataIn, err, res);
    } catch (e) {
      c.internalError(e);
    }
  });
}

/** Every command without a row of its own: the device's. */
export const PASSTHROUGH_OTHERWISE: OpRow = {
  op: 0x00,
  name: 'PASSTHROUGH',
  usage: 'ff',
  parse: parseNoFields,
  exec: passThrough,
  access: Access.Always,
  flags: OpFlag.UaExempt,
};
