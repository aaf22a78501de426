// SPC-4 6.37 REPORT TARGET PORT GROUPS and 6.42 SET TARGET PORT GROUPS: the target port groups, their ALUA states and ports.
import { AluaState, AluaStatus } from './alua.js';
import type { TargetPortGroup } from './alua.js';
import { parseRtpg, parseStpg } from './cdb-fields.js';
import type { OpRow } from './command-table.js';
import type { Cmd } from './command.js';
import { Op, OpFlag, ServiceAction } from './opcodes.js';
import { Access } from './persistent-reservations.js';
import { Reason } from './sense.js';
import type { SenseReason } from './sense.js';

/** SPC-4 5.16.2.4: the sense of a command the state does not allow, or null when it is allowed. */
export function aluaRefusal(pg: TargetPortGroup, flags: number): SenseReason | null {
  switch (pg.state) {
    case AluaState.Standby:
      return (flags & (OpFlag.AluaStandbyOk | OpFlag.AluaUnavailableOk)) !== 0 ? null : Reason.AluaStandby;
    case AluaState.Unavailable:
      return (flags & OpFlag.AluaUnavailableOk) !== 0 ? null : Reason.AluaUnavailable;
    case AluaState.Transitioning:
      return (flags & OpFlag.AluaUnavailableOk) !== 0 ? null : Reason.AluaTransitioning;
    default:
      return null;
  }
}

/**
 * REPORT TARGET PORT GROUPS. PARAMETER DATA FORMAT 000b: 0..3 RETURN DATA LENGTH, then the
 * descriptors; 001b (extended): 4 FORMAT TYPE 001b (bits 6:4), 5 IMPLICIT TRANSITION TIME, then the
 * descriptors. Descriptor: 0 PREF 7 | ASYMMETRIC ACCESS STATE 3:0; 1 T_SUP O_SUP - U_SUP S_SUP AN_SUP
 * AO_SUP (the states an administrator can set); 2..3 TARGET PORT GROUP; 5 STATUS CODE; 7 TARGET
 * PORT COUNT; then 4 bytes per port, 2..3 RELATIVE TARGET PORT IDENTIFIER.
 */
function reportTargetPortGroups(c: Cmd): void {
  const p = c.p;
  c.task.transferLength = p.allocLen;
  if (p.dataFormat > 1) return c.fail(Reason.InvalidFieldInCdb);
  // SPC-4 6.37: ALLOCATION LENGTH below 4 is not an error; the data is cut at it
  const groups = c.ctx.alua.sorted();
  const header = p.dataFormat === 1 ? 8 : 4;
  let len = header;
  for (const g of groups) len += 8 + 4 * g.relativePorts.length;
  const b = Buffer.alloc(len);
  b.writeUInt32BE(b.length - 4, 0);
  if (p.dataFormat === 1) b[4] = 0x10;
  let d = header;
  for (const g of groups) {
    b[d] = g.state;
    b[d + 1] = 0x80 | 0x08 | 0x04 | 0x02 | 0x01;
    b.writeUInt16BE(g.id, d + 2);
    b[d + 5] = g.status;
    b[d + 7] = g.relativePorts.length;
    g.relativePorts.forEach((rel, i) => b.writeUInt16BE(rel, d + 8 + 4 * i + 2));
    d += 8 + 4 * g.relativePorts.length;
  }
  c.dataIn(b, p.allocLen);
}

/** SPC-4 6.42: the states SET TARGET PORT GROUPS may ask for (not transitioning, not offline). */
const SETTABLE: ReadonlySet<number> = new Set([AluaState.ActiveOptimized, AluaState.ActiveNonOptimized, AluaState.Standby, AluaState.Unavailable]);

/**
 * SET TARGET PORT GROUPS (explicit ALUA, only with `alua_explicit=1`: else, as LIO, INVALID
 * COMMAND OPERATION CODE). Parameter list: 0..3 reserved, then 4-byte descriptors: 0 ASYMMETRIC
 * ACCESS STATE 3:0, 2..3 TARGET PORT GROUP. Every descriptor is checked before any state changes,
 * so a refused list changes nothing.
 */
function setTargetPortGroups(c: Cmd): void {
  const p = c.p;
  c.task.transferLength = p.paramLen;
  const alua = c.ctx.alua;
  if (!alua.explicit) return c.fail(Reason.InvalidOpcode);
  if (p.paramLen === 0) return c.good();
  if (p.paramLen < 4 || (p.paramLen - 4) % 4 !== 0) return c.fail(Reason.ParamListLengthError);
  const data = c.dataOutFlat(p.paramLen);
  if (!data) return c.fail(Reason.InvalidFieldInIu);
  const asks: { id: number; state: AluaState }[] = [];
  for (let o = 4; o < data.length; o += 4) {
    const state = (data[o]! & 0x0f) as AluaState;
    const id = data.readUInt16BE(o + 2);
    // SPC-4 6.42: an unknown group or a state that cannot be set is INVALID FIELD IN PARAMETER LIST
    if (!SETTABLE.has(state) || !alua.groups.has(id)) return c.fail(Reason.InvalidFieldInParamList);
    asks.push({ id, state });
  }
  for (const a of asks) c.ctx.setAluaState(a.state, a.id, c.nexus);
  c.good();
}

export const SPC_ALUA_ROWS: readonly OpRow[] = [
  {
    op: Op.MaintenanceIn, sa: ServiceAction.ReportTargetPortGroups, name: 'REPORT TARGET PORT GROUPS',
    usage: 'a3 ea 00 00 00 00 ff ff ff ff 00 07', parse: parseRtpg, exec: reportTargetPortGroups, access: Access.Always,
    flags: OpFlag.AluaUnavailableOk | OpFlag.OfflineOk | OpFlag.Spc2ReservationOk,
  },
  {
    // SPC-4 Table 63: conflicts for every non-holder of a WE or EA reservation (as MODE SELECT)
    op: Op.MaintenanceOut, sa: ServiceAction.SetTargetPortGroups, name: 'SET TARGET PORT GROUPS',
    usage: 'a4 0a 00 00 00 00 ff ff ff ff 00 07', parse: parseStpg, exec: setTargetPortGroups, access: Access.Write,
    flags: OpFlag.AluaUnavailableOk | OpFlag.OfflineOk,
  },
];

export { AluaStatus };
