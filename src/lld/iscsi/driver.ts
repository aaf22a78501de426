// The iscsi LLD (iSCSI over TCP): TCP portals, listening and accepting; the rest is the shared iSCSI target layer.

import { closeSync } from 'node:fs';
import net from 'node:net';
import type { LldContext, LldDriver } from '../api.js';
import { IscsiTargetDriver } from '../../iscsi/target-driver.js';
import { formatPortal, parseLldArgs, type Portal } from '../../iscsi/portal.js';
import { errorText } from '../../iscsi/session-table.js';
import { SHARED_READ_SIZE, TcpConnection } from './tcp-connection.js';
import { closeNative, listenError, listenNative, loadIoAddon, type IoAddon } from './native-listener.js';
import { waitFirstPdu, type ConnectionHandoff, type FirstPduOutcome, type FirstPduWait, type HandedConnection } from './handoff.js';
import { FIRST_PDU_MAX } from './first-login.js';
import { LOGIN_TIMEOUT_MS } from '../../iscsi/connection.js';

/** How often an accept error (EMFILE and the like) is logged at most, per portal. */
const ACCEPT_ERROR_LOG_MS = 10_000;
/** How often connections that read nothing meanwhile drop their receive arena (TcpConnection.sweepIdle). */
const IDLE_SWEEP_MS = 5_000;

export class IscsiTcpDriver extends IscsiTargetDriver implements LldDriver {
  readonly lldName = 'iscsi';
  /** The accept loop of native/io, or null: net.Server (not built, or STGT_NATIVE_IO=0). */
  private io: IoAddon | null = null;
  /** The read buffer every connection of this driver's event loop shares (onread; with the accept loop only). */
  private readonly sharedRead = Buffer.allocUnsafeSlow(SHARED_READ_SIZE);
  private sweepTimer: NodeJS.Timeout | null = null;
  /** tgtd --workers (docs/multicore.md): the main thread routes by TargetName; a worker adopts what it is given. */
  private handoff: ConnectionHandoff | null = null;
  /** Connections whose first PDU the main thread is waiting for (closed if the driver exits first). */
  private readonly routing = new Map<number, FirstPduWait>();
  /** Where the first PDU is peeked into (synchronously, so one buffer serves the loop); with handoff.route only. */
  private peekScratch: Buffer | null = null;

  static async create(ctx: LldContext): Promise<IscsiTcpDriver> {
    const args = parseLldArgs(ctx.args);
    const d = new IscsiTcpDriver(ctx, { nopInterval: args.nopInterval, nopCount: args.nopCount },
      args.loginTimeout === null ? undefined : args.loginTimeout * 1000);
    const io = loadIoAddon();
    d.io = io.addon;
    if (io.addon !== null) {
      d.sweepTimer = setInterval(() => {
        for (const c of d.connections) if (c instanceof TcpConnection) c.sweepIdle();
      }, IDLE_SWEEP_MS);
      d.sweepTimer.unref();
    }
    d.log('debug', io.addon !== null ? 'iscsi: own accept loop (native/io)' : `iscsi: net.Server (${io.reason})`);
    const handoff = (ctx.services as { handoff?: ConnectionHandoff }).handoff ?? null;
    if (handoff?.adopt !== undefined) {
      // A worker's driver: no portal of its own; the main thread hands it connections of its targets.
      d.handoff = handoff;
      handoff.adopt((c) => d.acceptFd(c.fd, c));
      return d;
    }
    if (handoff?.route !== undefined && io.addon?.ReadWatch !== undefined) {
      d.handoff = handoff;
      d.peekScratch = Buffer.allocUnsafeSlow(FIRST_PDU_MAX);
    }
    const portals = args.portals.length > 0 ? args.portals : [{ host: '0.0.0.0', port: 3260 }, { host: '::', port: 3260 }];
    try {
      for (const p of portals) await d.listen(p);
    } catch (e) {
      await d.exit();
      throw e;
    }
    return d;
  }

  // ------------------------------------------------------------------ portals

  protected async openPortal(p: Portal): Promise<() => Promise<void>> {
    // ipv6Only keeps "::" from also taking the IPv4 wildcard that "0.0.0.0" listens on.
    const ipv6Only = p.host.includes(':');
    if (this.io !== null) {
      let lastLog = 0;
      const l = await listenNative(this.io, p.host, p.port, ipv6Only, (fd, peerAddress, peerPort, localAddress, localPort) => {
        if (this.peekScratch !== null) this.routeFd({ fd, peerAddress, peerPort, localAddress, localPort });
        else this.acceptFd(fd, { peerAddress, peerPort, localAddress, localPort });
      }, (errno) => {
        const now = Date.now();
        if (now - lastLog < ACCEPT_ERROR_LOG_MS) return;
        lastLog = now;
        this.log('error', `portal ${formatPortal(p)}: ${listenError(errno, '', 0).message.replace(/^listen/, 'accept')}`);
      });
      return () => closeNative(l);
    }
    const server = net.createServer({ noDelay: true }, (sock) => this.accept(sock));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: p.host, port: p.port, ipv6Only }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (e) => this.log('error', `portal ${formatPortal(p)}: ${e.message}`));
    return () => new Promise<void>((r) => server.close(() => r()));
  }

  private accept(sock: net.Socket): void {
    if (!this.admits()) {
      sock.destroy();
      return;
    }
    this.track(new TcpConnection(this, sock));
  }

  /** A descriptor from the accept loop: wrapped with onread (a shared read buffer, no stream per read). */
  private acceptFd(fd: number, peer: Parameters<typeof TcpConnection.fromFd>[2]): void {
    if (!this.admits()) {
      closeSync(fd);
      return;
    }
    let conn: TcpConnection;
    try {
      conn = TcpConnection.fromFd(this, fd, peer, this.sharedRead);
    } catch (e) {
      this.log('error', `iscsi: cannot use accepted socket: ${errorText(e)}`);
      closeSync(fd);
      return;
    }
    this.track(conn);
  }

  /**
   * tgtd --workers, main thread: the first PDU decides where the connection runs. A login naming a
   * target a worker owns goes there (the fd, its bytes still unread); discovery, an unknown or a
   * main-thread target stay here as without workers; a malformed first PDU closes it here.
   */
  private routeFd(c: HandedConnection): void {
    if (!this.admits()) {
      closeSync(c.fd);
      return;
    }
    let settled = false;
    const wait = waitFirstPdu(this.io!.ReadWatch!, c.fd, this.peekScratch!, this.loginTimeoutMs ?? LOGIN_TIMEOUT_MS, (o: FirstPduOutcome) => {
      settled = true;
      this.routing.delete(c.fd);
      if (o.kind === 'target' && this.handoff!.route!(o.targetName, c)) return;
      if (o.kind === 'target' || o.kind === 'local') {
        this.acceptFd(c.fd, c);
        return;
      }
      if (o.kind === 'malformed') this.log('warn', `iscsi: ${c.peerAddress}:${c.peerPort}: ${o.why}; connection closed`);
      else this.log('debug', `iscsi: ${c.peerAddress}:${c.peerPort}: ${o.why}`);
      closeSync(c.fd);
    });
    if (!settled) this.routing.set(c.fd, wait);
  }

  async exit(): Promise<void> {
    if (this.sweepTimer !== null) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    this.handoff?.adopt?.(null);
    for (const [fd, wait] of this.routing) {
      wait.cancel();
      closeSync(fd);
    }
    this.routing.clear();
    this.closeAll('driver exit');
    await this.closePortals();
  }
}
