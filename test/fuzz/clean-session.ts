// The well-behaved side of the hostile initiator's checks: I_T nexus count from tgtadm, and a clean session that must read back what it wrote.
//
// The clean session logs in normally, clears the unit attentions and any persistent reservation a
// hostile session left on the LU (SPC-4 5.14: registrations outlive their I_T nexus), writes random
// data at random LBAs with WRITE(10) and immediate data, reads every block back with READ(10)
// and compares, then logs out.

import { MiniInitiator, type Pdu } from '../helpers/mini-initiator.js';
import type { RunResult } from '../helpers/daemon.js';
import type { Rand } from './rand.js';

export interface NexusHost {
  tgtadm(...args: string[]): Promise<RunResult>;
}

/** Number of "I_T nexus:" lines of `tgtadm --lld iscsi --mode target --op show`. */
export async function nexusCount(t: NexusHost): Promise<{ count: number; text: string }> {
  const r = await t.tgtadm('--lld', 'iscsi', '--mode', 'target', '--op', 'show');
  if (r.code !== 0) throw new Error(`tgtadm target show exited ${String(r.code)}: ${r.stderr}`);
  return { count: (r.stdout.match(/I_T nexus: /g) ?? []).length, text: r.stdout };
}

interface CleanTarget {
  host: string;
  port: number;
  iqn: string;
  blocks: number;
}

interface Outcome {
  status: number;
  data: Buffer;
  sense: Buffer | null;
}

/** Sends one command and collects Data-In until the status (phase-collapsed or a SCSI Response). */
async function command(m: MiniInitiator, cdb: Buffer, o: { read?: number; write?: Buffer }): Promise<Outcome> {
  const w = o.write;
  const bhs = m.scsiBhs(cdb, { lun: 1, read: o.read !== undefined, write: w !== undefined, edtl: o.read ?? w?.length ?? 0, dataLen: w?.length ?? 0 });
  const itt = bhs.readUInt32BE(16);
  m.send(bhs, w ?? Buffer.alloc(0));
  const data = Buffer.alloc(o.read ?? 0);
  for (;;) {
    const p: Pdu | null = await m.recv(10_000);
    if (p === null) throw new Error(m.closed ? 'connection closed' : 'no answer within 10 s');
    const op = p.bhs[0]! & 0x3f;
    if (p.bhs.readUInt32BE(16) !== itt) continue;
    if (op === 0x25) {
      p.data.copy(data, p.bhs.readUInt32BE(40)); // Buffer Offset
      if ((p.bhs[1]! & 0x01) !== 0) return { status: p.bhs[3]!, data, sense: null }; // S: status in the Data-In
      continue;
    }
    if (op === 0x21) {
      const sense = p.data.length >= 2 ? p.data.subarray(2, 2 + p.data.readUInt16BE(0)) : null;
      return { status: p.bhs[3]!, data, sense };
    }
    if (op === 0x3f) throw new Error(`Reject reason ${p.bhs[2]}`);
  }
}

function senseText(s: Buffer | null): string {
  if (s === null || s.length === 0) return 'no sense';
  if ((s[0]! & 0x7f) >= 0x72) return `key ${s[1]! & 0xf} asc ${s[2]}/${s[3]}`;
  return `key ${s[2]! & 0xf} asc ${s[12]}/${s[13]}`;
}

/** PERSISTENT RESERVE OUT (SPC-4 6.16) with a 24-byte parameter list. */
function prOut(sa: number, key: bigint, saKey: bigint): { cdb: Buffer; data: Buffer } {
  const cdb = Buffer.from([0x5f, sa, 0, 0, 0, 0, 0, 0, 24, 0]); // 5..8 PARAMETER LIST LENGTH
  const data = Buffer.alloc(24);
  data.writeBigUInt64BE(key, 0); // RESERVATION KEY
  data.writeBigUInt64BE(saKey, 8); // SERVICE ACTION RESERVATION KEY
  return { cdb, data };
}

/** null when the clean session worked, else what went wrong. */
export async function cleanSession(t: CleanTarget, r: Rand): Promise<string | null> {
  let m: MiniInitiator;
  try {
    m = await MiniInitiator.connect(t.port, t.host);
  } catch (e) {
    return `connect: ${(e as Error).message}`;
  }
  try {
    m.isid = Buffer.from([0x80, 0xc1, 0xea, r.byte(), r.byte(), r.byte()]);
    m.cmdSN = r.u32();
    await m.login(t.iqn, 'iqn.2026-11.org.stgt.fuzz:clean');
    // Unit attentions from the resets and reservation changes of the round, one per command.
    let st = -1;
    for (let i = 0; i < 16 && st !== 0; i++) st = (await command(m, Buffer.from([0, 0, 0, 0, 0, 0]), {})).status;
    if (st !== 0) return `TEST UNIT READY still not GOOD after 16 tries (status ${st})`;
    // Take over and drop any persistent reservation: REGISTER AND IGNORE EXISTING KEY, then CLEAR.
    const key = 0xc1ea0000n + BigInt(r.int(0xffff));
    const reg = prOut(0x06, 0n, key);
    const a = await command(m, reg.cdb, { write: reg.data });
    if (a.status !== 0) return `PR OUT REGISTER AND IGNORE EXISTING KEY: status ${a.status} ${senseText(a.sense)}`;
    const clr = prOut(0x03, key, 0n);
    const b = await command(m, clr.cdb, { write: clr.data });
    if (b.status !== 0) return `PR OUT CLEAR: status ${b.status} ${senseText(b.sense)}`;
    for (let i = 0; i < 4; i++) {
      const n = r.range(1, 16);
      const lba = r.int(t.blocks - n);
      const cdb = (op: number): Buffer => {
        const c = Buffer.alloc(10);
        c[0] = op;
        c.writeUInt32BE(lba, 2);
        c.writeUInt16BE(n, 7);
        return c;
      };
      const data = r.bytes(n * 512);
      let wr = await command(m, cdb(0x2a), { write: data });
      if (wr.status === 2 && (wr.sense?.[2]! & 0xf) === 6) wr = await command(m, cdb(0x2a), { write: data }); // a late unit attention
      if (wr.status !== 0) return `WRITE(10) lba ${lba} x${n}: status ${wr.status} ${senseText(wr.sense)}`;
      const rd = await command(m, cdb(0x28), { read: n * 512 });
      if (rd.status !== 0) return `READ(10) lba ${lba} x${n}: status ${rd.status} ${senseText(rd.sense)}`;
      if (!rd.data.equals(data)) return `READ(10) lba ${lba} x${n} returned other data than was written`;
    }
    // Logout of the session (reason 0) and its response.
    const lo = Buffer.alloc(48);
    lo[0] = 0x46;
    lo[1] = 0x80;
    lo.writeUInt32BE(m.itt++, 16);
    lo.writeUInt32BE(m.cmdSN, 24);
    lo.writeUInt32BE(m.expStatSN, 28);
    m.send(lo);
    for (;;) {
      const p = await m.recv(10_000);
      if (p === null) return 'no Logout Response';
      if ((p.bhs[0]! & 0x3f) === 0x26) break;
    }
    return null;
  } catch (e) {
    return (e as Error).message;
  } finally {
    m.close();
  }
}
