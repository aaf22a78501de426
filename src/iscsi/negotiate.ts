// RFC 7143 6.2 / 13 operational parameter negotiation (login operational stage) with RFC 7145 iSER rules.
//
// The initiator proposes keys; the target answers each with its own value combined by the key's
// rule (list, AND, OR, min, max) or with NotUnderstood / Irrelevant / Reject. Keys the target
// wants to change from the RFC default but the initiator did not mention are offered by the
// target, which then waits for the initiator's answer before letting the login move on.

import { KEYS, DIGEST_CRC32C, TGT_PARAMS, tgtParamToString } from './params.js';
import type { TargetParams } from './target-params.js';
import type { TextPair } from './text-keys.js';

/** Values of every operational key once login is complete (RFC defaults where never negotiated). */
export interface NegotiatedParams {
  /** What the initiator declared: the largest data segment WE may send (iSER: InitiatorRecvDataSegmentLength). */
  maxRecvDataSegmentLength: number;
  /** What the target declared: the largest data segment we accept (iSER: TargetRecvDataSegmentLength). */
  targetMaxRecvDataSegmentLength: number;
  headerDigest: boolean;
  dataDigest: boolean;
  initialR2T: boolean;
  immediateData: boolean;
  firstBurstLength: number;
  maxBurstLength: number;
  maxOutstandingR2T: number;
  maxConnections: number;
  errorRecoveryLevel: number;
  dataPDUInOrder: boolean;
  dataSequenceInOrder: boolean;
  defaultTime2Wait: number;
  defaultTime2Retain: number;
  ifMarker: boolean;
  ofMarker: boolean;
  rdmaExtensions: boolean;
  initiatorRecvDataSegmentLength: number;
  targetRecvDataSegmentLength: number;
  maxOutstandingUnexpectedPDUs: number;
  taskReporting: string;
  iscsiProtocolLevel: number;
  /** tgt local MaxQueueCmd: CmdSN window size. */
  maxQueueCmd: number;
}

/** Login status (class << 8 | detail); 0 = go on. */
export const NEG_OK = 0;
export const NEG_INITIATOR_ERROR = 0x0200;

/** Keys handled by the login engine itself (RFC 7143 13.4-13.8 declaratives of the first PDU). */
const LOGIN_DECLARATIVES = new Set(['InitiatorName', 'InitiatorAlias', 'SessionType', 'TargetName']);

/** iSCSI protocol level we implement (RFC 7144 2.1: 1 = RFC 7143). */
const OUR_PROTOCOL_LEVEL = 1;

/** RFC 7143 6.1 numerical-value: decimal or 0x-hex, at most 2^64 is not needed; -1 if malformed. */
export function parseNumber(v: string): number {
  if (/^[0-9]{1,16}$/.test(v)) return Number(v);
  if (/^0[xX][0-9a-fA-F]{1,12}$/.test(v)) return parseInt(v.slice(2), 16);
  return -1;
}

function boolValue(v: string): number {
  return v === 'Yes' ? 1 : v === 'No' ? 0 : -1;
}

const yn = (b: number | boolean): string => (b ? 'Yes' : 'No');

export interface NegotiatorOptions {
  transport: 'tcp' | 'iser';
  discovery: boolean;
  /** False when the login adds a connection to an existing session (TSIH != 0). */
  leading: boolean;
}

/**
 * The largest data segment an iSER target receives (its TargetRecvDataSegmentLength at most): the
 * data room of the iser LLD's receive buffers, the RFC's default MaxRecvDataSegmentLength.
 */
export const ISER_RECV_DATA_LIMIT = 8192;

export class OperationalNegotiator {
  /** Negotiated values by key name, in tgt's internal form (booleans 0/1, digest 1/2). */
  private readonly vals = new Map<string, number>();
  private readonly strs = new Map<string, string>();
  /** Keys we offered and whose answer we await, with the offered number. */
  private readonly outstanding = new Map<string, number>();
  private offered = false;
  private declared = false;
  rdma = false;

  constructor(private readonly tp: TargetParams, private readonly opts: NegotiatorOptions) {}

  /** Target's value of a tgt parameter, with the iSER (RFC 7145 / tgt) overrides. */
  private target(name: string): number {
    if (this.rdma) {
      if (name === 'InitialR2T') return 1;
      if (name === 'ImmediateData') return 0;
      if (name === 'HeaderDigest' || name === 'DataDigest') return 1;
      // What one iSER receive holds: with no immediate or unsolicited data only control PDUs come.
      if (name === 'TargetRecvDataSegmentLength') return Math.min(this.tp.value(name), ISER_RECV_DATA_LIMIT);
    }
    if (name === 'RDMAExtensions') return this.opts.transport === 'iser' ? 1 : 0;
    if (name === 'iSCSIProtocolLevel') return OUR_PROTOCOL_LEVEL;
    return this.tp.value(name);
  }

  /**
   * Handles the initiator's keys of one (complete) operational-stage request. Returns the
   * answers in order and a status: NEG_OK or a login failure status.
   */
  handle(pairs: readonly TextPair[]): { answers: [string, string][]; status: number } {
    const answers: [string, string][] = [];
    // RDMAExtensions changes how other keys are answered (RFC 7145 6.3), so look at it first.
    const rdmaPair = pairs.find((p) => p.key === 'RDMAExtensions');
    if (rdmaPair !== undefined && this.opts.transport === 'iser' && rdmaPair.value === 'Yes') this.rdma = true;
    for (const { key, value } of pairs) {
      const st = this.one(key, value, answers);
      if (st !== NEG_OK) return { answers, status: st };
    }
    // RFC 7143 13.14: FirstBurstLength MUST NOT exceed MaxBurstLength.
    const fb = answers.find((a) => a[0] === 'FirstBurstLength');
    const mb = this.vals.get('MaxBurstLength');
    if (fb !== undefined && mb !== undefined && Number(fb[1]) > mb) {
      fb[1] = String(mb);
      this.vals.set('FirstBurstLength', mb);
    }
    return { answers, status: NEG_OK };
  }

  private one(key: string, value: string, answers: [string, string][]): number {
    if (this.outstanding.has(key)) return this.answer(key, value);
    if (LOGIN_DECLARATIVES.has(key) || key === 'AuthMethod') return NEG_OK;
    const def = KEYS.get(key);
    if (def === undefined || def.security) {
      answers.push([key, 'NotUnderstood']);
      return NEG_OK;
    }
    if (def.sender === 'T') {
      if (key === 'TargetPortalGroupTag') return NEG_OK; // we declare ours in the first response
      answers.push([key, 'Reject']); // only the target may send these (RFC 7143 13.9-13.11)
      return NEG_OK;
    }
    if (def.phase === 'FFPO') {
      answers.push([key, 'Irrelevant']);
      return NEG_OK;
    }
    if (def.leadingOnly && !this.opts.leading) {
      // RFC 7143 6.3.1: LO keys on a non-leading connection; the session's values stand.
      answers.push([key, 'Irrelevant']);
      return NEG_OK;
    }
    if (def.iser && !this.rdma && key !== 'RDMAExtensions') {
      answers.push([key, 'Irrelevant']); // RFC 7145 6: iSER keys are irrelevant without RDMAExtensions=Yes
      return NEG_OK;
    }
    switch (key) {
      case 'HeaderDigest':
      case 'DataDigest': {
        const toks = value.split(',');
        const crcOk = (this.target(key) & DIGEST_CRC32C) !== 0;
        // Like tgt, a target configured for CRC32C takes it whenever offered; otherwise None.
        let pick: string | null = null;
        if (crcOk && toks.includes('CRC32C')) pick = 'CRC32C';
        else if (toks.includes('None')) pick = 'None';
        answers.push([key, pick ?? 'Reject']);
        if (pick !== null) this.vals.set(key, pick === 'CRC32C' ? 2 : 1);
        return NEG_OK;
      }
      case 'TaskReporting': {
        const ok = value.split(',').includes('RFC3720');
        answers.push([key, ok ? 'RFC3720' : 'Reject']);
        if (ok) this.strs.set(key, 'RFC3720');
        return NEG_OK;
      }
      case 'MaxRecvDataSegmentLength': {
        const n = parseNumber(value);
        if (n < 512 || n > 16777215) answers.push([key, 'Reject']);
        else this.vals.set(key, n); // declarative: no answer (RFC 7143 13.12)
        return NEG_OK;
      }
      case 'OFMarkInt':
      case 'IFMarkInt':
        answers.push([key, 'Irrelevant']); // markers are always No (RFC 3720 A.3.2)
        return NEG_OK;
      default:
        break;
    }
    switch (def.kind) {
      case 'and':
      case 'or': {
        const b = boolValue(value);
        if (b < 0) {
          answers.push([key, 'Reject']);
          return NEG_OK;
        }
        const t = this.target(key);
        const r = def.kind === 'and' ? b & t : b | t;
        this.vals.set(key, r);
        answers.push([key, yn(r)]);
        return NEG_OK;
      }
      case 'min':
      case 'max':
      case 'declarative': {
        const n = parseNumber(value);
        if (n < 0 || n < (def.min ?? 0) || n > (def.max ?? 4294967295)) {
          // tgt's MaxOutstandingUnexpectedPDUs also accepts 0 ("no limit").
          if (!(key === 'MaxOutstandingUnexpectedPDUs' && n === 0)) {
            answers.push([key, 'Reject']);
            return NEG_OK;
          }
        }
        const t = this.target(key);
        let r: number;
        if (key === 'MaxOutstandingUnexpectedPDUs') r = n === 0 || n > t ? t : n; // tgt min_or_zero
        else if (def.kind === 'max') r = Math.max(n, t);
        else r = Math.min(n, t); // min, and tgt's treatment of the iSER RDSL keys
        this.vals.set(key, r);
        answers.push([key, String(r)]);
        return NEG_OK;
      }
      default:
        answers.push([key, 'NotUnderstood']);
        return NEG_OK;
    }
  }

  /** The initiator's answer to a key we offered (RFC 7143 6.2). */
  private answer(key: string, value: string): number {
    const ours = this.outstanding.get(key)!;
    this.outstanding.delete(key);
    if (value === 'Reject' || value === 'NotUnderstood' || value === 'Irrelevant') return NEG_OK; // default stands
    const def = KEYS.get(key)!;
    if (key === 'HeaderDigest' || key === 'DataDigest') {
      if (value === 'CRC32C' || value === 'None') {
        this.vals.set(key, value === 'CRC32C' ? 2 : 1);
        return NEG_OK;
      }
      return NEG_INITIATOR_ERROR;
    }
    if (def.kind === 'and' || def.kind === 'or') {
      const b = boolValue(value);
      // The result must follow the rule: AND cannot turn our No into Yes, OR cannot turn Yes into No.
      if (b < 0 || (def.kind === 'and' && b > ours) || (def.kind === 'or' && b < ours)) return NEG_INITIATOR_ERROR;
      this.vals.set(key, b);
      return NEG_OK;
    }
    const n = parseNumber(value);
    if (n < 0 || (def.kind === 'min' && n > ours) || (def.kind === 'max' && n < ours)) return NEG_INITIATOR_ERROR;
    if (n < (def.min ?? 0) || n > (def.max ?? 4294967295)) return NEG_INITIATOR_ERROR;
    this.vals.set(key, n);
    return NEG_OK;
  }

  /**
   * Target declarations for the first operational response (RFC 7143 13.12: each side declares
   * its MaxRecvDataSegmentLength; iSER declares TargetRecvDataSegmentLength instead, RFC 7145 6.5).
   */
  declarations(): [string, string][] {
    if (this.declared) return [];
    this.declared = true;
    if (this.rdma) {
      if (this.vals.has('TargetRecvDataSegmentLength')) return [];
      const t = this.target('TargetRecvDataSegmentLength');
      this.vals.set('TargetRecvDataSegmentLength', t);
      return [['TargetRecvDataSegmentLength', String(t)]];
    }
    return [['MaxRecvDataSegmentLength', String(this.target('MaxRecvDataSegmentLength'))]];
  }

  /**
   * Keys the target must propose itself because its value differs from the RFC default and the
   * initiator did not mention them (tgt iscsid.c text_check_param). Made once, when the
   * initiator first asks to leave the operational stage.
   */
  offers(): [string, string][] {
    if (this.offered) return [];
    this.offered = true;
    const out: [string, string][] = [];
    for (const def of TGT_PARAMS) {
      const name = def.name;
      if (def.local || def.kind === 'marker' || this.vals.has(name)) continue;
      if (name === 'MaxRecvDataSegmentLength' || name === 'RDMAExtensions') continue;
      const key = KEYS.get(name);
      if (key === undefined || key.iser) continue; // iSER lengths are declared, not offered
      if (key.leadingOnly && !this.opts.leading) continue;
      const t = this.target(name);
      const rfc = name === 'HeaderDigest' || name === 'DataDigest' ? 1 : rfcNumber(key.rfcDefault);
      const differs = name === 'HeaderDigest' || name === 'DataDigest' ? (t & DIGEST_CRC32C) !== 0 : t !== rfc;
      if (!differs) continue;
      const text = name === 'HeaderDigest' || name === 'DataDigest' ? 'CRC32C,None' : tgtParamToString(def, t);
      this.outstanding.set(name, t);
      out.push([name, text]);
    }
    return out;
  }

  /** True while an offered key has not been answered. */
  get waiting(): boolean {
    return this.outstanding.size > 0;
  }

  result(): NegotiatedParams {
    const v = (k: string): number => this.vals.get(k) ?? rfcNumber(KEYS.get(k)!.rfcDefault);
    const irdsl = v('InitiatorRecvDataSegmentLength');
    const trdsl = this.vals.get('TargetRecvDataSegmentLength') ?? this.target('TargetRecvDataSegmentLength');
    const rdma = this.rdma;
    return {
      maxRecvDataSegmentLength: rdma ? irdsl : v('MaxRecvDataSegmentLength'),
      targetMaxRecvDataSegmentLength: rdma ? trdsl : this.target('MaxRecvDataSegmentLength'),
      headerDigest: v('HeaderDigest') === 2,
      dataDigest: v('DataDigest') === 2,
      initialR2T: rdma ? true : v('InitialR2T') === 1,
      immediateData: rdma ? false : v('ImmediateData') === 1,
      firstBurstLength: Math.min(v('FirstBurstLength'), v('MaxBurstLength')),
      maxBurstLength: v('MaxBurstLength'),
      maxOutstandingR2T: v('MaxOutstandingR2T'),
      maxConnections: v('MaxConnections'),
      errorRecoveryLevel: v('ErrorRecoveryLevel'),
      dataPDUInOrder: v('DataPDUInOrder') === 1,
      dataSequenceInOrder: v('DataSequenceInOrder') === 1,
      defaultTime2Wait: v('DefaultTime2Wait'),
      defaultTime2Retain: v('DefaultTime2Retain'),
      ifMarker: false,
      ofMarker: false,
      rdmaExtensions: rdma,
      initiatorRecvDataSegmentLength: irdsl,
      targetRecvDataSegmentLength: trdsl,
      maxOutstandingUnexpectedPDUs: v('MaxOutstandingUnexpectedPDUs'),
      taskReporting: this.strs.get('TaskReporting') ?? 'RFC3720',
      iscsiProtocolLevel: v('iSCSIProtocolLevel'),
      maxQueueCmd: this.tp.value('MaxQueueCmd'),
    };
  }
}

function rfcNumber(s: string): number {
  if (s === 'Yes') return 1;
  if (s === 'No') return 0;
  if (s === 'None') return 1;
  const n = Number(s);
  return Number.isFinite(n) ? n : 0;
}
