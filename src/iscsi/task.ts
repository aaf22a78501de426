// One iSCSI task (RFC 7143 4.2.2 / 10): a SCSI command and its data transfer state on a connection.

import { DataDir, type ScsiTask, TaskAttr } from '../scsi/api.js';
import type { IscsiSession } from './session.js';

export class IscsiTask {
  itt = 0;
  cmdSN = 0;
  immediate = false;
  /** Expected data transfer length of the write part (or the read part for reads). */
  edtl = 0;
  /** Write bytes received so far (immediate + unsolicited + solicited). */
  received = 0;
  /** Next offset to ask for with an R2T (everything below it is asked for or unsolicited). */
  r2tOffset = 0;
  /** Write bytes the initiator may send unsolicited (immediate + unsolicited Data-Out). */
  unsolicitedEnd = 0;
  outstandingR2T = 0;
  /** Target transfer tags of the R2Ts not yet answered in full. */
  readonly r2tTags: number[] = [];
  /** DataSN expected on the next Data-Out of the current sequence (RFC 7143 11.7.5: 0 at each sequence start). */
  expDataOutSN = 0;
  /** TTT of the Data-Out sequence in progress (0xffffffff: unsolicited). */
  seqTTT = 0xffffffff;
  r2tSN = 0;
  /** Data-In sequence number (RFC 7143 11.7.5), also counts R2Ts on writes for DataSN/R2TSN sharing. */
  dataSN = 0;
  /** Its CmdSN has come due (commands run in CmdSN order). */
  due = false;
  /** It has been handed to the SCSI engine. */
  submitted = false;
  /** Aborted by task management: no response is sent. */
  aborted = false;
  readonly scsi: ScsiTask;

  constructor(nexus: IscsiSession) {
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
      status: 0,
      sense: null,
      dataIn: null,
      transferLength: -1,
      aborted: false,
    };
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

  addData(pieces: readonly Buffer[], len: number): void {
    for (const p of pieces) this.scsi.dataOut.push(p);
    this.scsi.dataOutLength += len;
    this.received += len;
  }
}
