// The iscsi LLD (iSCSI over TCP): TCP portals, listening and accepting; the rest is the shared iSCSI target layer.

import net from 'node:net';
import type { LldContext, LldDriver } from '../api.js';
import { IscsiTargetDriver } from '../../iscsi/target-driver.js';
import { formatPortal, parseLldArgs, type Portal } from '../../iscsi/portal.js';
import { TcpConnection } from './tcp-connection.js';

export class IscsiTcpDriver extends IscsiTargetDriver implements LldDriver {
  readonly lldName = 'iscsi';

  static async create(ctx: LldContext): Promise<IscsiTcpDriver> {
    const args = parseLldArgs(ctx.args);
    const d = new IscsiTcpDriver(ctx, { nopInterval: args.nopInterval, nopCount: args.nopCount },
      args.loginTimeout === null ? undefined : args.loginTimeout * 1000);
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
    const server = net.createServer({ noDelay: true }, (sock) => this.accept(sock));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // ipv6Only keeps "::" from also taking the IPv4 wildcard that "0.0.0.0" listens on.
      server.listen({ host: p.host, port: p.port, ipv6Only: p.host.includes(':') }, () => {
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

  async exit(): Promise<void> {
    this.closeAll('driver exit');
    await this.closePortals();
  }
}
