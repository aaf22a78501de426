// The iscsi LLD (iSCSI over TCP): TCP portals, listening and accepting; the rest is the shared iSCSI target layer.

import net from 'node:net';
import type { LldContext, LldDriver, LldMgmtResult } from '../api.js';
import { TgtadmErr } from '../../scsi/tgtadm-codes.js';
import { IscsiTargetDriver } from '../../iscsi/target-driver.js';
import { formatPortal, parseLldArgs, parsePortal, type Portal } from '../../iscsi/portal.js';
import { TcpConnection } from './tcp-connection.js';

const OK: LldMgmtResult = { err: 0 };

export class IscsiTcpDriver extends IscsiTargetDriver implements LldDriver {
  readonly lldName = 'iscsi';
  private readonly portals = new Map<string, { portal: Portal; server: net.Server }>();

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

  private async listen(p: Portal): Promise<void> {
    const key = formatPortal(p);
    if (this.portals.has(key)) throw new Error(`portal ${key} exists`);
    const server = net.createServer({ noDelay: true }, (sock) => this.accept(sock));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // ipv6Only keeps "::" from also taking the IPv4 wildcard that "0.0.0.0" listens on.
      server.listen({ host: p.host, port: p.port, ipv6Only: p.host.includes(':') }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (e) => this.log('error', `portal ${key}: ${e.message}`));
    this.portals.set(key, { portal: p, server });
  }

  private accept(sock: net.Socket): void {
    if (!this.admits()) {
      sock.destroy();
      return;
    }
    this.track(new TcpConnection(this, sock));
  }

  portalList(): Portal[] {
    return [...this.portals.values()].map((p) => p.portal);
  }

  async portalCreate(param: string): Promise<LldMgmtResult> {
    const p = parsePortal(param);
    if (p === null) return { err: TgtadmErr.InvalidRequest };
    try {
      await this.listen(p);
      return OK;
    } catch {
      return { err: TgtadmErr.InvalidRequest };
    }
  }

  async portalDestroy(param: string): Promise<LldMgmtResult> {
    const p = parsePortal(param);
    const e = p === null ? undefined : this.portals.get(formatPortal(p));
    if (e === undefined) return { err: TgtadmErr.InvalidRequest };
    this.portals.delete(formatPortal(e.portal));
    await new Promise<void>((r) => e.server.close(() => r()));
    return OK;
  }

  portalShow(): string {
    return [...this.portals.keys()].map((k) => `Portal: ${k},1\n`).join('');
  }

  async exit(): Promise<void> {
    this.closeAll('driver exit');
    await Promise.all(
      [...this.portals.values()].map((p) => new Promise<void>((r) => p.server.close(() => r()))),
    );
    this.portals.clear();
  }
}
