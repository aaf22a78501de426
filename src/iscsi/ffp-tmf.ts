// RFC 7143 11.5 / 11.6 Task Management Function requests in full feature phase.
//
// Tasks still gathering Data-Out never reached the SCSI engine, so the transport aborts those
// itself; everything else goes to the target's task manager. What is iSCSI-specific stays here:
// TASK REASSIGN needs ErrorRecoveryLevel 2, and an ABORT TASK for a command not yet received
// (RefCmdSN inside the CmdSN window) is "Function complete" (11.5.1 b).

import * as P from './pdu.js';
import { Tmf, TmfResponse } from '../scsi/api.js';
import type { IscsiSession } from './session.js';
import type { IscsiTask } from './task.js';

/** What a TMF needs of its connection (IscsiConnection, which calls in here; declared here so the import runs one way). */
export interface TmfConnection {
  readonly tasks: Map<number, IscsiTask>;
  readonly session: IscsiSession | null;
  /** `info`: the 3-byte ADDITIONAL RESPONSE INFORMATION (QUERY ASYNCHRONOUS EVENT), 0 otherwise. */
  sendTmfResponse(itt: number, response: number, info?: number): void;
  closeTargetSessions(reason: string): void;
}

/** Abort the not-yet-submitted tasks of `conn` matching `pred`; true if any. */
function abortLocal(conn: TmfConnection, pred: (t: IscsiTask) => boolean): boolean {
  let any = false;
  for (const t of conn.tasks.values()) {
    if (!t.submitted && pred(t)) {
      t.aborted = true;
      conn.tasks.delete(t.itt);
      any = true;
    }
  }
  return any;
}

function hasLocal(conn: TmfConnection, pred: (t: IscsiTask) => boolean): boolean {
  for (const t of conn.tasks.values()) if (!t.submitted && pred(t)) return true;
  return false;
}

export function handleTaskMgmt(conn: TmfConnection, bhs: Buffer): void {
  const s = conn.session!;
  const target = s.target;
  const fn = P.tmfFunction(bhs);
  const itt = P.itt(bhs);
  const lun = P.lun(bhs);
  const ref = P.refTaskTag(bhs);
  const refCmdSN = P.refCmdSN(bhs);
  if (target === null || s.discovery) return conn.sendTmfResponse(itt, TmfResponse.NotSupported);
  switch (fn) {
    case Tmf.TaskReassign:
      // Connection allegiance reassignment exists only at ErrorRecoveryLevel 2; we run at 0.
      return conn.sendTmfResponse(itt, TmfResponse.ReassignmentNotSupported);
    case Tmf.AbortTask:
      if (abortLocal(conn, (t) => t.itt === ref)) return conn.sendTmfResponse(itt, TmfResponse.Complete);
      break;
    case Tmf.AbortTaskSet:
    case Tmf.ClearTaskSet:
    case Tmf.LogicalUnitReset:
      abortLocal(conn, (t) => t.scsi.lun === lun);
      break;
    case Tmf.TargetWarmReset:
    case Tmf.TargetColdReset:
    case Tmf.ItNexusReset:
      abortLocal(conn, () => true);
      break;
    // RFC 7144 QUERY TASK / QUERY TASK SET: a command still gathering its Data-Out is a task too
    case Tmf.QueryTask:
      if (hasLocal(conn, (t) => t.itt === ref)) return conn.sendTmfResponse(itt, TmfResponse.FunctionSucceeded);
      break;
    case Tmf.QueryTaskSet:
      if (hasLocal(conn, (t) => t.scsi.lun === lun)) return conn.sendTmfResponse(itt, TmfResponse.FunctionSucceeded);
      break;
    default:
      break;
  }
  target.taskMgmt(s, fn as Tmf, lun, ref, (response, aborted, info) => {
    for (const a of aborted) {
      // No SCSI Response is sent for an aborted task.
      for (const t of conn.tasks.values()) if (t.scsi === a) t.aborted = true;
    }
    let r: number = response;
    if (fn === Tmf.AbortTask && r === TmfResponse.TaskDoesNotExist && s.inWindow(refCmdSN)) {
      // The referenced command has not arrived yet: it is as good as aborted (RFC 7143 11.5.1 b).
      r = TmfResponse.Complete;
    }
    // RFC 7144: a QUERY ASYNCHRONOUS EVENT that succeeded carries SAM-5's ADDITIONAL RESPONSE
    // INFORMATION (UADE DEPTH, SENSE KEY, ASC, ASCQ of the pending unit attention) in the response.
    conn.sendTmfResponse(itt, r, r === TmfResponse.FunctionSucceeded ? (info ?? 0) : 0);
    if (fn === Tmf.TargetColdReset && r === TmfResponse.Complete) {
      // A cold reset closes the target's connections to all initiators, ending every session
      // (RFC 7143 11.5.1), not only the requester's.
      conn.closeTargetSessions('target cold reset');
    }
  });
}
