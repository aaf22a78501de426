// C integer conversions of tgtadm's numeric options (strtoull base 0 + tgt util.h str_to_int checks).
//
// tgtadm parses --tid/--sid/--cid/--lun/--host/--control-port with strtoull(str, &end, 0) and then
// narrows to the C type of the field; the messages "-t argument value 'x' invalid" / "out of range"
// depend on exactly which inputs fail where, so this mirrors the C arithmetic with BigInt.

export const EINVAL = 22;
export const ERANGE = 34;
const ULLONG_MAX = (1n << 64n) - 1n;

/** glibc strtoull(str, &end, 0): value (wrapped for '-') and whether any digit was consumed. */
export function strtoull(str: string): { value: bigint; consumed: boolean } {
  let i = 0;
  while (i < str.length && ' \t\n\v\f\r'.includes(str[i]!)) i++;
  let neg = false;
  if (str[i] === '+' || str[i] === '-') {
    neg = str[i] === '-';
    i++;
  }
  let base = 10;
  if (str[i] === '0') {
    const x = str[i + 1];
    if ((x === 'x' || x === 'X') && /[0-9a-fA-F]/.test(str[i + 2] ?? '')) {
      base = 16;
      i += 2;
    } else {
      base = 8;
    }
  }
  let value = 0n;
  let digits = 0;
  let overflow = false;
  for (; i < str.length; i++) {
    const d = parseInt(str[i]!, 36);
    if (Number.isNaN(d) || d >= base) break;
    value = value * BigInt(base) + BigInt(d);
    if (value > ULLONG_MAX) overflow = true;
    digits++;
  }
  if (digits === 0) return { value: 0n, consumed: false };
  if (overflow) return { value: ULLONG_MAX, consumed: true };
  return { value: neg ? BigInt.asUintN(64, -value) : value, consumed: true };
}

export type CType = 'int32' | 'int16' | 'uint32' | 'uint64';

/** Sign-extended value of `v` after the C assignment to `type`, compared back as unsigned long long. */
function narrow(v: bigint, type: CType): bigint {
  switch (type) {
    case 'int32':
      return BigInt.asIntN(32, v);
    case 'int16':
      return BigInt.asIntN(16, v);
    case 'uint32':
      return BigInt.asUintN(32, v);
    case 'uint64':
      return v;
  }
}

/**
 * str_to_int / str_to_int_ge: returns [errno (0, EINVAL, ERANGE), narrowed value].
 * `min` applies the _ge variant (value must be >= min).
 */
export function strToInt(str: string, type: CType, min?: bigint): [number, bigint] {
  const { value, consumed } = strtoull(str);
  const val = narrow(value, type);
  if (value === ULLONG_MAX || !consumed) return [EINVAL, val];
  if (BigInt.asUintN(64, val) !== value) return [ERANGE, val];
  if (min !== undefined && val < min) return [ERANGE, val];
  return [0, val];
}
