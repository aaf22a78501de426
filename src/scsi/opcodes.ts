// SPC-4 / SBC-4 operation codes, row flags and what REPORT SUPPORTED OPERATION CODES needs of a command (a leaf: type imports only).
import type { LogicalUnit } from './logical-unit.js';
// How a command is described and how a device type plugs in: the top of command-table.ts.


/** Operation codes the engine knows (SPC-4 Annex E / SBC-4 Table 19). */
export const Op = {
  TestUnitReady: 0x00,
  RequestSense: 0x03,
  FormatUnit: 0x04,
  Read6: 0x08,
  Write6: 0x0a,
  Inquiry: 0x12,
  ModeSelect6: 0x15,
  Reserve6: 0x16,
  Release6: 0x17,
  ModeSense6: 0x1a,
  StartStopUnit: 0x1b,
  SendDiagnostic: 0x1d,
  PreventAllow: 0x1e,
  ReadCapacity10: 0x25,
  Read10: 0x28,
  Write10: 0x2a,
  WriteAndVerify10: 0x2e,
  Verify10: 0x2f,
  ReadDefectData10: 0x37,
  PreFetch10: 0x34,
  Sanitize: 0x48,
  SyncCache10: 0x35,
  WriteSame10: 0x41,
  Unmap: 0x42,
  ModeSelect10: 0x55,
  Reserve10: 0x56,
  Release10: 0x57,
  ModeSense10: 0x5a,
  PrIn: 0x5e,
  PrOut: 0x5f,
  ExtendedCopy: 0x83,
  ReceiveCopyResults: 0x84,
  Read16: 0x88,
  CompareAndWrite: 0x89,
  Write16: 0x8a,
  OrWrite16: 0x8b,
  WriteAndVerify16: 0x8e,
  Verify16: 0x8f,
  PreFetch16: 0x90,
  SyncCache16: 0x91,
  WriteSame16: 0x93,
  WriteAtomic16: 0x9c,
  ServiceActionIn16: 0x9e,
  ReportLuns: 0xa0,
  MaintenanceIn: 0xa3,
  MaintenanceOut: 0xa4,
  Read12: 0xa8,
  Write12: 0xaa,
  WriteAndVerify12: 0xae,
  Verify12: 0xaf,
  ReadDefectData12: 0xb7,
} as const;

/** Service actions of SERVICE ACTION IN(16) (SBC-4 5.x) and MAINTENANCE IN (SPC-4 6.x). */
export const ServiceAction = {
  ReadCapacity16: 0x10,
  GetLbaStatus: 0x12,
  ReportTargetPortGroups: 0x0a,
  /** SPC-4 6.42 (MAINTENANCE OUT). */
  SetTargetPortGroups: 0x0a,
  ReportSupportedOpcodes: 0x0c,
  ReportSupportedTmfs: 0x0d,
  /** SBC-4 5.30 SANITIZE service actions. */
  SanitizeOverwrite: 0x01,
  SanitizeBlockErase: 0x02,
  SanitizeCryptoErase: 0x03,
  SanitizeExitFailureMode: 0x1f,
  /** SPC-4 6.4 / 6.18 third-party copy: EXTENDED COPY(LID1) and the RECEIVE COPY RESULTS service actions. */
  ExtendedCopyLid1: 0x00,
  CopyStatus: 0x00,
  ReceiveData: 0x01,
  OperatingParameters: 0x03,
  FailedSegmentDetails: 0x04,
} as const;

/** Row flags: facts target.ts consults before running a command. */
export const OpFlag = {
  /** SAM-5 5.14: neither reports nor clears a pending unit attention. */
  UaExempt: 1 << 0,
  /** Answered on an offline (`online=0`), non-removable LU. */
  OfflineOk: 1 << 1,
  /** Runs although another I_T nexus holds an SPC-2 reservation (SPC-2 5.5.1). */
  Spc2ReservationOk: 1 << 2,
  /** Needs the medium: NOT READY / MEDIUM NOT PRESENT on a removable LU whose medium was ejected. */
  NeedsMedium: 1 << 3,
  /** Runs alone in the task set (an atomic read-modify-write). */
  Atomic: 1 << 4,
  /** Answered for a LUN that has no logical unit (SAM-5 5.8: INQUIRY, REPORT LUNS, REQUEST SENSE). */
  NoLu: 1 << 5,
  /** An unknown service action of this opcode is INVALID FIELD IN CDB (SPC-4 6.15/6.16), not an unknown command. */
  BadSaIsFieldError: 1 << 6,
  /** SBC-4 4.11: answered while a sanitize operation runs or has failed (INQUIRY, REPORT LUNS, REQUEST SENSE, RSOC). */
  SanitizeOk: 1 << 7,
  /** Runs in sanitize failure mode, where everything else answers SANITIZE COMMAND FAILED (SANITIZE itself). */
  SanitizeRecovery: 1 << 8,
  /** SPC-4 5.16.2.4.4: runs while the target port group is in the standby state. */
  AluaStandbyOk: 1 << 9,
  /** SPC-4 5.16.2.4.5/6: runs in the unavailable and transitioning states (and so in standby too). */
  AluaUnavailableOk: 1 << 10,
} as const;
/** Every OpFlag bit (the table test refuses others). */
export const ALL_OP_FLAGS = Object.values(OpFlag).reduce((a, b) => a | b, 0);

/** What REPORT SUPPORTED OPERATION CODES and the engine's checks read of a command row (command-table.ts). */
export interface OpUsage {
  readonly op: number;
  /** Service action, or -1 for opcodes without them. */
  readonly sa: number;
  readonly name: string;
  readonly cdbLen: number;
  /** SPC-4 6.35.3 CDB USAGE DATA, one byte per CDB byte. */
  readonly usage: readonly number[];
  /** OpFlag bits. */
  readonly flags: number;
  /** OpRow.available: false on an LU that lacks the command (absent: every LU of the type has it). */
  readonly available?: (lu: LogicalUnit) => boolean;
}

/** The commands of one device type as RSOC sees them (CommandSet in command-table.ts). */
export interface CommandCatalog {
  /** Opcodes whose rows carry a service action. */
  readonly saOpcodes: ReadonlySet<number>;
  /** Every command in REPORT SUPPORTED OPERATION CODES order (ascending table key). */
  readonly all: readonly OpUsage[];
  lookup(opcode: number, sa: number): OpUsage | undefined;
}

/** Table key: the opcode, or opcode << 8 | service action for service-action opcodes. */
export function opKey(opcode: number, sa = -1): number {
  return sa >= 0 ? (opcode << 8) | sa : opcode;
}
