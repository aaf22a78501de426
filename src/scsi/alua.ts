// SPC-4 5.16 asymmetric logical unit access: the target port group's state (a leaf; RTPG is spc-alua.ts).

/** SPC-4 6.37 Table 170 ASYMMETRIC ACCESS STATE. */
export const AluaState = {
  ActiveOptimized: 0x0,
  ActiveNonOptimized: 0x1,
  Standby: 0x2,
  Unavailable: 0x3,
  Transitioning: 0xf,
} as const;
export type AluaState = (typeof AluaState)[keyof typeof AluaState];

/** The `--params alua_state=` words (tgtadm --mode target --op update). */
export const ALUA_STATE_NAMES: ReadonlyMap<string, AluaState> = new Map<string, AluaState>([
  ['active_optimized', AluaState.ActiveOptimized],
  ['active_nonoptimized', AluaState.ActiveNonOptimized],
  ['standby', AluaState.Standby],
  ['unavailable', AluaState.Unavailable],
  ['transitioning', AluaState.Transitioning],
]);

/** SPC-4 6.37 STATUS CODE of a target port group descriptor. */
export const AluaStatus = { None: 0x00, AlteredBySet: 0x01, AlteredImplicitly: 0x02 } as const;

/**
 * A target's one target port group (SPC-4 5.16.2): every portal of the target is relative target
 * port 1 in group 1, the designators VPD page 83h reports. Implicit ALUA only (INQUIRY TPGS=01b):
 * the state is the administrator's, set with `tgtadm --mode target --op update --params
 * alua_state=...`; SET TARGET PORT GROUPS is not supported.
 */
export class TargetPortGroup {
  state: AluaState = AluaState.ActiveOptimized;
  status: number = AluaStatus.None;
  readonly id = 1;
  readonly relativePorts: readonly number[] = [1];
}
