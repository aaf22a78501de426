// SSC-3 commands of the tape device type (tgt's usr/ssc.c + bs_ssc.c): the rows and their handlers over VirtualTape.
//
// The medium is the LU's backing file in tgt's virtual tape format. The drive reports variable
// block mode until MODE SELECT sets a block length (`mt setblk`), as tgt's default descriptor.
import { Status } from './api.js';
import { parseModeSelect10, parseModeSelect6, parseModeSense10, parseModeSense6, parseNoFields, parseReadPosition, parseSpace, parseTapeMotion, parseTapeRw6, parseWriteFilemarks } from './cdb-fields.js';
import type { OpRow } from './command-table.js';
import type { Cmd } from './command.js';
import { DeviceState } from './device-type.js';
import type { LogicalUnit } from './logical-unit.js';
import { Op, OpFlag } from './opcodes.js';
import { Access } from './persistent-reservations.js';
import { SBC_MEDIUM_ROWS } from './sbc-medium.js';
import { modeSelectList, modeSenseWith } from './spc-mode.js';
import { Reason } from './sense.js';
import { VirtualTape, tapeSenseBytes, type TapeSense } from './ssc-tape.js';

/** SSC-3 operation codes beyond SPC's. */
export const SscOp = {
  Rewind: 0x01,
  ReadBlockLimits: 0x05,
  WriteFilemarks6: 0x10,
  Space6: 0x11,
  Erase6: 0x19,
  LoadUnload: 0x1b,
  ReadPosition: 0x34,
} as const;

/** READ BLOCK LIMITS (tgt ssc.c): granularity 2^9... bytes, 4 bytes to 1 MiB in variable mode. */
const GRANULARITY = 9;
const MAX_BLOCK = 1024 * 1024;
const MIN_BLOCK = 4;

interface TapeDrive {
  /** The loaded tape, or null (no medium, or a file that could not be read). */
  tape: VirtualTape | null;
  /** Mode block descriptor BLOCK LENGTH: 0 = variable blocks. */
  blockLength: number;
  density: number;
}

const DRIVE = new DeviceState<TapeDrive>('tape drive', () => ({ tape: null, blockLength: 0, density: 0 }));

/**
 * tgt's SSC mode pages as `mode_page=` strings (ssc.c ssc_lu_init): these and no others (a tape has
 * no Caching page), so MODE SENSE of all pages answers as tgt's.
 */
const SSC_MODE_PAGES = [
  '0:0:0', // vendor specific page 0, empty: "most apps seem to call for mode page 0" (tgt)
  '1:0:10:0:8:0:0:0:0:8:0:0:0', // Read-Write Error Recovery
  '2:0:14:0x80:0x80:0:0xa:0:0:0:0:0:0:0:0:0:0', // Disconnect-Reconnect
  '0x0a:0:10:2:0:0:0:0:0:0:0:2:0', // Control
  '0x0a:1:0x1c:0x04:0x00:0x00', // Control Extension: TCMOS
  '0x1c:0:10:8:0:0:0:0:0:0:0:0:0', // Informational Exceptions Control
  '15:0:14:0:0:0:0:0:0:0:0:0:0:0:0:0:0', // Data Compression
  '16:0:14:0:0:0:128:128:0:0:0:0:0:0:0:0:0', // Device Configuration
  '0x1d:0:0x1e:1:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0', // Medium Configuration
];

/** Opens the LU's tape (if it has a medium); throws when the file is not a tgt virtual tape. */
async function load(lu: LogicalUnit): Promise<void> {
  const d = lu.state(DRIVE);
  d.tape = null;
  if (lu.path === null || !lu.online) return;
  d.tape = await VirtualTape.open(lu.dev);
}

/** A new tape drive LU: removable, tgt's SSC mode pages, the tape opened when there is one. */
export async function setupTapeLu(lu: LogicalUnit): Promise<void> {
  lu.removable = true;
  lu.online = lu.path !== null;
  lu.modePages.remove(0x08, 0);
  for (const page of SSC_MODE_PAGES) lu.modePages.setFromParam(page);
  await load(lu);
}

/** Another tape was put in (tgtadm `path=`, a changer's MOVE MEDIUM), or the drive was emptied. */
export const tapeMediumChanged = load;

/** The tape loaded and ready in a tape drive LU, or null (no medium, unloaded, or not a tape drive): what EXTENDED COPY writes to a stream copy target through. */
export function loadedTape(lu: LogicalUnit): VirtualTape | null {
  return lu.online ? lu.state(DRIVE).tape : null;
}

/** The drive's tape, or null after failing the command with NOT READY (no medium). */
function tapeOf(c: Cmd): VirtualTape | null {
  const lu = c.lu!;
  const t = lu.online ? lu.state(DRIVE).tape : null;
  if (t === null) c.fail(Reason.MediumNotPresent);
  return t;
}

/** Completes a tape command: GOOD, or CHECK CONDITION with the tape sense (and any data moved). */
function complete(c: Cmd, sense: TapeSense | null, data: Buffer | null = null): void {
  if (sense === null) {
    if (data !== null) c.task.dataIn = data;
    return c.good();
  }
  c.task.status = Status.CheckCondition;
  c.task.sense = tapeSenseBytes(sense, c.lu!.descriptorSense);
  c.task.dataIn = data !== null && data.length > 0 ? data : null;
  c.ctx.finish(c);
}

/** Runs a tape operation; a thrown error becomes INTERNAL TARGET FAILURE at this boundary. */
function run(c: Cmd, op: Promise<void>): void {
  op.catch((e: unknown) => c.internalError(e));
}

function rewind(c: Cmd): void {
  c.task.transferLength = 0;
  const t = tapeOf(c);
  if (t) run(c, t.rewind().then((s) => complete(c, s)));
}

function readBlockLimits(c: Cmd): void {
  // The drive's limits, not the current block length (as tgt): an initiator that read 512..512
  // after `mt setblk 512` would refuse any other block length later (Linux st checks its limits).
  c.task.transferLength = 6;
  const b = Buffer.alloc(6);
  b[0] = GRANULARITY; // 0 GRANULARITY
  b.writeUIntBE(MAX_BLOCK, 1, 3); // 1..3 MAXIMUM BLOCK LENGTH LIMIT
  b.writeUInt16BE(MIN_BLOCK, 4); // 4..5 MINIMUM BLOCK LENGTH LIMIT
  c.dataIn(b, 6);
}

function read(c: Cmd): void {
  const p = c.p;
  const d = c.lu!.state(DRIVE);
  c.task.transferLength = p.fixed ? p.count * d.blockLength : p.count;
  // SSC-3 7.x: FIXED with SILI, or FIXED in variable-block mode, is an invalid field.
  if (p.fixed && (p.sili || d.blockLength === 0)) return c.fail(Reason.InvalidFieldInCdb);
  const t = tapeOf(c);
  if (!t) return;
  if (p.count === 0) return c.good();
  if (p.fixed) run(c, t.readFixed(p.count, d.blockLength).then((r) => complete(c, r.sense, r.data)));
  else {
    run(c, t.readVariable(p.count).then((r) => {
      // SILI: an incorrect length that is not an overlength is not reported.
      const s = r.sense !== null && r.sense.ili === true && p.sili && (r.sense.info ?? 0) > 0 ? null : r.sense;
      complete(c, s, r.data);
    }));
  }
}

function write(c: Cmd): void {
  const lu = c.lu!;
  const p = c.p;
  const d = lu.state(DRIVE);
  const len = p.fixed ? p.count * d.blockLength : p.count;
  c.task.transferLength = len;
  if (p.fixed && d.blockLength === 0) return c.fail(Reason.InvalidFieldInCdb);
  if (lu.writeProtected) return c.fail(Reason.WriteProtected);
  const t = tapeOf(c);
  if (!t) return;
  if (p.count === 0) return c.good();
  const data = c.dataOutFlat(len);
  if (data === null) return c.fail(Reason.InvalidFieldInIu);
  const blocks: Buffer[] = [];
  // The data is the transport's, borrowed for the call: the tape writes copies.
  if (p.fixed) for (let o = 0; o < len; o += d.blockLength) blocks.push(Buffer.from(data.subarray(o, o + d.blockLength)));
  else blocks.push(Buffer.from(data));
  c.stats.wrSubmBytes += len;
  c.stats.wrSubmCmds++;
  run(c, t.write(blocks, p.fixed).then((s) => complete(c, s)));
}

function writeFilemarks(c: Cmd): void {
  const lu = c.lu!;
  c.task.transferLength = 0;
  if (c.p.sili) return c.fail(Reason.InvalidFieldInCdb); // setmarks are not supported
  if (lu.writeProtected) return c.fail(Reason.WriteProtected);
  const t = tapeOf(c);
  if (t) run(c, t.writeFilemarks(c.p.count).then((s) => complete(c, s)));
}

function space(c: Cmd): void {
  c.task.transferLength = 0;
  const t = tapeOf(c);
  if (t) run(c, t.space(c.p.format, c.p.count).then((s) => complete(c, s)));
}

function erase(c: Cmd): void {
  const lu = c.lu!;
  c.task.transferLength = 0;
  if (lu.writeProtected) return c.fail(Reason.WriteProtected);
  const t = tapeOf(c);
  if (t) run(c, t.erase().then((s) => complete(c, s)));
}

/** LOAD UNLOAD (SSC-3 7.2): LOAD rewinds a loaded tape and makes it ready; unload rewinds and leaves it not ready. */
function loadUnload(c: Cmd): void {
  const lu = c.lu!;
  c.task.transferLength = 0;
  const d = lu.state(DRIVE);
  if (d.tape === null) return c.fail(Reason.MediumNotPresent);
  if (!c.p.start && lu.preventRemoval) return c.fail(Reason.MediumRemovalPrevented);
  const t = d.tape;
  run(c, t.rewind().then((s) => {
    lu.online = c.p.start;
    complete(c, s);
  }));
}

/** READ POSITION (SSC-3 7.5): short form (service actions 0, 1) and long form (6). */
function readPosition(c: Cmd): void {
  const sa = c.p.format;
  const t = tapeOf(c);
  if (!t) return;
  const pos = t.position();
  if (sa === 0 || sa === 1) {
    const b = Buffer.alloc(20);
    b[0] = (pos.bop ? 0x80 : 0) | (pos.eow ? 0x01 : 0); // 0 BOP | EOP | LOCU | BYCU | LOLU | PERR | BPEW
    b.writeUInt32BE(pos.block, 4); // 4 FIRST LOGICAL OBJECT LOCATION
    b.writeUInt32BE(pos.block, 8); // 8 LAST LOGICAL OBJECT LOCATION
    c.task.transferLength = c.p.allocLen || 20;
    return c.dataIn(b, c.p.allocLen || 20);
  }
  if (sa === 6) {
    // SSC-3 7.5 long form. tgt answers zeros here (bs_ssc.c); the drive knows its file number.
    const b = Buffer.alloc(32);
    b[0] = (pos.bop ? 0x80 : 0) | (pos.eow ? 0x01 : 0); // 0 BOP | EOP | MPU 0 | LONU 0 | BPEW
    // 4 PARTITION NUMBER 0
    b.writeBigUInt64BE(BigInt(pos.block), 8); // 8 LOGICAL OBJECT NUMBER
    b.writeBigUInt64BE(BigInt(pos.file), 16); // 16 LOGICAL FILE IDENTIFIER
    // 24 LOGICAL SET IDENTIFIER 0: tgt's tape format has no setmarks
    c.task.transferLength = c.p.allocLen || 32;
    return c.dataIn(b, c.p.allocLen || 32);
  }
  c.fail(Reason.InvalidFieldInCdb);
}

/** MODE SENSE for a tape: BUFFERED MODE 1, WP, and a block descriptor with the drive's density and block length. */
function modeSense(c: Cmd): void {
  const lu = c.lu!;
  const d = lu.state(DRIVE);
  // SSC-3 8.3.3 DEVICE-SPECIFIC PARAMETER: WP | BUFFERED MODE 001b | SPEED 0
  modeSenseWith(c, (lu.writeProtected ? 0x80 : 0) | 0x10, (b) => {
    b[0] = d.density; // 0 DENSITY CODE; 1..3 NUMBER OF BLOCKS 0
    b.writeUIntBE(d.blockLength, 5, 3); // 5..7 BLOCK LENGTH
  });
}

/** MODE SELECT for a tape: the block descriptor sets the block length (0 = variable) and density; pages as SPC. */
function modeSelect(c: Cmd): void {
  const lu = c.lu!;
  const list = modeSelectList(c, [8]);
  if (list === null) return;
  const { data, hdrLen, bdLen } = list;
  const d = lu.state(DRIVE);
  if (bdLen === 8) {
    const bl = data.readUIntBE(hdrLen + 5, 3);
    if (bl !== 0 && (bl < MIN_BLOCK || bl > MAX_BLOCK)) return c.fail(Reason.InvalidFieldInParamList);
    d.blockLength = bl;
    d.density = data[hdrLen]!;
  }
  if (data.length > hdrLen + bdLen) {
    const res = lu.modePages.select(data.subarray(hdrLen + bdLen));
    if (res.reason) return c.fail(res.reason);
  }
  c.good();
}

const M = OpFlag.NeedsMedium;

/** The tape type's own rows; device-types.ts adds the SPC rows it shares. */
export const SSC_ROWS: readonly OpRow[] = [
  { op: SscOp.Rewind, name: 'REWIND', usage: '01 01 00 00 00 07', parse: parseTapeMotion, exec: rewind, access: Access.Read, flags: M },
  { op: SscOp.ReadBlockLimits, name: 'READ BLOCK LIMITS', usage: '05 00 00 00 00 07', parse: parseNoFields, exec: readBlockLimits, access: Access.Always, flags: 0 },
  { op: Op.Read6, name: 'READ(6)', usage: '08 03 ff ff ff 07', parse: parseTapeRw6, exec: read, access: Access.Read, flags: M },
  { op: Op.Write6, name: 'WRITE(6)', usage: '0a 01 ff ff ff 07', parse: parseTapeRw6, exec: write, access: Access.Write, flags: M },
  { op: SscOp.WriteFilemarks6, name: 'WRITE FILEMARKS(6)', usage: '10 03 ff ff ff 07', parse: parseWriteFilemarks, exec: writeFilemarks, access: Access.Write, flags: M },
  { op: SscOp.Space6, name: 'SPACE(6)', usage: '11 0f ff ff ff 07', parse: parseSpace, exec: space, access: Access.Read, flags: M },
  { op: Op.ModeSelect6, name: 'MODE SELECT(6)', usage: '15 11 00 00 ff 07', parse: parseModeSelect6, exec: modeSelect, access: Access.Write, flags: 0 },
  { op: Op.ModeSense6, name: 'MODE SENSE(6)', usage: '1a 08 ff ff ff 07', parse: parseModeSense6, exec: modeSense, access: Access.Read, flags: 0 },
  { op: SscOp.Erase6, name: 'ERASE(6)', usage: '19 03 00 00 00 07', parse: parseTapeMotion, exec: erase, access: Access.Write, flags: M },
  { op: SscOp.LoadUnload, name: 'LOAD UNLOAD', usage: '1b 01 00 00 0f 07', parse: parseTapeMotion, exec: loadUnload, access: Access.Read, flags: 0 },
  SBC_MEDIUM_ROWS.find((r) => r.op === Op.PreventAllow)!,
  { op: SscOp.ReadPosition, name: 'READ POSITION', usage: '34 1f 00 00 00 00 00 ff ff 07', parse: parseReadPosition, exec: readPosition, access: Access.Read, flags: M },
  { op: Op.ModeSelect10, name: 'MODE SELECT(10)', usage: '55 11 00 00 00 00 00 ff ff 07', parse: parseModeSelect10, exec: modeSelect, access: Access.Write, flags: 0 },
  { op: Op.ModeSense10, name: 'MODE SENSE(10)', usage: '5a 08 ff ff 00 00 00 ff ff 07', parse: parseModeSense10, exec: modeSense, access: Access.Read, flags: 0 },
];
