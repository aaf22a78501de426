// Hostile login phase (RFC 7143 6.3, 11.12, 12.1.3 CHAP): mutated Login PDUs, bad keys, wrong CSG/NSG, CHAP garbage, bad TSIH joins.
//
// One call runs one short-lived TCP connection. Most scripts fire their PDUs without waiting;
// a few read one answer to get past a stage (the CHAP challenge is needed to send a wrong answer
// to it). Either way the connection is then cut, half-closed or left for the round's end.

import net from 'node:net';
import { chapResponse, CHAP_ALGORITHMS } from '../../src/iscsi/chap.js';
import { MiniInitiator } from '../helpers/mini-initiator.js';
import { frame, keys, loginRequest, nopOut, scsiCommand, type Pdu } from './initiator-pdus.js';
import type { SessionCtx } from './hostile-ffp.js';
import type { Rand } from './rand.js';

const NO_DIGESTS = { header: false, data: false };

export interface LoginFuzzEnv {
  host: string;
  port: number;
  /** Target without authentication. */
  iqn: string;
  /** Target that requires CHAP with `chapUser` / `chapSecret`. */
  chapIqn: string;
  chapUser: string;
  chapSecret: string;
  /** Live sessions of the round (joins with a wrong ISID, too many connections, ...). */
  live: readonly SessionCtx[];
  /** Keep the socket until the round ends (it closes all of them). */
  track(sock: net.Socket): void;
  /** A TCP connection was opened. */
  opened(): void;
}

type Pair = readonly [string, string];

const OPERATIONAL: Pair[] = [
  ['HeaderDigest', 'None'], ['DataDigest', 'None'], ['MaxRecvDataSegmentLength', '65536'], ['InitialR2T', 'No'],
  ['ImmediateData', 'Yes'], ['MaxBurstLength', '262144'], ['FirstBurstLength', '65536'], ['ErrorRecoveryLevel', '0'],
  ['MaxConnections', '1'], ['DefaultTime2Wait', '0'], ['DefaultTime2Retain', '0'],
];

/** Values that are wrong for most keys: empty, out of range, lists, huge, not UTF-8 ... */
function badValue(r: Rand): string {
  return r.pick([
    '', '0', '-1', '4294967296', '99999999999999999999', 'Yes,No', 'CRC32C,Bogus', ',,,', 'None,', '0x', '0b',
    'Reject', 'Irrelevant', 'NotUnderstood', 'x'.repeat(r.range(256, 5000)), '\u00ff\u00fe', '=', 'a=b',
    String(r.u32()), r.bytes(r.range(1, 40)).toString('latin1'),
  ]);
}

const KEY_NAMES = [
  'InitiatorName', 'TargetName', 'SessionType', 'AuthMethod', 'HeaderDigest', 'DataDigest', 'MaxConnections',
  'InitialR2T', 'ImmediateData', 'MaxRecvDataSegmentLength', 'MaxBurstLength', 'FirstBurstLength',
  'DefaultTime2Wait', 'DefaultTime2Retain', 'MaxOutstandingR2T', 'DataPDUInOrder', 'DataSequenceInOrder',
  'ErrorRecoveryLevel', 'TargetPortalGroupTag', 'TargetAddress', 'TargetAlias', 'InitiatorAlias', 'SendTargets',
  'OFMarker', 'IFMarker', 'OFMarkInt', 'RDMAExtensions', 'TaskReporting', 'iSCSIProtocolLevel', 'CHAP_A',
  'CHAP_I', 'CHAP_C', 'CHAP_N', 'CHAP_R', 'X-com.example.vendor', 'X#org.stgt', 'Bogus',
];

export class LoginFuzzer {
  private readonly isid: Buffer;
  private itt: number;
  private cmdSN: number;
  private readonly name: string;

  constructor(private readonly r: Rand, private readonly env: LoginFuzzEnv, tag: string) {
    this.isid = Buffer.from([0x80 | r.int(0x40), r.byte(), r.byte(), r.byte(), r.byte(), r.byte()]);
    this.itt = r.u32();
    this.cmdSN = r.u32();
    this.name = `iqn.2026-11.org.stgt.fuzz:login-${tag}`;
  }

  /** Runs one hostile login connection; resolves with the number of PDUs sent. */
  async run(): Promise<number> {
    const r = this.r;
    let m: MiniInitiator;
    try {
      m = await MiniInitiator.connect(this.env.port, this.env.host);
    } catch {
      return 0;
    }
    this.env.opened();
    this.env.track(m.sock);
    let pdus = 0;
    const send = (p: Pdu | Buffer): void => {
      m.sendRaw(Buffer.isBuffer(p) ? p : frame(p, NO_DIGESTS));
      pdus++;
    };
    try {
      switch (r.int(9)) {
        case 0: send(this.mutated(this.login(this.startKeys(false), 0, 1, true))); break;
        case 1: send(this.login(this.badKeys(), 0, 1, true)); break;
        case 2: this.wrongStages(send); break;
        case 3: this.continuation(send); break;
        case 4: pdus += await this.chap(m); break;
        case 5: this.ffpPduInLogin(send); break;
        case 6: this.badJoin(send); break;
        case 7: send(this.login(this.startKeys(r.chance(0.5)).concat(this.badOperational()), 1, 3, true)); break;
        default: { // half a Login PDU, then silence or a cut
          const b = frame(this.login(this.startKeys(false), 0, 1, true), NO_DIGESTS);
          send(b.subarray(0, r.range(1, b.length - 1)));
        }
      }
    } catch {
      // the target closed first: fine
    }
    await this.finish(m);
    return pdus;
  }

  private startKeys(discovery: boolean, chapTarget = false): Pair[] {
    const out: Pair[] = [['InitiatorName', this.name], ['SessionType', discovery ? 'Discovery' : 'Normal']];
    if (!discovery) out.push(['TargetName', chapTarget ? this.env.chapIqn : this.env.iqn]);
    out.push(['AuthMethod', chapTarget ? 'CHAP,None' : 'None']);
    return out;
  }

  private login(pairs: readonly Pair[], csg: number, nsg: number, transit: boolean, cont = false): Pdu {
    return loginRequest({
      transit, cont, csg, nsg, isid: this.isid, tsih: 0, itt: this.itt, cid: 0, cmdSN: this.cmdSN, expStatSN: 0,
      data: keys(pairs),
    });
  }

  /** Operational keys straight away (no security stage), a third of them with wrong values. */
  private badOperational(): Pair[] {
    return OPERATIONAL.map(([k, v]) => [k, this.r.chance(0.3) ? badValue(this.r) : v] as Pair);
  }

  /** Random bytes of the BHS and the text overwritten (the text stays within the header's length). */
  private mutated(p: Pdu): Pdu {
    const r = this.r;
    const flips = r.range(1, 8);
    for (let i = 0; i < flips; i++) {
      if (p.data !== null && r.chance(0.7)) p.data[r.int(p.data.length)] = r.byte();
      else {
        const at = r.pick([1, 2, 3, 8, 9, 13, 14, 15, 16, 20, 21, 24, 28, r.int(48)]);
        if (at >= 4 && at <= 7) continue; // keep the framing: the mutation is for the login engine
        p.bhs[at] = r.byte();
      }
    }
    return p;
  }

  /** Unknown keys, duplicated keys, keys without '=', wrong values, target-only keys. */
  private badKeys(): Pair[] {
    const r = this.r;
    const pairs = this.startKeys(r.chance(0.2));
    const n = r.range(1, 12);
    for (let i = 0; i < n; i++) {
      const k = r.chance(0.85) ? r.pick(KEY_NAMES) : r.bytes(r.range(1, 70)).toString('latin1').replace(/[=\0]/g, 'k');
      if (r.chance(0.1)) pairs.splice(r.int(pairs.length + 1), 0, [k, ''] as Pair);
      else pairs.splice(r.int(pairs.length + 1), 0, [k, badValue(r)] as Pair);
    }
    if (r.chance(0.15)) pairs.splice(r.int(pairs.length), 1); // lose a required key
    if (r.chance(0.1)) pairs.push(['NoEquals\0Stray', 'x']);
    return pairs;
  }

  /** CSG/NSG combinations a login never allows, T with C, reserved stages, versions out of range. */
  private wrongStages(send: (p: Pdu | Buffer) => void): void {
    const r = this.r;
    const combos: Array<[number, number, boolean, boolean]> = [
      [1, 0, true, false], [2, 3, true, false], [0, 2, true, false], [3, 3, true, false], [0, 0, true, false],
      [1, 1, true, false], [0, 1, true, true], [1, 3, false, true], [r.int(4), r.int(4), r.chance(0.5), r.chance(0.5)],
    ];
    const [csg, nsg, transit, cont] = r.pick(combos);
    const p = this.login(this.startKeys(r.chance(0.2)), csg, nsg, transit, cont);
    if (r.chance(0.3)) {
      p.bhs[2] = r.byte(); // Version-max
      p.bhs[3] = r.byte(); // Version-min
    }
    send(p);
    // A second request that contradicts the first (another stage, another ITT/ISID/CID/CmdSN).
    if (r.chance(0.6)) {
      const q = this.login(OPERATIONAL, r.int(4), r.int(4), r.chance(0.5));
      if (r.chance(0.5)) q.bhs.writeUInt32BE(r.u32(), 16);
      if (r.chance(0.3)) q.bhs[8 + r.int(6)] = r.byte();
      if (r.chance(0.3)) q.bhs.writeUInt16BE(r.int(0x10000), 20);
      send(q);
    }
  }

  /** Login text split over PDUs with C set: never finished, finished, or growing past the limit. */
  private continuation(send: (p: Pdu | Buffer) => void): void {
    const r = this.r;
    const n = r.range(2, 12);
    const text = keys(this.startKeys(false));
    for (let i = 0; i < n; i++) {
      const last = i === n - 1 && r.chance(0.5);
      const chunk = r.chance(0.3) ? text : Buffer.from('X-org.stgt.pad=' + 'p'.repeat(r.range(100, 4000)) + '\0');
      send(this.loginRaw(chunk, 0, 1, last, !last));
    }
  }

  private loginRaw(data: Buffer, csg: number, nsg: number, transit: boolean, cont: boolean): Pdu {
    return loginRequest({ transit, cont, csg, nsg, isid: this.isid, tsih: 0, itt: this.itt, cid: 0, cmdSN: this.cmdSN, expStatSN: 0, data });
  }

  /** CHAP against the target that requires it: garbage at each step, or (sometimes) the right answer. */
  private async chap(m: MiniInitiator): Promise<number> {
    const r = this.r;
    let pdus = 0;
    const send = (p: Pdu): void => {
      m.sendRaw(frame(p, NO_DIGESTS));
      pdus++;
    };
    send(this.login(this.startKeys(false, true), 0, 0, false));
    const a = await m.recv(3000);
    if (a === null || a.bhs[36] !== 0) return pdus;
    const algs = r.pick(['5', '7', '5,7', '6', '8', '99', 'abc', '', '5,'.repeat(300), badValue(r)]);
    send(this.login([['CHAP_A', algs]], 0, 0, false));
    const ch = await m.recv(3000);
    if (ch === null || ch.bhs[36] !== 0) return pdus;
    const got = new Map<string, string>();
    for (const kv of ch.data.toString('latin1').split('\0')) {
      const i = kv.indexOf('=');
      if (i > 0) got.set(kv.slice(0, i), kv.slice(i + 1));
    }
    const id = Number(got.get('CHAP_I') ?? '0');
    const c = got.get('CHAP_C') ?? '0x00';
    const alg = CHAP_ALGORITHMS.get(Number(got.get('CHAP_A') ?? '5'));
    let resp: string;
    let user = this.env.chapUser;
    const k = r.int(8);
    if (k === 0 && alg !== undefined) {
      resp = '0x' + chapResponse(alg, id, this.env.chapSecret, Buffer.from(c.slice(2), 'hex')).toString('hex');
    } else {
      resp = r.pick(['', '0x', '0xZZ', '0x1', '0b====', '0x' + 'ab'.repeat(r.range(1, 3000)), badValue(r), '0b' + r.bytes(16).toString('base64')]);
      if (r.chance(0.3)) user = badValue(r);
    }
    const pairs: Pair[] = [['CHAP_N', user], ['CHAP_R', resp]];
    if (r.chance(0.3)) {
      // Mutual CHAP with a garbage or oversized challenge of our own.
      pairs.push(['CHAP_I', r.pick(['0', '256', '-1', 'x', String(r.byte())])]);
      pairs.push(['CHAP_C', r.pick(['0x', '0x' + 'cd'.repeat(r.range(1, 2000)), c, badValue(r)])]);
    }
    if (r.chance(0.2)) pairs.splice(r.int(pairs.length), 1);
    send(this.login(pairs, 0, r.pick([1, 3]), true));
    if (r.chance(0.5)) {
      // Go on without waiting: an operational stage that may not have been granted.
      send(this.login(OPERATIONAL, 1, 3, true));
    }
    return pdus;
  }

  /** Full-feature PDUs before the login is done: the target closes at once (RFC 7143 6.3). */
  private ffpPduInLogin(send: (p: Pdu | Buffer) => void): void {
    const r = this.r;
    if (r.chance(0.5)) send(this.login(this.startKeys(false), 0, 1, false));
    const p = r.chance(0.5)
      ? scsiCommand({ immediate: false, flags: 0x40, lun: 1, itt: r.u32(), edtl: 512, cmdSN: this.cmdSN, expStatSN: 0, cdb: Buffer.from([0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0]) })
      : nopOut({ immediate: true, lun: 0, itt: r.u32(), ttt: 0xffffffff, cmdSN: this.cmdSN, expStatSN: 0, data: null });
    send(p);
  }

  /** A non-leading login: unknown TSIH, a live TSIH with another ISID or name, or one connection too many. */
  private badJoin(send: (p: Pdu | Buffer) => void): void {
    const r = this.r;
    const live = this.env.live.filter((s) => !s.discovery);
    const s = live.length > 0 ? r.pick(live) : null;
    const isid = s !== null && r.chance(0.6) ? s.isid : this.isid;
    const name = s !== null && r.chance(0.7) ? s.initiatorName : this.name;
    const tsih = s !== null && r.chance(0.8) ? s.tsih : r.range(1, 0xffff);
    const cid = r.pick([0, 1, 2, 3, 4, r.int(0x10000)]);
    const p = loginRequest({
      transit: true, cont: false, csg: 1, nsg: 3, isid, tsih, itt: this.itt, cid, cmdSN: s?.cmdSN ?? this.cmdSN, expStatSN: 0,
      data: keys([['InitiatorName', name], ['SessionType', 'Normal'], ['TargetName', this.env.iqn], ...OPERATIONAL]),
    });
    send(p);
  }

  /** Leave the connection in one of the ways a broken initiator would. */
  private async finish(m: MiniInitiator): Promise<void> {
    const r = this.r;
    const k = r.int(10);
    if (k < 3) m.sock.destroy();
    else if (k < 5) m.sock.resetAndDestroy();
    else if (k < 6) m.sock.end();
    else if (k < 9) {
      // Read the answer (or the close) before cutting: the response path runs too.
      await m.recv(1500);
      m.sock.destroy();
    }
    // else: left open; the target's login timeout or the round's end closes it
  }
}
