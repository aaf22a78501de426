// Test helpers for persistent reservations: PR OUT parameter lists and CDBs, PR IN readers (SPC-4 6.15, 6.16).
import type { ItNexus, ScsiTask } from '../api.js';
import type { Rig } from './harness.js';
import { parseTransportIds } from '../transport-id.js';

export const K1 = 0x1111n;
export const K2 = 0x2222n;
export const WE = 1;
export const EA = 3;
export const WE_AR = 7;

export function prOutCdb(sa: number, type: number, len: number): number[] {
  // SPC-4 6.16.1: 1 SERVICE ACTION, 2 SCOPE|TYPE, 5..8 PARAMETER LIST LENGTH
  return [0x5f, sa, type, 0, 0, (len >>> 24) & 0xff, (len >>> 16) & 0xff, (len >>> 8) & 0xff, len & 0xff, 0];
}

/** The basic 24-byte parameter list (+ TransportIDs when SPEC_I_PT is set). */
export function param(resKey: bigint, saKey: bigint, flags = 0, tids: Buffer[] = []): Buffer {
  const b = Buffer.alloc(24);
  b.writeBigUInt64BE(resKey, 0);
  b.writeBigUInt64BE(saKey, 8);
  b[20] = flags;
  if ((flags & 0x08) === 0) return b;
  const list = Buffer.concat(tids);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(list.length);
  return Buffer.concat([b, len, list]);
}

/** REGISTER AND MOVE parameter list (SPC-4 6.16.4). */
export function moveParam(resKey: bigint, saKey: bigint, dest: Buffer, o: { unreg?: boolean; aptpl?: boolean; relPort?: number } = {}): Buffer {
  const b = Buffer.alloc(24);
  b.writeBigUInt64BE(resKey, 0);
  b.writeBigUInt64BE(saKey, 8);
  b[17] = (o.unreg ? 2 : 0) | (o.aptpl ? 1 : 0);
  b.writeUInt16BE(o.relPort ?? 1, 18);
  b.writeUInt32BE(dest.length, 20);
  return Buffer.concat([b, dest]);
}

export function out(r: Rig, n: ItNexus, sa: number, p: Buffer, type = 0): Promise<ScsiTask> {
  return r.run(prOutCdb(sa, type, p.length), { n, dataOut: p });
}
export function prIn(r: Rig, sa: number, n: ItNexus = r.i1): Promise<ScsiTask> {
  return r.run([0x5e, sa, 0, 0, 0, 0, 0, 0x10, 0, 0], { n });
}
export async function keys(r: Rig): Promise<bigint[]> {
  const t = await prIn(r, 0);
  const d = t.dataIn!;
  const n = d.readUInt32BE(4) / 8;
  return Array.from({ length: n }, (_, i) => d.readBigUInt64BE(8 + 8 * i));
}
export async function reservation(r: Rig): Promise<[bigint, number] | null> {
  const d = (await prIn(r, 1)).dataIn!;
  return d.readUInt32BE(4) === 0 ? null : [d.readBigUInt64BE(8), d[21]! & 0x0f];
}
export const INVALID_PARAM: [number, number, number] = [0x05, 0x26, 0x00];
export const LENGTH_ERROR: [number, number, number] = [0x05, 0x1a, 0x00];


/** One READ FULL STATUS descriptor (SPC-4 6.15.5). */
export interface FullStatus {
  key: bigint;
  allTgPt: boolean;
  holder: boolean;
  type: number;
  relPort: number;
  port: string;
}

/** READ FULL STATUS from `n`, descriptor by descriptor. */
export async function fullStatus(r: Rig, n: ItNexus): Promise<FullStatus[]> {
  const d = (await r.run([0x5e, 3, 0, 0, 0, 0, 0, 0x10, 0, 0], { n })).dataIn!;
  const outList: FullStatus[] = [];
  for (let off = 8; off < 8 + d.readUInt32BE(4);) {
    const len = d.readUInt32BE(off + 20);
    const ids = parseTransportIds(d.subarray(off + 24, off + 24 + len));
    outList.push({
      key: d.readBigUInt64BE(off),
      allTgPt: (d[off + 12]! & 0x02) !== 0,
      holder: (d[off + 12]! & 0x01) !== 0,
      type: d[off + 13]! & 0x0f,
      relPort: d.readUInt16BE(off + 18),
      port: ids?.[0] ?? '?',
    });
    off += 24 + len;
  }
  return outList;
}
