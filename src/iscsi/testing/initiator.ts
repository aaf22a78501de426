// Test fixture: a scripted iSCSI initiator (RFC 7143 6 login, 3.2.2.1 CmdSN numbering) driving one connection under test.
//
// It keeps the initiator's counters (CmdSN, ExpStatSN, ITTs) so that tests state only what they
// vary; every PDU still goes through the byte builders of pdus.ts and the connection's receivePdu.

import * as B from './pdus.js';
import { TargetPdu, TOp } from './target-pdu.js';
import { until, type ConnectionUnderTest } from './capture-connection.js';
import { TEST_INITIATOR, TEST_TARGET, type TestConnectionHost } from './host.js';
import type { IscsiSession } from '../session.js';

export const ISID = Buffer.from('80123456789a', 'hex');

/** Operational keys an initiator offers unless a test says otherwise (RFC 7143 13). */
const DEFAULT_KEYS: Record<string, string> = {
  HeaderDigest: 'None', DataDigest: 'None', ErrorRecoveryLevel: '0', InitialR2T: 'Yes', ImmediateData: 'Yes',
  MaxRecvDataSegmentLength: '8192', FirstBurstLength: '65536', MaxBurstLength: '262144', MaxOutstandingR2T: '1',
  MaxConnections: '1', DataPDUInOrder: 'Yes', DataSequenceInOrder: 'Yes', DefaultTime2Wait: '2', DefaultTime2Retain: '20',
};
/** Keys the target declares: the initiator does not answer them (RFC 7143 6.2.1). */
const DECLARATIVE = new Set(['MaxRecvDataSegmentLength', 'TargetPortalGroupTag', 'TargetAlias', 'TargetAddress']);

export interface LoginOptions {
  /** Operational keys the initiator offers, over DEFAULT_KEYS ('' removes a key). */
  keys?: Record<string, string>;
  /** Target settings (tgtadm --op update names) applied before the login. */
  target?: Record<string, string>;
  /** CmdSN of the login (the session's first ExpCmdSN). */
  cmdSN?: number;
  expStatSN?: number;
  isid?: Buffer;
  tsih?: number;
  cid?: number;
  /** A discovery session (SessionType=Discovery, no TargetName). */
  discovery?: boolean;
  /** Keep the POWER ON unit attentions of the new nexus (default: cleared). */
  keepUnitAttention?: boolean;
}

export class TestInitiator {
  /** CmdSN of the next non-immediate request. */
  cmdSN = 1;
  expStatSN = 0;
  private nextItt = 0x100;
  /** Index in `sent` up to which `take` has returned. */
  private seen = 0;

  constructor(readonly host: TestConnectionHost, readonly wire: ConnectionUnderTest) {}

  get session(): IscsiSession {
    const s = this.wire.conn.session;
    if (s === null) throw new Error('not logged in');
    return s;
  }

  /** The last PDU this initiator sent (e.g. to compare with the copy inside a Reject). */
  last: B.InitiatorPdu | null = null;

  /** Send one PDU to the connection. */
  send(pdu: B.InitiatorPdu): void {
    this.last = pdu;
    this.wire.receive(pdu);
  }

  itt(): number {
    return this.nextItt++;
  }

  /** Security stage (AuthMethod=None), then operational stage until the target transits to full feature phase. */
  login(o: LoginOptions = {}): TargetPdu {
    for (const [k, v] of Object.entries(o.target ?? {})) {
      if (this.host.params.set(k, v) !== 'ok') throw new Error(`target param ${k}=${v} refused`);
    }
    this.cmdSN = o.cmdSN ?? 1;
    this.expStatSN = o.expStatSN ?? 0;
    const itt = this.itt();
    const common = { isid: o.isid ?? ISID, tsih: o.tsih ?? 0, cid: o.cid ?? 0, itt, cmdSN: this.cmdSN };
    const step = (csg: number, nsg: number, keys: [string, string][]): TargetPdu => {
      const before = this.wire.sent.length;
      this.send(B.loginRequest({ ...common, transit: true, csg, nsg, expStatSN: this.expStatSN, keys }));
      const rep = this.wire.sent[before];
      if (rep === undefined || rep.opcode !== TOp.LoginResponse) throw new Error('no Login Response');
      if (rep.loginStatus !== 0) throw new Error(`login failed: status 0x${rep.loginStatus.toString(16)}`);
      this.expStatSN = (rep.statSN + 1) >>> 0;
      return rep;
    };
    const r1 = step(0, 1, o.discovery === true
      ? [['InitiatorName', TEST_INITIATOR], ['SessionType', 'Discovery'], ['AuthMethod', 'None']]
      : [['InitiatorName', TEST_INITIATOR], ['SessionType', 'Normal'], ['TargetName', TEST_TARGET], ['AuthMethod', 'None']]);
    if ((r1.flags & 0x83) !== 0x81) throw new Error(`security stage did not transit: ${r1}`);
    const offered = { ...DEFAULT_KEYS, ...(o.keys ?? {}) };
    let keys: [string, string][] = Object.entries(offered).filter(([, v]) => v !== '');
    for (let round = 0; round < 4; round++) {
      const rep = step(1, 3, keys);
      if ((rep.flags & 0x83) === 0x83) {
        this.seen = this.wire.sent.length;
        if (o.keepUnitAttention !== true && o.discovery !== true) this.host.clearUnitAttentions(this.session);
        return rep;
      }
      // The target offered keys of its own and waits: answer them with its values (we accept them).
      keys = parseKeys(rep.data).filter(([k]) => !DECLARATIVE.has(k) && !(k in offered));
    }
    throw new Error('login did not reach full feature phase');
  }

  // ------------------------------------------------------------------ requests

  /** CmdSN for a request: the next one (advanced unless immediate), or a given one. */
  private sn(immediate: boolean | undefined, cmdSN: number | undefined): number {
    if (cmdSN !== undefined) return cmdSN >>> 0;
    const sn = this.cmdSN;
    if (immediate !== true) this.cmdSN = (this.cmdSN + 1) >>> 0;
    return sn;
  }

  /** A SCSI Command; returns its ITT. */
  command(o: Omit<B.CommandFields, 'itt' | 'cmdSN' | 'expStatSN'> & { itt?: number; cmdSN?: number }): number {
    const itt = o.itt ?? this.itt();
    this.send(B.scsiCommand({ ...o, itt, cmdSN: this.sn(o.immediate, o.cmdSN), expStatSN: this.expStatSN }));
    return itt;
  }

  read(lba: number, blocks: number, o: { edtl?: number; immediate?: boolean; cmdSN?: number; itt?: number } = {}): number {
    return this.command({ cdb: B.rw10(0x28, lba, blocks), read: true, edtl: o.edtl ?? blocks * 512, ...o });
  }

  /** WRITE(10) of `blocks` with the first `immediate` bytes of `pattern(lba)` as immediate data. */
  write(lba: number, blocks: number, o: { immediateData?: number; final?: boolean; edtl?: number; immediate?: boolean; cmdSN?: number; itt?: number } = {}): number {
    const imm = o.immediateData ?? 0;
    const data = imm > 0 ? pattern(lba * 512, imm) : undefined;
    return this.command({
      cdb: B.rw10(0x2a, lba, blocks), write: true, edtl: o.edtl ?? blocks * 512, data, final: o.final,
      immediate: o.immediate, cmdSN: o.cmdSN, itt: o.itt,
    });
  }

  /** One Data-Out of `length` bytes at `offset` of the pattern of the write that started at `lba`. */
  dataOut(o: { itt: number; ttt?: number; lba: number; offset: number; length: number; dataSN: number; final: boolean }): void {
    this.send(B.dataOut({
      itt: o.itt, ttt: o.ttt ?? 0xffffffff, expStatSN: this.expStatSN, dataSN: o.dataSN, offset: o.offset, final: o.final,
      data: pattern(o.lba * 512 + o.offset, o.length),
    }));
  }

  /** Answer one R2T in PDUs of at most `segment` bytes (DataSN from 0, F on the last). */
  answerR2T(r2t: TargetPdu, lba: number, segment: number): void {
    const end = r2t.offset + r2t.word44;
    for (let off = r2t.offset, sn = 0; off < end; off += segment, sn++) {
      const n = Math.min(segment, end - off);
      this.dataOut({ itt: r2t.itt, ttt: r2t.ttt, lba, offset: off, length: n, dataSN: sn, final: off + n >= end });
    }
  }

  nop(o: { itt?: number; ttt?: number; immediate?: boolean; cmdSN?: number; data?: Buffer; lun?: number } = {}): number {
    const itt = o.itt ?? this.itt();
    this.send(B.nopOut({ ...o, itt, cmdSN: this.sn(o.immediate, o.cmdSN), expStatSN: this.expStatSN }));
    return itt;
  }

  text(keys: [string, string][], o: { immediate?: boolean; cmdSN?: number } = {}): number {
    const itt = this.itt();
    this.send(B.textRequest({ keys, itt, immediate: o.immediate, cmdSN: this.sn(o.immediate, o.cmdSN), expStatSN: this.expStatSN }));
    return itt;
  }

  logout(reason: number, o: { cid?: number; immediate?: boolean; cmdSN?: number } = {}): number {
    const itt = this.itt();
    this.send(B.logoutRequest({
      reason, cid: o.cid ?? this.wire.conn.cid, itt, immediate: o.immediate, cmdSN: this.sn(o.immediate, o.cmdSN),
      expStatSN: this.expStatSN,
    }));
    return itt;
  }

  tmf(fn: number, o: { refTaskTag?: number; refCmdSN?: number; lun?: number; immediate?: boolean; cmdSN?: number } = {}): number {
    const itt = this.itt();
    const immediate = o.immediate ?? true;
    this.send(B.tmfRequest({ ...o, fn, itt, immediate, cmdSN: this.sn(immediate, o.cmdSN), expStatSN: this.expStatSN }));
    return itt;
  }

  // ------------------------------------------------------------------ responses

  /** PDUs sent since the last take (or the login). */
  take(): TargetPdu[] {
    const out = this.wire.sent.slice(this.seen);
    this.seen = this.wire.sent.length;
    for (const p of out) if (carriesStatus(p)) this.expStatSN = (p.statSN + 1) >>> 0;
    return out;
  }

  /** Waits until the PDUs not yet taken include one matching `pred`. */
  async waitFor(pred: (p: TargetPdu) => boolean, what: string): Promise<void> {
    await until(() => this.wire.sent.slice(this.seen).some(pred), what);
  }

  /** Waits for the status of `itt` (SCSI Response, or Data-In with S), then takes everything sent. */
  async status(itt: number): Promise<TargetPdu[]> {
    await this.waitFor((p) => p.itt === itt && (p.opcode === TOp.ScsiResponse || (p.opcode === TOp.DataIn && (p.flags & 1) === 1)), `status of itt 0x${itt.toString(16)}`);
    return this.take();
  }

  /** Waits for `n` PDUs not yet taken, and takes them. */
  async next(n = 1): Promise<TargetPdu[]> {
    await until(() => this.wire.sent.length - this.seen >= n, `${n} more PDUs`);
    return this.take();
  }
}

/** Deterministic payload: the byte at absolute disk offset `o` is a function of `o`. */
export function pattern(start: number, len: number): Buffer {
  const b = Buffer.alloc(len);
  for (let i = 0; i < len; i++) {
    const o = start + i;
    b[i] = (o * 7 + (o >>> 9) * 13 + 1) & 0xff;
  }
  return b;
}

/** PDUs that advance StatSN (RFC 7143 3.2.2.2): not R2T, Data-In without S, or a target NOP-In ping. */
function carriesStatus(p: TargetPdu): boolean {
  if (p.opcode === TOp.R2T) return false;
  if (p.opcode === TOp.DataIn) return (p.flags & 1) === 1;
  if (p.opcode === TOp.NopIn) return p.itt !== 0xffffffff;
  return true;
}

function parseKeys(data: Buffer): [string, string][] {
  const out: [string, string][] = [];
  for (const e of data.toString('utf8').split('\0')) {
    const i = e.indexOf('=');
    if (i > 0) out.push([e.slice(0, i), e.slice(i + 1)]);
  }
  return out;
}

/** A fresh host, a connection under test built by `make`, and an initiator on it (not logged in). */
export function connect(
  make: (host: TestConnectionHost) => ConnectionUnderTest,
  host: TestConnectionHost,
): { host: TestConnectionHost; wire: ConnectionUnderTest; ini: TestInitiator } {
  const wire = make(host);
  return { host, wire, ini: new TestInitiator(host, wire) };
}
