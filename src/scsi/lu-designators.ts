// SPC-4 7.8.6 designation descriptors of a logical unit: the ones VPD 83h reports and EXTENDED COPY's identification CSCD descriptors name.
import { builtin } from '../native/builtin.js';
import type { LogicalUnit } from './logical-unit.js';

/** Designation descriptor (SPC-4 7.8.6.1): 0 PROTOCOL IDENTIFIER|CODE SET, 1 PIV|ASSOCIATION|TYPE, 3 LENGTH. */
export function designator(protoCodeSet: number, pivAssocType: number, id: Buffer): Buffer {
  const d = Buffer.alloc(4 + id.length);
  d[0] = protoCodeSet;
  d[1] = pivAssocType;
  d[3] = id.length;
  id.copy(d, 4);
  return d;
}

/**
 * NAA IEEE Registered Extended would need an OUI; a locally assigned NAA (3h, SPC-4 7.8.6.6.5)
 * derived from the target name and the LU's SCSI ID is unique and stable across restarts.
 */
function naaLocal(targetName: string, lu: LogicalUnit): Buffer {
  const h = builtin<typeof import('node:crypto')>('node:crypto').createHash('sha1').update(targetName).update('\0').update(lu.scsiId).update('\0').update(String(lu.lun)).digest();
  const b = h.subarray(0, 8);
  b[0] = 0x30 | (b[0]! & 0x0f);
  return Buffer.from(b);
}

/** The designators with association 00b (the logical unit) of `lu` in target `targetName`, in VPD 83h order. */
export function luDesignators(targetName: string, lu: LogicalUnit): Buffer[] {
  return [
    // T10 vendor ID based (type 1, ASCII, LU): T10 VENDOR IDENTIFICATION + vendor specific (the SCSI ID)
    designator(0x02, 0x01, Buffer.from(lu.vendorField + lu.scsiId, 'latin1')),
    // NAA (type 3, binary, LU)
    designator(0x01, 0x03, naaLocal(targetName, lu)),
  ];
}

/**
 * Whether designation descriptor `d` (4-byte header and identifier) names the same thing as `mine`:
 * CODE SET, ASSOCIATION, DESIGNATOR TYPE and the identifier agree. PROTOCOL IDENTIFIER and PIV are
 * not compared: they qualify target port designators only (SPC-4 7.8.6.1), and sg_xcopy clears them.
 */
export function sameDesignator(d: Buffer, mine: Buffer): boolean {
  if (d.length < 4 || (d[0]! & 0x0f) !== (mine[0]! & 0x0f) || (d[1]! & 0x3f) !== (mine[1]! & 0x3f)) return false;
  const len = d[3]!;
  return len === mine[3] && d.length >= 4 + len && d.subarray(4, 4 + len).equals(mine.subarray(4, 4 + len));
}
