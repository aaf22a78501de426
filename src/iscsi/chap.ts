// RFC 7143 12.1.3 CHAP (RFC 1994) for iSCSI: digest algorithms, binary value encodings, one-way and mutual authentication.
//
// Response = H(CHAP_I as one byte || secret || challenge) (RFC 1994 4.1). CHAP_A numbers are the
// IANA "PPP Authentication Algorithms" registry used by RFC 7143 12.1.3: 5 MD5, 6 SHA-1,
// 7 SHA-256, 8 SHA3-256 (tgt 1.0.85 calls SHA-1 "7": we follow IANA, as open-iscsi does).

import { builtin } from '../native/builtin.js';

/** node:crypto, loaded at the first CHAP login: most daemons never need it. */
const crypto = (): typeof import('node:crypto') => builtin<typeof import('node:crypto')>('node:crypto');

export interface ChapAlgorithm {
  /** CHAP_A value. */
  readonly id: number;
  /** node:crypto hash name. */
  readonly hash: string;
  /** Digest (and challenge) length in bytes. */
  readonly length: number;
}

export const CHAP_ALGORITHMS: ReadonlyMap<number, ChapAlgorithm> = new Map([
  [5, { id: 5, hash: 'md5', length: 16 }],
  [6, { id: 6, hash: 'sha1', length: 20 }],
  [7, { id: 7, hash: 'sha256', length: 32 }],
  [8, { id: 8, hash: 'sha3-256', length: 32 }],
]);

/** RFC 7143 12.1.3: an initiator's challenge longer than this is refused (as tgt does, 1024 bytes). */
export const MAX_CHALLENGE_LENGTH = 1024;

/**
 * Picks the first algorithm of the initiator's CHAP_A list that we support (RFC 7143 12.1.3:
 * "the target MUST answer with the first of the offered algorithms it supports"), or null.
 */
export function chooseAlgorithm(list: string): ChapAlgorithm | null {
  for (const tok of list.split(',')) {
    if (!/^\d{1,3}$/.test(tok)) continue;
    const alg = CHAP_ALGORITHMS.get(Number(tok));
    if (alg !== undefined) return alg;
  }
  return null;
}

/** The CHAP response digest for identifier `id` (0-255), `secret` and `challenge`. */
export function chapResponse(alg: ChapAlgorithm, id: number, secret: string | Buffer, challenge: Buffer): Buffer {
  const h = crypto().createHash(alg.hash);
  h.update(Buffer.of(id & 0xff));
  h.update(typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret);
  h.update(challenge);
  return h.digest();
}

/** Encoding of an RFC 7143 6.1 binary value: "0x" hex or "0b" base64. */
export type BinaryEncoding = 'hex' | 'base64';

/**
 * Decodes a binary value (RFC 7143 6.1 hex-constant "0x..." / base64-constant "0b..."),
 * null if malformed. An odd number of hex digits is allowed: the first nibble is then a
 * leading zero (6.1: "... implied leading 0").
 */
export function decodeBinary(value: string): { bytes: Buffer; encoding: BinaryEncoding } | null {
  if (value.length < 3) return null;
  const prefix = value.slice(0, 2).toLowerCase();
  const body = value.slice(2);
  if (prefix === '0x') {
    if (!/^[0-9a-fA-F]+$/.test(body)) return null;
    const even = body.length % 2 === 1 ? `0${body}` : body;
    return { bytes: Buffer.from(even, 'hex'), encoding: 'hex' };
  }
  if (prefix === '0b') {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body) || body.length % 4 !== 0) return null;
    return { bytes: Buffer.from(body, 'base64'), encoding: 'base64' };
  }
  return null;
}

export function encodeBinary(bytes: Buffer, encoding: BinaryEncoding): string {
  return encoding === 'hex' ? `0x${bytes.toString('hex')}` : `0b${bytes.toString('base64')}`;
}

/** Constant-time comparison of a received response with the expected one. */
export function responsesEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && crypto().timingSafeEqual(a, b);
}

/**
 * The target side of one CHAP exchange. Create it when AuthMethod=CHAP was chosen; call
 * `challenge()` with the initiator's CHAP_A, then `verify()` with its CHAP_N/CHAP_R, then, if it
 * sent CHAP_I/CHAP_C, `answer()` for mutual authentication.
 */
export class ChapTarget {
  alg: ChapAlgorithm | null = null;
  id = 0;
  private ourChallenge: Buffer = Buffer.alloc(0);

  /**
   * Chooses the algorithm and makes a fresh identifier and challenge: the keys to send, or null
   * when no offered algorithm is supported (answer CHAP_A=Reject).
   * `challengeLength` defaults to the digest length (RFC 7143 12.1.3: at least that long).
   */
  challenge(chapA: string, challengeLength?: number): { CHAP_A: string; CHAP_I: string; CHAP_C: string } | null {
    const alg = chooseAlgorithm(chapA);
    if (alg === null) return null;
    this.alg = alg;
    const rnd = crypto().randomBytes(1 + Math.max(alg.length, challengeLength ?? alg.length));
    this.id = rnd[0]!;
    this.ourChallenge = rnd.subarray(1);
    return { CHAP_A: String(alg.id), CHAP_I: String(this.id), CHAP_C: encodeBinary(this.ourChallenge, 'hex') };
  }

  /** The challenge we sent (for tests). */
  get sentChallenge(): Buffer {
    return this.ourChallenge;
  }

  /** Checks the initiator's CHAP_R against `secret`. */
  verify(chapR: string, secret: string): boolean {
    if (this.alg === null) return false;
    const got = decodeBinary(chapR);
    if (got === null || got.bytes.length !== this.alg.length) return false;
    return responsesEqual(got.bytes, chapResponse(this.alg, this.id, secret, this.ourChallenge));
  }

  /**
   * Mutual CHAP: answers the initiator's CHAP_I/CHAP_C with the target's outgoing secret, in the
   * challenge's encoding. Null when the identifier or challenge is malformed, too long, or is
   * our own challenge reflected back (RFC 7143 12.1.3: such a login MUST fail).
   */
  answer(chapI: string, chapC: string, secret: string): string | null {
    if (this.alg === null) return null;
    if (!/^\d{1,3}$/.test(chapI)) return null;
    const id = Number(chapI);
    if (id > 255) return null;
    const c = decodeBinary(chapC);
    if (c === null || c.bytes.length === 0 || c.bytes.length > MAX_CHALLENGE_LENGTH) return null;
    if (c.bytes.equals(this.ourChallenge)) return null;
    return encodeBinary(chapResponse(this.alg, id, secret, c.bytes), c.encoding);
  }
}
