// RFC 7143 6.3.5 / 6.3.6: session creation, session and connection reinstatement, TSIH allocation.

import type { ScsiTargetPort } from '../scsi/api.js';
import { IscsiSession, type SessionConnection } from './session.js';

/** Login status class/detail (RFC 7143 11.13.5). */
export const LOGIN_SESSION_DOES_NOT_EXIST = { statusClass: 0x02, statusDetail: 0x0a } as const;
export const LOGIN_TOO_MANY_CONNECTIONS = { statusClass: 0x02, statusDetail: 0x06 } as const;
/**
 * "Can't include in session": the session exists, but not in the portal group this connection came
 * in through, and a session never spans portal groups (RFC 7143 4.4.1: the portals of one portal
 * group, and only they, coordinate a session's connections; 11.13.5 status 0208h).
 */
export const LOGIN_CANT_INCLUDE_IN_SESSION = { statusClass: 0x02, statusDetail: 0x08 } as const;

export interface BindRequest {
  discovery: boolean;
  initiatorName: string;
  initiatorAlias: string | null;
  isid: Buffer;
  tsih: number;
  cid: number;
  target: ScsiTargetPort | null;
  targetName: string | null;
  cmdSN: number;
  maxConnections: number;
  queueDepth: number;
  conn: SessionConnection;
  /**
   * The portal group tag of the portal the connection came in through (LoginHost.portalGroupTag):
   * part of the session identity (RFC 7143 4.4.3: initiator name, ISID, target name, TPGT).
   */
  portalGroupTag: number;
  /** The target-side address and port of the connection (the nexus's ALUA port group). */
  localAddress?: string;
  localPort?: number;
}

export type BindResult = { session: IscsiSession } | { statusClass: number; statusDetail: number };

/**
 * What names a normal session for reinstatement (RFC 7143 4.4.3, 6.3.5): the initiator port (name +
 * ISID), the target and the portal group. The same ISID through another portal group of the target
 * is another session (another I_T nexus: another target port), so its login reinstates nothing.
 */
function portKey(initiatorName: string, isid: Buffer, targetName: string | null, portalGroupTag: number): string {
  return `${initiatorName}\0${isid.toString('hex')}\0${targetName ?? ''}\0${portalGroupTag}`;
}

export class SessionTable {
  readonly sessions = new Map<number, IscsiSession>();
  /**
   * Normal sessions by portKey: at most one each, since a new one reinstates (closes) the old. A
   * login looks its predecessor up here instead of scanning every session (10,000 sessions made
   * that scan a third of the daemon's time while they logged in).
   */
  private readonly byPort = new Map<string, IscsiSession>();
  private nextTsih = 1;

  /** `onError` hears of throws during teardown (which is finished regardless). */
  constructor(private readonly onError: (msg: string) => void = () => {}) {}

  private allocTsih(): number {
    // TSIH 0 is reserved for "new session" (RFC 7143 11.12.6); wrap within 16 bits skipping live ones.
    for (let i = 0; i < 0xffff; i++) {
      const t = this.nextTsih;
      this.nextTsih = this.nextTsih >= 0xffff ? 1 : this.nextTsih + 1;
      if (!this.sessions.has(t)) return t;
    }
    throw new Error('no free TSIH');
  }

  /**
   * Bind a connection whose login is about to succeed to a session: a new session (closing an older
   * one with the same initiator port, ISID, target and portal group: session reinstatement), or an
   * existing one (adding the connection, or replacing a connection with the same CID: connection
   * reinstatement) when the connection came in through the session's portal group.
   */
  bind(r: BindRequest, onClose: (s: IscsiSession) => void): BindResult {
    if (r.tsih === 0) {
      const key = r.discovery ? '' : portKey(r.initiatorName, r.isid, r.targetName, r.portalGroupTag);
      if (!r.discovery) {
        const old = this.byPort.get(key);
        if (old !== undefined) this.close(old, 'session reinstatement', onClose);
      }
      const s = new IscsiSession(
        this.allocTsih(), Buffer.from(r.isid), r.initiatorName, r.initiatorAlias, r.target, r.targetName,
        r.cmdSN, r.queueDepth, r.discovery,
      );
      s.maxConnections = r.maxConnections;
      s.portalGroupTag = r.portalGroupTag;
      if (r.localAddress !== undefined) s.localAddress = r.localAddress;
      if (r.localPort !== undefined) s.localPort = r.localPort;
      s.connections.set(r.cid, r.conn);
      this.sessions.set(s.tsih, s);
      if (!r.discovery) {
        this.byPort.set(key, s);
        r.target?.addNexus(s);
      }
      return { session: s };
    }
    const s = this.sessions.get(r.tsih);
    if (
      s === undefined || s.closed || s.discovery || r.discovery || s.initiatorName !== r.initiatorName ||
      !s.isid.equals(r.isid) || s.targetName !== r.targetName
    ) {
      return LOGIN_SESSION_DOES_NOT_EXIST;
    }
    if (s.portalGroupTag !== r.portalGroupTag) return LOGIN_CANT_INCLUDE_IN_SESSION;
    const old = s.connections.get(r.cid);
    if (old !== undefined) {
      s.dropConnection(old);
      closeQuietly(old, 'connection reinstatement', this.onError);
    } else if (s.connections.size >= s.maxConnections) {
      return LOGIN_TOO_MANY_CONNECTIONS;
    }
    s.connections.set(r.cid, r.conn);
    return { session: s };
  }

  /** A connection of `s` went away; the session ends with its last connection (ERL 0). */
  connectionGone(s: IscsiSession, conn: SessionConnection, onClose: (s: IscsiSession) => void): void {
    // A connection already replaced (reinstatement) or dropped is no longer the session's.
    if (!s.hasConnection(conn)) return;
    s.dropConnection(conn);
    if (s.connections.size === 0) this.close(s, 'last connection closed', onClose);
  }

  /**
   * End a session: drop the I_T nexus, close every connection. Every step runs even when an
   * earlier one throws (a throw is reported to onError), so a session can never stay half-closed.
   */
  close(s: IscsiSession, reason: string, onClose: (s: IscsiSession) => void): void {
    if (s.closed) return;
    s.closed = true;
    this.sessions.delete(s.tsih);
    if (!s.discovery) {
      const key = portKey(s.initiatorName, s.isid, s.targetName, s.portalGroupTag);
      if (this.byPort.get(key) === s) this.byPort.delete(key);
    }
    try {
      if (!s.discovery) s.target?.removeNexus(s);
    } catch (e) {
      this.onError(`session ${s.tsih}: removing the I_T nexus: ${errorText(e)}`);
    }
    const conns = [...s.connections.values()];
    s.connections.clear();
    s.clearWaiting();
    for (const c of conns) closeQuietly(c, reason, this.onError);
    try {
      onClose(s);
    } catch (e) {
      this.onError(`session ${s.tsih}: close callback: ${errorText(e)}`);
    }
  }

  forTarget(tid: number): IscsiSession[] {
    return [...this.sessions.values()].filter((s) => !s.discovery && s.target?.tid === tid);
  }
}

/** Close a connection as part of a wider teardown: a throw is reported, never propagated. */
function closeQuietly(c: SessionConnection, reason: string, onError: (msg: string) => void): void {
  try {
    c.close(reason);
  } catch (e) {
    onError(`connection ${c.cid}: close: ${errorText(e)}`);
  }
}

export function errorText(e: unknown): string {
  return e instanceof Error ? (e.stack ?? e.message) : String(e);
}
