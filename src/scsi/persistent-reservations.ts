// SPC-4 5.13 Persistent reservations: registrations per I_T nexus, the six reservation types, PR IN/OUT.
import { Reason } from './sense.js';
import type { SenseReason } from './sense.js';

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
} as const;

/** SPC-4 6.15.1 PERSISTENT RESERVE IN service actions. */
export const PrInSa = { ReadKeys: 0, ReadReservation: 1, ReportCapabilities: 2, ReadFullStatus: 3 } as const;

const VALID_TYPES = new Set<number>([1, 3, 5, 6, 7, 8]);

function isAllRegistrants(t: number): boolean {
  return t === PrType.WriteExclusiveAllRegistrants || t === PrType.ExclusiveAccessAllRegistrants;
}
function isRegistrantsOnly(t: number): boolean {
  return t === PrType.WriteExclusiveRegistrantsOnly || t === PrType.ExclusiveAccessRegistrantsOnly;
}

export interface Registration {
  /** SPC-4 TransportID of the I_T nexus's initiator port ("<name>,i,0x<isid>"). */
  port: string;
  key: bigint;
}

/** Effects of a PR OUT the LU must apply beyond the PR state itself. */
export interface PrOutEffects {
  /** Unit attentions to queue: [initiator port, reason]. */
  ua: [string, SenseReason][];
  /** For PREEMPT AND ABORT: initiator ports whose tasks on this LU are aborted. */
  abortPorts: string[];
}

export type PrOutResult = SenseReason | 'conflict' | null;

/** How a command touches the medium, for the SPC-4 5.13.1 Table 63 access rules. */
export const Access = { Other: 0, Read: 1, Write: 2, Always: 3 } as const;
export type Access = (typeof Access)[keyof typeof Access];

export class PersistentReservations {
  generation = 0;
  readonly regs: Registration[] = [];
  /** The reservation holder's port (for all-registrants types: the registrant that reserved), or null. */
  holder: string | null = null;
  type = 0;
  scope = 0;

  find(port: string): Registration | undefined {
    return this.regs.find((r) => r.port === port);
  }

  get reserved(): boolean {
    return this.holder !== null;
  }

  /** SPC-4 5.13.10: for all-registrants types every registrant is a reservation holder. */
  isHolder(port: string): boolean {
    if (this.holder === null) return false;
    if (isAllRegistrants(this.type)) return this.find(port) !== undefined;
    return this.holder === port;
  }

  /**
   * SPC-4 5.13.1 Table 63: does a command of class `access` from `port` conflict with the
   * persistent reservation? Registrants of RO/AR types get full access; non-holders of WE types
   * may read; EA types exclude all non-holders.
   */
  conflicts(port: string, access: Access): boolean {
    if (this.holder === null || access === Access.Always) return false;
    if (this.isHolder(port)) return false;
    const registered = this.find(port) !== undefined;
    const t = this.type;
    if ((isRegistrantsOnly(t) || isAllRegistrants(t)) && registered) return false;
    const exclusiveAccess =
      t === PrType.ExclusiveAccess || t === PrType.ExclusiveAccessRegistrantsOnly || t === PrType.ExclusiveAccessAllRegistrants;
    if (access === Access.Write) return true;
    if (access === Access.Read) return exclusiveAccess;
    // "Other" commands (MODE SELECT, RESERVE...) conflict for exclusive-access types
    return exclusiveAccess;
  }

  private removeReg(port: string): void {
    const i = this.regs.findIndex((r) => r.port === port);
    if (i >= 0) this.regs.splice(i, 1);
    if (this.holder !== null) {
      if (isAllRegistrants(this.type)) {
        if (this.regs.length === 0) this.release();
        else if (this.holder === port) this.holder = this.regs[0]!.port;
      } else if (this.holder === port) {
        this.release();
      }
    }
  }

  private release(): void {
    this.holder = null;
    this.type = 0;
    this.scope = 0;
  }

  /**
   * Executes PERSISTENT RESERVE OUT (SPC-4 6.16) for `port`. `param` is the 24-byte parameter list.
   * Returns null (GOOD), 'conflict' (RESERVATION CONFLICT) or a sense reason.
   */
  out(port: string, sa: number, scope: number, type: number, param: Buffer, fx: PrOutEffects): PrOutResult {
    // SPC-4 6.16.3 parameter list: 0..7 RESERVATION KEY, 8..15 SERVICE ACTION RESERVATION KEY,
    // 20 SPEC_I_PT(3) ALL_TG_PT(2) APTPL(0)
    if (param.length < 24) return Reason.ParamListLengthError;
    const resKey = param.readBigUInt64BE(0);
    const saKey = param.readBigUInt64BE(8);
    const flags = param[20]!;
    // No SPEC_I_PT, ALL_TG_PT or persistence across power loss (REPORT CAPABILITIES says so).
    if ((flags & 0x08) !== 0 || (flags & 0x04) !== 0) return Reason.InvalidFieldInParamList;
    if ((flags & 0x01) !== 0 && sa !== PrOutSa.Clear) return Reason.InvalidFieldInParamList;
    const me = this.find(port);
    switch (sa) {
      case PrOutSa.Register:
      case PrOutSa.RegisterAndIgnore: {
        if (sa === PrOutSa.Register) {
          if (!me && resKey !== 0n) return 'conflict';
          if (me && resKey !== me.key) return 'conflict';
        }
        if (!me) {
          if (saKey !== 0n) {
            this.regs.push({ port, key: saKey });
            this.generation++;
          }
          return null;
        }
        if (saKey === 0n) {
          const wasHolder = this.holder === port && !isAllRegistrants(this.type);
          const roType = isRegistrantsOnly(this.type);
          this.removeReg(port);
          if (wasHolder && roType) {
            for (const r of this.regs) fx.ua.push([r.port, Reason.ReservationsReleased]);
          }
        } else {
          me.key = saKey;
        }
        this.generation++;
        return null;
      }
      case PrOutSa.Reserve: {
        if (!me || resKey !== me.key) return 'conflict';
        if (scope !== 0) return Reason.InvalidFieldInCdb;
        if (!VALID_TYPES.has(type)) return Reason.InvalidFieldInCdb;
        if (this.holder === null) {
          this.holder = port;
          this.type = type;
          this.scope = scope;
          return null;
        }
        if (this.isHolder(port) && this.type === type) return null;
        return 'conflict';
      }
      case PrOutSa.Release: {
        if (!me || resKey !== me.key) return 'conflict';
        if (this.holder === null || !this.isHolder(port)) return null;
        if (this.type !== type || scope !== 0) return Reason.InvalidReleaseOfPr;
        const oldType = this.type;
        this.release();
        if (isRegistrantsOnly(oldType) || isAllRegistrants(oldType)) {
          for (const r of this.regs) if (r.port !== port) fx.ua.push([r.port, Reason.ReservationsReleased]);
        }
        return null;
      }
      case PrOutSa.Clear: {
        if (!me || resKey !== me.key) return 'conflict';
        for (const r of this.regs) if (r.port !== port) fx.ua.push([r.port, Reason.ReservationsPreempted]);
        this.regs.length = 0;
        this.release();
        this.generation++;
        return null;
      }
      case PrOutSa.Preempt:
      case PrOutSa.PreemptAndAbort: {
        if (!me || resKey !== me.key) return 'conflict';
        const abort = sa === PrOutSa.PreemptAndAbort;
        const preemptRegs = (match: (r: Registration) => boolean): number => {
          const victims = this.regs.filter((r) => r.port !== port && match(r));
          for (const v of victims) {
            const i = this.regs.indexOf(v);
            this.regs.splice(i, 1);
            fx.ua.push([v.port, Reason.RegistrationsPreempted]);
            if (abort) fx.abortPorts.push(v.port);
          }
          // SPC-4 5.13.11.2.4: the preempting nexus's own key may also match; it stays registered.
          return victims.length + (match(me) ? 1 : 0);
        };
        if (this.holder === null) {
          // no reservation: just remove the registrations with the SA key
          if (saKey === 0n) return Reason.InvalidFieldInParamList;
          if (preemptRegs((r) => r.key === saKey) === 0) return 'conflict';
          this.generation++;
          return null;
        }
        if (isAllRegistrants(this.type)) {
          if (saKey === 0n) {
            // SPC-4 5.13.11.2.5: remove all other registrations, new reservation by this nexus
            preemptRegs(() => true);
            if (!VALID_TYPES.has(type) || scope !== 0) return Reason.InvalidFieldInCdb;
            this.holder = port;
            this.type = type;
            this.scope = scope;
          } else if (preemptRegs((r) => r.key === saKey) === 0) {
            return 'conflict';
          }
          this.generation++;
          return null;
        }
        const holderReg = this.find(this.holder);
        if (holderReg && holderReg.key === saKey) {
          if (!VALID_TYPES.has(type) || scope !== 0) return Reason.InvalidFieldInCdb;
          const oldType = this.type;
          preemptRegs((r) => r.key === saKey);
          this.holder = port;
          this.type = type;
          this.scope = scope;
          if (oldType !== type) {
            for (const r of this.regs) {
              if (r.port !== port && !fx.ua.some((u) => u[0] === r.port)) fx.ua.push([r.port, Reason.ReservationsReleased]);
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
      default:
        return Reason.InvalidFieldInCdb;
    }
  }

  /** PERSISTENT RESERVE IN (SPC-4 6.15) parameter data, before allocation-length clipping. */
  in(sa: number, relativePortId: number): Buffer | SenseReason {
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
        const key = isAllRegistrants(this.type) ? 0n : (this.find(this.holder)?.key ?? 0n);
        b.writeBigUInt64BE(key, 8);
        b[21] = (this.scope << 4) | this.type;
        return b;
      }
      case PrInSa.ReportCapabilities: {
        // 6.15.4: 0..1 LENGTH (8), 2 CRH|SIP_C|ATP_C|PTPL_C, 3 TMV|ALLOW COMMANDS|PTPL_A,
        // 4..5 PERSISTENT RESERVATION TYPE MASK
        const b = Buffer.alloc(8);
        b.writeUInt16BE(8, 0);
        b[2] = 0x10; // CRH: RESERVE(6/10) and RELEASE are handled as SPC-4 5.13.3 describes
        b[3] = 0x80 | (1 << 4); // TMV, ALLOW COMMANDS = 001b
        b[4] = 0x80 | 0x40 | 0x20 | 0x08 | 0x02; // WR_EX_AR, EX_AC_RO, WR_EX_RO, EX_AC, WR_EX
        b[5] = 0x01; // EX_AC_AR
        return b;
      }
      case PrInSa.ReadFullStatus: {
        // 6.15.5: header 8 bytes, then per registrant a full status descriptor with a TransportID
        const descs: Buffer[] = [];
        for (const r of this.regs) {
          const tid = transportId(r.port);
          const d = Buffer.alloc(24 + tid.length);
          d.writeBigUInt64BE(r.key, 0);
          const holder = this.isHolder(r.port);
          d[12] = holder ? 0x01 : 0x00; // ALL_TG_PT 1, R_HOLDER 0
          if (holder) d[13] = (this.scope << 4) | this.type;
          d.writeUInt16BE(relativePortId, 18);
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
}

/**
 * SPC-4 7.6.4.6 iSCSI TransportID, FORMAT CODE 01b (initiator port): 0 FORMAT CODE|PROTOCOL IDENTIFIER (5),
 * 2..3 ADDITIONAL LENGTH, 4.. "<name>,i,0x<isid>" NUL-terminated, padded to a multiple of 4.
 */
export function transportId(port: string): Buffer {
  const name = Buffer.from(port, 'utf8');
  let len = name.length + 1;
  len = (len + 3) & ~3;
  const b = Buffer.alloc(4 + len);
  b[0] = 0x40 | 0x05;
  b.writeUInt16BE(len, 2);
  name.copy(b, 4);
  return b;
}
