// An in-process RDMA provider (interface v2, ../rdma-provider-api.ts) for tests: endpoints of one fabric connected in memory.
//
// What it models, so that iSER code tested over it behaves as over rxe or a real HCA:
// - CM: connect -> 'route-resolved' (QP created; receives posted in that handler are in place
//   before the request leaves) -> 'connect-request' on the listener's endpoint -> accept ->
//   'established' on both sides; reject or destroy of a pending request -> 'rejected' (status 28,
//   IB's consumer reject); no listener -> 'rejected' (status 8, invalid service ID). Private data
//   is zero-padded as IB pads it (REQ 56, REP 196, REJ 148 bytes), so a caller that compares lengths
//   fails here as on RoCE. initiatorDepth/responderResources in 'connect-request' and 'established'
//   are the peer's, seen from the receiver (swapped, as the IB CM reports them). disconnect or
//   destroy -> the peer gets 'disconnected' at once, the caller's own 'disconnected' waits until
//   the peer answers with disconnect() or destroy() (IB's DREQ/DREP; a peer that never answers
//   leaves it waiting, as it would until the DREQ times out); 'timewait-exit' follows each;
//   QPs in error: outstanding receives and sends complete with WR_FLUSH_ERR.
// - Verbs: work requests run in posting order on the endpoint's next turn (setImmediate), never
//   inside the post call. A Send consumes the peer's oldest receive: none posted -> the sender
//   gets RNR_RETRY_EXC_ERR and the QP breaks (option rnr: 'wait' queues instead); a receive too
//   short -> LOC_LEN_ERR / REM_INV_REQ_ERR. RDMA READ/WRITE copy between registered pools: the
//   rkey must be one of the peer endpoint's live pools and [remoteAddr, +length) inside it, else
//   REM_ACCESS_ERR. Pools get fake virtual addresses 4 GiB apart, so an offset error never lands
//   in another pool. Only signaled WRs complete on success; unsignaled send WRs hold their slot
//   until a later signaled one completes (ENOMEM when sendDepth is exhausted, as a real SQ).
// - An error completion's opcode is -1 (verbs leaves it undefined): callers go by wrId.
// - Completions are delivered in batches (batchSize, default 64) through one reused
//   CompletionBatch, after the turn's CM events.
// Test hooks: pause()/resume() hold an endpoint's posted work requests in flight (e.g. an RDMA
// READ while an ABORT TASK arrives); inspect(conn) tells queue depths and the largest number of
// RDMA READs that were in flight at once (to check IRD/ORD bounds).
import { isIP } from 'node:net';
import {
  WC_STRIDE, WcOpcode, WcStatus, type AcceptOptions, type CmEvent, type CompletionBatch, type ConnectOptions,
  type ConnHandle, type EndpointOptions, type PoolHandle, type QpCaps, type RdmaEndpoint, type RdmaHandlers,
  type RdmaProvider, type RegisteredPool,
} from '../rdma-provider-api.js';
import { LoopbackQp, type WorkRequest } from './loopback-qp.js';

const ENOTCONN = 107;
const EINVAL = 22;
const EADDRINUSE = 98;
const EBADF = 9;
/** IB CM reject reasons (IBA 12.6.7.2): what RDMA CM reports as `status` of 'rejected'. */
const REJ_INVALID_SERVICE_ID = 8;
const REJ_CONSUMER_DEFINED = 28;
/** IB CM private data sizes after the RDMA CM header: REQ, REP, REJ. */
const PD_REQ = 56;
const PD_REP = 196;
const PD_REJ = 148;

export interface LoopbackOptions {
  /** What a Send meets when the peer has no receive posted (default 'error', as rnr_retry runs out). */
  rnr?: 'error' | 'wait';
}

type ConnState =
  | 'listening' | 'resolving' | 'requested' | 'connecting' | 'connected' | 'rejected' | 'disconnecting' | 'disconnected';

export interface LoopbackConn {
  handle: ConnHandle;
  state: ConnState;
  qp: LoopbackQp | null;
  peer: { ep: LoopbackEndpoint; conn: ConnHandle } | null;
  address: string;
  port: number;
  connect?: { privateData: Buffer; options: ConnectOptions };
}

export interface LoopbackPool {
  handle: PoolHandle;
  buffer: Buffer;
  addr: bigint;
  lkey: number;
  rkey: number;
  live: boolean;
  owner: LoopbackEndpoint;
}

function pad(data: Uint8Array | undefined, size: number): Buffer {
  const b = Buffer.alloc(Math.max(size, data?.length ?? 0));
  if (data !== undefined) b.set(data);
  return b;
}

function addrError(message: string, errno: number): Error {
  return Object.assign(new Error(message), { errno });
}

/** One in-memory fabric: its providers' endpoints can reach each other's listeners. */
export class LoopbackFabric {
  readonly listeners = new Map<string, { ep: LoopbackEndpoint; conn: ConnHandle }>();
  readonly rkeys = new Map<number, LoopbackPool>();
  private nextPool = 0;
  private nextPort = 40000;
  private nextHost = 1;

  constructor(readonly options: LoopbackOptions = {}) {}

  /** A provider whose endpoints connect from `address` (default 192.0.2.N). */
  provider(address = `192.0.2.${this.nextHost++}`): RdmaProvider {
    return {
      providerVersion: 2,
      listDevices: () => [{ name: 'loop0', nodeGuid: '0000:0000:0000:0001', transport: 'InfiniBand' }],
      cmProbe: () => '',
      createEndpoint: (handlers: RdmaHandlers, options?: EndpointOptions) =>
        new LoopbackEndpoint(this, address, handlers, options),
    };
  }

  /** Fake VAs 4 GiB apart at an odd page, and keys that are never reused. */
  allocPool(owner: LoopbackEndpoint, handle: PoolHandle, bytes: number): LoopbackPool {
    const k = ++this.nextPool;
    const pool: LoopbackPool = {
      handle, buffer: Buffer.alloc(bytes), addr: 0x7f0000000000n + BigInt(k) * 0x100000000n + 0x3000n,
      lkey: 0x1000 + k, rkey: 0x10000 + k * 0x101, live: true, owner,
    };
    this.rkeys.set(pool.rkey, pool);
    return pool;
  }

  ephemeralPort(): number {
    return this.nextPort++;
  }

  /** The listener for address:port, or the wildcard of its family. */
  findListener(address: string, port: number): { ep: LoopbackEndpoint; conn: ConnHandle } | undefined {
    return this.listeners.get(`${address}|${port}`) ?? this.listeners.get(`${isIP(address) === 6 ? '::' : '0.0.0.0'}|${port}`);
  }
}

export interface ConnInspection {
  state: ConnState;
  recvsPosted: number;
  sendsOutstanding: number;
  readsInFlight: number;
  maxReadsInFlight: number;
}

export class LoopbackEndpoint implements RdmaEndpoint {
  readonly devices = [{ name: 'loop0', maxQpWr: 16384, maxSge: 32, maxCqe: 65535, maxQpRdAtom: 16, maxQpInitRdAtom: 16 }];
  readonly conns = new Map<ConnHandle, LoopbackConn>();
  readonly pools = new Map<PoolHandle, LoopbackPool>();
  private nextHandle = 1;
  private isClosed = false;
  private paused = false;
  private scheduled = false;
  private readonly cmEvents: CmEvent[] = [];
  /** After the next onCmEvents call: connect requests to send (receives posted in the handler first). */
  private readonly toConnect: ConnHandle[] = [];
  private readonly wcIds: number[] = [];
  private readonly wcFields: number[] = [];
  private readonly batch: CompletionBatch;
  private readonly batchSize: number;
  /** QPs with work requests to run. */
  private readonly busy = new Set<LoopbackQp>();

  constructor(
    readonly fabric: LoopbackFabric,
    readonly address: string,
    private readonly handlers: RdmaHandlers,
    options: EndpointOptions = {},
  ) {
    this.batchSize = options.batchSize ?? 64;
    this.batch = { count: 0, wrId: new Float64Array(this.batchSize), fields: new Int32Array(this.batchSize * WC_STRIDE) };
  }

  get closed(): boolean {
    return this.isClosed;
  }

  // ---- CM ----

  listen(address: string, port: number): { conn: ConnHandle; port: number } {
    if (this.isClosed) throw addrError('listen: endpoint closed', EBADF);
    if (isIP(address) === 0) throw new TypeError(`listen: bad address '${address}'`);
    const p = port === 0 ? this.fabric.ephemeralPort() : port;
    const key = `${address}|${p}`;
    if (this.fabric.listeners.has(key)) throw addrError(`rdma_bind_addr: address in use (${address}:${p})`, EADDRINUSE);
    const c = this.addConn('listening', address, p);
    this.fabric.listeners.set(key, { ep: this, conn: c.handle });
    return { conn: c.handle, port: p };
  }

  connect(address: string, port: number, privateData: Uint8Array | undefined, options: ConnectOptions = {}): ConnHandle {
    if (this.isClosed) throw addrError('connect: endpoint closed', EBADF);
    if (isIP(address) === 0 || !(port > 0 && port < 65536)) throw new TypeError(`connect: bad address '${address}' or port`);
    const c = this.addConn('resolving', address, port);
    c.connect = { privateData: Buffer.from(privateData ?? []), options };
    c.qp = new LoopbackQp(this, c.handle, options);
    this.queueCm({ type: 'route-resolved', conn: c.handle, status: 0 });
    this.toConnect.push(c.handle);
    return c.handle;
  }

  createQp(conn: ConnHandle, caps: QpCaps = {}): number {
    const c = this.conns.get(conn);
    if (c === undefined || c.state === 'listening') return ENOTCONN;
    c.qp ??= new LoopbackQp(this, conn, caps);
    return 0;
  }

  accept(conn: ConnHandle, options: AcceptOptions = {}): number {
    const c = this.conns.get(conn);
    if (c === undefined || c.state !== 'requested' || c.peer === null) return ENOTCONN;
    this.createQp(conn, options);
    const peer = c.peer.ep.conns.get(c.peer.conn);
    c.state = 'connected';
    this.queueCm({
      type: 'established', conn, status: 0, privateData: Buffer.alloc(0),
      initiatorDepth: options.initiatorDepth ?? 1, responderResources: options.responderResources ?? 1,
    });
    if (peer !== undefined) {
      peer.state = 'connected';
      c.peer.ep.queueCm({
        type: 'established', conn: peer.handle, status: 0, privateData: pad(options.privateData, PD_REP),
        initiatorDepth: options.responderResources ?? 1, responderResources: options.initiatorDepth ?? 1,
      });
    }
    return 0;
  }

  reject(conn: ConnHandle, privateData?: Uint8Array): number {
    const c = this.conns.get(conn);
    if (c === undefined || c.state !== 'requested') return ENOTCONN;
    c.state = 'rejected';
    this.rejectPeer(c, REJ_CONSUMER_DEFINED, privateData);
    return 0;
  }

  /**
   * As the IB CM: the first disconnect sends a DREQ (the peer gets 'disconnected'); this side's own
   * 'disconnected' comes with the DREP, i.e. when the peer calls disconnect() or destroy() in turn.
   */
  disconnect(conn: ConnHandle): number {
    const c = this.conns.get(conn);
    if (c === undefined || c.state === 'listening') return ENOTCONN;
    if (c.state === 'connected') this.sendDreq(c);
    else if (c.state === 'disconnected') this.sendDrep(c);
    return 0;
  }

  destroy(conn: ConnHandle): void {
    const c = this.conns.get(conn);
    if (c === undefined) return;
    if (c.state === 'listening') this.fabric.listeners.delete(`${c.address}|${c.port}`);
    if (c.state === 'requested') this.rejectPeer(c, REJ_CONSUMER_DEFINED, undefined);
    if (c.state === 'connected') this.sendDreq(c);
    if (c.state === 'disconnected') this.sendDrep(c);
    c.qp?.discard();
    if (c.qp !== null) this.busy.delete(c.qp);
    this.conns.delete(conn);
  }

  // ---- memory ----

  registerPool(bytes: number): RegisteredPool {
    if (this.isClosed) throw addrError('registerPool: endpoint closed', EBADF);
    if (!(bytes >= 1)) throw new RangeError('registerPool(bytes): bytes must be a positive number');
    const p = this.fabric.allocPool(this, this.nextHandle++, bytes);
    this.pools.set(p.handle, p);
    return { pool: p.handle, buffer: p.buffer, addr: p.addr, lkey: p.lkey, rkey: p.rkey, keys: [{ device: 'loop0', lkey: p.lkey, rkey: p.rkey }] };
  }

  deregisterPool(pool: PoolHandle): number {
    const p = this.pools.get(pool);
    if (p === undefined) return EINVAL;
    p.live = false;
    this.fabric.rkeys.delete(p.rkey);
    this.pools.delete(pool);
    return 0;
  }

  // ---- work requests ----

  postRecv(conn: ConnHandle, pool: PoolHandle, offset: number, length: number, wrId: number): number {
    const r = this.slice(conn, pool, offset, length);
    return typeof r === 'number' ? r : r.qp.postRecv({ pool: r.pool, offset, length, wrId });
  }

  postSend(conn: ConnHandle, pool: PoolHandle, offset: number, length: number, wrId: number, signaled: boolean, invalidateRkey?: number): number {
    const r = this.slice(conn, pool, offset, length);
    if (typeof r === 'number') return r;
    return r.qp.postSend([{ kind: 'send', pool: r.pool, offset, length, wrId, signaled, invalidateRkey }]);
  }

  postRdmaWrite(conn: ConnHandle, pool: PoolHandle, offset: number, length: number, remoteAddr: bigint, rkey: number, wrId: number, signaled: boolean): number {
    const r = this.slice(conn, pool, offset, length);
    if (typeof r === 'number') return r;
    return r.qp.postSend([{ kind: 'write', pool: r.pool, offset, length, wrId, signaled, remoteAddr, rkey }]);
  }

  postRdmaRead(conn: ConnHandle, pool: PoolHandle, offset: number, length: number, remoteAddr: bigint, rkey: number, wrId: number): number {
    const r = this.slice(conn, pool, offset, length);
    if (typeof r === 'number') return r;
    return r.qp.postSend([{ kind: 'read', pool: r.pool, offset, length, wrId, signaled: true, remoteAddr, rkey }]);
  }

  postRdmaWriteSend(
    conn: ConnHandle, pool: PoolHandle, writeOffset: number, writeLength: number, remoteAddr: bigint, rkey: number,
    sendPool: PoolHandle, sendOffset: number, sendLength: number, wrId: number, signaled: boolean, invalidateRkey?: number,
  ): number {
    const r = this.slice(conn, pool, writeOffset, writeLength);
    if (typeof r === 'number') return r;
    const sp = this.pools.get(sendPool);
    if (sp === undefined || !this.inPool(sp, sendOffset, sendLength)) return EINVAL;
    const chain: WorkRequest[] = [
      { kind: 'write', pool: r.pool, offset: writeOffset, length: writeLength, wrId, signaled: false, remoteAddr, rkey },
      { kind: 'send', pool: sp, offset: sendOffset, length: sendLength, wrId, signaled, invalidateRkey },
    ];
    return r.qp.postSend(chain);
  }

  close(): void {
    if (this.isClosed) return;
    for (const h of [...this.conns.keys()]) this.destroy(h);
    for (const h of [...this.pools.keys()]) this.deregisterPool(h);
    this.isClosed = true;
    this.cmEvents.length = 0;
    this.wcIds.length = 0;
    this.wcFields.length = 0;
  }

  // ---- test hooks ----

  /** Holds posted work requests of this endpoint in flight until resume(). */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.schedule();
  }

  inspect(conn: ConnHandle): ConnInspection | undefined {
    const c = this.conns.get(conn);
    if (c === undefined) return undefined;
    return { state: c.state, recvsPosted: 0, sendsOutstanding: 0, readsInFlight: 0, maxReadsInFlight: 0, ...c.qp?.inspect() };
  }

  // ---- internals (used by LoopbackQp and peer endpoints) ----

  queueCm(ev: CmEvent): void {
    if (this.isClosed) return;
    this.cmEvents.push(ev);
    this.schedule();
  }

  complete(wrId: number, conn: ConnHandle, opcode: number, status: number, byteLen: number): void {
    if (this.isClosed) return;
    this.wcIds.push(wrId);
    this.wcFields.push(conn, opcode, status, byteLen, 0);
    this.schedule();
  }

  markBusy(qp: LoopbackQp): void {
    this.busy.add(qp);
    this.schedule();
  }

  /** The QP of the peer of `conn`, when connected. */
  peerQp(conn: ConnHandle): LoopbackQp | null {
    const c = this.conns.get(conn);
    if (c === undefined || c.state !== 'connected' || c.peer === null) return null;
    return c.peer.ep.conns.get(c.peer.conn)?.qp ?? null;
  }

  /** A live pool of the peer of `conn` covering [addr, addr + length), by rkey. */
  remoteSlice(conn: ConnHandle, rkey: number, addr: bigint, length: number): { pool: LoopbackPool; offset: number } | null {
    const c = this.conns.get(conn);
    const p = this.fabric.rkeys.get(rkey);
    if (c?.peer == null || p === undefined || !p.live || p.owner !== c.peer.ep) return null;
    if (addr < p.addr || addr + BigInt(length) > p.addr + BigInt(p.buffer.length)) return null;
    return { pool: p, offset: Number(addr - p.addr) };
  }

  /** 'disconnected' then, on a later turn, 'timewait-exit' (IB/RoCE deliver both). */
  notifyDisconnected(c: LoopbackConn): void {
    c.state = 'disconnected';
    c.qp?.toError();
    this.queueCm({ type: 'disconnected', conn: c.handle, status: 0 });
    setImmediate(() => {
      if (this.conns.get(c.handle) === c) this.queueCm({ type: 'timewait-exit', conn: c.handle, status: 0 });
    });
  }

  private peerConn(c: LoopbackConn): LoopbackConn | undefined {
    return c.peer === null ? undefined : c.peer.ep.conns.get(c.peer.conn);
  }

  /** QP to error (outstanding work flushes); the peer hears of it, this side waits for the answer. */
  private sendDreq(c: LoopbackConn): void {
    c.state = 'disconnecting';
    c.qp?.toError();
    const p = this.peerConn(c);
    if (p !== undefined && p.state === 'connected') c.peer!.ep.notifyDisconnected(p);
    else this.notifyDisconnected(c); // nobody to answer: the DREQ times out
  }

  private sendDrep(c: LoopbackConn): void {
    const p = this.peerConn(c);
    if (p !== undefined && p.state === 'disconnecting') c.peer!.ep.notifyDisconnected(p);
  }

  private addConn(state: ConnState, address: string, port: number): LoopbackConn {
    const c: LoopbackConn = { handle: this.nextHandle++, state, qp: null, peer: null, address, port };
    this.conns.set(c.handle, c);
    return c;
  }

  private rejectPeer(c: LoopbackConn, status: number, privateData: Uint8Array | undefined): void {
    const peer = c.peer === null ? undefined : c.peer.ep.conns.get(c.peer.conn);
    if (peer === undefined || c.peer === null) return;
    peer.state = 'rejected';
    c.peer.ep.queueCm({
      type: 'rejected', conn: peer.handle, status, privateData: pad(privateData, PD_REJ), initiatorDepth: 0, responderResources: 0,
    });
  }

  /** The request leaves: a passive conn on the listener's endpoint, or 'rejected' (no listener). */
  private sendConnectRequest(h: ConnHandle): void {
    const c = this.conns.get(h);
    if (c === undefined || c.state !== 'resolving' || c.connect === undefined) return;
    c.state = 'connecting';
    const l = this.fabric.findListener(c.address, c.port);
    if (l === undefined || l.ep.isClosed) {
      c.state = 'rejected';
      this.queueCm({ type: 'rejected', conn: h, status: REJ_INVALID_SERVICE_ID, privateData: Buffer.alloc(PD_REJ), initiatorDepth: 0, responderResources: 0 });
      return;
    }
    const passive = l.ep.addConn('requested', c.address, c.port);
    passive.peer = { ep: this, conn: h };
    c.peer = { ep: l.ep, conn: passive.handle };
    const o = c.connect.options;
    l.ep.queueCm({
      type: 'connect-request', conn: passive.handle, listener: l.conn, device: 'loop0',
      peerAddress: this.address, peerPort: this.fabric.ephemeralPort(), localAddress: c.address, localPort: c.port,
      privateData: pad(c.connect.privateData, PD_REQ),
      // The IB CM reports depths from the receiver's side (swapped), and so does this.
      initiatorDepth: o.responderResources ?? 1, responderResources: o.initiatorDepth ?? 1,
    });
  }

  private slice(conn: ConnHandle, pool: PoolHandle, offset: number, length: number): number | { qp: LoopbackQp; pool: LoopbackPool } {
    const c = this.conns.get(conn);
    if (c === undefined || c.qp === null) return ENOTCONN;
    const p = this.pools.get(pool);
    if (p === undefined || !this.inPool(p, offset, length)) return EINVAL;
    return { qp: c.qp, pool: p };
  }

  private inPool(p: LoopbackPool, offset: number, length: number): boolean {
    return Number.isInteger(offset) && Number.isInteger(length) && offset >= 0 && length >= 0 && offset + length <= p.buffer.length;
  }

  private schedule(): void {
    if (this.scheduled || this.isClosed) return;
    this.scheduled = true;
    setImmediate(() => this.turn());
  }

  /** One turn: run posted work, then one onCmEvents call, then completions in batches. */
  private turn(): void {
    this.scheduled = false;
    if (this.isClosed) return;
    if (!this.paused) {
      const qps = [...this.busy];
      this.busy.clear();
      for (const qp of qps) qp.run();
    }
    if (this.cmEvents.length > 0) {
      const events = this.cmEvents.splice(0);
      const connects = this.toConnect.splice(0);
      this.handlers.onCmEvents(events);
      for (const h of connects) this.sendConnectRequest(h);
    }
    while (this.wcIds.length > 0 && !this.isClosed) {
      const n = Math.min(this.batchSize, this.wcIds.length);
      for (let i = 0; i < n; i++) this.batch.wrId[i] = this.wcIds[i]!;
      for (let i = 0; i < n * WC_STRIDE; i++) this.batch.fields[i] = this.wcFields[i]!;
      this.wcIds.splice(0, n);
      this.wcFields.splice(0, n * WC_STRIDE);
      this.batch.count = n;
      this.handlers.onCompletions(this.batch);
    }
  }
}

export { WcOpcode, WcStatus };
