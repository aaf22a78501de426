// SPC-4 6.x primary commands: TEST UNIT READY, REQUEST SENSE, REPORT LUNS, REPORT SUPPORTED OPERATION CODES, SEND DIAGNOSTIC.
import { parseNoFields, parseReportLuns, parseRequestSense, parseRsoc, parseRstmf, parseSendDiagnostic } from './cdb-fields.js';
import { Op, OpFlag, ServiceAction } from './opcodes.js';
import { availableOn } from './command-table.js';
import type { OpRow } from './command-table.js';
import { Access } from './persistent-reservations.js';
import { aluaRefusal } from './spc-alua.js';
import { Reason, buildSense, fieldPointer, progressIndication } from './sense.js';
import type { SenseReason } from './sense.js';
import type { Cmd } from './command.js';

function testUnitReady(c: Cmd): void {
  c.task.transferLength = 0;
  c.good();
}

/** NO SENSE with no additional sense code (SPC-4 6.39: nothing to report). */
const NO_SENSE: SenseReason = { name: 'NO ADDITIONAL SENSE INFORMATION', key: 0, asc: 0, ascq: 0 };

export function requestSense(c: Cmd): void {
  const p = c.p;
  c.task.transferLength = p.allocLen;
  const lu = c.lu;
  // SPC-4 6.39 / SAM-5 5.14: a pending unit attention is returned as parameter data and cleared.
  let reason: SenseReason = lu ? (lu.ua.take(c.nexus.id) ?? NO_SENSE) : Reason.LunNotSupported;
  // SBC-4 4.11.2: else, while a sanitize runs, its progress; after a failed one, SANITIZE COMMAND FAILED
  const san = lu?.sanitize ?? null;
  if (reason === NO_SENSE && san !== null) {
    const field = san.running ? progressIndication(san.done, san.total) : -1;
    return c.dataIn(buildSense(san.running ? Reason.SanitizeInProgress : Reason.SanitizeFailed, p.desc, -1, field), p.allocLen);
  }
  if (reason === NO_SENSE && lu) reason = aluaRefusal(c.ctx.portGroupOf(c.nexus), 0) ?? NO_SENSE;
  if (lu && reason === NO_SENSE && !lu.online) reason = lu.removable ? Reason.MediumNotPresent : Reason.NotReadyManualIntervention;
  c.dataIn(buildSense(reason, p.desc), p.allocLen);
}

/** SAM-5 4.7: single-level LUN, peripheral device addressing below 256, flat space addressing above. */
export function encodeLun(lun: number, out: Buffer, off: number): void {
  if (lun < 256) {
    out[off] = 0;
    out[off + 1] = lun;
  } else {
    out[off] = 0x40 | ((lun >> 8) & 0x3f);
    out[off + 1] = lun & 0xff;
  }
}

export function reportLuns(c: Cmd): void {
  const p = c.p;
  c.task.transferLength = p.allocLen;
  // SPC-4 6.33: SELECT REPORT 00h all, 01h well known only (we have none), 02h all; SPC-5 10h-12h
  if (p.selectReport > 2 && (p.selectReport < 0x10 || p.selectReport > 0x12)) return c.fail(Reason.InvalidFieldInCdb);
  // SPC-4 6.33: ALLOCATION LENGTH below 16 is an invalid field
  if (p.allocLen < 16) return c.fail(Reason.InvalidFieldInCdb);
  const luns = p.selectReport === 1 || p.selectReport === 0x12 ? [] : c.ctx.sortedLuns();
  // 0..3 LUN LIST LENGTH, 8.. eight-byte LUNs
  const b = Buffer.alloc(8 + 8 * luns.length);
  b.writeUInt32BE(8 * luns.length, 0);
  luns.forEach((lu, i) => encodeLun(lu.lun, b, 8 + 8 * i));
  // SPC-4 6.33: REPORT LUNS clears REPORTED LUNS DATA HAS CHANGED for this nexus
  if (c.lu) c.lu.ua.clear(c.nexus.id, Reason.ReportedLunsChanged);
  c.dataIn(b, p.allocLen);
}

/** Nominal / recommended command timeouts reported by RSOC with RCTD (seconds). */
const NOMINAL_TIMEOUT = 30;
const RECOMMENDED_TIMEOUT = 60;

function timeoutsDescriptor(out: Buffer, off: number): void {
  // SPC-4 6.35.4: 0..1 DESCRIPTOR LENGTH (0Ah), 3 COMMAND SPECIFIC, 4..7 NOMINAL, 8..11 RECOMMENDED
  out.writeUInt16BE(0x0a, off);
  out.writeUInt32BE(NOMINAL_TIMEOUT, off + 4);
  out.writeUInt32BE(RECOMMENDED_TIMEOUT, off + 8);
}

function reportSupportedOpcodes(c: Cmd): void {
  const p = c.p;
  c.task.transferLength = p.allocLen;
  const rctd = p.rctd;
  // the commands of this LU's device type that this LU has: exactly what the engine would run here
  const lu = c.lu!;
  const commands = c.ctx.commandsOf(lu);
  if (p.reportingOptions === 0) {
    // SPC-4 6.35.2 all commands: 0..3 COMMAND DATA LENGTH, then 8-byte descriptors (+12 with CTDP):
    // 0 OPERATION CODE, 2..3 SERVICE ACTION, 5 CTDP(1)|SERVACTV(0), 6..7 CDB LENGTH
    const infos = commands.all.filter((i) => availableOn(i, lu));
    const dlen = rctd ? 20 : 8;
    const b = Buffer.alloc(4 + dlen * infos.length);
    b.writeUInt32BE(dlen * infos.length, 0);
    infos.forEach((info, i) => {
      const o = 4 + dlen * i;
      b[o] = info.usage[0]!;
      if (info.sa >= 0) {
        b.writeUInt16BE(info.sa, o + 2);
        b[o + 5] |= 0x01;
      }
      if (rctd) {
        b[o + 5] |= 0x02;
        timeoutsDescriptor(b, o + 8);
      }
      b.writeUInt16BE(info.cdbLen, o + 6);
    });
    return c.dataIn(b, p.allocLen);
  }
  // one command: 1 (no SA), 2 (with SA), 3 (either, SPC-5). A mismatch between REPORTING OPTIONS
  // and the requested opcode points at CDB byte 2 bit 2 (SPC-4 6.35.1): with the field pointer the
  // initiator can tell "this request is wrong" from "RSOC is not supported" (libiscsi OneCommand).
  const optionsField = fieldPointer(2, 2);
  if (p.reportingOptions > 3) return c.fail(Reason.InvalidFieldInCdb, -1, optionsField);
  const hasSa = commands.saOpcodes.has(p.reqOpcode);
  if (p.reportingOptions === 1 && hasSa) return c.fail(Reason.InvalidFieldInCdb, -1, optionsField);
  if (p.reportingOptions === 2 && !hasSa) return c.fail(Reason.InvalidFieldInCdb, -1, optionsField);
  const info = commands.lookup(p.reqOpcode, p.reqSa & 0x1f);
  const supported = info !== undefined && availableOn(info, lu) && (!hasSa || p.reqSa < 0x20);
  // SPC-4 6.35.3: 1 CTDP(7)|SUPPORT(2:0) (001b not supported, 011b supported), 2..3 CDB SIZE, 4.. CDB USAGE DATA
  const usage = supported ? info!.usage : [];
  const b = Buffer.alloc(4 + usage.length + (rctd && supported ? 12 : 0));
  b[1] = supported ? 0x03 : 0x01;
  b.writeUInt16BE(usage.length, 2);
  usage.forEach((u, i) => (b[4 + i] = u));
  // the SERVICE ACTION field's bits show its own value; the other bits of byte 1 stay the mask
  if (supported && info!.sa >= 0) b[5] = (info!.usage[1]! & 0xe0) | info!.sa;
  if (rctd && supported) {
    b[1] |= 0x80;
    timeoutsDescriptor(b, 4 + usage.length);
  }
  c.dataIn(b, p.allocLen);
}

function sendDiagnostic(c: Cmd): void {
  const p = c.p;
  c.task.transferLength = p.paramLen;
  // SPC-4 6.42: SELFTEST=1 runs the default self-test (nothing to test); then SELF-TEST CODE must be 0
  if (p.selfTest && p.selfTestCode !== 0) return c.fail(Reason.InvalidFieldInCdb);
  if (!p.selfTest && p.selfTestCode === 0 && p.paramLen > 0 && !p.pf) return c.fail(Reason.InvalidFieldInCdb);
  // background/foreground self-test codes (001b, 010b, 101b, 110b) complete at once; 100b abort: nothing runs
  if (p.selfTestCode === 3 || p.selfTestCode === 7) return c.fail(Reason.InvalidFieldInCdb);
  c.good();
}

/**
 * SPC-4 6.36 REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS: what target.ts taskMgmt does. 0 ATS(7)
 * ATSS(6) CACAS(5) CTSS(4) LURS(3) QTS(2) TRS(1: TARGET WARM/COLD RESET) WAKES(0); 1 QAES(2)
 * QTSS(1) ITNRS(0); with REPD=1, 3 ADDITIONAL DATA LENGTH (0Ch) and 4..15 the timeouts (none given).
 */
function reportSupportedTmfs(c: Cmd): void {
  const p = c.p;
  c.task.transferLength = p.allocLen;
  const b = Buffer.alloc(p.repd ? 16 : 4);
  b[0] = 0x80 | 0x40 | 0x10 | 0x08 | 0x04 | 0x02;
  b[1] = 0x04 | 0x02 | 0x01;
  if (p.repd) b[3] = 0x0c;
  c.dataIn(b, p.allocLen);
}

/** What an offline LU, another nexus's SPC-2 reservation, a running sanitize and any ALUA state still answer. */
const ANSWERS_ALWAYS = OpFlag.OfflineOk | OpFlag.Spc2ReservationOk | OpFlag.SanitizeOk | OpFlag.AluaUnavailableOk;

/** REPORT LUNS: the target's LU inventory, whatever the LU it is sent to (a passthrough LU answers it too). */
export const SPC_REPORT_LUNS_ROW: OpRow = { op: Op.ReportLuns, name: 'REPORT LUNS', usage: 'a0 00 ff 00 00 00 ff ff ff ff 00 07', parse: parseReportLuns, exec: reportLuns, access: Access.Always, flags: ANSWERS_ALWAYS | OpFlag.UaExempt | OpFlag.NoLu };

/** SPC-4 commands every device type has, the LUN 0 controller's included. */
export const SPC_MISC_ROWS: readonly OpRow[] = [
  { op: Op.TestUnitReady, name: 'TEST UNIT READY', usage: '00 00 00 00 00 07', parse: parseNoFields, exec: testUnitReady, access: Access.Always, flags: OpFlag.NeedsMedium },
  { op: Op.RequestSense, name: 'REQUEST SENSE', usage: '03 01 00 00 ff 07', parse: parseRequestSense, exec: requestSense, access: Access.Always, flags: ANSWERS_ALWAYS | OpFlag.UaExempt | OpFlag.NoLu },
  // SPC-4 Table 63: SEND DIAGNOSTIC conflicts for every non-holder of a WE or EA reservation
  { op: Op.SendDiagnostic, name: 'SEND DIAGNOSTIC', usage: '1d f7 00 ff ff 07', parse: parseSendDiagnostic, exec: sendDiagnostic, access: Access.Write, flags: OpFlag.AluaStandbyOk },
  SPC_REPORT_LUNS_ROW,
  { op: Op.MaintenanceIn, sa: ServiceAction.ReportSupportedOpcodes, name: 'REPORT SUPPORTED OPERATION CODES', usage: 'a3 0c 87 ff ff ff ff ff ff ff 00 07', parse: parseRsoc, exec: reportSupportedOpcodes, access: Access.Always, flags: ANSWERS_ALWAYS },
  { op: Op.MaintenanceIn, sa: ServiceAction.ReportSupportedTmfs, name: 'REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS', usage: 'a3 0d 80 00 00 00 ff ff ff ff 00 07', parse: parseRstmf, exec: reportSupportedTmfs, access: Access.Always, flags: ANSWERS_ALWAYS },
];
