// SPC-4 5.13 Persistent reservations: registrations per I_T nexus (initiator port + target port), the six reservation types, PR IN/OUT, APTPL state.
import { Reason } from './sense.js';
import type { SenseReason } from './sense.js';
import { parseTransportIds, transportId } from './transport-id.js';

export { transportId } from './transport-id.js';

/** SPC-4 6.16.3 Table 226 TYPE field. */
export const PrType = {
  WriteExclusive: 1,
  ExclusiveAccess: 3,
  WriteExclusiveRegistrantsOnly: 5,
  ExclusiveAccessRegistrantsOnly: 6,
  WriteExclusiveAllRegistrants: 7,
  ExclusiveAccessAllRegistrants: 8,
} as const;

/** SPC-4 6.16.2 Table 225 PERSISTENT RESERVE OUT service actions. */
export const PrOutSa = {
  Register: 0,
  Reserve: 1,
  Release: 2,
  Clear: 3,
  Preempt: 4,
  PreemptAndAbort: 5,
  RegisterAndIgnore: 6,
  RegisterAndMove: 7,
} as const;

/** SPC-4 6.15.1 PERSISTENT RESERVE IN service actions. */
export const PrInSa = { ReadKeys: 0, ReadReservation: 1, ReportCapabilities: 2, ReadFullStatus: 3 } as const;

/**
 * An I_T nexus as persistent reservations see it (SPC-4 3.1.53): the initiator port's TransportID
 * string ("<name>,i,0x<isid>") and the RELATIVE TARGET PORT IDENTIFIER of the target port it came
 * in through (stgt: its ALUA target port group, alua.ts). `relPort` null stands for "any target
 * port of the target" (a copy manager acting for the initiator port on another target's LU).
 */
export interface PrNexus {
  readonly port: string;
  readonly relPort: number | null;
}

const VALID_TYPES = new Set<number>([1, 3, 5, 6, 7, 8]);

function isAllRegistrants(t: number): boolean {
  return t === PrType.WriteExclusiveAllRegistrants || t === PrType.ExclusiveAccessAllRegistrants;
}
function isRegistrantsOnly(t: number): boolean {
  return t === PrType.WriteExclusiveRegistrantsOnly || t === PrType.ExclusiveAccessRegistrantsOnly;
}

/** The iSCSI name part of an initiator port "<name>,i,0x<isid>". */
function nameOf(port: string): string {
  const i = port.indexOf(',i,0x');
  return i < 0 ? port : port.slice(0, i);
}

/**
 * One registration: the I_T nexus of initiator port `port` with target port `relPort`, or (ALL_TG_PT=1)
 * the I_T nexuses of that initiator port with every target port, all with the same key.
 */
export interface Registration {
  /**
   * SPC-4 TransportID of the registered initiator port ("<name>,i,0x<isid>"), or an initiator
   * name alone (a SPEC_I_PT TransportID of format 00b registers every port of that initiator).
   */
  port: string;
  /** RELATIVE TARGET PORT IDENTIFIER of the registered I_T nexus's target port (not used when allTgPt). */
  relPort: number;
  key: bigint;
  /** Registered with ALL_TG_PT=1: through every target port (READ FULL STATUS reports it). */
  allTgPt: boolean;
}

/** Effects of a PR OUT the LU must apply beyond the PR state itself. */
export interface PrOutEffects {
  /** Unit attentions to queue for the I_T nexuses of a registration: [registration, reason]. */
  ua: [Registration, SenseReason][];
  /** For PREEMPT AND ABORT: the preempted registrations, whose I_T nexuses' tasks on this LU are aborted. */
  abort: Registration[];
}

/** Whether registration `r` is one of the I_T nexus `n`. */
function covers(r: Registration, n: PrNexus, exactPort: boolean): boolean {
  if (exactPort ? r.port !== n.port : r.port !== nameOf(n.port)) return false;
  return r.allTgPt || n.relPort === null || r.relPort === n.relPort;
}

export type PrOutResult = SenseReason | 'conflict' | null;

/** How a command touches the medium, for the SPC-4 5.13.1 Table 63 access rules. */
export const Access = { Other: 0, Read: 1, Write: 2, Always: 3 } as const;
export type Access = (typeof Access)[keyof typeof Access];

/** The state APTPL preserves (SPC-4 5.13.5), as JSON-safe data (keys as hex strings). */
export interface PrState {
  version: 1;
  generation: number;
  aptpl: boolean;
  /** relPort: added after version 1 first shipped; a file without it means target port 1. */
  registrations: { port: string; key: string; allTgPt: boolean; relPort?: number }[];
  reservation: { holder: string; relPort?: number; type: number; scope: number } | null;
}

export class PersistentReservations {
  generation = 0;
  readonly regs: Registration[] = [];
  /** The reservation holder's registration (for all-registrants types: the registrant that reserved), or null. */
  holder: Registration | null = null;
  type = 0;
  scope = 0;
  /** Activate persist through power loss: set by the last REGISTER / REGISTER AND IGNORE / REGISTER AND MOVE. */
  aptpl = false;
  /** Whether APTPL=1 can be honoured (the LU has somewhere to keep the state). */
  persistCapable = true;

  /**
   * The registration of I_T nexus `n`, if any: one naming its initiator port before one naming its
   * initiator (SPEC_I_PT format 00b), and one of its target port before an ALL_TG_PT one (an
   * ALL_TG_PT registration covers the target ports that have none of their own, as in LIO).
   */
  find(n: PrNexus): Registration | undefined {
    let best: Registration | undefined;
    let rank = 4;
    for (const r of this.regs) {
      const exact = covers(r, n, true);
      if (!exact && !covers(r, n, false)) continue;
      const k = (exact ? 0 : 2) + (r.allTgPt ? 1 : 0);
      if (k < rank) {
        best = r;
        rank = k;
      }
    }
    return best;
  }

  get reserved(): boolean {
    return this.holder !== null;
  }

  /**
   * SPC-4 5.13.10: for all-registrants types every registrant is a reservation holder; otherwise
   * the I_T nexus that reserved is, and with ALL_TG_PT=1 that is the initiator port through every
   * target port (the nexuses of one registration, as LIO treats them).
   */
  isHolder(n: PrNexus): boolean {
    if (this.holder === null) return false;
    const me = this.find(n);
    if (me === undefined) return false;
    return isAllRegistrants(this.type) || me === this.holder;
  }

  /**
   * SPC-4 5.13.1 Table 63: does a command of class `access` from `port` conflict with the
   * persistent reservation? Registrants of RO/AR types get full access; non-holders of WE types
   * may read; EA types exclude all non-holders.
   */
  conflicts(n: PrNexus, access: Access): boolean {
    if (this.holder === null || access === Access.Always) return false;
    if (this.isHolder(n)) return false;
    const registered = this.find(n) !== undefined;
    const t = this.type;
    if ((isRegistrantsOnly(t) || isAllRegistrants(t)) && registered) return false;
    const exclusiveAccess =
      t === PrType.ExclusiveAccess || t === PrType.ExclusiveAccessRegistrantsOnly || t === PrType.ExclusiveAccessAllRegistrants;
    if (access === Access.Write) return true;
    if (access === Access.Read) return exclusiveAccess;
    // "Other" commands (START STOP UNIT, PREVENT ALLOW with PREVENT 0...) conflict for exclusive-access types
    return exclusiveAccess;
  }

  private removeReg(reg: Registration): void {
    const i = this.regs.indexOf(reg);
    if (i >= 0) this.regs.splice(i, 1);
    if (this.holder !== reg) return;
    if (isAllRegistrants(this.type) && this.regs.length > 0) this.holder = this.regs[0]!;
    else this.release();
  }

  private release(): void {
    this.holder = null;
    this.type = 0;
    this.scope = 0;
  }

  /**
   * Executes PERSISTENT RESERVE OUT (SPC-4 6.16) for I_T nexus `n`. `param` is the whole parameter
   * list (PARAMETER LIST LENGTH bytes); `isTargetPort` says whether a RELATIVE TARGET PORT
   * IDENTIFIER names a target port of the target (REGISTER AND MOVE). Returns null (GOOD),
   * 'conflict' (RESERVATION CONFLICT) or a sense reason.
   */
  out(n: PrNexus, sa: number, scope: number, type: number, param: Buffer, fx: PrOutEffects, isTargetPort: (rel: number) => boolean): PrOutResult {
    if (param.length < 24) return Reason.ParamListLengthError;
    const resKey = param.readBigUInt64BE(0);
    const saKey = param.readBigUInt64BE(8);
    if (sa === PrOutSa.RegisterAndMove) return this.registerAndMove(n, resKey, saKey, param, isTargetPort);
    // SPC-4 6.16.3: 20 SPEC_I_PT(3) ALL_TG_PT(2) APTPL(0); with SPEC_I_PT 24..27 TRANSPORTID
    // PARAMETER DATA LENGTH, then the TransportIDs; without it the list is exactly 24 bytes.
    const flags = param[20]!;
    const specIPt = (flags & 0x08) !== 0;
    const allTgPt = (flags & 0x04) !== 0;
    const aptpl = (flags & 0x01) !== 0;
    let specified: string[] = [];
    if (specIPt) {
      if (param.length < 28 || 28 + param.readUInt32BE(24) !== param.length) return Reason.ParamListLengthError;
      // SPEC_I_PT is for REGISTER only (6.16.3), by an I_T nexus not yet registered (5.13.7.2).
      if (sa !== PrOutSa.Register) return Reason.InvalidFieldInParamList;
      const ids = parseTransportIds(param.subarray(28));
      if (ids === null || ids.length === 0) return Reason.InvalidFieldInParamList;
      specified = ids;
    } else if (param.length !== 24) {
      return Reason.ParamListLengthError;
    }
    const isRegister = sa === PrOutSa.Register || sa === PrOutSa.RegisterAndIgnore;
    // APTPL is looked at only by the register service actions (6.16.3); it needs somewhere to live.
    if (isRegister && aptpl && !this.persistCapable) return Reason.InvalidFieldInParamList;
    // ALL_TG_PT is meaningful for registrations only; elsewhere it is an invalid field (6.16.3).
    if (allTgPt && !isRegister) return Reason.InvalidFieldInParamList;
    const me = this.find(n);
    // 5.13.7: a new registration is of the receiving I_T nexus's target port, or with ALL_TG_PT=1
    // of every target port; SPEC_I_PT's initiator ports are registered the same way (5.13.7.2).
    const relPort = n.relPort ?? 1;
    switch (sa) {
      case PrOutSa.Register:
      case PrOutSa.RegisterAndIgnore: {
        if (sa === PrOutSa.Register) {
          if (!me && resKey !== 0n) return 'conflict';
          if (me && resKey !== me.key) return 'conflict';
        }
        if (specIPt) {
          if (me) return Reason.InvalidFieldInParamList;
          // 5.13.7.2: all or nothing; an initiator port named twice or already registered through
          // this target port (or all of them) fails the whole list
          const all = [n.port, ...specified];
          if (new Set(all).size !== all.length || specified.some((p) => this.regs.some((r) => covers(r, { port: p, relPort: allTgPt ? null : relPort }, true)))) {
            return Reason.InvalidFieldInParamList;
          }
          if (saKey === 0n) return null;
          for (const p of all) this.regs.push({ port: p, relPort, key: saKey, allTgPt });
          this.aptpl = aptpl;
          this.generation++;
          return null;
        }
        if (!me) {
          if (saKey !== 0n) {
            this.regs.push({ port: n.port, relPort, key: saKey, allTgPt });
            this.aptpl = aptpl;
            this.generation++;
          }
          return null;
        }
        if (saKey === 0n) {
          const wasHolder = this.holder === me && !isAllRegistrants(this.type);
          const roType = isRegistrantsOnly(this.type);
          this.removeReg(me);
          // 5.13.11.2.3: the holder of a registrants-only reservation unregistering releases it
          if (wasHolder && roType) for (const r of this.regs) fx.ua.push([r, Reason.ReservationsReleased]);
        } else {
          me.key = saKey;
        }
        this.aptpl = aptpl;
        this.generation++;
        return null;
      }
      case PrOutSa.Reserve: {
        if (!me || resKey !== me.key) return 'conflict';
        if (scope !== 0) return Reason.InvalidFieldInCdb;
        if (!VALID_TYPES.has(type)) return Reason.InvalidFieldInCdb;
        if (this.holder === null) {
          this.holder = me;
          this.type = type;
          this.scope = scope;
          return null;
        }
        if (this.isHolder(n) && this.type === type) return null;
        return 'conflict';
      }
      case PrOutSa.Release: {
        if (!me || resKey !== me.key) return 'conflict';
        if (this.holder === null || !this.isHolder(n)) return null;
        if (this.type !== type || scope !== 0) return Reason.InvalidReleaseOfPr;
        const oldType = this.type;
        this.release();
        if (isRegistrantsOnly(oldType) || isAllRegistrants(oldType)) {
          for (const r of this.regs) if (r !== me) fx.ua.push([r, Reason.ReservationsReleased]);
        }
        return null;
      }
      case PrOutSa.Clear: {
        if (!me || resKey !== me.key) return 'conflict';
        for (const r of this.regs) if (r !== me) fx.ua.push([r, Reason.ReservationsPreempted]);
        this.regs.length = 0;
        this.release();
        this.generation++;
        return null;
      }
      case PrOutSa.Preempt:
      case PrOutSa.PreemptAndAbort:
        if (!me || resKey !== me.key) return 'conflict';
        return this.preempt(me, sa === PrOutSa.PreemptAndAbort, saKey, scope, type, fx);
      default:
        return Reason.InvalidFieldInCdb;
    }
  }

  /** SPC-4 5.13.11.2.4-6 PREEMPT and PREEMPT AND ABORT by the registrant `me`. */
  private preempt(me: Registration, abort: boolean, saKey: bigint, scope: number, type: number, fx: PrOutEffects): PrOutResult {
    const preemptRegs = (match: (r: Registration) => boolean): number => {
      const victims = this.regs.filter((r) => r !== me && match(r));
      for (const v of victims) {
        this.regs.splice(this.regs.indexOf(v), 1);
        fx.ua.push([v, Reason.RegistrationsPreempted]);
        if (abort) fx.abort.push(v);
      }
      // 5.13.11.2.4: the preempting nexus's own key may match too; it stays registered.
      return victims.length + (match(me) ? 1 : 0);
    };
    const holder = this.holder;
    if (holder === null) {
      // no reservation: just remove the registrations with the SA key
      if (saKey === 0n) return Reason.InvalidFieldInParamList;
      if (preemptRegs((r) => r.key === saKey) === 0) return 'conflict';
      this.generation++;
      return null;
    }
    if (isAllRegistrants(this.type)) {
      if (saKey === 0n) {
        // 5.13.11.2.5: remove every other registration, new reservation by this nexus
        if (!VALID_TYPES.has(type) || scope !== 0) return Reason.InvalidFieldInCdb;
        preemptRegs(() => true);
        this.holder = me;
        this.type = type;
        this.scope = scope;
      } else if (preemptRegs((r) => r.key === saKey) === 0) {
        return 'conflict';
      } else if (!this.regs.includes(this.holder!)) {
        this.holder = this.regs.includes(me) ? me : null;
      }
      this.generation++;
      return null;
    }
    if (holder.key === saKey) {
      if (!VALID_TYPES.has(type) || scope !== 0) return Reason.InvalidFieldInCdb;
      const oldType = this.type;
      preemptRegs((r) => r.key === saKey);
      this.holder = me;
      this.type = type;
      this.scope = scope;
      if (oldType !== type) {
        for (const r of this.regs) {
          if (r !== me && !fx.ua.some((u) => u[0] === r)) fx.ua.push([r, Reason.ReservationsReleased]);
        }
      }
      this.generation++;
      return null;
    }
    if (saKey === 0n) return Reason.InvalidFieldInParamList;
    if (preemptRegs((r) => r.key === saKey) === 0) return 'conflict';
    this.generation++;
    return null;
  }

  /**
   * SPC-4 5.13.8 REGISTER AND MOVE (parameter list 6.16.4: 16 reserved, 17 UNREG(1) APTPL(0),
   * 18..19 RELATIVE TARGET PORT IDENTIFIER, 20..23 TRANSPORTID PARAMETER DATA LENGTH, 24.. one
   * TransportID): the reservation holder registers the I_T nexus of that initiator port and that
   * target port with the SERVICE ACTION RESERVATION KEY (unless it is registered already) and
   * moves the reservation to it; UNREG=1 also unregisters the holder.
   */
  private registerAndMove(n: PrNexus, resKey: bigint, saKey: bigint, param: Buffer, isTargetPort: (rel: number) => boolean): PrOutResult {
    const unreg = (param[17]! & 0x02) !== 0;
    const aptpl = (param[17]! & 0x01) !== 0;
    const relPort = param.readUInt16BE(18);
    const tidLen = param.readUInt32BE(20);
    if (24 + tidLen > param.length) return Reason.ParamListLengthError;
    const me = this.find(n);
    // Not registered, wrong key, no reservation, or not its holder: RESERVATION CONFLICT (5.13.8).
    if (!me || resKey !== me.key) return 'conflict';
    if (this.holder === null || !this.isHolder(n)) return 'conflict';
    // An all-registrants reservation has no single holder to move from.
    if (isAllRegistrants(this.type)) return 'conflict';
    if (saKey === 0n) return Reason.InvalidFieldInParamList;
    // The target port must be one of this target's (LIO: INVALID FIELD IN PARAMETER LIST as well).
    if (!isTargetPort(relPort)) return Reason.InvalidFieldInParamList;
    if (aptpl && !this.persistCapable) return Reason.InvalidFieldInParamList;
    const ids = parseTransportIds(param.subarray(24, 24 + tidLen));
    // One TransportID naming a single initiator port (format 01b), and not the holder's own I_T nexus.
    if (ids === null || ids.length !== 1 || !ids[0]!.includes(',i,0x')) return Reason.InvalidFieldInParamList;
    const dest: PrNexus = { port: ids[0]!, relPort };
    if ((dest.port === n.port && relPort === n.relPort) || this.find(dest) === me) return Reason.InvalidFieldInParamList;
    let reg = this.find(dest);
    if (reg === undefined) {
      reg = { port: dest.port, relPort, key: saKey, allTgPt: false };
      this.regs.push(reg);
    }
    this.holder = reg;
    if (unreg) this.regs.splice(this.regs.indexOf(me), 1);
    this.aptpl = aptpl;
    this.generation++;
    return null;
  }

  /** PERSISTENT RESERVE IN (SPC-4 6.15) parameter data, before allocation-length clipping. */
  in(sa: number): Buffer | SenseReason {
    switch (sa) {
      case PrInSa.ReadKeys: {
        // 6.15.2: 0..3 PRGENERATION, 4..7 ADDITIONAL LENGTH, then 8-byte keys
        const b = Buffer.alloc(8 + 8 * this.regs.length);
        b.writeUInt32BE(this.generation >>> 0, 0);
        b.writeUInt32BE(8 * this.regs.length, 4);
        this.regs.forEach((r, i) => b.writeBigUInt64BE(r.key, 8 + 8 * i));
        return b;
      }
      case PrInSa.ReadReservation: {
        // 6.15.3: 0..3 PRGENERATION, 4..7 ADDITIONAL LENGTH (0 or 16), 8..15 RESERVATION KEY, 21 SCOPE|TYPE
        if (this.holder === null) {
          const b = Buffer.alloc(8);
          b.writeUInt32BE(this.generation >>> 0, 0);
          return b;
        }
        const b = Buffer.alloc(24);
        b.writeUInt32BE(this.generation >>> 0, 0);
        b.writeUInt32BE(16, 4);
        // SPC-4 6.15.3.3: all-registrants reservations report key zero
        b.writeBigUInt64BE(isAllRegistrants(this.type) ? 0n : this.holder.key, 8);
        b[21] = (this.scope << 4) | this.type;
        return b;
      }
      case PrInSa.ReportCapabilities: {
        // 6.15.4: 0..1 LENGTH (8), 2 RLR_C(7) CRH(4) SIP_C(3) ATP_C(2) PTPL_C(0),
        // 3 TMV(7) ALLOW COMMANDS(6:4) PTPL_A(0), 4..5 PERSISTENT RESERVATION TYPE MASK
        const b = Buffer.alloc(8);
        b.writeUInt16BE(8, 0);
        // CRH: RESERVE/RELEASE handled as 5.13.3 says; SPEC_I_PT and ALL_TG_PT supported; APTPL if it can persist
        b[2] = 0x10 | 0x08 | 0x04 | (this.persistCapable ? 0x01 : 0);
        b[3] = 0x80 | (1 << 4) | (this.aptpl ? 0x01 : 0); // TMV, ALLOW COMMANDS = 001b, PTPL_A
        b[4] = 0x80 | 0x40 | 0x20 | 0x08 | 0x02; // WR_EX_AR, EX_AC_RO, WR_EX_RO, EX_AC, WR_EX
        b[5] = 0x01; // EX_AC_AR
        return b;
      }
      case PrInSa.ReadFullStatus: {
        // 6.15.5: header 8 bytes, then per registrant: 0..7 RESERVATION KEY, 12 ALL_TG_PT(1)
        // R_HOLDER(0), 13 SCOPE|TYPE, 18..19 RELATIVE TARGET PORT IDENTIFIER (not defined with
        // ALL_TG_PT=1: zero), 20..23 ADDITIONAL DESCRIPTOR LENGTH, 24.. TransportID
        const descs: Buffer[] = [];
        for (const r of this.regs) {
          const tid = transportId(r.port);
          const d = Buffer.alloc(24 + tid.length);
          d.writeBigUInt64BE(r.key, 0);
          const holder = this.holder !== null && (isAllRegistrants(this.type) || this.holder === r);
          d[12] = (r.allTgPt ? 0x02 : 0) | (holder ? 0x01 : 0);
          if (holder) d[13] = (this.scope << 4) | this.type;
          if (!r.allTgPt) d.writeUInt16BE(r.relPort, 18);
          d.writeUInt32BE(tid.length, 20);
          tid.copy(d, 24);
          descs.push(d);
        }
        const body = Buffer.concat(descs);
        const b = Buffer.alloc(8);
        b.writeUInt32BE(this.generation >>> 0, 0);
        b.writeUInt32BE(body.length, 4);
        return Buffer.concat([b, body]);
      }
      default:
        return Reason.InvalidFieldInCdb;
    }
  }

  /** The state as APTPL keeps it. */
  snapshot(): PrState {
    const h = this.holder;
    return {
      version: 1,
      generation: this.generation,
      aptpl: this.aptpl,
      registrations: this.regs.map((r) => ({ port: r.port, key: r.key.toString(16), allTgPt: r.allTgPt, relPort: r.relPort })),
      reservation: h === null ? null : { holder: h.port, relPort: h.relPort, type: this.type, scope: this.scope },
    };
  }

  /** Back to a snapshot (a restart with APTPL, or undoing a change that could not be made persistent). */
  restore(s: PrState): void {
    this.generation = s.generation >>> 0;
    this.aptpl = s.aptpl;
    this.regs.length = 0;
    // A state written before registrations had a target port: they were all of target port 1.
    for (const r of s.registrations) this.regs.push({ port: r.port, relPort: r.relPort ?? 1, key: BigInt('0x' + r.key), allTgPt: r.allTgPt });
    const res = s.reservation;
    this.release();
    if (res === null) return;
    // The holder's registration: its port and target port; an older state named the holder's
    // initiator port alone (its registration may name the initiator, SPEC_I_PT format 00b).
    const rel = res.relPort;
    const h = this.regs.find((r) => r.port === res.holder && (rel === undefined || r.relPort === rel))
      ?? this.regs.find((r) => r.port === res.holder || r.port === nameOf(res.holder));
    if (h === undefined) return;
    this.holder = h;
    this.type = res.type;
    this.scope = res.scope;
  }
}

/** Checks that parsed JSON is a PrState (a corrupt or foreign file restores nothing). */
export function isPrState(v: unknown): v is PrState {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as Record<string, unknown>;
  if (s['version'] !== 1 || typeof s['generation'] !== 'number' || typeof s['aptpl'] !== 'boolean') return false;
  if (!Array.isArray(s['registrations'])) return false;
  for (const r of s['registrations'] as unknown[]) {
    if (typeof r !== 'object' || r === null) return false;
    const o = r as Record<string, unknown>;
    if (typeof o['port'] !== 'string' || typeof o['key'] !== 'string' || !/^[0-9a-f]{1,16}$/.test(o['key'] as string)) return false;
    if (typeof o['allTgPt'] !== 'boolean' || !optionalPort(o['relPort'])) return false;
  }
  const res = s['reservation'];
  if (res === null) return true;
  if (typeof res !== 'object') return false;
  const o = res as Record<string, unknown>;
  return typeof o['holder'] === 'string' && optionalPort(o['relPort']) && VALID_TYPES.has(o['type'] as number) && o['scope'] === 0;
}

/** A RELATIVE TARGET PORT IDENTIFIER (1..65535) or absent. */
function optionalPort(v: unknown): boolean {
  return v === undefined || (Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 0xffff);
}
