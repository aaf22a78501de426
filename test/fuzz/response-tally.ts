// Counts what tgtd answers a hostile connection, by target opcode (RFC 7143 11.2.1.2), without keeping any of it.
//
// The target's stream stays well framed whatever we send, so a small framer can step over each
// PDU: it looks at the BHS (TotalAHSLength, DataSegmentLength), adds the digests negotiated for
// the connection and skips the rest. Nothing is copied except a BHS split across two reads.
// NOP-In ITTs are handed out: the hostile initiator's sync pings are answered by them.

import type { Digests } from './initiator-pdus.js';

export const TARGET_OPCODES: Readonly<Record<number, string>> = {
  0x20: 'NOP-In', 0x21: 'SCSI Response', 0x22: 'TMF Response', 0x23: 'Login Response', 0x24: 'Text Response',
  0x25: 'Data-In', 0x26: 'Logout Response', 0x31: 'R2T', 0x32: 'Async Message', 0x3f: 'Reject',
};

/** Totals by opcode over every tallied connection of a run. */
export class Tally {
  readonly byOpcode = new Map<number, number>();
  bytes = 0;

  add(op: number): void {
    this.byOpcode.set(op, (this.byOpcode.get(op) ?? 0) + 1);
  }

  /** "Reject 123, SCSI Response 456, ..." largest first. */
  summary(): string {
    return [...this.byOpcode.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([op, n]) => `${TARGET_OPCODES[op] ?? `0x${op.toString(16)}`} ${n}`)
      .join(', ');
  }
}

/** A 'data' listener for one connection that feeds `tally` and reports the ITT of every NOP-In. */
export function tallyListener(tally: Tally, dig: Digests, onNopIn: (itt: number) => void): (chunk: Buffer) => void {
  const head = Buffer.alloc(48);
  let have = 0; // bytes of the current BHS gathered
  let skip = 0; // bytes of the current PDU after its BHS still to pass over
  return (chunk: Buffer): void => {
    tally.bytes += chunk.length;
    let i = 0;
    while (i < chunk.length) {
      if (skip > 0) {
        const n = Math.min(skip, chunk.length - i);
        skip -= n;
        i += n;
        continue;
      }
      const n = Math.min(48 - have, chunk.length - i);
      chunk.copy(head, have, i, i + n);
      have += n;
      i += n;
      if (have < 48) return;
      have = 0;
      const op = head[0]! & 0x3f;
      tally.add(op);
      if (op === 0x20) onNopIn(head.readUInt32BE(16));
      const dsl = head.readUIntBE(5, 3);
      skip = head[4]! * 4 + (dig.header ? 4 : 0) + ((dsl + 3) & ~3) + (dig.data && dsl > 0 ? 4 : 0);
    }
  };
}
