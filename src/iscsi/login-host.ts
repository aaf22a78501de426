// The target side of login and SendTargets for one connection, for every iSCSI transport: targets, ACLs, CHAP bindings, sessions (RFC 7143 6, 12).

import net from 'node:net';
import type { ScsiTargetPort } from '../scsi/api.js';
import type { LoginHost, LoginResult, LoginTarget } from './login.js';
import type { TargetParams } from './target-params.js';
import type { IscsiConnection } from './connection.js';
import type { SessionTable } from './session-table.js';
import type { IscsiSession } from './session.js';
import { incomingUsers, type AccountBindings } from './chap-accounts.js';
import { formatPortal, type Portal } from './portal.js';

/** What iSCSI needs to know of a target beyond its SCSI port: name, driver, state, ACLs, CHAP bindings. */
export interface IscsiTargetInfo extends ScsiTargetPort {
  readonly lldName: string;
  readonly state: 'ready' | 'offline';
  readonly aclAddresses: readonly string[];
  readonly aclNames: readonly string[];
  readonly accounts: AccountBindings;
  /** The portal group tag of the portal at this target-side address (its ALUA group's; absent: 1). */
  portalGroupTag?(localAddress: string, localPort: number): number;
}

/** What the iSCSI LLDs need of the daemon (LldContext.services). */
export interface IscsiServices {
  readonly targets: ReadonlyMap<number, IscsiTargetInfo>;
  readonly accounts: {
    readonly discovery: AccountBindings;
    password(user: string): string | null;
  };
  readonly system: { state: 'ready' | 'offline' };
}

/** What the login host needs of its driver. */
export interface IscsiLoginDriver {
  readonly lldName: string;
  readonly services: IscsiServices;
  readonly params: Map<number, TargetParams>;
  readonly sessions: SessionTable;
  portalList(): Portal[];
  queueDepth(tid: number): number;
  sessionStarted(conn: IscsiConnection, s: IscsiSession): void;
  sessionClosed(s: IscsiSession): void;
}

/**
 * tgt's ACL rule (iscsi/target.c): a login or a SendTargets entry is allowed when the initiator's
 * address matches an address rule (ALL, exact, or CIDR) or its name matches a name rule.
 */
export function aclAllows(t: IscsiTargetInfo, initiatorName: string, peerAddress: string): boolean {
  for (const rule of t.aclAddresses) if (addressMatches(rule, peerAddress)) return true;
  return t.aclNames.includes(initiatorName);
}

export function addressMatches(rule: string, address: string): boolean {
  if (rule === 'ALL') return true;
  const r = rule.replace(/^\[|\]$/g, '');
  const a = address.replace(/^::ffff:/, '');
  const slash = r.indexOf('/');
  if (slash < 0) return r === a;
  const base = r.slice(0, slash);
  const bits = Number(r.slice(slash + 1));
  const family = net.isIPv6(base) ? 'ipv6' : net.isIPv4(base) ? 'ipv4' : null;
  if (family === null || !Number.isInteger(bits)) return false;
  if ((family === 'ipv6') !== net.isIPv6(a)) return false;
  try {
    const bl = new net.BlockList();
    bl.addSubnet(base, bits, family);
    return bl.check(a, family);
  } catch {
    return false;
  }
}

export class IscsiLoginHost implements LoginHost {
  constructor(private readonly drv: IscsiLoginDriver, private readonly conn: IscsiConnection) {}

  private loginTarget(t: IscsiTargetInfo): LoginTarget | null {
    const params = this.drv.params.get(t.tid);
    if (params === undefined || t.lldName !== this.drv.lldName) return null;
    return { tid: t.tid, name: t.name, params, ready: t.state === 'ready' };
  }

  findTarget(name: string): LoginTarget | null {
    for (const t of this.drv.services.targets.values()) if (t.name === name) return this.loginTarget(t);
    return null;
  }

  isAllowed(tid: number, initiatorName: string, peerAddress: string): boolean {
    const t = this.drv.services.targets.get(tid);
    return t !== undefined && aclAllows(t, initiatorName, peerAddress);
  }

  private bindings(tid: number | null): AccountBindings | null {
    if (tid === null) return this.drv.services.accounts.discovery;
    return this.drv.services.targets.get(tid)?.accounts ?? null;
  }

  incomingUsers(tid: number | null): string[] {
    const b = this.bindings(tid);
    return b === null ? [] : incomingUsers(b);
  }

  outgoingUser(tid: number | null): string | null {
    return this.bindings(tid)?.outgoing ?? null;
  }

  password(user: string): string | null {
    return this.drv.services.accounts.password(user);
  }

  targets(): LoginTarget[] {
    const out: LoginTarget[] = [];
    for (const tid of [...this.drv.services.targets.keys()].sort((a, b) => a - b)) {
      const lt = this.loginTarget(this.drv.services.targets.get(tid)!);
      if (lt !== null) out.push(lt);
    }
    return out;
  }

  portalGroupTag(tid: number, localAddress: string, localPort: number): number {
    return this.drv.services.targets.get(tid)?.portalGroupTag?.(localAddress, localPort) ?? 1;
  }

  /** Portals of the target, each with its portal group tag: a wildcard portal answers with the address the initiator reached. */
  targetAddresses(tid: number, localAddress: string, localPort: number): string[] {
    const seen = new Set<string>();
    for (const p of this.drv.portalList()) {
      const wildcard = p.host === '0.0.0.0' || p.host === '::';
      const host = wildcard ? localAddress : p.host;
      const port = wildcard ? localPort : p.port;
      if (wildcard && p.port !== localPort) continue;
      if (host.includes(':') !== localAddress.includes(':') && wildcard) continue;
      seen.add(`${formatPortal({ host, port })},${this.portalGroupTag(tid, host, port)}`);
    }
    return [...seen];
  }

  bindSession(r: LoginResult): { tsih: number } | { statusClass: number; statusDetail: number } {
    const discovery = r.sessionType === 'Discovery';
    const target = discovery ? null : this.drv.services.targets.get(r.tid) ?? null;
    if (!discovery && target === null) return { statusClass: 0x02, statusDetail: 0x04 }; // target removed
    const b = this.drv.sessions.bind(
      {
        discovery,
        initiatorName: r.initiatorName,
        initiatorAlias: r.initiatorAlias,
        isid: r.isid,
        tsih: r.tsih,
        cid: r.cid,
        target,
        targetName: r.targetName,
        cmdSN: this.conn.loginCmdSNValue,
        maxConnections: r.params.maxConnections,
        queueDepth: discovery ? 128 : this.drv.queueDepth(r.tid),
        conn: this.conn,
        portalGroupTag: discovery ? 1 : this.portalGroupTag(r.tid, this.conn.localAddress, this.conn.localPort),
        localAddress: this.conn.localAddress,
        localPort: this.conn.localPort,
      },
      (s) => this.drv.sessionClosed(s),
    );
    if ('statusClass' in b) return b;
    this.conn.sessionBound(b.session);
    this.drv.sessionStarted(this.conn, b.session);
    return { tsih: b.session.tsih };
  }
}
