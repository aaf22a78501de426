// SPC-4 / SBC-4 operation codes: the sparse named table (name, CDB length, CDB usage mask for RSOC).

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
  SyncCache10: 0x35,
  WriteSame10: 0x41,
  Unmap: 0x42,
  ModeSelect10: 0x55,
  Reserve10: 0x56,
  Release10: 0x57,
  ModeSense10: 0x5a,
  PrIn: 0x5e,
  PrOut: 0x5f,
  Read16: 0x88,
  CompareAndWrite: 0x89,
  Write16: 0x8a,
  OrWrite16: 0x8b,
  WriteAndVerify16: 0x8e,
  Verify16: 0x8f,
  PreFetch16: 0x90,
  SyncCache16: 0x91,
  WriteSame16: 0x93,
  ServiceActionIn16: 0x9e,
  ReportLuns: 0xa0,
  MaintenanceIn: 0xa3,
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
  ReportSupportedOpcodes: 0x0c,
  ReportSupportedTmfs: 0x0d,
} as const;

export interface OpInfo {
  readonly name: string;
  readonly cdbLen: number;
  /** Service action for opcodes that have one in byte 1 bits 4:0, else -1. */
  readonly sa: number;
  /** SPC-4 6.35.3 CDB USAGE DATA: bits the device server examines, byte by byte (byte 0 = opcode). */
  readonly usage: readonly number[];
  /** Allowed on the LUN 0 controller (SCC) as well as on disks. */
  readonly controller: boolean;
}

function op(name: string, usageHex: string, controller = false, sa = -1): OpInfo {
  const usage = usageHex.split(' ').map((h) => parseInt(h, 16));
  return { name, cdbLen: usage.length, sa, usage, controller };
}

/**
 * Sparse table keyed by opcode (or opcode<<8|sa for service-action opcodes). The usage masks follow
 * the CDB layouts of SBC-4 / SPC-4 for the fields this engine honours.
 */
export const OPCODES: ReadonlyMap<number, OpInfo> = new Map<number, OpInfo>([
  [Op.TestUnitReady, op('TEST UNIT READY', '00 00 00 00 00 07', true)],
  [Op.RequestSense, op('REQUEST SENSE', '03 01 00 00 ff 07', true)],
  [Op.FormatUnit, op('FORMAT UNIT', '04 ff 00 00 00 07')],
  [Op.Read6, op('READ(6)', '08 1f ff ff ff 07')],
  [Op.Write6, op('WRITE(6)', '0a 1f ff ff ff 07')],
  [Op.Inquiry, op('INQUIRY', '12 01 ff ff ff 07', true)],
  [Op.ModeSelect6, op('MODE SELECT(6)', '15 11 00 00 ff 07')],
  [Op.Reserve6, op('RESERVE(6)', '16 00 00 00 00 07')],
  [Op.Release6, op('RELEASE(6)', '17 00 00 00 00 07')],
  [Op.ModeSense6, op('MODE SENSE(6)', '1a 08 ff ff ff 07')],
  [Op.StartStopUnit, op('START STOP UNIT', '1b 01 00 0f f7 07')],
  [Op.SendDiagnostic, op('SEND DIAGNOSTIC', '1d f7 00 ff ff 07', true)],
  [Op.PreventAllow, op('PREVENT ALLOW MEDIUM REMOVAL', '1e 00 00 00 03 07')],
  [Op.ReadCapacity10, op('READ CAPACITY(10)', '25 00 ff ff ff ff 00 00 01 07')],
  [Op.Read10, op('READ(10)', '28 fa ff ff ff ff 1f ff ff 07')],
  [Op.Write10, op('WRITE(10)', '2a fa ff ff ff ff 1f ff ff 07')],
  [Op.WriteAndVerify10, op('WRITE AND VERIFY(10)', '2e f2 ff ff ff ff 1f ff ff 07')],
  [Op.Verify10, op('VERIFY(10)', '2f f6 ff ff ff ff 1f ff ff 07')],
  [Op.ReadDefectData10, op('READ DEFECT DATA(10)', '37 00 1f 00 00 00 00 ff ff 07')],
  [Op.PreFetch10, op('PRE-FETCH(10)', '34 02 ff ff ff ff 1f ff ff 07')],
  [Op.SyncCache10, op('SYNCHRONIZE CACHE(10)', '35 06 ff ff ff ff 1f ff ff 07')],
  [Op.WriteSame10, op('WRITE SAME(10)', '41 ec ff ff ff ff 1f ff ff 07')],
  [Op.Unmap, op('UNMAP', '42 01 00 00 00 00 1f ff ff 07')],
  [Op.ModeSelect10, op('MODE SELECT(10)', '55 11 00 00 00 00 00 ff ff 07')],
  [Op.Reserve10, op('RESERVE(10)', '56 00 00 00 00 00 00 00 00 07')],
  [Op.Release10, op('RELEASE(10)', '57 00 00 00 00 00 00 00 00 07')],
  [Op.ModeSense10, op('MODE SENSE(10)', '5a 18 ff ff 00 00 00 ff ff 07')],
  [(Op.PrIn << 8) | 0, op('PERSISTENT RESERVE IN / READ KEYS', '5e 1f 00 00 00 00 00 ff ff 07', false, 0)],
  [(Op.PrIn << 8) | 1, op('PERSISTENT RESERVE IN / READ RESERVATION', '5e 1f 00 00 00 00 00 ff ff 07', false, 1)],
  [(Op.PrIn << 8) | 2, op('PERSISTENT RESERVE IN / REPORT CAPABILITIES', '5e 1f 00 00 00 00 00 ff ff 07', false, 2)],
  [(Op.PrIn << 8) | 3, op('PERSISTENT RESERVE IN / READ FULL STATUS', '5e 1f 00 00 00 00 00 ff ff 07', false, 3)],
  ...[0, 1, 2, 3, 4, 5, 6, 7].map(
    (sa) => [(Op.PrOut << 8) | sa, op('PERSISTENT RESERVE OUT', '5f 1f ff 00 00 ff ff ff ff 07', false, sa)] as [number, OpInfo],
  ),
  [Op.Read16, op('READ(16)', '88 fa ff ff ff ff ff ff ff ff ff ff ff ff 1f 07')],
  [Op.CompareAndWrite, op('COMPARE AND WRITE', '89 fa ff ff ff ff ff ff ff ff 00 00 00 ff 1f 07')],
  [Op.Write16, op('WRITE(16)', '8a fa ff ff ff ff ff ff ff ff ff ff ff ff 1f 07')],
  [Op.OrWrite16, op('ORWRITE(16)', '8b fa ff ff ff ff ff ff ff ff ff ff ff ff 1f 07')],
  [Op.WriteAndVerify16, op('WRITE AND VERIFY(16)', '8e f2 ff ff ff ff ff ff ff ff ff ff ff ff 1f 07')],
  [Op.Verify16, op('VERIFY(16)', '8f f6 ff ff ff ff ff ff ff ff ff ff ff ff 1f 07')],
  [Op.PreFetch16, op('PRE-FETCH(16)', '90 02 ff ff ff ff ff ff ff ff ff ff ff ff 1f 07')],
  [Op.SyncCache16, op('SYNCHRONIZE CACHE(16)', '91 06 ff ff ff ff ff ff ff ff ff ff ff ff 1f 07')],
  [Op.WriteSame16, op('WRITE SAME(16)', '93 ed ff ff ff ff ff ff ff ff ff ff ff ff 1f 07')],
  [(Op.ServiceActionIn16 << 8) | ServiceAction.ReadCapacity16,
    op('READ CAPACITY(16)', '9e 10 ff ff ff ff ff ff ff ff ff ff ff ff 00 07', false, ServiceAction.ReadCapacity16)],
  [(Op.ServiceActionIn16 << 8) | ServiceAction.GetLbaStatus,
    op('GET LBA STATUS', '9e 12 ff ff ff ff ff ff ff ff ff ff ff ff 00 07', false, ServiceAction.GetLbaStatus)],
  [Op.ReportLuns, op('REPORT LUNS', 'a0 00 ff 00 00 00 ff ff ff ff 00 07', true)],
  [(Op.MaintenanceIn << 8) | ServiceAction.ReportSupportedOpcodes,
    op('REPORT SUPPORTED OPERATION CODES', 'a3 0c 87 ff ff ff ff ff ff ff 00 07', true, ServiceAction.ReportSupportedOpcodes)],
  [Op.Read12, op('READ(12)', 'a8 fa ff ff ff ff ff ff ff ff 1f 07')],
  [Op.Write12, op('WRITE(12)', 'aa fa ff ff ff ff ff ff ff ff 1f 07')],
  [Op.WriteAndVerify12, op('WRITE AND VERIFY(12)', 'ae f2 ff ff ff ff ff ff ff ff 1f 07')],
  [Op.Verify12, op('VERIFY(12)', 'af f6 ff ff ff ff ff ff ff ff 1f 07')],
  [Op.ReadDefectData12, op('READ DEFECT DATA(12)', 'b7 1f ff ff ff ff ff ff ff ff 00 07')],
]);

/** Opcodes whose table key includes a service action (byte 1 bits 4:0). */
export const SA_OPCODES: ReadonlySet<number> = new Set([Op.PrIn, Op.PrOut, Op.ServiceActionIn16, Op.MaintenanceIn]);

/** Table lookup for a CDB's opcode / service action; undefined when unsupported. */
export function lookupOp(opcode: number, sa: number): OpInfo | undefined {
  return SA_OPCODES.has(opcode) ? OPCODES.get((opcode << 8) | sa) : OPCODES.get(opcode);
}
