// One queue pair of the loopback provider: receive queue, send queue, RC semantics of Send / RDMA WRITE / RDMA READ (IBA 9.4, 10.8).
//
// Work requests run in posting order when the endpoint's turn comes (LoopbackEndpoint.turn). A
// failed work request completes with its error status and moves the QP to the error state; every
// later and every outstanding one then completes with WR_FLUSH_ERR, receives included, as verbs
// do. Slot accounting follows the send queue: an unsignaled WR keeps its slot until a later
// signaled (or failed) WR completes.
import { WcOpcode, WcStatus, type ConnHandle, type QpCaps } from '../rdma-provider-api.js';
import type { LoopbackEndpoint, LoopbackPool } from './loopback-provider.js';

const ENOMEM = 12;
const EINVAL = 22;

export interface WorkRequest {
  kind: 'send' | 'write' | 'read';
  pool: LoopbackPool;
  offset: number;
  length: number;
  wrId: number;
  signaled: boolean;
  remoteAddr?: bigint;
  rkey?: number;
  invalidateRkey?: number | undefined;
}

interface Recv {
  pool: LoopbackPool;
  offset: number;
  length: number;
  wrId: number;
}

const OPCODE = { send: WcOpcode.Send, write: WcOpcode.RdmaWrite, read: WcOpcode.RdmaRead } as const;

export class LoopbackQp {
  readonly sendDepth: number;
  readonly recvDepth: number;
  private recvs: Recv[] = [];
  private sq: WorkRequest[] = [];
  private outstanding = 0;
  private sinceSignaled = 0;
  private error = false;
  private readsInFlight = 0;
  private maxReadsInFlight = 0;
  /** A sender of the peer waiting for a receive here (rnr: 'wait'). */
  private waitingSender: LoopbackQp | null = null;

  constructor(
    readonly ep: LoopbackEndpoint,
    readonly conn: ConnHandle,
    caps: QpCaps,
  ) {
    this.sendDepth = caps.sendDepth ?? 128;
    this.recvDepth = caps.recvDepth ?? 128;
  }

  get inError(): boolean {
    return this.error;
  }

  postRecv(r: Recv): number {
    if (this.recvs.length >= this.recvDepth) return ENOMEM;
    if (this.error) {
      this.ep.complete(r.wrId, this.conn, -1, WcStatus.WrFlushErr, 0);
      return 0;
    }
    this.recvs.push(r);
    const w = this.waitingSender;
    if (w !== null) {
      this.waitingSender = null;
      w.ep.markBusy(w);
    }
    return 0;
  }

  /** A chain of send-queue WRs (one ibv_post_send). A QP that is not connected yet refuses them. */
  postSend(chain: WorkRequest[]): number {
    const state = this.ep.conns.get(this.conn)?.state;
    if (!this.error && state !== 'connected') return EINVAL;
    if (this.outstanding + chain.length > this.sendDepth) return ENOMEM;
    this.outstanding += chain.length;
    for (const wr of chain) {
      if (wr.kind === 'read') this.maxReadsInFlight = Math.max(this.maxReadsInFlight, ++this.readsInFlight);
      this.sq.push(wr);
    }
    this.ep.markBusy(this);
    return 0;
  }

  run(): void {
    while (this.sq.length > 0) {
      const wr = this.sq[0]!;
      if (this.error) {
        this.sq.shift();
        this.finish(wr, WcStatus.WrFlushErr, 0);
        continue;
      }
      if (!this.execute(wr)) return; // waiting for a receive on the peer (rnr: 'wait')
      this.sq.shift();
    }
  }

  /** Error state: receives flush now, the send queue flushes on the next run. */
  toError(): void {
    if (this.error) return;
    this.error = true;
    for (const r of this.recvs.splice(0)) this.ep.complete(r.wrId, this.conn, -1, WcStatus.WrFlushErr, 0);
    if (this.sq.length > 0) this.ep.markBusy(this);
  }

  /** The QP is destroyed: outstanding WRs vanish without completions. */
  discard(): void {
    this.error = true;
    this.recvs = [];
    this.sq = [];
    this.waitingSender = null;
  }

  inspect(): { recvsPosted: number; sendsOutstanding: number; readsInFlight: number; maxReadsInFlight: number } {
    return {
      recvsPosted: this.recvs.length, sendsOutstanding: this.outstanding,
      readsInFlight: this.readsInFlight, maxReadsInFlight: this.maxReadsInFlight,
    };
  }

  /** Runs one WR; false when it must wait for a peer receive. */
  private execute(wr: WorkRequest): boolean {
    if (!wr.pool.live) return this.fail(wr, WcStatus.LocProtErr);
    const local = wr.pool.buffer.subarray(wr.offset, wr.offset + wr.length);
    if (wr.kind === 'send') {
      const peer = this.ep.peerQp(this.conn);
      if (peer === null || peer.error) return this.fail(wr, WcStatus.RetryExcErr);
      const r = peer.recvs.shift();
      if (r === undefined) {
        if (this.ep.fabric.options.rnr === 'wait') {
          peer.waitingSender = this;
          return false;
        }
        return this.fail(wr, WcStatus.RnrRetryExcErr);
      }
      if (!r.pool.live) {
        peer.ep.complete(r.wrId, peer.conn, -1, WcStatus.LocProtErr, 0);
        peer.toError();
        return this.fail(wr, WcStatus.RemOpErr);
      }
      if (r.length < wr.length) {
        peer.ep.complete(r.wrId, peer.conn, -1, WcStatus.LocLenErr, 0);
        peer.toError();
        return this.fail(wr, WcStatus.RemInvReqErr);
      }
      local.copy(r.pool.buffer, r.offset);
      peer.ep.complete(r.wrId, peer.conn, WcOpcode.Recv, WcStatus.Success, wr.length);
      this.finish(wr, WcStatus.Success, wr.length);
      return true;
    }
    const remote = this.ep.remoteSlice(this.conn, wr.rkey ?? 0, wr.remoteAddr ?? 0n, wr.length);
    if (remote === null || this.ep.peerQp(this.conn) === null) return this.fail(wr, WcStatus.RemAccessErr);
    const far = remote.pool.buffer.subarray(remote.offset, remote.offset + wr.length);
    if (wr.kind === 'write') local.copy(far);
    else far.copy(local);
    this.finish(wr, WcStatus.Success, wr.length);
    return true;
  }

  private fail(wr: WorkRequest, status: number): boolean {
    this.finish(wr, status, 0);
    this.toError();
    return true;
  }

  private finish(wr: WorkRequest, status: number, byteLen: number): void {
    if (wr.kind === 'read') this.readsInFlight--;
    if (status !== WcStatus.Success || wr.signaled) {
      // As verbs: an error completion's opcode is undefined; -1 here (callers go by wrId).
      this.ep.complete(wr.wrId, this.conn, status === WcStatus.Success ? OPCODE[wr.kind] : -1, status, byteLen);
      this.outstanding -= this.sinceSignaled + 1;
      this.sinceSignaled = 0;
    } else {
      this.sinceSignaled++;
    }
  }
}
