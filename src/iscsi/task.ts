// One iSCSI task (RFC 7143 4.2.2 / 10): a SCSI command and its data transfer state on a connection.

import { DataDir, type ScsiTask, TaskAttr } from '../scsi/api.js';
import type { IscsiSession, PendingCommand, SessionConnection } from './session.js';

/**
 * Tasks are pooled per connection (design.md §4: no new object per command): a task that completed
 * normally is `reset` and reused; one that was aborted or outlived its connection is left to the GC,
 * because the SCSI engine or a task management response may still hold it.
 */
export class IscsiTask implements PendingCommand {
  itt = 0;
  cmdSN = 0;
  immediate = false;
  /** Expected data transfer length of the write part (or the read part for reads). */
  edtl = 0;
  /** Write bytes received so far (immediate + unsolicited + solicited). */
  received = 0;
  /** Write bytes the initiator may send unsolicited (immediate + unsolicited Data-Out). */
  unsolicitedEnd = 0;
  /** DataSN expected on the next Data-Out of the current sequence (RFC 7143 11.7.5: 0 at each sequence start). */
  expDataOutSN = 0;
  /** TTT of the Data-Out sequence in progress (0xffffffff: unsolicited). */
  seqTTT = 0xffffffff;
  /** Data-In PDUs sent so far (RFC 7143 11.7.5 DataSN); the SCSI Response's ExpDataSN. */
  dataSN = 0;
  /** Its CmdSN has come due (commands run in CmdSN order). */
  due = false;
  /** It has been handed to the SCSI engine. */
  submitted = false;
  /** Waiting in the connection's deferred queue until the initiator reads our earlier responses. */
  deferred = false;
  /** Held back by the transport (e.g. iSER waiting for registered memory) until it calls resume. */
  held = false;
  /** Read bytes counted against the connection's back-pressure limit while it runs. */
  inflight = 0;
  /** Aborted by task management: no response is sent. */
  aborted = false;
  readonly scsi: ScsiTask;
  /** PendingCommand: its CmdSN came due (set once by the owning connection). */
  run: () => void = noop;
  /** The SCSI engine's completion callback (set once by the owning connection). */
  onDone: () => void = noop;
  /** Owned copy of a 16-byte CDB (the BHS one), reused across commands. */
  readonly cdb16 = Buffer.alloc(16);
  /**
   * The transport's own per-command state (TCP: R2T bookkeeping; iSER: STags, remote addresses,
   * registered buffers). Kept across reuse so a transport allocates it once per pooled task and
   * resets it when the task starts a new command (IscsiConnection.prepareTask).
   */
  transport: unknown = null;

  constructor(nexus: IscsiSession, readonly conn: SessionConnection) {
    this.scsi = {
      nexus,
      lun: 0,
      cdb: Buffer.alloc(0),
      attr: TaskAttr.Simple,
      tag: 0,
      dir: DataDir.None,
      expectedLength: 0,
      expectedReadLength: 0,
      dataOut: [],
      dataOutLength: 0,
      readBuffer: null,
      status: 0,
      sense: null,
      dataIn: null,
      transferLength: -1,
      aborted: false,
    };
  }

  /** Back to the state of a new task, for reuse by the next command. */
  reset(nexus: IscsiSession): void {
    this.itt = 0;
    this.cmdSN = 0;
    this.immediate = false;
    this.edtl = 0;
    this.received = 0;
    this.unsolicitedEnd = 0;
    this.expDataOutSN = 0;
    this.seqTTT = 0xffffffff;
    this.dataSN = 0;
    this.due = false;
    this.submitted = false;
    this.deferred = false;
    this.held = false;
    this.inflight = 0;
    this.aborted = false;
    const t = this.scsi;
    t.nexus = nexus;
    t.lun = 0;
    t.attr = TaskAttr.Simple;
    t.tag = 0;
    t.dir = DataDir.None;
    t.expectedLength = 0;
    t.expectedReadLength = 0;
    // A fresh array: the old one may still be referenced by a finished backing-store write.
    if (t.dataOut.length > 0) t.dataOut = [];
    t.dataOutLength = 0;
    t.readBuffer = null;
    t.status = 0;
    t.sense = null;
    t.dataIn = null;
    t.transferLength = -1;
    t.aborted = false;
  }

  get isWrite(): boolean {
    return this.scsi.dir === DataDir.Write || this.scsi.dir === DataDir.Bidi;
  }

  get isRead(): boolean {
    return this.scsi.dir === DataDir.Read || this.scsi.dir === DataDir.Bidi;
  }

  /** All the write data has arrived. */
  get dataComplete(): boolean {
    return !this.isWrite || this.received >= this.edtl;
  }

  /** Append write data (views the task keeps: the connection copied them if they were borrowed, connection.ts keepData). */
  addData(pieces: readonly Buffer[], len: number): void {
    for (const p of pieces) this.scsi.dataOut.push(p);
    this.scsi.dataOutLength += len;
    this.received += len;
  }
}

function noop(): void {}
