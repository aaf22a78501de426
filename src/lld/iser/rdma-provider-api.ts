// The RDMA provider interface v2 the iSER LLD is written against (RFC 7145 §5: RDMA CM + verbs; ibv_post_send(3), rdma_cm(7)).
//
// Implemented by the native addon (native/rdma, libibverbs + librdmacm) and, for tests, by the
// in-process loopback provider (testing/loopback-provider.ts). The shape follows design.md §3 and
// iser.md E3/E5: completion-driven and batch-oriented, no promise and no object per operation.
//
// - An endpoint owns one RDMA CM event channel and, per device, a PD and one CQ shared by every
//   QP of that device (as tgt's iser.c). Both fds are watched by the event loop; the provider
//   calls handlers.onCmEvents(events) once per drain of the CM channel and
//   handlers.onCompletions(batch) once per batch of completions. Nothing busy-polls.
// - Connections and pools are number handles (never 0, never reused within an endpoint).
// - Work requests carry a wrId: an integer in [0, 2^53) (a JS number, exact in a Float64Array).
//   post* return 0 or an errno number and never throw on the data path. A completion reports
//   the wrId, conn, opcode, status and byte count; only signaled work requests complete when they
//   succeed (QPs are created with sq_sig_all = 0), a failed one always completes. Unsignaled send
//   WRs keep their send-queue slot until a later signaled WR on the same QP completes, so a caller
//   must signal at least every sendDepth-th WR. Receives always complete.
// - The CQ is shared: the caller keeps (sum of its QPs' sendDepth + recvDepth) <= cqSize.
// - Buffers: registerPool gives one Buffer over registered memory; slices are (pool, offset,
//   length). The caller must not touch a slice between posting and its completion.
// - Passive side: 'connect-request' -> createQp (optional) -> postRecv... -> accept or reject.
//   Active side: connect() -> 'route-resolved' (QP exists: post receives in the handler; the
//   connect request leaves after the handler returns) -> 'established' | 'rejected' | 'unreachable'.
//   Either side: disconnect() moves the QP to the error state (outstanding WRs complete with
//   WR_FLUSH_ERR); the peer gets 'disconnected' and answers with disconnect() (or destroy()), and
//   only that answer (IB CM DREP) brings the first side's 'disconnected' (else it comes when the
//   DREQ times out); 'timewait-exit' follows on IB/RoCE. destroy() frees the QP
//   and the cm id in any state without completions for what was outstanding; close() frees all.
//
// Linux ib_iser's CM expectations (iser.md E1), which the iSER LLD passes as options, not
// defaults of this layer: the initiator connects with responder_resources = its device's
// max_qp_rd_atom, initiator_depth 1, retry 7, rnr_retry 6 and 4 bytes of private data (struct
// iser_cm_hdr: flags 0x80 ZBVA not supported, 0x40 Send-with-Invalidate not supported). The
// target's 'connect-request' shows these swapped (initiatorDepth = the initiator's
// responder_resources) and answers with accept({ privateData: [0x80 | 0x40 unless it will use
// Send-with-Invalidate, 0, 0, 0], responderResources: 1, initiatorDepth: min(device
// max_qp_init_rd_atom, event.initiatorDepth) }) — LIO isert sends that header; tgt accepts without
// private data and responder_resources 1. The initiator enables Send-with-Invalidate only if the
// target's private data lacks 0x40. On IB/RoCE the received private data is zero-padded to the
// transport's maximum length (56 bytes in a REQ, 196 in a REP): parse the header, never compare
// lengths.

/** ibv_wc_opcode values as they appear in a completion (verbs.h). */
export const WcOpcode = { Send: 0, RdmaWrite: 1, RdmaRead: 2, Recv: 128 } as const;

/** ibv_wc_status values (verbs.h); anything but Success is an error completion. */
export const WcStatus = {
  Success: 0,
  LocLenErr: 1,
  LocQpOpErr: 2,
  LocProtErr: 4,
  WrFlushErr: 5,
  RemInvReqErr: 9,
  RemAccessErr: 10,
  RemOpErr: 11,
  RetryExcErr: 12,
  RnrRetryExcErr: 13,
  GeneralErr: 21,
} as const;

/** Int32 fields per completion in CompletionBatch.fields, at i * WC_STRIDE + WC_*. */
export const WC_STRIDE = 5;
export const WC_CONN = 0;
export const WC_OPCODE = 1;
export const WC_STATUS = 2;
export const WC_BYTE_LEN = 3;
export const WC_VENDOR_ERR = 4;

/**
 * One batch of completions, in CQ order. The object and its arrays are reused for every batch of
 * the endpoint (a batch costs one call, not an object per completion): read them during the
 * callback, copy what must outlive it. wrId[i] is completion i's wrId; fields[i * WC_STRIDE + k]
 * holds WC_CONN (0 when the conn was destroyed before the completion was read), WC_OPCODE
 * (WcOpcode; -1 for an error completion, whose opcode verbs leaves undefined: identify the work
 * request by wrId), WC_STATUS (WcStatus), WC_BYTE_LEN (bytes received, for Recv and RDMA READ) and
 * WC_VENDOR_ERR.
 */
export interface CompletionBatch {
  count: number;
  readonly wrId: Float64Array;
  readonly fields: Int32Array;
}

export type ConnHandle = number;
export type PoolHandle = number;

interface CmEventBase {
  conn: ConnHandle;
}

/**
 * A new passive-side connection on a listener; the conn handle is new. initiatorDepth and
 * responderResources are the peer's, seen from this side (the IB CM swaps them): initiatorDepth
 * is the initiator's responder_resources (the most RDMA READs this side may have in flight),
 * responderResources the initiator's initiator_depth. The same holds for 'established'.
 */
export interface ConnectRequestEvent extends CmEventBase {
  type: 'connect-request';
  listener: ConnHandle;
  device: string;
  peerAddress: string;
  peerPort: number;
  localAddress: string;
  localPort: number;
  privateData: Buffer;
  initiatorDepth: number;
  responderResources: number;
}

interface ConnectedFields extends CmEventBase {
  /** rejected: the transport's reject reason (IB CM: 8 = no listener (invalid service ID), 28 = consumer reject). */
  status: number;
  /** established: the peer's accept private data on the active side; rejected: the reject's. */
  privateData: Buffer;
  initiatorDepth: number;
  responderResources: number;
}

/** 'established' | 'rejected' (one interface per type, so `Extract<CmEvent, { type }>` narrows). */
export type ConnectedEvent = { [K in 'established' | 'rejected']: ConnectedFields & { type: K } }['established' | 'rejected'];

export type StateEventType = 'route-resolved' | 'disconnected' | 'timewait-exit' | 'unreachable' | 'device-removal' | 'addr-change';

interface StateFields extends CmEventBase {
  /** unreachable: a negative errno (e.g. -110 ETIMEDOUT) or the provider's status; 0 otherwise. */
  status: number;
}

export type StateEvent = { [K in StateEventType]: StateFields & { type: K } }[StateEventType];

export type CmEvent = ConnectRequestEvent | ConnectedEvent | StateEvent;

export interface RdmaHandlers {
  /** Every CM event read in one drain of the event channel, in order. */
  onCmEvents(events: readonly CmEvent[]): void;
  onCompletions(batch: CompletionBatch): void;
}

export interface EndpointOptions {
  /** Largest completion batch (default 64). */
  batchSize?: number;
  /** Entries of each device's CQ (default 4096, capped at the device's max_cqe). */
  cqSize?: number;
  /**
   * Post send-queue work (postSend, postRdma*) from a thread of the provider's (default false):
   * the call queues the work request and returns 0; consecutive requests of one QP go in one
   * ibv_post_send. A request that then cannot be posted completes with status GeneralErr and
   * vendorErr = the errno. disconnect, destroy and deregisterPool wait for the queue first.
   * Receives are always posted in the caller.
   */
  postThread?: boolean;
}

/** QP capabilities (ibv_qp_cap); defaults 128 / 128 / 1 / 0. */
export interface QpCaps {
  sendDepth?: number;
  recvDepth?: number;
  maxSge?: number;
  maxInline?: number;
}

/** rdma_conn_param fields the caller decides (defaults: 1, 1, retry 7, rnr retry 6). */
export interface ConnParams {
  privateData?: Uint8Array;
  responderResources?: number;
  initiatorDepth?: number;
  retryCount?: number;
  rnrRetryCount?: number;
}

export interface ConnectOptions extends ConnParams, QpCaps {
  /** Address and route resolution timeout (default 2000 ms). */
  timeoutMs?: number;
}

export type AcceptOptions = ConnParams & QpCaps;

export interface RegisteredPool {
  pool: PoolHandle;
  /** The registered memory (page-aligned); stays valid after deregistration until collected. */
  buffer: Buffer;
  /** Virtual address of buffer[0], as a peer names it in RDMA READ/WRITE (ZBVA not used). */
  addr: bigint;
  lkey: number;
  rkey: number;
  /** Keys per device when the endpoint has several; lkey/rkey above are keys[0]'s. */
  keys: { device: string; lkey: number; rkey: number }[];
}

/** What ibv_query_device(3) says about a device the endpoint opened. */
export interface EndpointDevice {
  name: string;
  maxQpWr: number;
  maxSge: number;
  maxCqe: number;
  /** RDMA READs a QP can answer at once (the most responder_resources an initiator can use). */
  maxQpRdAtom: number;
  /** RDMA READs a QP can have outstanding (caps the initiatorDepth a target accepts with). */
  maxQpInitRdAtom: number;
}

export interface RdmaEndpoint {
  readonly devices: readonly EndpointDevice[];
  readonly closed: boolean;
  /** Throws on bad arguments or when the bind/listen fails (control path). */
  listen(address: string, port: number, backlog?: number): { conn: ConnHandle; port: number };
  /** Starts an active connection; throws when resolution cannot even start. */
  connect(address: string, port: number, privateData: Uint8Array | undefined, options?: ConnectOptions): ConnHandle;
  createQp(conn: ConnHandle, caps?: QpCaps): number;
  accept(conn: ConnHandle, options?: AcceptOptions): number;
  reject(conn: ConnHandle, privateData?: Uint8Array): number;
  disconnect(conn: ConnHandle): number;
  /** Any state, twice, unknown handles: all fine. */
  destroy(conn: ConnHandle): void;
  registerPool(bytes: number): RegisteredPool;
  deregisterPool(pool: PoolHandle): number;
  postRecv(conn: ConnHandle, pool: PoolHandle, offset: number, length: number, wrId: number): number;
  postSend(
    conn: ConnHandle, pool: PoolHandle, offset: number, length: number, wrId: number, signaled: boolean, invalidateRkey?: number,
  ): number;
  postRdmaWrite(
    conn: ConnHandle, pool: PoolHandle, offset: number, length: number, remoteAddr: bigint, rkey: number, wrId: number,
    signaled: boolean,
  ): number;
  postRdmaRead(
    conn: ConnHandle, pool: PoolHandle, offset: number, length: number, remoteAddr: bigint, rkey: number, wrId: number,
  ): number;
  /** RDMA WRITE (unsignaled) from `pool` chained before a Send from `sendPool` in one post; both carry wrId. */
  postRdmaWriteSend(
    conn: ConnHandle, pool: PoolHandle, writeOffset: number, writeLength: number, remoteAddr: bigint, rkey: number,
    sendPool: PoolHandle, sendOffset: number, sendLength: number, wrId: number, signaled: boolean, invalidateRkey?: number,
  ): number;
  /** Destroys every conn, QP, MR, CQ and channel and stops watching the fds; idempotent. */
  close(): void;
}

export interface RdmaDevice {
  /** Kernel device name, e.g. "rxe0", "mlx5_0" (ibv_get_device_name). */
  name: string;
  /** Node GUID as ibv_devinfo prints it, "xxxx:xxxx:xxxx:xxxx". */
  nodeGuid: string;
  /** "InfiniBand" (also RoCE and rxe), "iWARP" (also siw), ... */
  transport: string;
}

export interface RdmaProvider {
  readonly providerVersion: number;
  /** ibv_get_device_list(3); throws when the kernel has no verbs support (e.g. ENOSYS). */
  listDevices(): RdmaDevice[];
  /** '' when an RDMA CM event channel can be created (rdma_create_event_channel(3)), else why not. */
  cmProbe(): string;
  /** Throws (with errno) when no CM event channel can be created or a device cannot be opened. */
  createEndpoint(handlers: RdmaHandlers, options?: EndpointOptions): RdmaEndpoint;
}
