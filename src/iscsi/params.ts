// RFC 7143 13 (and 12 security, RFC 7145 6 iSER, RFC 7144 2) login/text key table with RFC and tgt target defaults.
//
// One row per key: how its value is typed and negotiated, its scope and phase, the RFC default
// (what holds when the key is never negotiated) and tgt's target default (what the target
// offers / accepts unless the admin changed it with `tgtadm --op update`). Rows with `tgt: true`
// form tgt's per-target table, in tgt's usr/iscsi/param.c order, which is the order of
// `tgtadm --mode target --op show --tid N`.

/**
 * How a key is negotiated (RFC 7143 6.2):
 * - list: responder picks one value from the offered list;
 * - and / or: Boolean, result is the AND / OR of both sides;
 * - min / max: numeric, result is the smaller / larger value;
 * - declarative: each side states its own value, no negotiation.
 */
export type KeyKind = 'list' | 'and' | 'or' | 'min' | 'max' | 'declarative';
/** SW = session-wide, CO = connection-only (RFC 7143 13 "Scope"). */
export type KeyScope = 'SW' | 'CO';
/** LO = leading connection only; IO = initialize only (login); ALL = also in full feature phase; FFPO = only in FFP. */
export type KeyPhase = 'LO' | 'IO' | 'ALL' | 'FFPO';

export interface KeyDef {
  readonly name: string;
  readonly kind: KeyKind;
  readonly scope: KeyScope;
  readonly phase: KeyPhase;
  /** Also limited to the leading connection (RFC 7143 13: "LO" may combine with "IO"). */
  readonly leadingOnly: boolean;
  /** Value assumed when the key is not negotiated (RFC). */
  readonly rfcDefault: string;
  /** Inclusive numeric range (numbers only). */
  readonly min?: number;
  readonly max?: number;
  /** Who may send it: I = initiator, T = target. */
  readonly sender: 'I' | 'T' | 'IT';
  /** Only meaningful on iSER connections (RFC 7145). */
  readonly iser?: boolean;
  /** Security-phase key (RFC 7143 12). */
  readonly security?: boolean;
}

const U24 = 16777215; // 2^24 - 1, RFC 7143 13.12 upper bound of data segment lengths

function k(
  name: string, kind: KeyKind, scope: KeyScope, phase: KeyPhase, leadingOnly: boolean,
  rfcDefault: string, sender: 'I' | 'T' | 'IT', extra: Partial<KeyDef> = {},
): KeyDef {
  return { name, kind, scope, phase, leadingOnly, rfcDefault, sender, ...extra };
}

/** Every key this target understands, keyed by its exact (case-sensitive, RFC 7143 6.1) name. */
export const KEYS: ReadonlyMap<string, KeyDef> = new Map<string, KeyDef>(
  [
    // RFC 7143 12 security keys
    k('AuthMethod', 'list', 'CO', 'IO', false, 'None', 'IT', { security: true }),
    k('CHAP_A', 'list', 'CO', 'IO', false, '', 'IT', { security: true }),
    k('CHAP_I', 'declarative', 'CO', 'IO', false, '', 'IT', { security: true }),
    k('CHAP_C', 'declarative', 'CO', 'IO', false, '', 'IT', { security: true }),
    k('CHAP_N', 'declarative', 'CO', 'IO', false, '', 'IT', { security: true }),
    k('CHAP_R', 'declarative', 'CO', 'IO', false, '', 'IT', { security: true }),
    // RFC 7143 13 operational keys
    k('HeaderDigest', 'list', 'CO', 'IO', false, 'None', 'IT'),
    k('DataDigest', 'list', 'CO', 'IO', false, 'None', 'IT'),
    k('MaxConnections', 'min', 'SW', 'IO', true, '1', 'IT', { min: 1, max: 65535 }),
    k('SendTargets', 'declarative', 'SW', 'FFPO', false, '', 'I'),
    k('TargetName', 'declarative', 'SW', 'IO', false, '', 'IT'),
    k('InitiatorName', 'declarative', 'SW', 'IO', false, '', 'I'),
    k('TargetAlias', 'declarative', 'SW', 'ALL', false, '', 'T'),
    k('InitiatorAlias', 'declarative', 'SW', 'ALL', false, '', 'I'),
    k('TargetAddress', 'declarative', 'SW', 'ALL', false, '', 'T'),
    k('TargetPortalGroupTag', 'declarative', 'SW', 'IO', false, '', 'T', { min: 0, max: 65535 }),
    k('InitialR2T', 'or', 'SW', 'IO', true, 'Yes', 'IT'),
    k('ImmediateData', 'and', 'SW', 'IO', true, 'Yes', 'IT'),
    k('MaxRecvDataSegmentLength', 'declarative', 'CO', 'ALL', false, '8192', 'IT', { min: 512, max: U24 }),
    k('MaxBurstLength', 'min', 'SW', 'IO', true, '262144', 'IT', { min: 512, max: U24 }),
    k('FirstBurstLength', 'min', 'SW', 'IO', true, '65536', 'IT', { min: 512, max: U24 }),
    k('DefaultTime2Wait', 'max', 'SW', 'IO', true, '2', 'IT', { min: 0, max: 3600 }),
    k('DefaultTime2Retain', 'min', 'SW', 'IO', true, '20', 'IT', { min: 0, max: 3600 }),
    k('MaxOutstandingR2T', 'min', 'SW', 'IO', true, '1', 'IT', { min: 1, max: 65535 }),
    k('DataPDUInOrder', 'or', 'SW', 'IO', true, 'Yes', 'IT'),
    k('DataSequenceInOrder', 'or', 'SW', 'IO', true, 'Yes', 'IT'),
    k('ErrorRecoveryLevel', 'min', 'SW', 'IO', true, '0', 'IT', { min: 0, max: 2 }),
    k('SessionType', 'declarative', 'SW', 'IO', true, 'Normal', 'I'),
    // RFC 3720 marker keys, obsoleted by RFC 7143 (Appendix "Changes"); still sent by old initiators.
    k('IFMarker', 'and', 'CO', 'IO', false, 'No', 'IT'),
    k('OFMarker', 'and', 'CO', 'IO', false, 'No', 'IT'),
    k('OFMarkInt', 'declarative', 'CO', 'IO', false, '2048', 'IT', { min: 1, max: 65535 }),
    k('IFMarkInt', 'declarative', 'CO', 'IO', false, '2048', 'IT', { min: 1, max: 65535 }),
    // RFC 7144 2.1 / 2.2
    k('iSCSIProtocolLevel', 'min', 'SW', 'IO', true, '0', 'IT', { min: 0, max: 31 }),
    k('TaskReporting', 'list', 'SW', 'IO', true, 'RFC3720', 'IT'),
    // RFC 7145 6 iSER keys
    k('RDMAExtensions', 'and', 'SW', 'IO', true, 'No', 'IT', { iser: true }),
    k('TargetRecvDataSegmentLength', 'declarative', 'CO', 'IO', false, '8192', 'IT', { min: 512, max: U24, iser: true }),
    k('InitiatorRecvDataSegmentLength', 'declarative', 'CO', 'IO', false, '8192', 'IT', { min: 512, max: U24, iser: true }),
    // RFC 5046 (iSER v1), dropped by RFC 7145 but kept by tgt
    k('MaxOutstandingUnexpectedPDUs', 'min', 'SW', 'IO', true, '0', 'IT', { min: 2, max: 4294967295, iser: true }),
  ].map((d) => [d.name, d]),
);

/** The iSCSI version this target speaks (RFC 7143 11.12.4: 0x00). */
export const ISCSI_VERSION = 0x00;

/**
 * tgt's per-target parameter table (usr/iscsi/param.c session_keys order) with the target
 * defaults set in usr/iscsi/target.c iscsi_target_create. Values are tgt's internal numbers:
 * booleans 0/1, digests as a bit mask (1 = None, 2 = CRC32C), markers 0 = Irrelevant / else
 * Reject. `local` rows are never sent to the initiator.
 */
export type TgtParamKind = 'min' | 'minOrZero' | 'max' | 'or' | 'and' | 'digest' | 'marker';

export interface TgtParamDef {
  readonly name: string;
  readonly kind: TgtParamKind;
  readonly targetDefault: number;
  readonly min: number;
  readonly max: number;
  readonly local?: boolean;
}

export const DIGEST_NONE = 1;
export const DIGEST_CRC32C = 2;

export const TGT_PARAMS: readonly TgtParamDef[] = [
  { name: 'MaxRecvDataSegmentLength', kind: 'min', targetDefault: 262144, min: 512, max: U24 },
  { name: 'HeaderDigest', kind: 'digest', targetDefault: DIGEST_NONE, min: 1, max: 3 },
  { name: 'DataDigest', kind: 'digest', targetDefault: DIGEST_NONE, min: 1, max: 3 },
  { name: 'InitialR2T', kind: 'or', targetDefault: 1, min: 0, max: 1 },
  { name: 'MaxOutstandingR2T', kind: 'min', targetDefault: 1, min: 1, max: 65535 },
  { name: 'ImmediateData', kind: 'and', targetDefault: 1, min: 0, max: 1 },
  { name: 'FirstBurstLength', kind: 'min', targetDefault: 65536, min: 512, max: U24 },
  { name: 'MaxBurstLength', kind: 'min', targetDefault: 262144, min: 512, max: U24 },
  { name: 'DataPDUInOrder', kind: 'or', targetDefault: 1, min: 0, max: 1 },
  { name: 'DataSequenceInOrder', kind: 'or', targetDefault: 1, min: 0, max: 1 },
  { name: 'ErrorRecoveryLevel', kind: 'min', targetDefault: 0, min: 0, max: 2 },
  { name: 'IFMarker', kind: 'and', targetDefault: 0, min: 0, max: 1 },
  { name: 'OFMarker', kind: 'and', targetDefault: 0, min: 0, max: 1 },
  { name: 'DefaultTime2Wait', kind: 'max', targetDefault: 2, min: 0, max: 3600 },
  { name: 'DefaultTime2Retain', kind: 'min', targetDefault: 20, min: 0, max: 3600 },
  { name: 'OFMarkInt', kind: 'marker', targetDefault: 2048, min: 1, max: 65535 },
  { name: 'IFMarkInt', kind: 'marker', targetDefault: 2048, min: 1, max: 65535 },
  { name: 'MaxConnections', kind: 'min', targetDefault: 1, min: 1, max: 65535 },
  // tgt's target default is 1 ("Yes"), but it is only applied when the initiator asks for it
  // (usr/iscsi/iscsid.c text_scan_login clears it otherwise): RDMA is never offered.
  { name: 'RDMAExtensions', kind: 'and', targetDefault: 1, min: 0, max: 1 },
  { name: 'TargetRecvDataSegmentLength', kind: 'min', targetDefault: 262144, min: 512, max: U24 },
  { name: 'InitiatorRecvDataSegmentLength', kind: 'min', targetDefault: 262144, min: 512, max: U24 },
  { name: 'MaxOutstandingUnexpectedPDUs', kind: 'minOrZero', targetDefault: 0, min: 2, max: 4294967295 },
  // tgt-local: the initiator's MaxRecvDataSegmentLength is remembered here (our max send size),
  // and MaxQueueCmd bounds the CmdSN window (MaxCmdSN - ExpCmdSN + 1).
  { name: 'MaxXmitDataSegmentLength', kind: 'min', targetDefault: 8192, min: 512, max: U24, local: true },
  { name: 'MaxQueueCmd', kind: 'min', targetDefault: 128, min: 1, max: 512, local: true },
];

/** Index of a tgt parameter by name, compared case-insensitively as tgt does (strcasecmp). */
export function tgtParamIndex(name: string): number {
  const lower = name.toLowerCase();
  for (let i = 0; i < TGT_PARAMS.length; i++) if (TGT_PARAMS[i]!.name.toLowerCase() === lower) return i;
  return -1;
}

/** Formats a tgt parameter value as tgt's show does (param.c *_val_to_str). */
export function tgtParamToString(def: TgtParamDef, val: number): string {
  switch (def.kind) {
    case 'or':
    case 'and':
      return val === 0 ? 'No' : val === 1 ? 'Yes' : '';
    case 'digest':
      return val & DIGEST_CRC32C ? 'CRC32C' : val & DIGEST_NONE ? 'None' : '';
    case 'marker':
      return val === 0 ? 'Irrelevant' : 'Reject';
    default:
      return String(val >>> 0);
  }
}
