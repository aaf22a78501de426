// The iscsi LLD (iSCSI over TCP): portals, per-target iSCSI settings, sessions, tgtadm hooks.

import net from 'node:net';
import type { LldContext, LldDriver, LldMgmtResult } from '../api.js';
import type { ScsiTargetPort } from '../../scsi/api.js';
import { TargetParams } from '../../iscsi/target-params.js';
import { TgtadmErr } from '../../scsi/tgtadm-codes.js';
import { SessionTable, errorText } from '../../iscsi/session-table.js';
import type { IscsiSession } from '../../iscsi/session.js';
import type { IscsiConnection, ConnectionHost } from '../../iscsi/connection.js';
import { TcpConnection } from './tcp-connection.js';
import { IscsiLoginHost, type IscsiLoginDriver, type IscsiServices } from './login-host.js';
import { formatPortal, parseLldArgs, parsePortal, type Portal } from './portal.js';

const OK: LldMgmtResult = { err: 0 };
const { NoTarget: NO_TARGET, NoSession: NO_SESSION, NoConnection: NO_CONNECTION, InvalidRequest: INVALID_REQUEST } = TgtadmErr;

const T1 = '    ';

export class IscsiTcpDriver implements LldDriver, ConnectionHost, IscsiLoginDriver {
  readonly lldName = 'iscsi';
  readonly showsAccounts = true;
  readonly sessions = new SessionTable((msg) => this.log('error', msg));
  readonly params = new Map<number, TargetParams>();
  private readonly portals = new Map<string, { portal: Portal; server: net.Server }>();
  private readonly connections = new Set<IscsiConnection>();
  private readonly isns = { enabled: false, serverIP: '', serverPort: 3205, accessControl: false };
  private readonly nopDefaults: { nopInterval: number; nopCount: number };
  readonly services: IscsiServices;
  readonly loginTimeoutMs: number | undefined;

  private constructor(
    private readonly ctx: LldContext,
    nop: { nopInterval: number; nopCount: number },
    loginTimeout: number | null,
  ) {
    this.services = ctx.services as IscsiServices;
    this.nopDefaults = nop;
    this.loginTimeoutMs = loginTimeout === null ? undefined : loginTimeout * 1000;
  }

  static async create(ctx: LldContext): Promise<IscsiTcpDriver> {
    const args = parseLldArgs(ctx.args);
    const d = new IscsiTcpDriver(ctx, { nopInterval: args.nopInterval, nopCount: args.nopCount }, args.loginTimeout);
    const portals = args.portals.length > 0 ? args.portals : [{ host: '0.0.0.0', port: 3260 }, { host: '::', port: 3260 }];
    try {
      for (const p of portals) await d.listen(p);
    } catch (e) {
      await d.exit();
      throw e;
    }
    return d;
  }

  log(level: 'debug' | 'info' | 'warn' | 'error', msg: string): void {
    this.ctx.log(level, msg);
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
    // tgt closes new connections at once while the system is not ready or no target exists.
    if (this.services.system.state !== 'ready' || this.services.targets.size === 0) {
      sock.destroy();
      return;
    }
    const c = new TcpConnection(this, sock);
    this.connections.add(c);
  }

  portalList(): Portal[] {
    return [...this.portals.values()].map((p) => p.portal);
  }

  async portalCreate(param: string): Promise<LldMgmtResult> {
    const p = parsePortal(param);
    if (p === null) return { err: INVALID_REQUEST };
    try {
      await this.listen(p);
      return OK;
    } catch {
      return { err: INVALID_REQUEST };
    }
  }

  async portalDestroy(param: string): Promise<LldMgmtResult> {
    const p = parsePortal(param);
    const e = p === null ? undefined : this.portals.get(formatPortal(p));
    if (e === undefined) return { err: INVALID_REQUEST };
    this.portals.delete(formatPortal(e.portal));
    await new Promise<void>((r) => e.server.close(() => r()));
    return OK;
  }

  portalShow(): string {
    return [...this.portals.keys()].map((k) => `Portal: ${k},1\n`).join('');
  }

  // ------------------------------------------------------------------ targets

  targetCreate(tid: number): LldMgmtResult {
    this.params.set(tid, new TargetParams(this.nopDefaults));
    return OK;
  }

  targetDestroy(tid: number, _force: boolean): LldMgmtResult {
    for (const s of this.sessions.forTarget(tid)) this.sessions.close(s, 'target deleted', (x) => this.sessionClosed(x));
    this.params.delete(tid);
    return OK;
  }

  targetUpdate(tid: number, name: string, value: string): LldMgmtResult {
    const p = this.params.get(tid);
    if (p === undefined) return { err: NO_TARGET };
    const err = p.set(name, value);
    if (err === 0 && name.startsWith('nop_')) {
      for (const s of this.sessions.forTarget(tid)) {
        for (const c of s.connections.values()) (c as IscsiConnection).startPings(p.nopInterval, p.nopCount);
      }
    }
    return { err };
  }

  targetShowParams(tid: number): LldMgmtResult {
    const p = this.params.get(tid);
    return p === undefined ? { err: NO_TARGET } : { err: 0, text: p.showText() };
  }

  targetSystemLines(tid: number): string {
    const p = this.params.get(tid);
    if (p === undefined || p.nopInterval === 0) return '';
    return `${T1}${T1}Nop interval: ${p.nopInterval}\n${T1}${T1}Nop count: ${p.nopCount}\n`;
  }

  showNexus(tid: number): string {
    let s = '';
    for (const sess of this.sessions.forTarget(tid)) {
      s += `${T1}${T1}I_T nexus: ${sess.tsih}\n`;
      s += `${T1}${T1}${T1}Initiator: ${sess.initiatorName} alias: ${sess.initiatorAlias ?? 'none'}\n`;
      for (const c of sess.connections.values()) {
        const conn = c as IscsiConnection;
        s += `${T1}${T1}${T1}Connection: ${conn.cid}\n`;
        s += `${T1}${T1}${T1}${T1}IP Address: ${conn.peerAddress}\n`;
      }
    }
    return s;
  }

  connShow(tid: number): LldMgmtResult {
    if (!this.services.targets.has(tid)) return { err: NO_TARGET };
    let s = '';
    for (const sess of this.sessions.forTarget(tid)) {
      s += `Session: ${sess.tsih}\n`;
      for (const c of sess.connections.values()) {
        const conn = c as IscsiConnection;
        s += `${T1}Connection: ${conn.cid}\n${T1}${T1}Initiator: ${sess.initiatorName}\n`;
        s += `${T1}${T1}IP Address: ${conn.peerAddress}\n`;
      }
    }
    return { err: 0, text: s };
  }

  connDelete(tid: number, sid: number, cid: number): LldMgmtResult {
    const sess = this.sessions.sessions.get(sid);
    if (sess === undefined || sess.target?.tid !== tid) return { err: NO_SESSION };
    const c = sess.connections.get(cid);
    if (c === undefined) return { err: NO_CONNECTION };
    c.close('deleted by tgtadm');
    return OK;
  }

  sessionShow(tid: number, sid: number, _stat: boolean): LldMgmtResult {
    const sess = this.sessions.sessions.get(sid);
    if (sess === undefined || sess.target?.tid !== tid) return { err: NO_SESSION };
    let s = `Session: ${sess.tsih}\n${T1}Initiator: ${sess.initiatorName}\n${T1}ISID: ${sess.isid.toString('hex')}\n`;
    for (const c of sess.connections.values()) {
      const conn = c as IscsiConnection;
      s += `${T1}Connection: ${conn.cid}\n${T1}${T1}IP Address: ${conn.peerAddress}\n`;
    }
    return { err: 0, text: s };
  }

  // ------------------------------------------------------------------ system

  systemUpdate(name: string, value: string): LldMgmtResult {
    switch (name) {
      case 'iSNS':
        this.isns.enabled = value === 'On';
        return OK;
      case 'iSNSServerIP':
        this.isns.serverIP = value;
        return OK;
      case 'iSNSServerPort':
        this.isns.serverPort = Number.parseInt(value, 10) || 3205;
        return OK;
      case 'iSNSAccessControl':
        this.isns.accessControl = value === 'On';
        return OK;
      default:
        return { err: INVALID_REQUEST };
    }
  }

  systemShow(): string {
    const onOff = (b: boolean): string => (b ? 'On' : 'Off');
    return (
      `iSNS:\n${T1}iSNS=${onOff(this.isns.enabled)}\n${T1}iSNSServerIP=${this.isns.serverIP}\n` +
      `${T1}iSNSServerPort=${this.isns.serverPort}\n${T1}iSNSAccessControl=${onOff(this.isns.accessControl)}\n`
    );
  }

  // ------------------------------------------------------------------ ConnectionHost

  scsiTarget(tid: number): ScsiTargetPort | null {
    return this.services.targets.get(tid) ?? null;
  }

  queueDepth(tid: number): number {
    const v = this.params.get(tid)?.value('MaxQueueCmd') ?? 128;
    return v > 0 ? v : 128;
  }

  connectionClosed(conn: IscsiConnection): void {
    this.connections.delete(conn);
  }

  loginHostFor(conn: IscsiConnection): IscsiLoginHost {
    return new IscsiLoginHost(this, conn);
  }

  /** A normal session started on `conn`: arm the target's NOP-In pings. */
  sessionStarted(conn: IscsiConnection, s: IscsiSession): void {
    const p = s.target === null ? undefined : this.params.get(s.target.tid);
    if (p !== undefined && p.nopInterval > 0) conn.startPings(p.nopInterval, p.nopCount);
  }

  sessionClosed(_s: IscsiSession): void {}

  async exit(): Promise<void> {
    for (const c of [...this.connections]) {
      try {
        c.close('driver exit');
      } catch (e) {
        this.log('error', `driver exit: ${errorText(e)}`);
      }
    }
    // Sessions whose connections are all gone already went with them; anything left is a bug to
    // clean up rather than keep: the nexus would pin the target.
    for (const s of [...this.sessions.sessions.values()]) this.sessions.close(s, 'driver exit', (x) => this.sessionClosed(x));
    await Promise.all(
      [...this.portals.values()].map((p) => new Promise<void>((r) => p.server.close(() => r()))),
    );
    this.portals.clear();
  }
}
