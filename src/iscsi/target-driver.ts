// The transport-neutral half of an iSCSI LLD (iSCSI/TCP, iSER): per-target iSCSI settings, the session table, connections, tgtadm's show/conn/session answers, NOP-In arming (RFC 7143; tgt iscsi_tcp.c/iscsid.c semantics).
//
// A transport extends this class with what only it knows: how to listen and accept (portals) and
// how to make a connection. Everything an administrator sees of sessions and connections is here
// once, so `tgtadm --lld iscsi` and `--lld iser` answer alike.

import type { ScsiTargetPort } from '../scsi/api.js';
import { TargetParams } from './target-params.js';
import { SessionTable, errorText } from './session-table.js';
import type { IscsiSession } from './session.js';
import { LoginOutcomes, type DriverMetrics } from './login-outcome.js';
import type { IscsiConnection, ConnectionHost } from './connection.js';
import { IscsiLoginHost, type IscsiLoginDriver, type IscsiServices } from './login-host.js';
import { formatPortal, parsePortal, type Portal } from './portal.js';

/**
 * How a management call went, in this layer's words: the management layer (mgmt/) turns it into
 * tgtadm's number. Structurally the LLD contract's LldStatus (lld/api.ts), which this layer does
 * not import.
 */
export type MgmtStatus = 'ok' | 'no-target' | 'no-session' | 'no-connection' | 'invalid';

/** A management answer: a status and, on success, the text (the LLD contract's LldMgmtResult). */
export interface MgmtResult {
  status: MgmtStatus;
  text?: string;
}

const OK: MgmtResult = { status: 'ok' };
const NO_TARGET: MgmtResult = { status: 'no-target' };
const NO_SESSION: MgmtResult = { status: 'no-session' };
const NO_CONNECTION: MgmtResult = { status: 'no-connection' };
const INVALID: MgmtResult = { status: 'invalid' };

const T1 = '    ';

export interface TargetDriverContext {
  services: unknown;
  log(level: 'debug' | 'info' | 'warn' | 'error', msg: string): void;
}

export abstract class IscsiTargetDriver implements ConnectionHost, IscsiLoginDriver {
  abstract readonly lldName: string;
  readonly showsAccounts = true;
  readonly sessions = new SessionTable((msg) => this.log('error', msg));
  readonly params = new Map<number, TargetParams>();
  readonly services: IscsiServices;
  /** Every connection of this driver, logged in or not, until it has closed. */
  protected readonly connections = new Set<IscsiConnection>();
  /** Login outcomes since the driver started (tgtd --metrics). */
  private readonly logins = new LoginOutcomes();
  private readonly isns = { enabled: false, serverIP: '', serverPort: 3205, accessControl: false };

  constructor(
    private readonly ctx: TargetDriverContext,
    private readonly nopDefaults: { nopInterval: number; nopCount: number },
    readonly loginTimeoutMs: number | undefined,
  ) {
    this.services = ctx.services as IscsiServices;
  }

  log(level: 'debug' | 'info' | 'warn' | 'error', msg: string): void {
    this.ctx.log(level, msg);
  }

  // ------------------------------------------------------------------ portals

  private readonly portals = new Map<string, { portal: Portal; close: () => Promise<void> }>();

  /** Start listening on `p` (throws with the reason); returns how to stop. */
  protected abstract openPortal(p: Portal): Promise<() => Promise<void>>;

  protected async listen(p: Portal): Promise<void> {
    const key = formatPortal(p);
    if (this.portals.has(key)) throw new Error(`portal ${key} exists`);
    const close = await this.openPortal(p);
    this.portals.set(key, { portal: p, close });
  }

  /** The portals (for SendTargets' TargetAddress and `--mode portal --op show`). */
  portalList(): Portal[] {
    return [...this.portals.values()].map((p) => p.portal);
  }

  portalShow(): string {
    return [...this.portals.keys()].map((k) => `Portal: ${k},1\n`).join('');
  }

  async portalCreate(param: string): Promise<MgmtResult> {
    const p = parsePortal(param);
    if (p === null) return INVALID;
    try {
      await this.listen(p);
      return OK;
    } catch (e) {
      this.log('warn', `${this.lldName}: portal ${param}: ${errorText(e)}`);
      return INVALID;
    }
  }

  async portalDestroy(param: string): Promise<MgmtResult> {
    const p = parsePortal(param);
    const key = p === null ? '' : formatPortal(p);
    const e = this.portals.get(key);
    if (e === undefined) return INVALID;
    this.portals.delete(key);
    await e.close();
    return OK;
  }

  /** Stop listening everywhere (LLD stop). */
  protected async closePortals(): Promise<void> {
    const all = [...this.portals.values()];
    this.portals.clear();
    await Promise.all(all.map((p) => p.close()));
  }

  /** A new transport connection: tgt closes it at once while the system is offline or no target exists. */
  protected admits(): boolean {
    return this.services.system.state === 'ready' && this.services.targets.size > 0;
  }

  protected track(conn: IscsiConnection): void {
    this.connections.add(conn);
  }

  // ------------------------------------------------------------------ targets

  targetCreate(tid: number): MgmtResult {
    this.params.set(tid, new TargetParams(this.nopDefaults));
    return OK;
  }

  targetDestroy(tid: number, _force: boolean): MgmtResult {
    for (const s of this.sessions.forTarget(tid)) this.sessions.close(s, 'target deleted', (x) => this.sessionClosed(x));
    this.params.delete(tid);
    return OK;
  }

  targetUpdate(tid: number, name: string, value: string): MgmtResult {
    const p = this.params.get(tid);
    if (p === undefined) return NO_TARGET;
    const status = p.set(name, value);
    if (status === 'ok' && name.startsWith('nop_')) {
      for (const s of this.sessions.forTarget(tid)) {
        for (const c of s.connections.values()) (c as IscsiConnection).startPings(p.nopInterval, p.nopCount);
      }
    }
    return { status };
  }

  targetShowParams(tid: number): MgmtResult {
    const p = this.params.get(tid);
    return p === undefined ? NO_TARGET : { status: 'ok', text: p.showText() };
  }

  targetSystemLines(tid: number): string {
    const p = this.params.get(tid);
    if (p === undefined || p.nopInterval === 0) return '';
    return `${T1}${T1}Nop interval: ${p.nopInterval}\n${T1}${T1}Nop count: ${p.nopCount}\n`;
  }

  // ------------------------------------------------------------------ sessions and connections

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

  connShow(tid: number): MgmtResult {
    if (!this.services.targets.has(tid)) return NO_TARGET;
    let s = '';
    for (const sess of this.sessions.forTarget(tid)) {
      s += `Session: ${sess.tsih}\n`;
      for (const c of sess.connections.values()) {
        const conn = c as IscsiConnection;
        s += `${T1}Connection: ${conn.cid}\n${T1}${T1}Initiator: ${sess.initiatorName}\n`;
        s += `${T1}${T1}IP Address: ${conn.peerAddress}\n`;
      }
    }
    return { status: 'ok', text: s };
  }

  connDelete(tid: number, sid: number, cid: number): MgmtResult {
    const sess = this.sessions.sessions.get(sid);
    if (sess === undefined || sess.target?.tid !== tid) return NO_SESSION;
    const c = sess.connections.get(cid);
    if (c === undefined) return NO_CONNECTION;
    c.close('deleted by tgtadm');
    return OK;
  }

  sessionShow(tid: number, sid: number, _stat: boolean): MgmtResult {
    const sess = this.sessions.sessions.get(sid);
    if (sess === undefined || sess.target?.tid !== tid) return NO_SESSION;
    let s = `Session: ${sess.tsih}\n${T1}Initiator: ${sess.initiatorName}\n${T1}ISID: ${sess.isid.toString('hex')}\n`;
    for (const c of sess.connections.values()) {
      const conn = c as IscsiConnection;
      s += `${T1}Connection: ${conn.cid}\n${T1}${T1}IP Address: ${conn.peerAddress}\n`;
    }
    return { status: 'ok', text: s };
  }

  // ------------------------------------------------------------------ system (iSNS keys: stored and shown)

  systemUpdate(name: string, value: string): MgmtResult {
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
        return INVALID;
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

  loginEnded(status: number): void {
    this.logins.count(status);
  }

  /** LldDriver.metrics: connections of normal sessions per tid, login outcomes. */
  metrics(): DriverMetrics {
    const connections = new Map<number, number>();
    for (const s of this.sessions.sessions.values()) {
      if (s.discovery || s.target === null) continue;
      connections.set(s.target.tid, (connections.get(s.target.tid) ?? 0) + s.connections.size);
    }
    return { connections, loginSuccesses: this.logins.successes, loginFailures: this.logins.failures };
  }

  /**
   * Close every connection and session (LLD stop). Each close is guarded: one failing cannot keep
   * the others, or a session's I_T nexus, alive.
   */
  protected closeAll(reason: string): void {
    for (const c of [...this.connections]) {
      try {
        c.close(reason);
      } catch (e) {
        this.log('error', `${this.lldName}: ${reason}: ${errorText(e)}`);
      }
    }
    this.connections.clear();
    // Sessions went with their last connection; anything left would pin its target: end it too.
    for (const s of [...this.sessions.sessions.values()]) this.sessions.close(s, reason, (x) => this.sessionClosed(x));
  }
}
