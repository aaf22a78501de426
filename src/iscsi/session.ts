// RFC 7143 4.2 / 10.2 iSCSI session: I_T nexus, CmdSN window and in-order delivery across connections.

import type { ItNexus, ScsiTargetPort } from '../scsi/api.js';

/** Serial number arithmetic (RFC 1982, 32 bits) as RFC 7143 3.2.2.1 requires for CmdSN/StatSN. */
export function snLess(a: number, b: number): boolean {
  return a !== b && ((b - a) >>> 0) < 0x80000000;
}

/** The part of a connection a session needs: closing it, and delivering commands in CmdSN order. */
export interface SessionConnection {
  readonly cid: number;
  /** Execute a non-immediate command whose CmdSN has come due. */
  deliver(cmd: PendingCommand): void;
  /** Close the connection (logout of the session, reinstatement, admin delete, target removal). */
  close(reason: string): void;
}

/** A non-immediate command held until all lower CmdSNs have arrived (multi-connection ordering). */
export interface PendingCommand {
  cmdSN: number;
  /** The connection it arrived on: its entries go when that connection does. */
  readonly conn: SessionConnection;
  run(): void;
}

export class IscsiSession implements ItNexus {
  readonly id: number;
  readonly initiatorName: string;
  readonly initiatorPort: string;
  /** ItNexus: where the leading connection came in (its ALUA target port group). */
  localAddress?: string;
  localPort?: number;
  /** The portal group tag of the portal the leading connection came in through (the session's identity has it, RFC 7143 4.4.3). */
  portalGroupTag = 1;
  readonly connections = new Map<number, SessionConnection>();
  /** Next CmdSN expected (RFC 7143 3.2.2.1 ExpCmdSN). */
  expCmdSN: number;
  /** Commands that arrived ahead of ExpCmdSN, keyed by CmdSN. */
  private readonly early = new Map<number, PendingCommand>();
  /** True once the session has been closed; its connections are going away. */
  closed = false;
  /** MaxConnections negotiated by the leading login (a leading-only key, RFC 7143 13.2). */
  maxConnections = 1;
  /**
   * Session-wide negotiated values from the leading login (RFC 7143 13: scope SW), which later
   * connections inherit because they may not negotiate them again.
   */
  sessionParams: Record<string, number | boolean> | null = null;

  constructor(
    readonly tsih: number,
    readonly isid: Buffer,
    initiatorName: string,
    readonly initiatorAlias: string | null,
    readonly target: ScsiTargetPort | null,
    readonly targetName: string | null,
    /** CmdSN of the leading login: the first command carries it (RFC 7143 11.12.7). */
    initialCmdSN: number,
    /** Commands the target accepts beyond ExpCmdSN (tgt MaxQueueCmd, default 128). */
    readonly queueDepth: number,
    readonly discovery: boolean,
  ) {
    this.id = tsih;
    this.initiatorName = initiatorName;
    this.initiatorPort = `${initiatorName},i,0x${isid.toString('hex')}`;
    this.expCmdSN = initialCmdSN >>> 0;
  }

  /** RFC 7143 3.2.2.1: MaxCmdSN = ExpCmdSN + window - 1. */
  get maxCmdSN(): number {
    return (this.expCmdSN + this.queueDepth - 1) >>> 0;
  }

  /** Is a non-immediate CmdSN inside [ExpCmdSN, MaxCmdSN]? Outside it the PDU is silently dropped. */
  inWindow(cmdSN: number): boolean {
    return !snLess(cmdSN, this.expCmdSN) && !snLess(this.maxCmdSN, cmdSN);
  }

  /**
   * Order a non-immediate command: run it now if it is the one expected, else keep it until the gap
   * fills. Returns false if it is outside the window (the caller drops it).
   */
  order(cmd: PendingCommand): boolean {
    if (!this.inWindow(cmd.cmdSN)) return false;
    if (cmd.cmdSN !== this.expCmdSN) {
      if (!this.early.has(cmd.cmdSN)) this.early.set(cmd.cmdSN, cmd);
      return true;
    }
    this.expCmdSN = (this.expCmdSN + 1) >>> 0;
    cmd.run();
    this.runEarly();
    return true;
  }

  /** Run the commands that were waiting for the CmdSNs now due. */
  private runEarly(): void {
    if (this.early.size === 0) return;
    for (let next = this.early.get(this.expCmdSN); next !== undefined; next = this.early.get(this.expCmdSN)) {
      this.early.delete(this.expCmdSN);
      this.expCmdSN = (this.expCmdSN + 1) >>> 0;
      if (!this.closed) next.run();
    }
  }

  /**
   * A CmdSN that consumes a slot without a command (a non-immediate NOP-Out, Text, Logout or TMF
   * request, or a rejected command), received on `conn`. In order (the usual case) it only
   * advances ExpCmdSN; only one ahead of a gap needs a placeholder to keep its slot.
   */
  advance(cmdSN: number, conn: SessionConnection): boolean {
    if (cmdSN !== this.expCmdSN || this.early.size > 0 || !this.inWindow(cmdSN)) return this.order({ cmdSN, conn, run: noop });
    this.expCmdSN = (this.expCmdSN + 1) >>> 0;
    return true;
  }

  hasConnection(conn: SessionConnection): boolean {
    for (const c of this.connections.values()) if (c === conn) return true;
    return false;
  }

  /** Commands waiting for a CmdSN gap to fill (bounded by the window). */
  get waiting(): number {
    return this.early.size;
  }

  /** `conn` left the session: forget it and whatever it queued ahead of a gap. */
  dropConnection(conn: SessionConnection): void {
    // By identity, not by CID: the CID a connection reports is whatever its login said last.
    for (const [cid, c] of this.connections) if (c === conn) this.connections.delete(cid);
    for (const [sn, c] of this.early) if (c.conn === conn) this.early.delete(sn);
  }

  /** The session ended: nothing queued will ever run. */
  clearWaiting(): void {
    this.early.clear();
  }
}

function noop(): void {}
