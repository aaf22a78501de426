// SPC-4 6.37 REPORT TARGET PORT GROUPS: the target port group, its ALUA state and its ports.
import { AluaState, AluaStatus } from './alua.js';
import type { TargetPortGroup } from './alua.js';
import { parseRtpg } from './cdb-fields.js';
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
  const pg = c.ctx.portGroup;
  const header = p.dataFormat === 1 ? 8 : 4;
  const b = Buffer.alloc(header + 8 + 4 * pg.relativePorts.length);
  b.writeUInt32BE(b.length - 4, 0);
  if (p.dataFormat === 1) b[4] = 0x10;
  const d = header;
  b[d] = pg.state;
  b[d + 1] = 0x80 | 0x08 | 0x04 | 0x02 | 0x01;
  b.writeUInt16BE(pg.id, d + 2);
  b[d + 5] = pg.status;
  b[d + 7] = pg.relativePorts.length;
  pg.relativePorts.forEach((rel, i) => b.writeUInt16BE(rel, d + 8 + 4 * i + 2));
  c.dataIn(b, p.allocLen);
}

export const SPC_ALUA_ROWS: readonly OpRow[] = [
  {
    op: Op.MaintenanceIn, sa: ServiceAction.ReportTargetPortGroups, name: 'REPORT TARGET PORT GROUPS',
    usage: 'a3 ea 00 00 00 00 ff ff ff ff 00 07', parse: parseRtpg, exec: reportTargetPortGroups, access: Access.Always,
    flags: OpFlag.AluaUnavailableOk | OpFlag.OfflineOk | OpFlag.Spc2ReservationOk,
  },
];

export { AluaStatus };
