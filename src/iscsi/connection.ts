// RFC 7143 connection base shared by iSCSI/TCP and iSER: login, full feature phase dispatch, CmdSN/StatSN, command life cycle.
//
// The seam between this engine and a transport has the shape of LIO's iscsit_transport:
// - the transport delivers each received PDU to `receivePdu` and implements `sendPdu` (queue one
//   PDU: TCP writes it to the stream, iSER posts a Send) and `closeTransport`;
// - data movement is the transport's: `getWriteData` fetches write data beyond what came
//   unsolicited (TCP: R2Ts; iSER: RDMA READ, then `writeDataArrived`), `queueDataIn` delivers read
//   data (TCP: Data-In PDUs; iSER: RDMA WRITE), `queueStatus` the SCSI Response built by the pure
//   builders of responses.ts; `prepareTask` resets the transport's slot on the task (task.transport);
// - tasks come from a per-connection pool; a transport that finishes a task later than the
//   response is queued (iSER: after its Send completes) overrides `releaseTask`.
//
// Buffers handed to `receivePdu` are borrowed for the call. What the engine keeps beyond it, it
// copies (login and text continuation, NOP-Out echo, the CDB, a Reject's header), except write
// data, which it keeps as views unless `rxBuffersReused` says the transport reuses the memory
// (iSER reposts its receive buffers; TCP read with onread may have read into a shared buffer):
// then write data is copied too (`keepData`).
// Task management is in ffp-tmf.ts.

import * as P from './pdu.js';
import * as W from './pdu-write.js';
import { fullCdb, bidiReadLength, ahsValid } from './ahs.js';
import { DataDir, Tmf, TmfResponse, type ScsiTargetPort } from '../scsi/api.js';
import { IscsiSession, type PendingCommand, type SessionConnection } from './session.js';
import { IscsiTask } from './task.js';
import { canCollapseStatus, readLength, senseSegment, writeScsiResponseFor } from './responses.js';
import { errorText, type SessionTable } from './session-table.js';
import type { LoginEngine, LoginHost, LoginResult, NegotiatedParams } from './login.js';
import { createLoginEngine, createTextEngine, type TextEngine } from './engines.js';
import { HeaderPool } from './header-pool.js';
import { handleTaskMgmt } from './ffp-tmf.js';
import { loginFailureReason } from './login-outcome.js';

/** What a connection needs from its driver. */
export interface ConnectionHost {
  /** The login/text host for one connection (it binds sessions to that connection). */
  loginHostFor(conn: IscsiConnection): LoginHost;
  readonly sessions: SessionTable;
  /** The SCSI target behind a tid (null if it went away). */
  scsiTarget(tid: number): ScsiTargetPort | null;
  /** Target's MaxQueueCmd (CmdSN window). */
  queueDepth(tid: number): number;
  /** Called once when the connection is fully closed. */
  connectionClosed(conn: IscsiConnection): void;
  /** Called when a session ends. */
  sessionClosed(s: IscsiSession): void;
  /** Called when a login ends, with the final response's status (class << 8 | detail). */
  loginEnded?(status: number): void;
  log(level: 'debug' | 'info' | 'warn' | 'error', msg: string): void;
  /** How long a connection may take to reach full feature phase (default LOGIN_TIMEOUT_MS). */
  readonly loginTimeoutMs?: number;
}

/**
 * A connection that has not finished its login after this long is closed, so connections that
 * never log in cannot pin descriptors and memory for ever (LIO and open-iscsi both use 15 s).
 */
export const LOGIN_TIMEOUT_MS = 15_000;

/** Tasks kept for reuse per connection: above tgt's default MaxQueueCmd (128). */
const TASK_POOL_MAX = 256;

export type ConnState = 'login' | 'ffp' | 'logout' | 'closed';

/** Read data a connection lets pile up (running + unsent) before new commands wait (back-pressure). */
export const MAX_QUEUED_READ_BYTES = 32 * 1024 * 1024;

/**
 * Negotiated values the data path reads on every PDU: the session keys as negotiated
 * (LoginResult.params), with the two data segment limits named by direction.
 */
export type ConnParams = Pick<
  NegotiatedParams,
  | 'headerDigest' | 'dataDigest' | 'initialR2T' | 'immediateData' | 'firstBurstLength' | 'maxBurstLength'
  | 'maxOutstandingR2T' | 'maxConnections' | 'defaultTime2Wait' | 'defaultTime2Retain'
> & {
  /** Largest data segment we may send (the initiator's MaxRecvDataSegmentLength). */
  maxSendSegment: number;
  /** Largest data segment we accept (our MaxRecvDataSegmentLength). */
  maxRecvSegment: number;
};

export abstract class IscsiConnection implements SessionConnection {
  state: ConnState = 'login';
  cid = 0;
  session: IscsiSession | null = null;
  /** StatSN of the next status-carrying PDU (RFC 7143 3.2.2.2). */
  statSN = 0;
  params: ConnParams = {
    maxSendSegment: 8192,
    maxRecvSegment: 8192,
    headerDigest: false,
    dataDigest: false,
    initialR2T: true,
    immediateData: true,
    firstBurstLength: 65536,
    maxBurstLength: 262144,
    maxOutstandingR2T: 1,
    maxConnections: 1,
    defaultTime2Wait: 2,
    defaultTime2Retain: 20,
  };
  loginResult: LoginResult | null = null;
  /** Read bytes the submitted commands may still produce (see congested). */
  private inflightReadBytes = 0;
  /** Due commands held back while the transport is congested (see maybeSubmit). */
  private readonly deferredTasks: IscsiTask[] = [];
  /** Outstanding tasks by ITT. */
  readonly tasks = new Map<number, IscsiTask>();
  /** Completed tasks kept for reuse (design.md §4). */
  private readonly taskPool: IscsiTask[] = [];
  protected readonly headers = new HeaderPool();
  private readonly login: LoginEngine;
  private readonly loginHost: LoginHost;
  private text: TextEngine | null = null;
  private nopTimer: NodeJS.Timeout | null = null;
  private loginTimer: NodeJS.Timeout | null = null;
  private nopTag = 1;
  private nopOutstanding = 0;

  constructor(
    protected readonly host: ConnectionHost,
    readonly peerAddress: string,
    readonly peerPort: number,
    readonly localAddress: string,
    readonly localPort: number,
    readonly transport: 'tcp' | 'iser',
  ) {
    this.loginHost = host.loginHostFor(this);
    this.login = createLoginEngine(this.loginHost, { peerAddress, localAddress, localPort, transport });
    const ms = host.loginTimeoutMs ?? LOGIN_TIMEOUT_MS;
    if (ms > 0) {
      this.loginTimer = setTimeout(() => this.close('login timeout'), ms);
      this.loginTimer.unref();
    }
  }

  /**
   * The login host bound this connection to a session (the login is about to succeed). From now
   * on the session counts this connection, so every close must tell it, even one that happens
   * before full feature phase (a final login text sent in several PDUs).
   */
  sessionBound(s: IscsiSession): void {
    this.session = s;
  }

  get isClosed(): boolean {
    return this.state === 'closed';
  }

  // ------------------------------------------------------------------ transport hooks

  /** Queue one PDU: BHS (48 bytes, owned by the callee from now on) and data segment pieces. */
  protected abstract sendPdu(bhs: Buffer, data: readonly Buffer[] | Buffer | null, dataLength: number): void;
  /** Flush what was queued, then close the transport. */
  protected abstract closeTransport(): void;
  /**
   * Fetch the write data of `task` beyond what arrived with it or may still come unsolicited
   * (task.unsolicitedEnd .. task.edtl): TCP sends R2Ts, iSER posts RDMA READs and hands the data
   * to `writeDataArrived`. Called once when the command arrives with data missing, and again by
   * the transport itself as it sees fit.
   */
  protected abstract getWriteData(task: IscsiTask): void;
  /**
   * Deliver `len` bytes of read data of a completed task (TCP: Data-In PDUs; iSER: RDMA WRITE).
   * `withStatus`: the status may travel with the data (TCP phase collapse, RFC 7143 11.7.4);
   * return true if it did, false if the engine must still queue the SCSI Response.
   */
  protected abstract queueDataIn(task: IscsiTask, data: Buffer, len: number, withStatus: boolean): boolean;
  /** Queue the SCSI Response of a task (built by responses.ts). */
  protected queueStatus(_task: IscsiTask, bhs: Buffer, data: Buffer | null, dataLength: number): void {
    this.sendPdu(bhs, data, dataLength);
  }
  /** A task starts a new command: reset the transport's slot (task.transport). */
  protected prepareTask(_task: IscsiTask): void {}
  /**
   * A Data-Out PDU with a target transfer tag answers a solicitation of the transport's (a TCP
   * R2T): is `ttt` one of `task`'s open ones? iSER solicits with RDMA READ, never with a TTT.
   */
  protected solicitedTag(_task: IscsiTask, _ttt: number): boolean {
    return false;
  }
  /** Write data of `task` was accepted (`pieces`, as appended to task.scsi.dataOut): a transport may note whose memory it holds. */
  protected dataAccepted(_task: IscsiTask, _pieces: readonly Buffer[]): void {}
  /** Solicited Data-Out data of `task` was accepted (the transport's bookkeeping, e.g. the next R2T). */
  protected solicitedDataOut(_task: IscsiTask, _ttt: number, _final: boolean): void {}
  /**
   * The SCSI engine is done with a submitted task (completed or aborted, even after the connection
   * closed): the buffers it used for the command are the transport's again.
   */
  protected commandFinished(_task: IscsiTask): void {}
  /**
   * Largest data segment of a target-originated control PDU (Text Response, NOP-In echo): the
   * initiator's MaxRecvDataSegmentLength; iSER's is smaller in full feature phase.
   */
  protected controlSendLimit(): number {
    return this.params.maxSendSegment;
  }
  /**
   * The transport reuses the memory of the PDU it hands to receivePdu (iSER: reposted receive
   * buffers; TCP: a shared read buffer, set per PDU): write data must be copied (keepData).
   */
  protected rxBuffersReused = false;
  /** A copy of write data the engine keeps when rxBuffersReused (a transport may copy into memory of its own). */
  protected keepData(pieces: readonly Buffer[], _len: number): readonly Buffer[] {
    return pieces.map((p) => Buffer.from(p));
  }

  // ------------------------------------------------------------------ sequence numbers

  protected get expCmdSN(): number {
    return this.session?.expCmdSN ?? this.loginCmdSN;
  }
  protected get maxCmdSN(): number {
    return this.session?.maxCmdSN ?? this.loginCmdSN;
  }
  private loginCmdSN = 0;
  /** CmdSN of the login request being answered (the session's first ExpCmdSN). */
  get loginCmdSNValue(): number {
    return this.loginCmdSN;
  }

  /** StatSN for a PDU that carries status, advancing it. */
  protected nextStatSN(): number {
    const sn = this.statSN;
    this.statSN = (this.statSN + 1) >>> 0;
    return sn;
  }

  // ------------------------------------------------------------------ receive

  /**
   * One complete PDU from the transport. `ahs` is empty when there is none; `data` are views of
   * the data segment (no padding or digest), `dataLength` their total.
   */
  receivePdu(bhs: Buffer, ahs: Buffer, data: readonly Buffer[], dataLength: number): void {
    if (this.state === 'closed') return;
    try {
      if (this.state === 'login') {
        if (P.opcode(bhs) !== P.Op.Login) return this.close('non-login PDU during login');
        return this.onLogin(bhs, joinData(data, dataLength));
      }
      switch (P.opcode(bhs)) {
        case P.Op.ScsiCommand:
          return this.onScsiCommand(bhs, ahs, data, dataLength);
        case P.Op.DataOut:
          return this.onDataOut(bhs, data, dataLength);
        case P.Op.NopOut:
          return this.onNopOut(bhs, joinData(data, dataLength));
        case P.Op.TaskMgmt:
          return this.onTaskMgmt(bhs);
        case P.Op.Text:
          return this.onText(bhs, joinData(data, dataLength));
        case P.Op.Logout:
          return this.onLogout(bhs);
        case P.Op.Login:
          // A Login PDU in full feature phase is a protocol error (RFC 7143 6.3).
          return this.reject(bhs, W.RejectReason.ProtocolError);
        case P.Op.Snack:
          // ErrorRecoveryLevel is 0: SNACK is not supported (RFC 7143 11.16).
          return this.reject(bhs, W.RejectReason.ProtocolError);
        default:
          return this.reject(bhs, W.RejectReason.CommandNotSupported);
      }
    } catch (e) {
      this.host.log('error', `connection ${this.logContext()}: ${errorText(e)}`);
      this.close('internal error');
    }
  }

  // ------------------------------------------------------------------ login

  private onLogin(bhs: Buffer, data: Buffer): void {
    const req = P.parseLoginRequest(bhs, data);
    // Once bound the CID is the one the session knows the connection by.
    if (this.session === null) this.cid = req.cid;
    this.loginCmdSN = req.cmdSN;
    this.statSN = req.expStatSN; // RFC 7143 11.12.8: StatSN starts from the initiator's ExpStatSN
    const rep = this.login.step(req);
    if (rep.done && !rep.fail) this.enterFullFeature(rep.tsih);
    if (rep.done || rep.fail) this.loginEnded((rep.statusClass << 8) | rep.statusDetail);
    const hdr = this.headers.get();
    W.writeLoginResponse(
      hdr, rep.transit, rep.cont, rep.csg, rep.nsg, rep.versionMax, rep.versionActive, req.isid, rep.tsih,
      req.itt, this.nextStatSN(), this.expCmdSN, this.maxCmdSN, rep.statusClass, rep.statusDetail,
      rep.data.length,
    );
    this.sendPdu(hdr, rep.data.length > 0 ? rep.data : null, rep.data.length);
    if (rep.fail) this.close('login failed');
    else if (rep.done) this.onFullFeature();
  }

  /** A login ended (status class << 8 | detail): the driver counts it, the log says who. */
  private loginEnded(status: number): void {
    this.host.loginEnded?.(status);
    if (status === 0) {
      const discovery = this.loginResult?.sessionType === 'Discovery' ? ' (discovery)' : '';
      this.host.log('info', `login${discovery}: ${this.logContext()}`);
    } else {
      const who = this.login.initiator === '' ? '' : ` initiator=${this.login.initiator}`;
      this.host.log('warn', `login refused (${loginFailureReason(status)}):${who} ${this.logContext()}`);
    }
  }

  /**
   * What log lines say of this connection, as far as it is known: tid, sid (the session's TSIH, as
   * tgtadm --mode conn shows it), cid, initiator, target, peer.
   */
  logContext(): string {
    const r = this.loginResult;
    let s = r !== null && r.tid >= 0 ? `tid=${r.tid} ` : '';
    if (this.session !== null) s += `sid=${this.session.tsih} `;
    s += `cid=${this.cid} `;
    if (r !== null) s += `initiator=${r.initiatorName} ${r.targetName !== null ? `target=${r.targetName} ` : ''}`;
    return `${s}peer=${this.peerAddress}:${this.peerPort}`;
  }

  private enterFullFeature(tsih: number): void {
    const r = this.login.result;
    if (r === null) throw new Error('login done without result');
    this.loginResult = r;
    const p = r.params;
    this.params = {
      maxSendSegment: p.maxRecvDataSegmentLength,
      maxRecvSegment: p.targetMaxRecvDataSegmentLength,
      headerDigest: p.headerDigest,
      dataDigest: p.dataDigest,
      initialR2T: p.initialR2T,
      immediateData: p.immediateData,
      firstBurstLength: p.firstBurstLength,
      maxBurstLength: p.maxBurstLength,
      maxOutstandingR2T: p.maxOutstandingR2T,
      maxConnections: p.maxConnections,
      defaultTime2Wait: p.defaultTime2Wait,
      defaultTime2Retain: p.defaultTime2Retain,
    };
    const s = this.session ?? this.host.sessions.sessions.get(tsih) ?? null;
    if (s === null || s.closed) throw new Error(`login done but session ${tsih} is gone`);
    this.session = s;
    if (this.loginTimer !== null) clearTimeout(this.loginTimer);
    this.loginTimer = null;
    // Session-wide keys: the leading connection sets them, later ones inherit (RFC 7143 13).
    const sw = ['initialR2T', 'immediateData', 'firstBurstLength', 'maxBurstLength', 'maxOutstandingR2T'] as const;
    if (s.sessionParams === null) {
      s.sessionParams = {};
      for (const k of sw) s.sessionParams[k] = this.params[k];
    } else {
      const inherited = s.sessionParams as Pick<ConnParams, (typeof sw)[number]>;
      for (const k of sw) (this.params as unknown as Record<string, unknown>)[k] = inherited[k];
    }
    this.state = 'ffp';
    this.text = createTextEngine(this.loginHost, {
      discovery: r.sessionType === 'Discovery',
      initiatorName: r.initiatorName,
      peerAddress: this.peerAddress,
      localAddress: this.localAddress,
      localPort: this.localPort,
      tid: r.tid,
      maxSendSegment: this.controlSendLimit(),
    });
  }

  /** Hook: the login response that ends the login phase has been queued (digests start now). */
  protected onFullFeature(): void {}

  // ------------------------------------------------------------------ SCSI commands

  private onScsiCommand(bhs: Buffer, ahs: Buffer, data: readonly Buffer[], dataLength: number): void {
    const s = this.session;
    if (s === null || s.discovery || s.target === null) return this.reject(bhs, W.RejectReason.ProtocolError);
    const immediate = P.isImmediate(bhs);
    const cmdSN = P.cmdSN(bhs);
    if (!immediate && !s.inWindow(cmdSN)) return; // RFC 7143 3.2.2.1: silently ignored (nothing consumed)
    const itt = P.itt(bhs);
    // 0xffffffff is reserved (RFC 7143 11.2.1.8): it names no task, so it cannot name a command.
    if (itt === P.RESERVED_TAG) return this.rejectCommand(bhs, W.RejectReason.ProtocolError);
    if (ahs.length > 0 && !ahsValid(ahs)) return this.rejectCommand(bhs, W.RejectReason.InvalidPduField);
    if (this.tasks.has(itt)) return this.rejectCommand(bhs, W.RejectReason.TaskInProgress);
    const r = P.readBit(bhs);
    const w = P.writeBit(bhs);
    const edtl = P.expectedDataTransferLength(bhs);
    // Immediate data only with W, within FirstBurstLength and EDTL, and when negotiated (RFC 7143 11.3.5).
    if (dataLength > 0 && (!w || !this.params.immediateData || dataLength > edtl || dataLength > this.params.firstBurstLength)) {
      return this.rejectCommand(bhs, W.RejectReason.ProtocolError);
    }
    const cdb = ahs.length > 0 ? fullCdb(bhs, ahs) : P.cdb(bhs);
    if (cdb === null) return this.rejectCommand(bhs, W.RejectReason.InvalidPduField);

    const task = this.newTask(s);
    task.itt = itt;
    task.cmdSN = cmdSN;
    task.immediate = immediate;
    const t = task.scsi;
    t.lun = P.lun(bhs);
    // Own the CDB: the BHS may be a transport receive buffer that is reused (iSER).
    if (cdb.length === 16) {
      cdb.copy(task.cdb16);
      t.cdb = task.cdb16;
    } else t.cdb = Buffer.from(cdb);
    t.attr = P.attr(bhs) as typeof t.attr;
    t.tag = itt;
    t.dir = r && w ? DataDir.Bidi : w ? DataDir.Write : r ? DataDir.Read : DataDir.None;
    t.expectedLength = edtl;
    t.expectedReadLength = r && w ? bidiReadLength(ahs) : r ? edtl : 0;
    task.edtl = w ? edtl : 0;
    this.tasks.set(itt, task);

    if (task.isWrite) task.unsolicitedEnd = this.params.initialR2T ? dataLength : Math.min(this.params.firstBurstLength, edtl);
    // The transport's slot first: it may note where the immediate data lies (dataAccepted).
    this.prepareTask(task);
    if (task.isWrite && dataLength > 0) this.acceptData(task, data, dataLength);
    // Ahead of a gap (multi-connection) it waits for its turn; data may still flow meanwhile.
    this.consumeCmdSN(bhs, s, task);
    if (task.isWrite && !task.dataComplete) this.getWriteData(task);
    this.maybeSubmit(task);
  }

  /** Its CmdSN came due. */
  private commandDue(task: IscsiTask): void {
    task.due = true;
    if (task.itt !== undefined && this.tasks.get(task.itt) === task) this.maybeSubmit(task);
  }

  deliver(cmd: PendingCommand): void {
    cmd.run();
  }

  protected maybeSubmit(task: IscsiTask): void {
    if (task.submitted || task.deferred || task.aborted || task.held || !task.due || !task.dataComplete) return;
    if (this.deferredTasks.length > 0 || this.congested()) {
      // The initiator is behind on reading our responses: keep new work (and its read buffers)
      // out of memory until it catches up, in arrival order.
      task.deferred = true;
      this.deferredTasks.push(task);
      return;
    }
    this.submit(task);
  }

  private submit(task: IscsiTask): void {
    const target = this.session?.target;
    if (target === undefined || target === null) return;
    task.submitted = true;
    task.inflight = task.isRead ? task.scsi.expectedLength : 0;
    this.inflightReadBytes += task.inflight;
    target.execute(task.scsi, task.onDone);
  }

  /** Transport: the task it held back (task.held, e.g. waiting for registered memory) may run now. */
  protected resume(task: IscsiTask): void {
    if (this.state !== 'closed' && this.tasks.get(task.itt) === task) this.maybeSubmit(task);
  }

  /** Transport hook: response bytes queued but not yet sent (TCP: the socket's buffer). */
  protected unsentBytes(): number {
    return 0;
  }

  /**
   * Too much read data is on its way to an initiator that may not be reading: what the running
   * commands will produce plus what waits to be sent (bounds memory per connection).
   */
  protected congested(): boolean {
    return this.inflightReadBytes + this.unsentBytes() > MAX_QUEUED_READ_BYTES;
  }

  /** Transport hook: the initiator caught up; run the commands held back meanwhile. */
  protected drained(): void {
    while (this.deferredTasks.length > 0 && !this.congested() && this.state !== 'closed') {
      const task = this.deferredTasks.shift()!;
      task.deferred = false;
      if (!task.aborted && this.tasks.get(task.itt) === task) this.submit(task);
    }
  }

  /** A task from this connection's pool (or a new one, whose callbacks are bound once). */
  private newTask(s: IscsiSession): IscsiTask {
    const pooled = this.taskPool.pop();
    if (pooled !== undefined) {
      pooled.reset(s);
      return pooled;
    }
    const task = new IscsiTask(s, this);
    task.run = () => this.commandDue(task);
    task.onDone = () => this.commandDone(task);
    return task;
  }

  private commandDone(task: IscsiTask): void {
    this.inflightReadBytes -= task.inflight;
    task.inflight = 0;
    this.commandFinished(task);
    if (task.aborted || task.scsi.aborted || this.state === 'closed') {
      // An aborted task's ITT may already name a new command: only remove this one.
      if (this.tasks.get(task.itt) === task) this.tasks.delete(task.itt);
      return;
    }
    this.completeTask(task);
    if (this.deferredTasks.length > 0) this.drained();
  }

  /**
   * Send the results: read data through the transport (with the status when it can carry it), then,
   * unless it did, the SCSI Response (RFC 7143 11.4).
   */
  private completeTask(task: IscsiTask): void {
    const s = this.session!;
    const t = task.scsi;
    const readLen = readLength(task);
    const collapsed = readLen > 0 && this.queueDataIn(task, t.dataIn!, readLen, canCollapseStatus(task));
    this.tasks.delete(task.itt);
    if (!collapsed) {
      const data = senseSegment(task);
      const len = data?.length ?? 0;
      const hdr = this.headers.get();
      writeScsiResponseFor(hdr, task, readLen, task.dataSN, this.nextStatSN(), s.expCmdSN, s.maxCmdSN, len);
      this.queueStatus(task, hdr, data, len);
    }
    this.releaseTask(task);
  }

  /**
   * A task whose response was queued: nothing of the engine refers to it any more, so it goes back
   * to the pool. A transport still using it (iSER until its Send completes) overrides this and
   * calls `recycle` when done.
   */
  protected releaseTask(task: IscsiTask): void {
    this.recycle(task);
  }

  /** Return a finished task to the pool for the next command (design.md §4). */
  protected recycle(task: IscsiTask): void {
    // The data is the command's, not the pool's: let it go now, not when the task is reused.
    const t = task.scsi;
    t.dataIn = null;
    if (t.dataOut.length > 0) t.dataOut = [];
    t.dataOutLength = 0;
    if (this.taskPool.length < TASK_POOL_MAX && this.state !== 'closed') this.taskPool.push(task);
  }

  // ------------------------------------------------------------------ write data (unsolicited and solicited)

  /**
   * Write data the transport fetched itself (iSER: an RDMA READ completed) at `task.received`:
   * append it, and run the command once it is complete.
   */
  protected writeDataArrived(task: IscsiTask, pieces: readonly Buffer[], len: number): void {
    if (this.state === 'closed' || this.tasks.get(task.itt) !== task) return;
    task.addData(pieces, len);
    if (!task.aborted && task.dataComplete) this.maybeSubmit(task);
  }

  /** Append received write data to `task` (a copy when the transport reuses the memory, see keepData). */
  private acceptData(task: IscsiTask, data: readonly Buffer[], dataLength: number): void {
    const pieces = this.rxBuffersReused ? this.keepData(data, dataLength) : data;
    task.addData(pieces, dataLength);
    this.dataAccepted(task, pieces);
  }

  private onDataOut(bhs: Buffer, data: readonly Buffer[], dataLength: number): void {
    const itt = P.itt(bhs);
    const task = this.tasks.get(itt);
    if (task === undefined || !task.isWrite || task.submitted) {
      // Data for an unknown or finished task: RFC 7143 11.7 lets us drop it; tell the initiator.
      return this.reject(bhs, W.RejectReason.InvalidPduField);
    }
    const offset = P.bufferOffset(bhs);
    const ttt = P.ttt(bhs);
    if (
      offset !== task.received || offset + dataLength > task.edtl || dataLength > this.params.maxRecvSegment ||
      (ttt === P.RESERVED_TAG ? offset + dataLength > task.unsolicitedEnd : !this.solicitedTag(task, ttt))
    ) {
      // Out of order or beyond what was asked (DataPDUInOrder=Yes): a protocol error.
      return this.reject(bhs, W.RejectReason.ProtocolError);
    }
    // DataSN counts from 0 in each sequence (the unsolicited one and each R2T's, RFC 7143 11.7.5).
    if (ttt !== task.seqTTT) {
      task.seqTTT = ttt;
      task.expDataOutSN = 0;
    }
    if (P.dataSN(bhs) !== task.expDataOutSN) {
      // RFC 7143 7.9: an out-of-order DataSN implies an earlier Data-Out was lost to a digest error,
      // and 7.8 says the target MUST discard the PDU. At ErrorRecoveryLevel 0 there is no recovery
      // R2T: the command waits, on a connection that stays up, for the initiator's own recovery
      // (ABORT TASK or the end of the session), as LIO does for a stale DataSN. Dropping the
      // connection instead made libiscsi's next case log in again without ImmediateData=No and
      // send no Data-Out at all (iSCSIdatasn.iSCSIDataSnInvalid, test_iscsi_datasn_invalid.c:116).
      return;
    }
    task.expDataOutSN = (task.expDataOutSN + 1) >>> 0;
    this.acceptData(task, data, dataLength);
    if (ttt !== P.RESERVED_TAG) this.solicitedDataOut(task, ttt, P.isFinal(bhs));
    if (task.aborted) return;
    if (task.dataComplete) this.maybeSubmit(task);
  }

  // ------------------------------------------------------------------ NOP, text, logout

  private onNopOut(bhs: Buffer, data: Buffer): void {
    const s = this.session!;
    const itt = P.itt(bhs);
    // Outside the CmdSN window a non-immediate request is silently ignored (RFC 7143 3.2.2.1).
    if (!this.consumeCmdSN(bhs, s, null)) return;
    if (itt === P.RESERVED_TAG) {
      // The answer to our ping (RFC 7143 11.18.2): no reply.
      if (P.ttt(bhs) !== P.RESERVED_TAG) this.nopOutstanding = 0;
      return;
    }
    const echo = data.length > 0 ? Buffer.from(data.subarray(0, this.controlSendLimit())) : null;
    const hdr = this.headers.get();
    W.writeNopIn(hdr, itt, P.RESERVED_TAG, P.lun(bhs), this.nextStatSN(), s.expCmdSN, s.maxCmdSN, echo?.length ?? 0);
    this.sendPdu(hdr, echo, echo?.length ?? 0);
  }

  private onText(bhs: Buffer, data: Buffer): void {
    const s = this.session!;
    if (!this.consumeCmdSN(bhs, s, null)) return;
    const rep = this.text!.step({
      final: P.isFinal(bhs), cont: P.isContinue(bhs), itt: P.itt(bhs), ttt: P.ttt(bhs), data,
    });
    if ('reject' in rep) return this.reject(bhs, rep.reject);
    const hdr = this.headers.get();
    W.writeTextResponse(hdr, rep.final, rep.cont, P.itt(bhs), rep.ttt, this.nextStatSN(), s.expCmdSN, s.maxCmdSN, rep.data.length);
    this.sendPdu(hdr, rep.data.length > 0 ? rep.data : null, rep.data.length);
  }

  private onLogout(bhs: Buffer): void {
    const s = this.session!;
    if (!this.consumeCmdSN(bhs, s, null)) return;
    const reason = P.logoutReason(bhs);
    let response: number = W.LogoutResponse.Closed;
    let closeSession = false;
    let closeOther: SessionConnection | null = null;
    if (reason === 0) closeSession = true;
    else if (reason === 1 || reason === 2) {
      const cid = P.cid(bhs);
      if (cid !== this.cid) {
        const other = s.connections.get(cid);
        if (other === undefined) response = W.LogoutResponse.CidNotFound;
        else if (reason === 2) response = W.LogoutResponse.RecoveryNotSupported;
        else closeOther = other;
      } else if (reason === 2) response = W.LogoutResponse.RecoveryNotSupported;
    } else {
      return this.reject(bhs, W.RejectReason.InvalidPduField);
    }
    const hdr = this.headers.get();
    W.writeLogoutResponse(
      hdr, P.itt(bhs), response, this.nextStatSN(), s.expCmdSN, s.maxCmdSN, this.params.defaultTime2Wait,
      this.params.defaultTime2Retain,
    );
    this.sendPdu(hdr, null, 0);
    if (closeOther !== null) {
      closeOther.close('logged out by another connection');
      return;
    }
    if (response !== W.LogoutResponse.Closed) return;
    this.state = 'logout';
    if (closeSession) this.host.sessions.close(s, 'logout', (x) => this.host.sessionClosed(x));
    else this.close('logout');
  }

  // ------------------------------------------------------------------ task management (ffp-tmf.ts)

  private onTaskMgmt(bhs: Buffer): void {
    if (!this.consumeCmdSN(bhs, this.session!, null)) return;
    handleTaskMgmt(this, bhs);
  }

  /** Queue a Task Management Function Response (RFC 7143 11.6; `info` as RFC 7144 adds it). */
  sendTmfResponse(itt: number, response: number, info = 0): void {
    const s = this.session;
    if (this.state === 'closed' || s === null) return;
    const hdr = this.headers.get();
    W.writeTmfResponse(hdr, itt, response, this.nextStatSN(), s.expCmdSN, s.maxCmdSN, info);
    this.sendPdu(hdr, null, 0);
  }

  /** End this connection's whole session (logout of the session). */
  closeSession(reason: string): void {
    const s = this.session;
    if (s !== null) this.host.sessions.close(s, reason, (x) => this.host.sessionClosed(x));
  }

  /** End every session of this connection's target on this transport (TARGET COLD RESET), this one last. */
  closeTargetSessions(reason: string): void {
    const s = this.session;
    const tid = s?.target?.tid;
    if (s === null || tid === undefined) return;
    for (const other of this.host.sessions.forTarget(tid)) {
      if (other !== s) this.host.sessions.close(other, reason, (x) => this.host.sessionClosed(x));
    }
    this.closeSession(reason);
  }

  // ------------------------------------------------------------------ errors

  /** Reject a command PDU: it still consumes its CmdSN (RFC 7143 11.17.1 / 6.2). */
  private rejectCommand(bhs: Buffer, reason: number): void {
    if (this.session !== null) this.consumeCmdSN(bhs, this.session, null);
    this.reject(bhs, reason);
  }

  // ------------------------------------------------------------------ CmdSN (the one place it advances)

  /**
   * A non-immediate request consumes its CmdSN (RFC 7143 3.2.2.1): a SCSI command (`task`) runs when
   * its turn comes (task.run), anything else (NOP-Out, Text, Logout, TMF, a rejected command) only
   * fills its slot. Immediate requests consume nothing and a command's turn is at once. CmdSNs
   * outside the window consume nothing (the session refuses them).
   */
  private consumeCmdSN(bhs: Buffer, s: IscsiSession, task: IscsiTask | null): boolean {
    if (P.isImmediate(bhs)) {
      if (task !== null) task.due = true;
      return true;
    }
    return task !== null ? s.order(task) : s.advance(P.cmdSN(bhs), this);
  }

  protected reject(bhs: Buffer, reason: number): void {
    const hdr = this.headers.get();
    const copy = Buffer.from(bhs.subarray(0, P.BHS_LENGTH));
    W.writeReject(hdr, reason, this.nextStatSN(), this.expCmdSN, this.maxCmdSN, copy.length);
    this.sendPdu(hdr, copy, copy.length);
  }

  // ------------------------------------------------------------------ NOP-In pings

  /** Ping the initiator every `interval` s; close after `count` unanswered pings (tgt nop_interval/nop_count). */
  startPings(interval: number, count: number): void {
    if (this.nopTimer !== null) clearInterval(this.nopTimer);
    this.nopTimer = null;
    if (interval <= 0) return;
    this.nopTimer = setInterval(() => {
      if (this.state !== 'ffp' || this.session === null) return;
      if (count > 0 && this.nopOutstanding >= count) return this.close('NOP-In ping timeout');
      this.nopOutstanding++;
      const s = this.session;
      const hdr = this.headers.get();
      this.nopTag = this.nopTag >= 0x7fffffff ? 1 : this.nopTag + 1;
      W.writeNopIn(hdr, P.RESERVED_TAG, this.nopTag, 0, this.statSN, s.expCmdSN, s.maxCmdSN, 0);
      this.sendPdu(hdr, null, 0);
    }, interval * 1000);
    this.nopTimer.unref();
  }

  // ------------------------------------------------------------------ close

  /**
   * End the connection, however it ends (logout, reset, protocol error, TMF, reinstatement,
   * target delete, LLD stop). Every step runs even if an earlier one throws: the tasks, timers,
   * queued commands, the session's hold on this connection (and the I_T nexus with the last
   * connection) and the transport are always released.
   */
  close(reason: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (this.nopTimer !== null) clearInterval(this.nopTimer);
    if (this.loginTimer !== null) clearTimeout(this.loginTimer);
    this.nopTimer = this.loginTimer = null;
    // A logged-in connection's end is worth a line; one that never logged in (a port probe) only in debug.
    this.host.log(this.session !== null ? 'info' : 'debug', `connection closed (${reason}): ${this.logContext()}`);
    for (const t of this.tasks.values()) t.aborted = true;
    this.tasks.clear();
    for (const t of this.deferredTasks) t.aborted = true;
    this.deferredTasks.length = 0;
    this.taskPool.length = 0;
    this.inflightReadBytes = 0;
    const s = this.session;
    if (s !== null) {
      this.teardownStep('leaving the session', () =>
        this.host.sessions.connectionGone(s, this, (x) => this.host.sessionClosed(x)),
      );
    }
    this.teardownStep('closing the transport', () => this.closeTransport());
    this.teardownStep('releasing the connection', () => this.host.connectionClosed(this));
  }

  /** One step of close(): a throw is a bug to report, and must not stop the rest of the teardown. */
  private teardownStep(what: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.host.log('error', `connection ${this.logContext()}: ${what}: ${errorText(e)}`);
    }
  }
}

function joinData(data: readonly Buffer[], len: number): Buffer {
  if (data.length === 1) return data[0]!;
  if (data.length === 0) return Buffer.alloc(0);
  return Buffer.concat(data as Buffer[], len);
}
