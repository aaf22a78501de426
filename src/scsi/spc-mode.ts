// SPC-4 6.11-6.14 MODE SELECT(6/10) and MODE SENSE(6/10) over the LU's mode pages.
import { parseModeSelect10, parseModeSelect6, parseModeSense10, parseModeSense6 } from './cdb-fields.js';
import { Op, OpFlag } from './opcodes.js';
import type { OpRow } from './command-table.js';
import { Access } from './persistent-reservations.js';
import { Reason, type SenseReason } from './sense.js';
import type { Cmd } from './command.js';

/**
 * MODE SENSE(6/10) parameter data (SPC-4 7.5.4/7.5.5): the header with `dsp` as DEVICE-SPECIFIC
 * PARAMETER, the block descriptor `descriptor(longLba)` writes (8 bytes, 16 with LONGLBA; none with
 * DBD), then the selected pages. A device type with its own block descriptor (a tape) calls this.
 */
export function modeSenseWith(c: Cmd, dsp: number, descriptor: (b: Buffer, longLba: boolean) => void): void {
  const lu = c.lu!;
  const p = c.p;
  const ten = p.opcode === Op.ModeSense10;
  c.task.transferLength = p.allocLen;
  // SPC-4 6.13 / 7.5.7: no page is savable (PS 0, MODE SELECT refuses SP=1), so PC 11b (saved
  // values) is SAVING PARAMETERS NOT SUPPORTED, as tgt answers. Changes last while the LU exists.
  if (p.pc === 3) return c.fail(Reason.SavingParamsNotSupported);
  const pages = lu.modePages.collect(p.pageCode, p.subpage, p.pc);
  if (!pages) return c.fail(Reason.InvalidFieldInCdb);
  const longLba = ten && p.llbaa;
  const bdLen = p.dbd ? 0 : longLba ? 16 : 8;
  const hdrLen = ten ? 8 : 4;
  let pagesLen = 0;
  for (const pg of pages) pagesLen += pg.length;
  const b = Buffer.alloc(hdrLen + bdLen + pagesLen);
  if (ten) {
    // SPC-4 7.5.5: 0..1 MODE DATA LENGTH, 2 MEDIUM TYPE, 3 DEVICE-SPECIFIC, 4 LONGLBA, 6..7 BLOCK DESCRIPTOR LENGTH
    b.writeUInt16BE(b.length - 2, 0);
    b[3] = dsp;
    b[4] = longLba ? 0x01 : 0;
    b.writeUInt16BE(bdLen, 6);
  } else {
    // 0 MODE DATA LENGTH, 1 MEDIUM TYPE, 2 DEVICE-SPECIFIC, 3 BLOCK DESCRIPTOR LENGTH
    b[0] = Math.min(b.length - 1, 0xff);
    b[2] = dsp;
    b[3] = bdLen;
  }
  let off = hdrLen;
  if (bdLen > 0) descriptor(b.subarray(off, off + bdLen), longLba);
  off += bdLen;
  for (const pg of pages) {
    pg.copy(b, off);
    off += pg.length;
  }
  c.dataIn(b, p.allocLen);
}

function modeSense(c: Cmd): void {
  const lu = c.lu!;
  // SBC-4 6.5.2 DEVICE-SPECIFIC PARAMETER: WP(7) | DPOFUA(4)
  const dsp = (lu.writeProtected ? 0x80 : 0) | 0x10;
  // SBC-4 6.5.1 block descriptor: short (8 bytes) or, with LLBAA, long (16 bytes)
  modeSenseWith(c, dsp, (d, longLba) => {
    const n = lu.blocks;
    if (!longLba) {
      // 0..3 NUMBER OF LOGICAL BLOCKS (FFFFFFFFh if larger), 5..7 LOGICAL BLOCK LENGTH
      d.writeUInt32BE(n > 0xffffffff ? 0xffffffff : n, 0);
      d.writeUIntBE(lu.blockSize, 5, 3);
    } else {
      // 0..7 NUMBER OF LOGICAL BLOCKS, 12..15 LOGICAL BLOCK LENGTH
      d.writeUInt32BE(Math.floor(n / 0x100000000), 0);
      d.writeUInt32BE(n >>> 0, 4);
      d.writeUInt32BE(lu.blockSize, 12);
    }
  });
}

/** A MODE SELECT parameter list split at its header and block descriptors. */
export interface ModeSelectList {
  data: Buffer;
  hdrLen: number;
  bdLen: number;
}

/**
 * The checks every MODE SELECT(6/10) makes before its pages (SPC-4 6.11): SP=1 refused (no page is
 * savable), an empty list accepted, header and block descriptor lengths. Returns the list, or null
 * once the command is complete (GOOD for an empty list, or the failure).
 */
export function modeSelectList(c: Cmd, blockDescriptorLengths: readonly number[]): ModeSelectList | null {
  const p = c.p;
  const ten = p.opcode === Op.ModeSelect10;
  c.task.transferLength = p.paramLen;
  /** Completes the command (GOOD when `r` is null) and says there is no list to go on with. */
  const end = (r: SenseReason | null): null => {
    if (r) c.fail(r);
    else c.good();
    return null;
  };
  if (p.sp) return end(Reason.InvalidFieldInCdb);
  if (p.paramLen === 0) return end(null);
  const hdrLen = ten ? 8 : 4;
  if (p.paramLen < hdrLen) return end(Reason.ParamListLengthError);
  const data = c.dataOutFlat(p.paramLen);
  if (!data) return end(Reason.InvalidFieldInIu);
  const bdLen = ten ? data.readUInt16BE(6) : data[3]!;
  if (hdrLen + bdLen > data.length) return end(Reason.ParamListLengthError);
  if (bdLen !== 0 && !blockDescriptorLengths.includes(bdLen)) return end(Reason.InvalidFieldInParamList);
  return { data, hdrLen, bdLen };
}

function modeSelect(c: Cmd): void {
  const lu = c.lu!;
  const list = modeSelectList(c, [8, 16]);
  if (list === null) return;
  const { data, hdrLen, bdLen } = list;
  if (bdLen >= 8) {
    // the block length cannot be changed: it must match or be zero
    const bl = bdLen === 8 ? data.readUIntBE(hdrLen + 5, 3) : data.readUInt32BE(hdrLen + 12);
    if (bl !== 0 && bl !== lu.blockSize) return c.fail(Reason.InvalidFieldInParamList);
  }
  const wceBefore = lu.modePages.wce;
  const res = lu.modePages.select(data.subarray(hdrLen + bdLen));
  if (res.reason) return c.fail(res.reason);
  if (res.changed) {
    // SPC-4 6.11: MODE PARAMETERS CHANGED for every other I_T nexus
    lu.ua.addAll(c.ctx.nexusIds(), Reason.ModeParametersChanged, c.nexus.id);
  }
  if (wceBefore && !lu.modePages.wce) {
    // turning the write cache off: what was cached must reach stable storage now
    lu.dev.flush(c.onFlushDone);
    return;
  }
  c.good();
}

/** SPC-4 Table 63: MODE SELECT conflicts for every non-holder of a WE or EA reservation. */
export const SPC_MODE_ROWS: readonly OpRow[] = [
  { op: Op.ModeSelect6, name: 'MODE SELECT(6)', usage: '15 11 00 00 ff 07', parse: parseModeSelect6, exec: modeSelect, access: Access.Write, flags: OpFlag.AluaStandbyOk },
  { op: Op.ModeSense6, name: 'MODE SENSE(6)', usage: '1a 08 ff ff ff 07', parse: parseModeSense6, exec: modeSense, access: Access.Read, flags: OpFlag.AluaStandbyOk },
  { op: Op.ModeSelect10, name: 'MODE SELECT(10)', usage: '55 11 00 00 00 00 00 ff ff 07', parse: parseModeSelect10, exec: modeSelect, access: Access.Write, flags: OpFlag.AluaStandbyOk },
  { op: Op.ModeSense10, name: 'MODE SENSE(10)', usage: '5a 18 ff ff 00 00 00 ff ff 07', parse: parseModeSense10, exec: modeSense, access: Access.Read, flags: OpFlag.AluaStandbyOk },
];
