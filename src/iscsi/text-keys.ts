// RFC 7143 6.1 Text format: key=value pairs, each terminated by a NUL, in Login and Text data segments.
//
// Parsing never throws: every defect is reported in `errors` and the offending pair is left out
// of `pairs` (a duplicate keeps its first occurrence). The caller decides whether a defect fails
// the login (RFC 7143 6.2: a target may answer a malformed negotiation with a Reject or an
// initiator-error status).

import { isUtf8 } from 'node:buffer';

/** RFC 7143 6.1: "key-name ... maximum length of 63 bytes". */
export const MAX_KEY_LENGTH = 63;
/** RFC 7143 6.1 / 13: a simple value is at most 255 bytes. */
export const MAX_VALUE_LENGTH = 255;
/**
 * RFC 7143 6.1 large-binary-value (CHAP_C, CHAP_R): up to 8192 bytes of binary, written as hex
 * ("0x" + 2 chars per byte) or base64 ("0b" + 4 chars per 3 bytes); hex is the longer form.
 */
export const MAX_BINARY_VALUE_LENGTH = 2 + 8192 * 2;
/**
 * Upper bound on one whole negotiation text (all PDUs of a C-bit sequence). RFC 7143 6.6 lets a
 * target cap text it will buffer; 64 KiB is far above what any initiator sends.
 */
export const MAX_TEXT_LENGTH = 65536;

export type TextKeyErrorKind =
  | 'missing-equals' // "key" with no '='
  | 'empty-key'
  | 'bad-key' // characters outside RFC 7143 6.1 standard-label / X- / X# names
  | 'key-too-long'
  | 'value-too-long'
  | 'bad-utf8'
  | 'duplicate'
  | 'unterminated' // the last pair is not followed by NUL
  | 'text-too-long';

export interface TextKeyError {
  kind: TextKeyErrorKind;
  /** The key (or the raw bytes, latin1-decoded, when no key could be read); '' if none. */
  key: string;
}

export interface TextPair {
  key: string;
  value: string;
}

export interface TextParseResult {
  pairs: TextPair[];
  errors: TextKeyError[];
}

/** RFC 7143 6.1 standard-label, plus the vendor forms "X-..." and "X#..." (6.1, 13.17). */
const KEY_RE = /^[A-Za-z][A-Za-z0-9.\-+@_#]*$/;

function isBinaryEncoded(value: string): boolean {
  const p = value.slice(0, 2);
  return p === '0x' || p === '0X' || p === '0b' || p === '0B';
}

/**
 * Parses `key=value\0` pairs. Empty entries (consecutive NULs, trailing padding that slipped
 * into the length) are skipped silently: they carry nothing.
 */
export function parseText(data: Buffer): TextParseResult {
  const pairs: TextPair[] = [];
  const errors: TextKeyError[] = [];
  if (data.length > MAX_TEXT_LENGTH) {
    errors.push({ kind: 'text-too-long', key: '' });
    return { pairs, errors };
  }
  const seen = new Set<string>();
  let pos = 0;
  while (pos < data.length) {
    let end = data.indexOf(0, pos);
    const terminated = end >= 0;
    if (!terminated) end = data.length;
    if (end === pos) {
      pos++;
      continue;
    }
    const entry = data.subarray(pos, end);
    pos = end + 1;
    const eq = entry.indexOf(0x3d); // '='
    if (eq < 0) {
      errors.push({ kind: terminated ? 'missing-equals' : 'unterminated', key: entry.toString('latin1').slice(0, 64) });
      continue;
    }
    if (!isUtf8(entry)) {
      errors.push({ kind: 'bad-utf8', key: entry.subarray(0, eq).toString('latin1').slice(0, 64) });
      continue;
    }
    const key = entry.toString('utf8', 0, eq);
    const value = entry.toString('utf8', eq + 1);
    if (!terminated) {
      errors.push({ kind: 'unterminated', key });
      continue;
    }
    if (key.length === 0) {
      errors.push({ kind: 'empty-key', key });
      continue;
    }
    if (eq > MAX_KEY_LENGTH) {
      errors.push({ kind: 'key-too-long', key: key.slice(0, 64) });
      continue;
    }
    if (!KEY_RE.test(key)) {
      errors.push({ kind: 'bad-key', key });
      continue;
    }
    const vlen = entry.length - eq - 1;
    if (vlen > (isBinaryEncoded(value) ? MAX_BINARY_VALUE_LENGTH : MAX_VALUE_LENGTH)) {
      errors.push({ kind: 'value-too-long', key });
      continue;
    }
    if (seen.has(key)) {
      errors.push({ kind: 'duplicate', key });
      continue;
    }
    seen.add(key);
    pairs.push({ key, value });
  }
  return { pairs, errors };
}

/** Encodes pairs as `key=value\0...` (RFC 7143 6.1). */
export function encodeText(pairs: ReadonlyArray<readonly [string, string]> | readonly TextPair[]): Buffer {
  const parts: string[] = [];
  for (const p of pairs) {
    if (Array.isArray(p)) parts.push(`${p[0]}=${p[1]}\0`);
    else {
      const tp = p as TextPair;
      parts.push(`${tp.key}=${tp.value}\0`);
    }
  }
  return Buffer.from(parts.join(''), 'utf8');
}

/** Accumulates response keys in order; `toBuffer()` encodes them. */
export class TextWriter {
  private readonly parts: string[] = [];

  add(key: string, value: string): void {
    this.parts.push(`${key}=${value}\0`);
  }

  get empty(): boolean {
    return this.parts.length === 0;
  }

  /** Whether a key has already been written (e.g. to avoid answering one twice). */
  has(key: string): boolean {
    const prefix = `${key}=`;
    return this.parts.some((p) => p.startsWith(prefix));
  }

  toBuffer(): Buffer {
    return Buffer.from(this.parts.join(''), 'utf8');
  }
}
