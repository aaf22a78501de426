// SBC-4 5.25 START STOP UNIT and SPC-4 6.13 PREVENT ALLOW MEDIUM REMOVAL: eject, load and prevention on removable LUs.
import { parsePreventAllow, parseStartStopUnit } from './cdb-fields.js';
import { Op } from './opcodes.js';
import type { OpRow } from './command-table.js';
import { Access } from './persistent-reservations.js';
import { Reason } from './sense.js';
import type { Cmd } from './command.js';

/**
 * START STOP UNIT. With POWER CONDITION other than START_VALID (0h) the START and LOEJ bits are
 * ignored (SBC-4 5.25): power states are accepted and change nothing. LOEJ=1 on a removable LU
 * (`--params removable=1`) ejects (START=0) or loads (START=1) the medium; either is refused with
 * MEDIUM REMOVAL PREVENTED while an I_T nexus prevents removal (SPC-4 6.13; libiscsi
 * PreventAllow.Eject refuses the load too; tgt refuses only the eject). After an eject the LU is
 * offline and its medium commands answer NOT READY / MEDIUM NOT PRESENT (Target.run), as tgt does. START without LOEJ only spins a virtual disk up or
 * down: it stays ready (tgt and libiscsi StartStopUnit.NoLoej); LOEJ on a fixed disk does nothing.
 */
function startStopUnit(c: Cmd): void {
  const lu = c.lu!;
  const p = c.p;
  c.task.transferLength = 0;
  if (p.powerCondition !== 0 || !p.loej || !lu.removable) return c.good();
  if (lu.preventRemoval) return c.fail(Reason.MediumRemovalPrevented);
  // As in tgt, a removable LU's medium is there when the LU is online (`Online:` in tgtadm's show,
  // `--params online=` loads and ejects too). An LU with no backing store has nothing to load.
  if (p.start && lu.size === 0) return c.fail(Reason.MediumNotPresent);
  lu.online = p.start;
  c.good();
}

/**
 * PREVENT ALLOW MEDIUM REMOVAL (SPC-4 6.13): PREVENT 01b prevents removal for this I_T nexus,
 * 00b allows it again; removal stays prevented while any I_T nexus prevents it. The nexus's
 * prevention ends with its I_T nexus loss and with a logical unit or target reset (Target).
 * 10b/11b are obsolete (medium changers): INVALID FIELD IN CDB.
 */
function preventAllow(c: Cmd): void {
  const lu = c.lu!;
  c.task.transferLength = 0;
  if (c.p.prevent > 1) return c.fail(Reason.InvalidFieldInCdb);
  if (c.p.prevent === 1) lu.preventedBy.add(c.nexus.id);
  else lu.preventedBy.delete(c.nexus.id);
  c.good();
}

/**
 * SBC-4's rows of SPC-4 Table 63: PREVENT ALLOW with PREVENT 00b and a START STOP UNIT that only
 * starts (START=1, POWER CONDITION 0h) are allowed under any reservation; a prevent, a stop or an
 * eject conflicts as a write does.
 */
export const SBC_MEDIUM_ROWS: readonly OpRow[] = [
  { op: Op.StartStopUnit, name: 'START STOP UNIT', usage: '1b 01 00 0f f7 07', parse: parseStartStopUnit, exec: startStopUnit, access: (p) => (p.start && p.powerCondition === 0 ? Access.Always : Access.Write), flags: 0 },
  { op: Op.PreventAllow, name: 'PREVENT ALLOW MEDIUM REMOVAL', usage: '1e 00 00 00 03 07', parse: parsePreventAllow, exec: preventAllow, access: (p) => (p.prevent === 0 ? Access.Always : Access.Write), flags: 0 },
];
