// LLD (transport driver) module contract, version 2: what an iSCSI/TCP, iSER or other transport implements.
//
// Like backing stores, an LLD is a plain object, the default export of its module:
//   export default { kind: 'lld', apiVersion: 2, name: 'iscsi', init(ctx) { return driver } }
// `init` may fail (throw / reject): the registry then marks the LLD `error` with the reason, and a
// later `lldload` / `--mode lld --op start` retries it without restarting tgtd.
//
// Version 2 (this file) changed the shape of every management answer: LldMgmtResult carries the
// driver's own `status` ('ok', 'no-target', ...) instead of v1's `err`, a tgtadm error number. The
// management layer maps statuses to tgtadm's numbers; an LLD knows nothing of them. A v1 LLD
// module is refused at load with the version message (no adapter: no third-party LLD exists).

export const LLD_API_VERSION = 2;

export interface LldModule {
  kind: 'lld';
  apiVersion: number;
  name: string;
  init(ctx: LldContext): LldDriver | Promise<LldDriver>;
}

/** What the daemon hands an LLD. Filled in by daemon/; the LLD never imports daemon code. */
export interface LldContext {
  /** The driver's command-line arguments (`--iscsi portal=...,nop_interval=...`), or '' if none. */
  args: string;
  log(level: 'debug' | 'info' | 'warn' | 'error', msg: string): void;
  /** Daemon-wide services the LLD needs (targets, accounts, system state). Typed by the LLD that uses it. */
  services: unknown;
}

/**
 * How a management call went: 'ok'; 'no-target', 'no-session', 'no-connection' when the tid, sid or
 * cid named is not the driver's; 'invalid' for anything else it refuses (a bad portal, an unknown
 * or refused parameter). mgmt/ turns it into tgtadm's answer.
 */
export type LldStatus = 'ok' | 'no-target' | 'no-session' | 'no-connection' | 'invalid';

/** Result of a management call an LLD answers: a status and, with 'ok', the text tgtadm prints. */
export interface LldMgmtResult {
  status: LldStatus;
  text?: string;
}

export interface LldDriver {
  /** Stop listening, close every connection, free resources. */
  exit(): Promise<void>;
  /** A target on this driver was created / is being destroyed. */
  targetCreate?(tid: number): LldMgmtResult;
  targetDestroy?(tid: number, force: boolean): LldMgmtResult;
  /** `--mode portal --op new|delete|show` (param is "ADDR:PORT"). */
  portalCreate?(param: string): Promise<LldMgmtResult>;
  portalDestroy?(param: string): Promise<LldMgmtResult>;
  portalShow?(): string;
  /** `--mode target --op update --tid N --name K --value V` for keys the driver owns. */
  targetUpdate?(tid: number, name: string, value: string): LldMgmtResult;
  /** `--mode target --op show --tid N`: the driver's parameter dump. */
  targetShowParams?(tid: number): LldMgmtResult;
  /** `--mode system --op update` for keys the driver owns (iSNS..., State is daemon-wide). */
  systemUpdate?(name: string, value: string): LldMgmtResult;
  /** Extra lines of `--mode system --op show` (tgt's iSNS block). */
  systemShow?(): string;
  /** Lines after "State:" in the target's "System information:" (tgt's iscsi prints Nop settings). */
  targetSystemLines?(tid: number): string;
  /** Lines for "I_T nexus information:" of one target, already indented at 8 spaces. */
  showNexus?(tid: number): string;
  /** `--mode conn --op show --tid N`. */
  connShow?(tid: number): LldMgmtResult;
  /** `--mode conn --op delete --tid --sid --cid`. */
  connDelete?(tid: number, sid: number, cid: number): LldMgmtResult;
  /** `--mode session --op show` (stat = false) or `--op stat` (stat = true). */
  sessionShow?(tid: number, sid: number, stat: boolean): LldMgmtResult;
  /** `--mode conn --op stat --sid --cid`. */
  connStat?(tid: number, sid: number, cid: number): LldMgmtResult;
  /** Figures for `tgtd --metrics`: connections per target, login outcomes. */
  metrics?(): LldMetrics;
  /** Whether the target's "Account information:" block is printed (iscsi, iser). */
  readonly showsAccounts?: boolean;
}

/** What an LLD counts for `tgtd --metrics`. */
export interface LldMetrics {
  /** Connections of normal sessions, by tid (targets without one may be absent). */
  readonly connections: ReadonlyMap<number, number>;
  /** Logins that reached full feature phase. */
  readonly loginSuccesses: number;
  /** Failed logins by reason (snake_case names of the transport's login status classes). */
  readonly loginFailures: ReadonlyMap<string, number>;
}
