// What the first PDU of a new connection asks for, from the bytes peeked so far: the target of its Login Request (RFC 7143 11.12, 13.4), for `tgtd --workers` routing (docs/multicore.md).
//
// The leading Login Request of a normal session must carry TargetName (RFC 7143 13.4); a discovery
// session says SessionType=Discovery and names no target. A connection whose first PDU is not a
// Login Request, or announces more than the 8192 bytes a login PDU may carry (RFC 7143 6.3), is
// malformed and closed before any worker sees it. Pure: no I/O, never throws.
import { BHS_LENGTH, dataSegmentLength, Op, opcode, padded, totalAHSLength } from '../../iscsi/pdu.js';
import { parseText } from '../../iscsi/text-keys.js';
import { LOGIN_SEGMENT } from '../../iscsi/login.js';

/** Bytes a peek must be able to hold: BHS, the largest AHS (255 words) and a full login data segment. */
export const FIRST_PDU_MAX = BHS_LENGTH + 255 * 4 + LOGIN_SEGMENT;

export type FirstLogin =
  /** Not all of the PDU has arrived: `need` bytes make it whole. */
  | { kind: 'need'; need: number }
  | { kind: 'malformed'; why: string }
  /** A discovery session, or a login that names no target: the main thread answers it as before. */
  | { kind: 'local' }
  | { kind: 'target'; targetName: string };

export function scanFirstLogin(b: Buffer): FirstLogin {
  if (b.length < BHS_LENGTH) return { kind: 'need', need: BHS_LENGTH };
  if (opcode(b) !== Op.Login) return { kind: 'malformed', why: `first PDU has opcode 0x${opcode(b).toString(16)}, not a Login Request` };
  const dsl = dataSegmentLength(b);
  if (dsl > LOGIN_SEGMENT) return { kind: 'malformed', why: `first Login Request announces ${dsl} bytes of data (at most ${LOGIN_SEGMENT})` };
  const start = BHS_LENGTH + totalAHSLength(b);
  const end = start + padded(dsl);
  if (b.length < end) return { kind: 'need', need: end };
  let sessionType = 'Normal';
  let targetName: string | null = null;
  // Keys with errors (no '=', bad UTF-8) are the login engine's to refuse; only these two matter here.
  for (const p of parseText(b.subarray(start, start + dsl)).pairs) {
    if (p.key === 'SessionType') sessionType = p.value;
    else if (p.key === 'TargetName') targetName = p.value;
  }
  if (sessionType === 'Discovery') return { kind: 'local' };
  if (targetName !== null) return { kind: 'target', targetName };
  // No TargetName: the login engine refuses a normal session without one. It may also come in the
  // next PDU of a text split with C=1 (RFC 7143 11.12.2), which cannot be seen without consuming
  // bytes: either way the main thread answers, as it does without workers.
  return { kind: 'local' };
}
