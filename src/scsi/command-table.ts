// SPC-4 / SBC-4 command table: one row per operation code (or code + service action) holding every fact about it.
import type { CdbParser, ParsedCdb } from './cdb-fields.js';
import type { DeviceIdentity } from './device-type.js';
import type { Handler } from './handler.js';
import type { LogicalUnit } from './logical-unit.js';
import { OpFlag, opKey } from './opcodes.js';
import type { CommandCatalog, OpUsage } from './opcodes.js';
import type { Access } from './persistent-reservations.js';
import { Reason } from './sense.js';
import type { SenseReason } from './sense.js';

/*
 * How commands are described (design.md §6 "sparse named opcode tables"; issue 11 item 1).
 *
 * Every fact about a command lives in its row (`OpRow`): name, CDB USAGE DATA (whose length is the
 * CDB length), the CDB parser, the handler that executes it, its SPC-4 Table 63 access class for
 * persistent reservations, and `OpFlag`s (UA-exempt, allowed offline, allowed under another
 * nexus's SPC-2 reservation, needs the medium, atomic, answered without an LU, an unknown service
 * action is a field error). Rows live beside their handlers, each file exporting its `*_ROWS`
 * (spc-misc.ts, spc-inquiry.ts, spc-mode.ts, spc-reservations.ts, sbc-io.ts, sbc-device.ts,
 * sbc-medium.ts, sbc-provisioning.ts). Nothing else in the engine dispatches on an opcode:
 * Target.execute parses with the LU's CommandSet and then reads only the row.
 *
 * A device type is a set of rows (`DeviceType`, below): an identity (device-type.ts: name,
 * peripheral device type, product id) plus the rows its LUs answer. An opcode a type lacks is
 * INVALID COMMAND OPERATION CODE on its LUs, and REPORT SUPPORTED OPERATION CODES lists exactly
 * its rows. device-types.ts builds the controller (LUN 0: the SPC core rows) and the disk (SPC +
 * SBC rows).
 *
 * Adding a device type (cd/MMC, tape/SSC, changer/SMC):
 *   1. Handlers and rows in new files (mmc-*.ts, ...). Opcodes SPC/SBC already name come from `Op`
 *      (opcodes.ts); a type's own opcodes get a named constant object in its own file. A CDB
 *      layout no parser in cdb-fields.ts decodes gets a new parser there (pure, tested byte for
 *      byte); a field ParsedCdb lacks is added to ParsedCdb and its reset().
 *   2. Per-LU state of the type (tape position, changer slots, ...): a `DeviceState` key made in its
 *      file (device-type.ts); handlers reach it with `lu.state(KEY)`, created on first use.
 *   3. Its identity (`{ name: 'cd', peripheralType: 0x05, productId: ... }`) added to
 *      BUILTIN_IDENTITIES in device-type.ts (so `new LogicalUnit({ deviceType: 'cd' })` finds it),
 *      and `defineDeviceType(CD_IDENTITY, [...SPC_CORE_ROWS, ...the SPC rows it has, ...its rows])`
 *      added to BUILTIN_DEVICE_TYPES in device-types.ts (so every Target runs its commands). A type
 *      outside this tree is given to `new Target({ deviceTypes: [...] })` and its LUs are made
 *      with the DeviceType object itself.
 *   4. command-table.test.ts checks every row of every built-in type (CDB length by group code,
 *      usage bytes, parser, handler, access class, flags) against REPORT SUPPORTED OPERATION CODES.
 *
 * Import direction: handlers import Cmd, Cmd imports LogicalUnit; so the LU knows only its type's
 * identity (a leaf), and the Target maps the type's name to its rows (Target.commandsOf).
 */

/** SPC-4 5.13.1 Table 63 class of a command, or a rule that decides it from the parsed CDB. */
export type AccessRule = Access | ((p: ParsedCdb) => Access);

/** One command's facts, as written in a `*_ROWS` table. */
export interface OpRow {
  readonly op: number;
  /** Service action (CDB byte 1 bits 4:0) for opcodes that have them; absent otherwise. */
  readonly sa?: number;
  readonly name: string;
  /**
   * SPC-4 6.35.3 CDB USAGE DATA as hex bytes ("28 fa ff ..."), one per CDB byte: the bits the
   * device server examines. Its length is the CDB length.
   */
  readonly usage: string;
  readonly parse: CdbParser;
  readonly exec: Handler;
  readonly access: AccessRule;
  /** OpFlag bits (0 for none). */
  readonly flags: number;
  /**
   * For a command only some LUs of the type have (SANITIZE BLOCK ERASE: a thin LU whose store keeps
   * an allocation map): false on an LU that lacks it, which then answers it as a command the type
   * lacks (INVALID COMMAND OPERATION CODE, or INVALID FIELD IN CDB for a BadSaIsFieldError opcode)
   * and leaves it out of REPORT SUPPORTED OPERATION CODES. Absent: every LU has it.
   */
  readonly available?: (lu: LogicalUnit) => boolean;
}

/** A row compiled for lookup: usage bytes and CDB length decoded, service action -1 when none. */
export interface OpInfo extends OpUsage {
  readonly parse: CdbParser;
  readonly exec: Handler;
  readonly access: AccessRule;
}

function compile(r: OpRow): OpInfo {
  const usage = r.usage.split(' ').map((h) => parseInt(h, 16));
  const info: OpInfo = { op: r.op, sa: r.sa ?? -1, name: r.name, cdbLen: usage.length, usage, parse: r.parse, exec: r.exec, access: r.access, flags: r.flags };
  return r.available === undefined ? info : { ...info, available: r.available };
}

/** Whether `lu` has the command of row `info` (OpRow.available). */
export function availableOn(info: OpUsage, lu: LogicalUnit): boolean {
  return info.available === undefined || info.available(lu);
}

/** The commands of one device type: lookup by opcode / service action, CDB parsing, RSOC's list. */
export class CommandSet implements CommandCatalog {
  private readonly byKey = new Map<number, OpInfo>();
  /** Opcodes whose rows carry a service action. */
  readonly saOpcodes: ReadonlySet<number>;
  /** Every command in REPORT SUPPORTED OPERATION CODES order (ascending table key). */
  readonly all: readonly OpInfo[];
  private readonly badSaIsField = new Set<number>();
  /** The row of every command without a row of its own (a passthrough device answers them), or undefined. */
  private readonly otherwise: OpInfo | undefined;

  constructor(rows: readonly OpRow[], otherwise?: OpRow) {
    this.otherwise = otherwise === undefined ? undefined : compile(otherwise);
    const sa = new Set<number>();
    for (const r of rows) {
      const info = compile(r);
      const key = opKey(info.op, info.sa);
      if (this.byKey.has(key)) throw new Error(`command table: ${info.name} (opcode ${info.op}, service action ${info.sa}) given twice`);
      this.byKey.set(key, info);
      if (info.sa >= 0) sa.add(info.op);
      if ((info.flags & OpFlag.BadSaIsFieldError) !== 0) this.badSaIsField.add(info.op);
    }
    for (const r of rows) {
      if (sa.has(r.op) !== (r.sa !== undefined)) throw new Error(`command table: opcode ${r.op} has rows with and without a service action`);
    }
    this.saOpcodes = sa;
    this.all = [...this.byKey.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]);
  }

  /** The row of `opcode` (with service action `sa` when the opcode has them), or undefined. */
  lookup(opcode: number, sa: number): OpInfo | undefined {
    return this.byKey.get(this.saOpcodes.has(opcode) ? (opcode << 8) | sa : opcode) ?? this.otherwise;
  }

  /** The reason a command of `opcode` that is not there (no row, or not available on the LU) is refused with. */
  missing(opcode: number): SenseReason {
    return this.badSaIsField.has(opcode) ? Reason.InvalidFieldInCdb : Reason.InvalidOpcode;
  }

  /**
   * Decodes `c` into `p`. Returns null on success, else the reason: INVALID COMMAND OPERATION CODE
   * for an opcode (or service action) this type lacks, INVALID FIELD IN CDB for an unknown service
   * action of PERSISTENT RESERVE IN/OUT or a CDB shorter than its layout.
   */
  parse(c: Buffer, p: ParsedCdb): SenseReason | null {
    p.reset();
    if (c.length < 6) return Reason.InvalidFieldInCdb;
    const opcode = c[0]!;
    p.opcode = opcode;
    const sa = c[1]! & 0x1f;
    const info = this.lookup(opcode, sa);
    if (!info) return this.missing(opcode);
    p.info = info;
    if (info === this.otherwise) {
      info.parse(c, p); // its handler reads the CDB itself, whatever its length
      return null;
    }
    if (c.length < info.cdbLen) return Reason.InvalidFieldInCdb;
    if (info.sa >= 0) p.sa = sa;
    info.parse(c, p);
    return null;
  }
}

/** The access class of a parsed command for the persistent reservation check. */
export function accessOf(info: OpInfo, p: ParsedCdb): Access {
  return typeof info.access === 'function' ? info.access(p) : info.access;
}

/**
 * What the daemon lends a device type's LUs (a changer moving tapes into the tape drive LUs).
 * Made by the daemon; a test builds its own.
 */
export interface DeviceEnv {
  /** LU `lun` of target `tid`, or undefined. */
  findLu(tid: number, lun: number): LogicalUnit | undefined;
  /** Puts the file at `path` into that LU as its medium (null: takes the medium out); false if it could not. */
  changeMedium(tid: number, lun: number, path: string | null): Promise<boolean>;
}

/** What a device type does to its LUs beyond answering commands (tgt's lu_init / lu_online). */
export interface DeviceTypeHooks {
  /**
   * A new LU of this type, before it joins its target (removable media, mode pages, opening the
   * medium's format); a rejection means the LU cannot be made (tgtadm: invalid request).
   */
  readonly init?: (lu: LogicalUnit, env: DeviceEnv) => void | Promise<void>;
  /** The LU's backing device was replaced (`--params path=`, a changer loading a drive); the same rejection rule. */
  readonly mediumChanged?: (lu: LogicalUnit) => void | Promise<void>;
  /**
   * The row of every command the type has no row for, instead of INVALID COMMAND OPERATION CODE
   * (a passthrough LU hands them to its device). Not listed by REPORT SUPPORTED OPERATION CODES,
   * which then goes to this row too.
   */
  readonly otherwise?: OpRow;
}

/** A device type: its identity and the commands its LUs answer (device-types.ts has the built-in ones). */
export interface DeviceType extends DeviceIdentity, DeviceTypeHooks {
  /** Every command the type answers; anything else is INVALID COMMAND OPERATION CODE on its LUs. */
  readonly rows: readonly OpRow[];
  /** `rows` compiled for lookup and REPORT SUPPORTED OPERATION CODES. */
  readonly commands: CommandSet;
}

/** Compiles a device type; throws on a malformed table (a programming error, found at load). */
export function defineDeviceType(identity: DeviceIdentity, rows: readonly OpRow[], hooks: DeviceTypeHooks = {}): DeviceType {
  return { ...identity, ...hooks, rows, commands: new CommandSet(rows, hooks.otherwise) };
}
