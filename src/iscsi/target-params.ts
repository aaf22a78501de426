// tgt usr/iscsi/target.c iscsi_target_update / iscsi_target_show: per-target iSCSI settings behind `tgtadm --mode target --op update|show --tid N`.
//
// Reproduces tgt's parsing quirks on purpose, because scripts and targets.conf files written for
// tgt rely on them: parameter names compare case-insensitively, numbers go through C strtol with
// base 0 ("0x10000" is hex, "010" is octal), digest lists always include None, the Redirect* and
// nop_* names are matched by prefix, and nop values are read with atoi at a fixed offset.

import { TGT_PARAMS, tgtParamIndex, tgtParamToString, DIGEST_NONE, DIGEST_CRC32C, type TgtParamDef } from './params.js';

/** Login redirect reasons: Login Response status detail with class 1 (RFC 7143 11.13.5). */
export const RedirectReason = { None: 0, Temporary: 0x01, Permanent: 0x02 } as const;

/** C strtol(str, NULL, 0) truncated to an unsigned int, as tgt's range_str_to_val does. */
export function cStrtolU32(str: string): number {
  let i = 0;
  while (i < str.length && ' \t\n\v\f\r'.includes(str[i]!)) i++;
  let sign = 1;
  if (str[i] === '+' || str[i] === '-') {
    if (str[i] === '-') sign = -1;
    i++;
  }
  let base = 10;
  if (str[i] === '0' && (str[i + 1] === 'x' || str[i + 1] === 'X') && /[0-9a-fA-F]/.test(str[i + 2] ?? '')) {
    base = 16;
    i += 2;
  } else if (str[i] === '0') {
    base = 8;
  }
  let v = 0;
  for (; i < str.length; i++) {
    const d = parseInt(str[i]!, base);
    if (Number.isNaN(d)) break;
    v = v * base + d;
    if (v > 9223372036854775807) v = 9223372036854775807; // LONG_MAX clamp
  }
  const signed = sign * v;
  // Truncation of a long to unsigned int keeps the low 32 bits.
  return Number(BigInt.asUintN(32, BigInt(Math.trunc(signed))));
}

/** C atoi: optional sign and decimal digits, 0 when none. */
export function cAtoi(str: string): number {
  const m = /^[ \t\n\v\f\r]*([+-]?\d+)/.exec(str);
  return m ? Number(BigInt.asIntN(32, BigInt(m[1]!))) : 0;
}

export interface TargetParamsDefaults {
  /** `tgtd --iscsi nop_interval=N` (0 = no pings). */
  nopInterval?: number;
  /** `tgtd --iscsi nop_count=N`. */
  nopCount?: number;
}

/** What TargetParams.set says of one name=value. */
export type ParamSetResult = 'ok' | 'invalid';

export class TargetParams {
  /** tgt's internal values, index = TGT_PARAMS row. */
  private readonly vals: number[];
  nopInterval: number;
  nopCount: number;
  redirectAddress = '';
  redirectPort = '';
  redirectReason: number = RedirectReason.None;
  redirectCallback: string | null = null;

  constructor(defaults: TargetParamsDefaults = {}) {
    this.vals = TGT_PARAMS.map((d) => d.targetDefault);
    this.nopInterval = defaults.nopInterval ?? 0;
    this.nopCount = defaults.nopCount ?? 0;
  }

  /**
   * `tgtadm --mode target --op update --tid N --name NAME --value VALUE`: 'ok', or 'invalid' for an
   * unknown name or a refused value (tgt answers every failure here with "invalid request"). The
   * daemon handles `state` itself.
   */
  set(name: string, value: string): ParamSetResult {
    if (name.startsWith('RedirectAddress')) {
      this.redirectAddress = value;
      return 'ok';
    }
    if (name.startsWith('RedirectPort')) {
      this.redirectPort = value;
      return 'ok';
    }
    if (name.startsWith('RedirectReason')) {
      if (value.startsWith('Temporary')) this.redirectReason = RedirectReason.Temporary;
      else if (value.startsWith('Permanent')) this.redirectReason = RedirectReason.Permanent;
      else return 'invalid';
      return 'ok';
    }
    if (name.startsWith('RedirectCallback')) {
      this.redirectCallback = value;
      return 'ok';
    }
    // tgt passes "name\0value" and reads the number at a fixed offset past the name it expected,
    // so "nop_countX" reads the empty string after its own NUL and sets 0.
    const joined = `${name}\0${value}`;
    if (name.startsWith('nop_count')) {
      this.nopCount = cAtoi(cString(joined, 10));
      return 'ok';
    }
    if (name.startsWith('nop_interval')) {
      this.nopInterval = cAtoi(cString(joined, 13));
      return 'ok';
    }
    const idx = tgtParamIndex(name);
    if (idx < 0) return 'invalid';
    const def = TGT_PARAMS[idx]!;
    const val = parseValue(def, value);
    if (val < 0) return 'invalid';
    if (!checkValue(def, val)) return 'invalid';
    this.vals[idx] = val;
    return 'ok';
  }

  /** The value as `show` prints it, or null for an unknown name. */
  get(name: string): string | null {
    if (name === 'nop_interval') return String(this.nopInterval);
    if (name === 'nop_count') return String(this.nopCount);
    const idx = tgtParamIndex(name);
    return idx < 0 ? null : tgtParamToString(TGT_PARAMS[idx]!, this.vals[idx]!);
  }

  /** tgt's internal number for a parameter (booleans 0/1, digest mask); -1 if unknown. */
  value(name: string): number {
    const idx = tgtParamIndex(name);
    return idx < 0 ? -1 : this.vals[idx]!;
  }

  /** Whether the admin allowed CRC32C for this digest key (HeaderDigest / DataDigest). */
  digestAllowsCrc32c(name: 'HeaderDigest' | 'DataDigest'): boolean {
    return (this.value(name) & DIGEST_CRC32C) !== 0;
  }

  /** True when logins must be redirected (a static address or a callback is configured). */
  get redirected(): boolean {
    return this.redirectCallback !== null || this.redirectAddress.length > 0;
  }

  /** Exactly tgt's `tgtadm --mode target --op show --tid N` text. */
  showText(): string {
    if (this.redirectCallback !== null) return `RedirectCallback=${this.redirectCallback}\n`;
    if (this.redirectAddress.length > 0) {
      const reason =
        this.redirectReason === RedirectReason.Temporary ? 'Temporary'
        : this.redirectReason === RedirectReason.Permanent ? 'Permanent'
        : 'Unknown';
      return `RedirectAddress=${this.redirectAddress}\nRedirectPort=${this.redirectPort}\nRedirectReason=${reason}\n`;
    }
    let out = `nop_interval=${this.nopInterval}\nnop_count=${this.nopCount}\n`;
    for (let i = 0; i < TGT_PARAMS.length; i++) {
      out += `${TGT_PARAMS[i]!.name}=${tgtParamToString(TGT_PARAMS[i]!, this.vals[i]!)}\n`;
    }
    return out;
  }
}

/** The NUL-terminated C string starting at `off` of `s` ('' past the end). */
function cString(s: string, off: number): string {
  if (off >= s.length) return '';
  const end = s.indexOf('\0', off);
  return end < 0 ? s.slice(off) : s.slice(off, end);
}

/** tgt's *_str_to_val; -1 on a parse error. */
function parseValue(def: TgtParamDef, str: string): number {
  switch (def.kind) {
    case 'or':
    case 'and':
      return str === 'Yes' ? 1 : str === 'No' ? 0 : -1;
    case 'digest': {
      // Every token must begin with None or CRC32C (tgt compares prefixes); None is always allowed.
      let v = DIGEST_NONE;
      for (const tok of str.split(',')) {
        if (tok.startsWith('None')) v |= DIGEST_NONE;
        else if (tok.startsWith('CRC32C')) v |= DIGEST_CRC32C;
        else return -1;
      }
      return v;
    }
    case 'marker':
      // tgt has no parser for the marker intervals: the update "succeeds" and shows Irrelevant.
      return 0;
    default:
      return cStrtolU32(str);
  }
}

/** tgt's *_check_val: false when out of range. */
function checkValue(def: TgtParamDef, val: number): boolean {
  switch (def.kind) {
    case 'min':
    case 'max':
      return val >= def.min && val <= def.max;
    case 'minOrZero':
      return val === 0 || (val >= def.min && val <= def.max);
    default:
      return true;
  }
}
