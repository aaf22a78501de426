// SPC-4 5.16 asymmetric logical unit access: a target's port groups, which portal is in which, their states (a leaf; RTPG/STPG are spc-alua.ts).

/** SPC-4 6.37 Table 170 ASYMMETRIC ACCESS STATE. */
export const AluaState = {
  ActiveOptimized: 0x0,
  ActiveNonOptimized: 0x1,
  Standby: 0x2,
  Unavailable: 0x3,
  Transitioning: 0xf,
} as const;
export type AluaState = (typeof AluaState)[keyof typeof AluaState];

/** The `--params alua_state=` words (tgtadm --mode target --op update). */
export const ALUA_STATE_NAMES: ReadonlyMap<string, AluaState> = new Map<string, AluaState>([
  ['active_optimized', AluaState.ActiveOptimized],
  ['active_nonoptimized', AluaState.ActiveNonOptimized],
  ['standby', AluaState.Standby],
  ['unavailable', AluaState.Unavailable],
  ['transitioning', AluaState.Transitioning],
]);

/** SPC-4 6.37 STATUS CODE of a target port group descriptor. */
export const AluaStatus = { None: 0x00, AlteredBySet: 0x01, AlteredImplicitly: 0x02 } as const;

/** The group every portal not named by `alua_group` belongs to (and the only one until one is). */
export const DEFAULT_PORT_GROUP = 1;

/**
 * One target port group (SPC-4 5.16.2). stgt makes each group one target port: the portals put in
 * a group form that port, as the portals of an iSCSI portal group form one SCSI target port (RFC
 * 7143 4.4.1), so its RELATIVE TARGET PORT IDENTIFIER and its iSCSI portal group tag are the group's
 * number. The port's name is then "<target name>,t,0x<group>" (RFC 7143 13.1 / SPC-4 7.8.6.11), so
 * gateways that export one LU with one group each present different ports, never one port with two
 * states.
 */
export class TargetPortGroup {
  state: AluaState = AluaState.ActiveOptimized;
  status: number = AluaStatus.None;
  /** Portals ("address" or "address:port", see portalKey) an administrator put in this group. */
  readonly portals: string[] = [];
  readonly relativePorts: readonly number[];
  constructor(readonly id: number) {
    this.relativePorts = [id];
  }

  /** The iSCSI portal group tag of the group's portals (login TargetPortalGroupTag, SendTargets ",<tag>"). */
  get portalGroupTag(): number {
    return this.id;
  }
}

/** Where a nexus came in: the target-side address and port of its leading connection. */
export interface NexusPortal {
  readonly localAddress?: string;
  readonly localPort?: number;
}

/** `127.0.0.1`, `127.0.0.1:3260`, `[::1]`, `[::1]:3260` → { address, port (or -1) }, or null. */
export function parsePortal(s: string): { address: string; port: number } | null {
  const v = s.trim();
  let address: string;
  let rest: string;
  if (v.startsWith('[')) {
    const end = v.indexOf(']');
    if (end < 0) return null;
    address = v.slice(1, end);
    rest = v.slice(end + 1);
  } else {
    const i = v.indexOf(':');
    address = i < 0 ? v : v.slice(0, i);
    rest = i < 0 ? '' : v.slice(i);
  }
  if (address.length === 0 || /[\s,]/.test(address)) return null;
  if (rest === '') return { address, port: -1 };
  if (!/^:\d{1,5}$/.test(rest)) return null;
  const port = Number(rest.slice(1));
  return port > 0 && port < 65536 ? { address, port } : null;
}

/** The canonical spelling of a portal a group holds. */
function portalKey(address: string, port: number): string {
  return port < 0 ? address.toLowerCase() : `${address.toLowerCase()}#${port}`;
}

/** An IPv4-mapped IPv6 address (a dual-stack socket's view of an IPv4 peer) as plain IPv4. */
function plainAddress(a: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a);
  return (m ? m[1]! : a).toLowerCase();
}

/** Why an `alua_*` change was refused (mgmt/ maps it to tgtadm's code). */
export type AluaChangeError = 'bad-group' | 'bad-portal' | 'bad-state';

/**
 * A target's target port groups. Group 1 always exists and holds every portal no group names; a
 * portal named by address alone matches any port, one with a port only that port.
 */
export class AluaGroups {
  readonly groups = new Map<number, TargetPortGroup>([[DEFAULT_PORT_GROUP, new TargetPortGroup(DEFAULT_PORT_GROUP)]]);
  /** INQUIRY TPGS 11b (SET TARGET PORT GROUPS accepted) rather than 01b (implicit only). */
  explicit = false;

  /** The groups in ascending id order (REPORT TARGET PORT GROUPS). */
  sorted(): TargetPortGroup[] {
    return [...this.groups.values()].sort((a, b) => a.id - b.id);
  }

  /** The group of a nexus that came in on `p` (group 1 when no group names its portal). */
  groupOf(p: NexusPortal): TargetPortGroup {
    const addr = p.localAddress === undefined ? null : plainAddress(p.localAddress);
    if (addr !== null) {
      const exact = p.localPort === undefined ? null : portalKey(addr, p.localPort);
      let byAddress: TargetPortGroup | null = null;
      for (const g of this.groups.values()) {
        for (const k of g.portals) {
          if (k === exact) return g;
          if (k === addr) byAddress = g;
        }
      }
      if (byAddress !== null) return byAddress;
    }
    return this.groups.get(DEFAULT_PORT_GROUP)!;
  }

  /** `alua_group=<id>:<portal>`: moves the portal into group `id` (created active/optimized). */
  assign(id: number, portal: string): AluaChangeError | null {
    if (!Number.isInteger(id) || id < 1 || id > 0xffff) return 'bad-group';
    const p = parsePortal(portal);
    if (p === null) return 'bad-portal';
    const key = portalKey(plainAddress(p.address), p.port);
    for (const g of this.groups.values()) {
      const i = g.portals.indexOf(key);
      if (i >= 0) g.portals.splice(i, 1);
    }
    let g = this.groups.get(id);
    if (g === undefined) {
      g = new TargetPortGroup(id);
      this.groups.set(id, g);
    }
    g.portals.push(key);
    return null;
  }

  /** Sets group `id`'s state; returns whether it changed, or why not. */
  setState(id: number, state: AluaState, status: number): boolean | AluaChangeError {
    const g = this.groups.get(id);
    if (g === undefined) return 'bad-group';
    if (g.state === state) return false;
    g.state = state;
    g.status = status;
    return true;
  }
}

/** Parses `alua_state=` values: "<state>" (group 1) or "<group>:<state>". */
export function parseAluaStateParam(v: string): { id: number; state: AluaState } | AluaChangeError {
  const s = v.trim();
  const i = s.indexOf(':');
  const id = i < 0 ? DEFAULT_PORT_GROUP : parseGroupId(s.slice(0, i));
  if (id < 0) return 'bad-group';
  const state = ALUA_STATE_NAMES.get(s.slice(i + 1).trim());
  return state === undefined ? 'bad-state' : { id, state };
}

/** Parses `alua_group=` values: "<group>:<portal>". */
export function parseAluaGroupParam(v: string): { id: number; portal: string } | AluaChangeError {
  const s = v.trim();
  const i = s.indexOf(':');
  if (i < 0) return 'bad-portal';
  const id = parseGroupId(s.slice(0, i));
  return id < 0 ? 'bad-group' : { id, portal: s.slice(i + 1) };
}

function parseGroupId(s: string): number {
  if (!/^\d{1,5}$/.test(s.trim())) return -1;
  const n = Number(s.trim());
  return n >= 1 && n <= 0xffff ? n : -1;
}
