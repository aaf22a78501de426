// Pure builders of the target's status PDUs (RFC 7143 11.4 SCSI Response, 11.7 Data-In status): residuals, sense data segment, header fields.
//
// Shared by every transport: TCP sends the results as Data-In + SCSI Response PDUs, iSER as RDMA
// WRITE + a SCSI Response Send; both build the response here and only move it differently.

import * as W from './pdu-write.js';
import { DataDir } from '../scsi/api.js';
import type { IscsiTask } from './task.js';

/**
 * Residual of the final status (RFC 7143 11.4.5) as one signed number, so the hot path builds no
 * object: > 0 underflow by that many bytes, < 0 overflow by minus that, 0 none.
 */
export function residual(expected: number, wanted: number, transferred: number): number {
  if (wanted >= 0 && wanted > expected) return expected - wanted;
  const used = wanted >= 0 ? Math.min(wanted, transferred) : transferred;
  return used < expected ? expected - used : 0;
}

/** The SCSI Response / Data-In residual flag bits of a `residual()` value. */
export function residualFlags(r: number): number {
  return r > 0 ? W.Residual.Underflow : r < 0 ? W.Residual.Overflow : 0;
}

/** Read bytes of a completed task to deliver: what the command produced, capped by what the initiator expects. */
export function readLength(task: IscsiTask): number {
  const t = task.scsi;
  if (!task.isRead || t.dataIn === null) return 0;
  const expected = t.dir === DataDir.Bidi ? t.expectedReadLength : t.expectedLength;
  return Math.min(t.dataIn.length, expected);
}

/** Whether the status may ride in the last Data-In PDU (RFC 7143 11.7.4: GOOD, no sense, not bidirectional). */
export function canCollapseStatus(task: IscsiTask): boolean {
  const t = task.scsi;
  return t.status === 0 && t.sense === null && t.dir !== DataDir.Bidi;
}

/** The residual of the status carried by a read's last Data-In PDU (phase collapse). */
export function dataInResidual(task: IscsiTask, readLen: number): number {
  const t = task.scsi;
  return residual(t.expectedLength, t.transferLength, readLen);
}

/** The data segment of a SCSI Response: SenseLength + sense data (RFC 7143 11.4.7.2), or null. */
export function senseSegment(task: IscsiTask): Buffer | null {
  const sense = task.scsi.sense;
  if (sense === null || sense.length === 0) return null;
  const data = Buffer.allocUnsafe(2 + sense.length);
  data.writeUInt16BE(sense.length, 0);
  sense.copy(data, 2);
  return data;
}

/**
 * Fill `hdr` with the SCSI Response of a completed task that moved `readLen` read bytes;
 * `dataLength` is the length of its sense segment (senseSegment), `expDataSN` the number of
 * Data-In PDUs sent for it.
 */
export function writeScsiResponseFor(
  hdr: Buffer, task: IscsiTask, readLen: number, expDataSN: number, statSN: number, expCmdSN: number,
  maxCmdSN: number, dataLength: number,
): void {
  const t = task.scsi;
  let flags = 0;
  let count = 0;
  let bidiCount = 0;
  if (t.dir === DataDir.Read) {
    const r = residual(t.expectedLength, t.transferLength, readLen);
    flags = residualFlags(r);
    count = Math.abs(r);
  } else if (task.isWrite) {
    const used = t.transferLength >= 0 ? t.transferLength : task.received;
    const r = residual(task.edtl, t.transferLength, used);
    flags = residualFlags(r);
    count = Math.abs(r);
    if (t.dir === DataDir.Bidi) {
      const rr = residual(t.expectedReadLength, -1, readLen);
      if (rr < 0) flags |= W.Residual.BidiOverflow;
      if (rr > 0) flags |= W.Residual.BidiUnderflow;
      bidiCount = Math.abs(rr);
    }
  }
  W.writeScsiResponse(hdr, task.itt, 0, t.status, flags, count, bidiCount, expDataSN, statSN, expCmdSN, maxCmdSN, dataLength);
}
