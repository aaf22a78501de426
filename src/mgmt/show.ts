// tgtadm `show` text, byte for byte as tgt prints it (tgt-compat.md A4 / §1.4): 4-space indent unit.

/** What the target show needs of a logical unit (structurally satisfied by scsi/LogicalUnit). */
export interface LuView {
  readonly lun: number;
  readonly typeName: string;
  readonly scsiId: string;
  readonly scsiSn: string;
  readonly size: number;
  /** tgt's `1 << blk_shift`. */
  readonly shownBlockSize: number;
  readonly online: boolean;
  readonly removable: boolean;
  readonly preventRemoval: boolean;
  readonly readonly: boolean;
  readonly swp: boolean;
  readonly thinProvisioning: boolean;
  readonly bsName: string;
  readonly path: string | null;
  readonly oflags: { sync: boolean; direct: boolean };
}

export interface TargetView {
  readonly tid: number;
  readonly name: string;
  readonly lldName: string;
  readonly state: string;
  readonly aclAddresses: readonly string[];
  readonly aclNames: readonly string[];
  readonly accounts: { readonly incoming: readonly string[]; readonly outgoing: string | null };
  sortedLuns(): readonly LuView[];
  /** stgt's ALUA settings (scsi/alua.ts AluaGroups); absent for a view without them. */
  readonly alua?: AluaView;
}

/** What the show needs of a target's ALUA port groups (structurally satisfied by scsi/AluaGroups). */
export interface AluaView {
  readonly explicit: boolean;
  sorted(): readonly { readonly id: number; readonly state: AluaState; readonly status: number }[];
}

import { ALUA_STATE_NAMES, AluaState, AluaStatus, DEFAULT_PORT_GROUP } from '../scsi/alua.js';

const T1 = '    ';
const T2 = T1 + T1;
const T3 = T2 + T1;

/** tgt's print_disksize(): an odd "MB" that is neither MiB nor 10^6 (64 MiB prints 67, 1 GiB prints 1074). */
export function tgtDiskSizeMb(bytes: number): number {
  const sectors = Math.floor(bytes / 512);
  return Math.floor((sectors - (Math.floor(sectors / 625) - 974)) / 1950);
}

/** open_flags_to_str(): "", "sync", "direct" or "sync:direct". */
export function oflagsText(f: { sync: boolean; direct: boolean }): string {
  const parts: string[] = [];
  if (f.sync) parts.push('sync');
  if (f.direct) parts.push('direct');
  return parts.join(':');
}

const yesNo = (b: boolean): string => (b ? 'Yes' : 'No');

export function showLu(lu: LuView): string {
  return (
    `${T2}LUN: ${lu.lun}\n` +
    `${T3}Type: ${lu.typeName}\n` +
    `${T3}SCSI ID: ${lu.scsiId}\n` +
    `${T3}SCSI SN: ${lu.scsiSn}\n` +
    `${T3}Size: ${tgtDiskSizeMb(lu.size)} MB, Block size: ${lu.shownBlockSize}\n` +
    `${T3}Online: ${yesNo(lu.online)}\n` +
    `${T3}Removable media: ${yesNo(lu.removable)}\n` +
    `${T3}Prevent removal: ${yesNo(lu.preventRemoval)}\n` +
    `${T3}Readonly: ${yesNo(lu.readonly)}\n` +
    `${T3}SWP: ${yesNo(lu.swp)}\n` +
    `${T3}Thin-provisioning: ${yesNo(lu.thinProvisioning)}\n` +
    `${T3}Backing store type: ${lu.bsName}\n` +
    `${T3}Backing store path: ${lu.path ?? 'None'}\n` +
    `${T3}Backing store flags: ${oflagsText(lu.oflags)}\n`
  );
}

export interface TargetShowExtras {
  /** LLD lines after "State:" (e.g. "        Nop interval: 5\n"). */
  systemLines: string;
  /** LLD lines of the I_T nexus block, indented at 8 spaces. */
  nexusLines: string;
  /** Print "Account information:" (iscsi and iser do). */
  showAccounts: boolean;
}

const ALUA_WORDS = new Map([...ALUA_STATE_NAMES].map(([w, st]) => [st, w]));

/**
 * stgt's lines under "System information:" for a target whose ALUA is not the default (explicit,
 * a second group, or a state other than active/optimized); none otherwise, so a target that does
 * not use ALUA shows exactly what tgt shows. One line per group: its `alua_state` word, and who
 * set it when it was changed ("tgtadm", or "SET TARGET PORT GROUPS" from an initiator).
 */
export function aluaLines(a: AluaView | undefined): string {
  if (a === undefined) return '';
  const groups = a.sorted();
  const plain = !a.explicit && groups.length === 1 && groups[0]!.id === DEFAULT_PORT_GROUP && groups[0]!.state === AluaState.ActiveOptimized;
  if (plain) return '';
  let s = `${T2}ALUA: ${a.explicit ? 'explicit' : 'implicit'}\n`;
  for (const g of groups) {
    const by = g.status === AluaStatus.AlteredBySet ? ' (SET TARGET PORT GROUPS)' : g.status === AluaStatus.AlteredImplicitly ? ' (tgtadm)' : '';
    s += `${T2}ALUA group ${g.id}: ${ALUA_WORDS.get(g.state) ?? g.state}${by}\n`;
  }
  return s;
}

/** One "Target N: IQN" block of `tgtadm --mode target --op show`. */
export function showTarget(t: TargetView, x: TargetShowExtras): string {
  let s = `Target ${t.tid}: ${t.name}\n`;
  s += `${T1}System information:\n${T2}Driver: ${t.lldName}\n${T2}State: ${t.state}\n`;
  s += x.systemLines;
  s += aluaLines(t.alua);
  s += `${T1}I_T nexus information:\n` + x.nexusLines;
  s += `${T1}LUN information:\n`;
  for (const lu of t.sortedLuns()) s += showLu(lu);
  if (x.showAccounts) {
    s += `${T1}Account information:\n`;
    for (const u of t.accounts.incoming) if (u !== '') s += `${T2}${u}\n`; // '' = freed slot
    if (t.accounts.outgoing !== null) s += `${T2}${t.accounts.outgoing} (outgoing)\n`;
  }
  s += `${T1}ACL information:\n`;
  for (const a of t.aclAddresses) s += `${T2}${a}\n`;
  for (const n of t.aclNames) s += `${T2}${n}\n`;
  return s;
}
