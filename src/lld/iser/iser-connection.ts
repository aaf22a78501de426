// An iSER connection (RFC 7145): iSCSI control PDUs in RDMA Sends and receives, write data by RDMA READ, read data by RDMA WRITE; driven by completions.
//
// Every PDU arrives in one receive: iSER header (28) + BHS + AHS + data segment, no padding, no
// digests. The engine (IscsiConnection) sees it through receivePdu; the receive buffer is
// re-posted as soon as that call returns, so the engine copies what it keeps (rxBuffersReused).
// Login negotiates InitialR2T=Yes and ImmediateData=No (negotiate.ts), so all write data comes by
// RDMA READ from the initiator's Write STag; read data goes by RDMA WRITE to its Read STag, chained
// before the SCSI Response Send. A command takes a run of the registered data pool before it
// runs (reads) or before its RDMA READ (writes); when none is free it waits, never fails.
// Target-originated Sends in full feature phase keep within the 128 data bytes the Linux
// initiator posts for them (iser.md E2).

import { IscsiConnection, type ConnectionHost } from '../../iscsi/connection.js';
import type { IscsiTask } from '../../iscsi/task.js';
import {
  WcStatus, type ConnHandle, type RdmaEndpoint,
} from './rdma-provider-api.js';
import { ISER_HEADER_LENGTH, IserOpcode, parseIserHeader, writeControlHeader } from './iser-header.js';
import { CONTROL_SLOT, ControlSlots, type DataPool, type DataRun } from './buffers.js';

const BHS = 48;
/** Data bytes the Linux initiator can receive in a full-feature-phase Send (ISER_RECV_DATA_SEG_LEN). */
export const FFP_SEND_DATA_LIMIT = 128;

/** wrId = connection id * WR_SPACE + local id; local ids: receive slots, send slots, RDMA READs. */
export const WR_SPACE = 2 ** 20;
const WR_SEND_BASE = 4096;
const WR_READ_BASE = 8192;
const WR_READ_SPAN = WR_SPACE - WR_READ_BASE;

/** What an iSER connection needs of its driver beyond the ConnectionHost. */
export interface IserConnectionHost extends ConnectionHost {
  readonly endpoint: RdmaEndpoint;
  dataPool(): DataPool;
  /** The QP and cm id are gone: forget the connection's handles. */
  connectionDestroyed(conn: IserConnection): void;
}

/** The transport's slot on a task (task.transport). */
interface IserTaskState {
  readStag: number | null;
  readVA: bigint;
  writeStag: number | null;
  writeVA: bigint;
  readRun: DataRun | null;
  writeRun: DataRun | null;
  cancelWait: (() => void) | null;
  /** Bytes of read data to RDMA WRITE with the response. */
  readLen: number;
  rdmaPending: number;
  respPending: boolean;
  finished: boolean;
}

function stateOf(task: IscsiTask): IserTaskState {
  return task.transport as IserTaskState;
}

export interface IserConnectionOptions {
  id: number;
  conn: ConnHandle;
  recvDepth: number;
  sendDepth: number;
  /** RDMA READs the initiator lets us have in flight (its responder resources). */
  maxReads: number;
  peerAddress: string;
  peerPort: number;
  localAddress: string;
  localPort: number;
}

export class IserConnection extends IscsiConnection {
  protected override readonly rxBuffersReused = true;
  readonly id: number;
  readonly conn: ConnHandle;
  private readonly slots: ControlSlots;
  private readonly ep: RdmaEndpoint;
  private rxHeader: ReturnType<typeof parseIserHeader> = null;
  /** Sends waiting for a free slot: the copied PDU and the task whose response it is. */
  private readonly sendBacklog: { pdu: Buffer; task: IscsiTask | null }[] = [];
  private readonly sendOwner: (IscsiTask | null)[];
  private readonly readOps = new Map<number, IscsiTask>();
  private nextRead = 0;
  private readsInFlight = 0;
  private readonly readQueue: IscsiTask[] = [];
  private readonly maxReads: number;
  /** Tasks holding pool runs or waiting for one (the engine forgets tasks at close; we must not). */
  private readonly holders = new Set<IscsiTask>();
  private established = false;
  private destroyed = false;
  /** closeTransport ran: disconnect once the posted Sends (a Logout or failed Login Response) are out. */
  private closing = false;
  private disconnecting = false;
  private disconnectTimer: NodeJS.Timeout | null = null;

  constructor(private readonly iser: IserConnectionHost, o: IserConnectionOptions) {
    super(iser, o.peerAddress, o.peerPort, o.localAddress, o.localPort, 'iser');
    this.id = o.id;
    this.conn = o.conn;
    this.ep = iser.endpoint;
    this.maxReads = Math.max(1, o.maxReads);
    this.slots = new ControlSlots(this.ep, o.recvDepth, o.sendDepth);
    this.sendOwner = new Array<IscsiTask | null>(o.sendDepth).fill(null);
  }

  /** Post every receive (before accept: the initiator's first Send must find one). */
  postReceives(): number {
    for (let i = 0; i < this.slots.recvCount; i++) {
      const e = this.repost(i);
      if (e !== 0) return e;
    }
    return 0;
  }

  private repost(i: number): number {
    return this.ep.postRecv(this.conn, this.slots.pool.pool, this.slots.recvOffset(i), CONTROL_SLOT, this.wr(i));
  }

  private wr(local: number): number {
    return this.id * WR_SPACE + local;
  }

  onEstablished(): void {
    this.established = true;
  }

  // ------------------------------------------------------------------ completions (from the driver)

  onCompletion(local: number, status: number, byteLen: number): void {
    if (local < WR_SEND_BASE) return this.onRecv(local, status, byteLen);
    if (local < WR_READ_BASE) return this.onSendDone(local - WR_SEND_BASE, status);
    return this.onReadDone(local, status);
  }

  private onRecv(slot: number, status: number, byteLen: number): void {
    if (this.isClosed) return;
    if (status !== WcStatus.Success) return this.close(`receive failed (status ${status})`);
    const b = this.slots.recvView(slot, byteLen);
    const h = parseIserHeader(b);
    if (h === null || h.opcode !== IserOpcode.Control || byteLen < ISER_HEADER_LENGTH + BHS) {
      // Hello/HelloReply belong to iWARP without CM private data; Linux never sends them.
      return this.close('not an iSCSI control-type iSER PDU');
    }
    const bhs = b.subarray(ISER_HEADER_LENGTH, ISER_HEADER_LENGTH + BHS);
    const ahsLen = bhs[4]! * 4;
    const dataLen = bhs.readUIntBE(5, 3);
    const start = ISER_HEADER_LENGTH + BHS + ahsLen;
    if (start + dataLen > byteLen) return this.close(`receive of ${byteLen} bytes is shorter than its PDU`);
    this.rxHeader = h;
    this.receivePdu(bhs, b.subarray(ISER_HEADER_LENGTH + BHS, start), dataLen > 0 ? [b.subarray(start, start + dataLen)] : [], dataLen);
    this.rxHeader = null;
    if (!this.isClosed) {
      const e = this.repost(slot);
      if (e !== 0) this.close(`receive re-post failed (errno ${e})`);
    }
  }

  // ------------------------------------------------------------------ sends

  protected sendPdu(bhs: Buffer, data: readonly Buffer[] | Buffer | null, dataLength: number): void {
    this.postControl(bhs, data, dataLength, null);
  }

  /** Copy one control PDU into a send slot and post it (or queue it until a slot frees). */
  private postControl(
    bhs: Buffer, data: readonly Buffer[] | Buffer | null, dataLength: number, task: IscsiTask | null,
  ): void {
    if (this.destroyed || this.disconnecting) return;
    const len = ISER_HEADER_LENGTH + BHS + dataLength;
    if (len > CONTROL_SLOT) {
      this.host.log('error', `iser ${this.logContext()}: a ${dataLength}-byte PDU does not fit a send slot`);
      return this.close('PDU too large for a Send');
    }
    const j = this.slots.takeSend();
    if (j < 0) {
      const pdu = Buffer.allocUnsafe(len);
      fill(pdu, bhs, data);
      this.sendBacklog.push({ pdu, task });
      return;
    }
    fill(this.slots.sendView(j), bhs, data);
    this.postSlot(j, len, task);
  }

  private postSlot(j: number, len: number, task: IscsiTask | null): void {
    this.sendOwner[j] = task;
    const s = task === null ? null : stateOf(task);
    let e: number;
    if (s !== null && s.readRun !== null && s.readLen > 0 && s.readStag !== null) {
      // Read data first, then the response, in one post: the Send completes after the WRITE.
      e = this.ep.postRdmaWriteSend(
        this.conn, this.iser.dataPool().handle, s.readRun.offset, s.readLen, s.readVA, s.readStag,
        this.slots.pool.pool, this.slots.sendOffset(j), len, this.wr(WR_SEND_BASE + j), true,
      );
    } else {
      e = this.ep.postSend(this.conn, this.slots.pool.pool, this.slots.sendOffset(j), len, this.wr(WR_SEND_BASE + j), true);
    }
    if (s !== null) s.respPending = true;
    if (e !== 0) {
      this.slots.giveSend(j);
      this.sendOwner[j] = null;
      if (s !== null) s.respPending = false;
      this.close(`post send failed (errno ${e})`);
    }
  }

  private onSendDone(j: number, status: number): void {
    const task = this.sendOwner[j] ?? null;
    this.sendOwner[j] = null;
    this.slots.giveSend(j);
    if (task !== null) {
      stateOf(task).respPending = false;
      this.settle(task);
      if (status === WcStatus.Success) this.recycle(task);
    }
    if (status !== WcStatus.Success && !this.isClosed) return this.close(`send failed (status ${status})`);
    if (this.closing) {
      if (this.slots.sendsFree === this.slots.sendCount) this.disconnect();
      return;
    }
    while (this.sendBacklog.length > 0 && !this.destroyed) {
      const k = this.slots.takeSend();
      if (k < 0) break;
      const next = this.sendBacklog.shift()!;
      next.pdu.copy(this.slots.sendView(k));
      this.postSlot(k, next.pdu.length, next.task);
    }
  }

  // ------------------------------------------------------------------ the engine's transport hooks

  protected override controlSendLimit(): number {
    return this.state === 'ffp' ? FFP_SEND_DATA_LIMIT : super.controlSendLimit();
  }

  protected override prepareTask(task: IscsiTask): void {
    let s = task.transport as IserTaskState | null;
    if (s === null) {
      s = {
        readStag: null, readVA: 0n, writeStag: null, writeVA: 0n, readRun: null, writeRun: null, cancelWait: null,
        readLen: 0, rdmaPending: 0, respPending: false, finished: false,
      };
      task.transport = s;
    }
    const h = this.rxHeader;
    s.readStag = h?.readStag ?? null;
    s.readVA = h?.readVA ?? 0n;
    s.writeStag = h?.writeStag ?? null;
    s.writeVA = h?.writeVA ?? 0n;
    s.readRun = s.writeRun = null;
    s.cancelWait = null;
    s.readLen = 0;
    s.rdmaPending = 0;
    s.respPending = false;
    s.finished = false;
    const readLen = task.isRead ? (task.isWrite ? task.scsi.expectedReadLength : task.scsi.expectedLength) : 0;
    if (readLen > 0) {
      // The read data needs registered memory before the command runs: hold it until it has some.
      task.held = true;
      this.holders.add(task);
      s.cancelWait = this.iser.dataPool().take(readLen, (run) => {
        s.cancelWait = null;
        s.readRun = run;
        if (this.isClosed || task.aborted) return this.settle(task);
        // The backing store reads straight into the registered run (contract v2): no copy.
        task.scsi.readBuffer = run.view;
        task.held = false;
        this.resume(task);
      });
    }
  }

  protected getWriteData(task: IscsiTask): void {
    const s = stateOf(task);
    const len = task.edtl - task.received;
    if (s.writeStag === null) {
      // A write whose data we may not fetch: the initiator broke RFC 7145 9.2 (W bit, STag).
      return this.close('write command without a Write STag');
    }
    this.holders.add(task);
    const grant = (run: DataRun): void => {
      s.cancelWait = null;
      s.writeRun = run;
      if (this.isClosed || task.aborted) return this.settle(task);
      this.readQueue.push(task);
      this.pumpReads();
    };
    if (s.writeRun !== null) return; // already fetching
    s.cancelWait = this.iser.dataPool().take(len, grant);
  }

  /** Post queued RDMA READs while the initiator's responder resources allow (IRD/ORD). */
  private pumpReads(): void {
    while (this.readQueue.length > 0 && this.readsInFlight < this.maxReads && !this.destroyed) {
      const task = this.readQueue.shift()!;
      const s = stateOf(task);
      if (task.aborted || this.isClosed || s.writeRun === null) {
        this.settle(task);
        continue;
      }
      const local = WR_READ_BASE + this.nextRead;
      this.nextRead = (this.nextRead + 1) % WR_READ_SPAN;
      const len = task.edtl - task.received;
      const e = this.ep.postRdmaRead(this.conn, this.iser.dataPool().handle, s.writeRun.offset, len, s.writeVA, s.writeStag!, this.wr(local));
      if (e !== 0) return this.close(`RDMA READ post failed (errno ${e})`);
      s.rdmaPending++;
      this.readsInFlight++;
      this.readOps.set(local, task);
    }
  }

  private onReadDone(local: number, status: number): void {
    const task = this.readOps.get(local);
    if (task === undefined) return;
    this.readOps.delete(local);
    this.readsInFlight--;
    const s = stateOf(task);
    s.rdmaPending--;
    if (status !== WcStatus.Success) {
      this.settle(task);
      if (!this.isClosed) this.close(`RDMA READ failed (status ${status})`);
      return;
    }
    if (task.aborted || this.isClosed) this.settle(task);
    else this.writeDataArrived(task, [s.writeRun!.view], s.writeRun!.view.length);
    this.pumpReads();
  }

  protected queueDataIn(task: IscsiTask, data: Buffer, len: number, _withStatus: boolean): boolean {
    const s = stateOf(task);
    if (s.readRun === null || s.readStag === null) {
      this.close('read data without a Read STag');
      return false;
    }
    // Media reads are already in the run (task.scsi.readBuffer); parameter data (INQUIRY, MODE
    // SENSE...) and reads longer than the initiator's buffer come from the engine's memory.
    if (data.buffer !== s.readRun.view.buffer || data.byteOffset !== s.readRun.view.byteOffset) {
      data.copy(s.readRun.view, 0, 0, len);
      this.dataInCopies++;
    }
    s.readLen = len;
    return false;
  }

  protected override queueStatus(task: IscsiTask, bhs: Buffer, data: Buffer | null, dataLength: number): void {
    this.postControl(bhs, data, dataLength, task);
  }

  /** The response Send owns the task until it completes (onSendDone recycles it). */
  protected override releaseTask(_task: IscsiTask): void {}

  protected override commandFinished(task: IscsiTask): void {
    const s = task.transport as IserTaskState | null;
    if (s === null) return;
    s.finished = true;
    if (task.aborted || this.isClosed) this.settle(task);
  }

  /** Give back a task's runs once nothing can touch them: not the engine, the HCA, or a pending Send. */
  private settle(task: IscsiTask): void {
    const s = task.transport as IserTaskState | null;
    if (s === null) return;
    if (s.cancelWait !== null && (task.aborted || this.isClosed)) {
      s.cancelWait();
      s.cancelWait = null;
    }
    const engineBusy = task.submitted && !s.finished;
    if (engineBusy || s.rdmaPending > 0 || s.respPending) return;
    const pool = this.iser.dataPool();
    if (s.readRun !== null) pool.give(s.readRun);
    if (s.writeRun !== null) pool.give(s.writeRun);
    s.readRun = s.writeRun = null;
    this.holders.delete(task);
  }

  // ------------------------------------------------------------------ teardown

  protected closeTransport(): void {
    if (this.destroyed || this.closing) return;
    this.closing = true;
    // Responses still queued for a slot cannot go; the ones posted (a Logout Response, a failed
    // Login Response) are let out before the disconnect.
    this.sendBacklog.length = 0;
    this.readQueue.length = 0;
    for (const t of [...this.holders]) this.settle(t);
    // A peer that never completes our Sends or never answers the disconnect is not waited for long.
    this.disconnectTimer = setTimeout(() => this.destroyNow(), 3000);
    this.disconnectTimer.unref();
    if (this.slots.sendsFree === this.slots.sendCount) this.disconnect();
  }

  private disconnect(): void {
    if (this.disconnecting || this.destroyed) return;
    this.disconnecting = true;
    this.ep.disconnect(this.conn);
  }

  /** The RDMA CM says the connection is gone (either side disconnected). */
  onDisconnected(): void {
    if (!this.isClosed) this.close('peer disconnected');
    this.destroyNow();
  }

  /** Destroy the QP and cm id: no work request is outstanding after this, so every run can go. */
  private destroyNow(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    if (this.disconnectTimer !== null) clearTimeout(this.disconnectTimer);
    this.ep.destroy(this.conn);
    this.readOps.clear();
    this.readsInFlight = 0;
    for (let j = 0; j < this.sendOwner.length; j++) {
      const t = this.sendOwner[j];
      if (t !== null && t !== undefined) stateOf(t).respPending = false;
      this.sendOwner[j] = null;
    }
    for (const t of [...this.holders]) {
      stateOf(t).rdmaPending = 0;
      this.settle(t);
    }
    this.slots.release();
    this.iser.connectionDestroyed(this);
  }

  /** Read responses whose data had to be copied into the pool (parameter data; media reads go in place). */
  dataInCopies = 0;

  /** Pool chunks this connection's tasks still hold (tests: 0 after teardown). */
  get runsHeld(): number {
    return this.holders.size;
  }
}

function fill(dst: Buffer, bhs: Buffer, data: readonly Buffer[] | Buffer | null): void {
  writeControlHeader(dst, 0);
  bhs.copy(dst, ISER_HEADER_LENGTH, 0, BHS);
  let o = ISER_HEADER_LENGTH + BHS;
  if (data === null) return;
  if (Buffer.isBuffer(data)) {
    data.copy(dst, o);
    return;
  }
  for (const p of data) {
    p.copy(dst, o);
    o += p.length;
  }
}
