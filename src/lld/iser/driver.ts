// The iser LLD (iSCSI Extensions for RDMA, RFC 7145): RDMA CM listeners, accepting connections, routing completions; the rest is the shared iSCSI target layer.
//
// One endpoint (provider) per driver: its CM event channel and CQ completion channel are watched by
// the event loop, and the provider hands us batches. A completion's wrId names its connection
// (wrId / WR_SPACE) and the work request within it. The data pool is registered on the first
// connection, so `lldload iser` stays quick and a daemon without iSER sessions pins no memory.

import type { LldDriver } from '../api.js';
import { IscsiTargetDriver, type TargetDriverContext } from '../../iscsi/target-driver.js';
import type { Portal } from '../../iscsi/portal.js';
import { WC_CONN, WC_STATUS, WC_BYTE_LEN, WC_STRIDE, type CmEvent, type CompletionBatch, type ConnHandle, type ConnectRequestEvent, type RdmaDevice, type RdmaEndpoint, type RdmaProvider } from './rdma-provider-api.js';
import { IserConnection, WR_SPACE, type IserConnectionHost } from './iser-connection.js';
import { DataPool } from './buffers.js';
import { parseCmHeader, targetCmHeader } from './iser-header.js';
import type { IserOptions } from './options.js';

/** Receives beyond the CmdSN window: immediate NOP-Out, TMF, Logout, Text (Linux's misc budget is 4). */
const EXTRA_RECVS = 16;
/** Sends per connection: responses of a full window plus NOP-In, Reject, Async. */
const EXTRA_SENDS = 16;
/** RDMA READs we allow ourselves in flight per connection at most, whatever the initiator offers. */
const MAX_READS = 16;

/** Software RDMA (rxe, siw) does its protocol work inside ibv_post_send: post from a thread there. */
export function usePostThread(opt: IserOptions['postThread'], devices: readonly RdmaDevice[]): boolean {
  if (opt !== 'auto') return opt === 'on';
  return devices.some((d) => /^(rxe|siw)/.test(d.name));
}

export class IserTargetDriver extends IscsiTargetDriver implements LldDriver, IserConnectionHost {
  readonly lldName = 'iser';
  readonly endpoint: RdmaEndpoint;
  private readonly byHandle = new Map<ConnHandle, IserConnection>();
  private readonly byId = new Map<number, IserConnection>();
  private nextId = 1;
  private pool: DataPool | null = null;

  constructor(
    ctx: TargetDriverContext, provider: RdmaProvider, readonly devices: readonly RdmaDevice[], readonly options: IserOptions,
  ) {
    super(ctx, { nopInterval: options.nop ? 5 : 0, nopCount: options.nop ? 3 : 0 }, undefined);
    this.endpoint = provider.createEndpoint({
      onCmEvents: (events) => this.onCmEvents(events),
      onCompletions: (batch) => this.onCompletions(batch),
    }, { postThread: usePostThread(options.postThread, devices) });
  }

  /** Listen on every portal (default: the wildcard addresses on options.port). Throws with the reason. */
  async start(portals: readonly Portal[]): Promise<void> {
    const list = portals.length > 0 ? portals : [{ host: '0.0.0.0', port: this.options.port }, { host: '::', port: this.options.port }];
    try {
      for (const p of list) await this.listen(p);
    } catch (e) {
      this.endpoint.close();
      throw e;
    }
  }

  protected async openPortal(p: Portal): Promise<() => Promise<void>> {
    const l = this.endpoint.listen(p.host, p.port, 128);
    return async () => this.endpoint.destroy(l.conn);
  }

  dataPool(): DataPool {
    if (this.pool === null) this.pool = new DataPool(this.endpoint, this.options.poolSizeMb * 1024 * 1024, this.options.bufSizeKb * 1024);
    return this.pool;
  }

  // ------------------------------------------------------------------ RDMA CM events

  private onCmEvents(events: readonly CmEvent[]): void {
    for (const ev of events) {
      try {
        this.onCmEvent(ev);
      } catch (e) {
        this.log('error', `iser: CM event ${ev.type}: ${(e as Error).stack ?? e}`);
      }
    }
  }

  private onCmEvent(ev: CmEvent): void {
    switch (ev.type) {
      case 'connect-request':
        return this.onConnectRequest(ev);
      case 'established':
        this.byHandle.get(ev.conn)?.onEstablished();
        return;
      case 'disconnected':
      case 'rejected':
      case 'unreachable':
      case 'device-removal': {
        const c = this.byHandle.get(ev.conn);
        if (c !== undefined) c.onDisconnected();
        else this.endpoint.destroy(ev.conn);
        return;
      }
      default:
        return;
    }
  }

  private onConnectRequest(ev: ConnectRequestEvent): void {
    if (!this.admits()) {
      this.endpoint.reject(ev.conn);
      return;
    }
    if (parseCmHeader(ev.privateData) === null) this.log('debug', `iser: ${ev.peerAddress} sent no iSER CM header`);
    const queue = this.maxQueueDepth();
    const id = this.nextId;
    this.nextId = this.nextId >= 0x7ffffff ? 1 : this.nextId + 1;
    const recvDepth = queue + EXTRA_RECVS;
    const sendDepth = queue + EXTRA_SENDS;
    const maxReads = Math.min(MAX_READS, Math.max(1, ev.initiatorDepth));
    let conn: IserConnection;
    try {
      this.endpoint.createQp(ev.conn, { sendDepth: sendDepth * 2 + maxReads, recvDepth, maxSge: 1 });
      conn = new IserConnection(this, {
        id, conn: ev.conn, recvDepth, sendDepth, maxReads, peerAddress: ev.peerAddress, peerPort: ev.peerPort,
        localAddress: ev.localAddress, localPort: ev.localPort,
      });
    } catch (e) {
      this.log('warn', `iser: cannot take a connection from ${ev.peerAddress}: ${(e as Error).message}`);
      this.endpoint.reject(ev.conn);
      this.endpoint.destroy(ev.conn);
      return;
    }
    this.byHandle.set(ev.conn, conn);
    this.byId.set(id, conn);
    this.track(conn);
    const e = conn.postReceives();
    const a = e === 0
      ? this.endpoint.accept(ev.conn, { privateData: targetCmHeader(), responderResources: 1, initiatorDepth: maxReads, retryCount: 7, rnrRetryCount: 7 })
      : e;
    if (a !== 0) {
      this.log('warn', `iser: accepting ${ev.peerAddress} failed (errno ${a})`);
      conn.close('accept failed');
      conn.onDisconnected();
    }
  }

  /** The largest CmdSN window any target of this driver grants: receives are sized to it. */
  private maxQueueDepth(): number {
    let q = 128;
    for (const tid of this.params.keys()) q = Math.max(q, this.queueDepth(tid));
    return q;
  }

  connectionDestroyed(conn: IserConnection): void {
    this.byHandle.delete(conn.conn);
    this.byId.delete(conn.id);
  }

  // ------------------------------------------------------------------ completions

  private onCompletions(batch: CompletionBatch): void {
    const f = batch.fields;
    for (let i = 0; i < batch.count; i++) {
      const wrId = batch.wrId[i]!;
      const c = this.byId.get(Math.floor(wrId / WR_SPACE));
      if (c === undefined || f[i * WC_STRIDE + WC_CONN] === 0) continue;
      try {
        c.onCompletion(wrId % WR_SPACE, f[i * WC_STRIDE + WC_STATUS]!, f[i * WC_STRIDE + WC_BYTE_LEN]!);
      } catch (e) {
        this.log('error', `iser ${c.peerAddress}: completion: ${(e as Error).stack ?? e}`);
        c.close('internal error');
      }
    }
  }

  async exit(): Promise<void> {
    // The endpoint owns every QP, MR and channel: whatever fails before, it is closed.
    try {
      this.closeAll('driver exit');
      await this.closePortals();
      for (const c of [...this.byHandle.values()]) {
        try {
          c.onDisconnected();
        } catch (e) {
          this.log('error', `iser: driver exit: ${(e as Error).stack ?? e}`);
        }
      }
    } finally {
      this.pool?.release();
      this.pool = null;
      this.endpoint.close();
    }
  }
}
