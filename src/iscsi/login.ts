// RFC 7143 6.3 / 11.12-11.13 login phase engine: stages, security (CHAP) and operational negotiation, over plain Buffers.
//
// Interface (implemented by the integrator; nothing here knows sockets or transports):
//
//   interface LoginTarget { tid: number; name: string; params: TargetParams; ready: boolean;
//                           alias?: string | null; iserOnly?: boolean }
//   interface LoginHost {
//     findTarget(name: string): LoginTarget | null;
//     isAllowed(tid: number, initiatorName: string, peerAddress: string): boolean;   // ACLs
//     incomingUsers(tid: number | null): string[];       // null = discovery (global accounts)
//     outgoingUser(tid: number | null): string | null;
//     password(user: string): string | null;
//     targets(): LoginTarget[];                           // for SendTargets (text.ts)
//     bindSession(result: LoginResult): { tsih: number } | { statusClass: number; statusDetail: number };
//     redirect?(target: LoginTarget, initiatorName: string, peerAddress: string):
//       { address: string; reason: number } | null;      // tgt's RedirectCallback program
//     targetAddresses?(tid: number, localAddress: string, localPort: number): string[]; // text.ts
//     portalGroupTag?(tid: number, localAddress: string, localPort: number): number; // default 1
//     discoveryParams?(): TargetParams;                   // defaults for discovery sessions
//   }
//
//   const engine = new LoginEngine(host, { peerAddress, localAddress, localPort, transport });
//   const reply = engine.step(request);   // LoginRequest -> LoginReply, never throws
//   if (reply.done) use engine.result (LoginResult); if (reply.fail) close after sending.

import { TargetParams, RedirectReason } from './target-params.js';
import { parseText, TextWriter, MAX_TEXT_LENGTH, type TextPair } from './text-keys.js';
import { ChapTarget } from './chap.js';
import { OperationalNegotiator, NEG_OK, type NegotiatedParams } from './negotiate.js';
import { ISCSI_VERSION } from './params.js';
import { Stage } from './pdu.js';

export type { NegotiatedParams } from './negotiate.js';

export interface LoginTarget {
  tid: number;
  name: string;
  params: TargetParams;
  /** tgt target state "ready" (false = offline). */
  ready: boolean;
  alias?: string | null;
  /** An iSER-only target refuses TCP logins (tgt iscsid.c login_start). */
  iserOnly?: boolean;
}

export interface LoginHost {
  findTarget(name: string): LoginTarget | null;
  isAllowed(tid: number, initiatorName: string, peerAddress: string): boolean;
  incomingUsers(tid: number | null): string[];
  outgoingUser(tid: number | null): string | null;
  password(user: string): string | null;
  targets(): LoginTarget[];
  bindSession(result: LoginResult): { tsih: number } | { statusClass: number; statusDetail: number };
  redirect?(target: LoginTarget, initiatorName: string, peerAddress: string): { address: string; reason: number } | null;
  targetAddresses?(tid: number, localAddress: string, localPort: number): string[];
  /** The portal group tag of the target's portal at this address (RFC 7143 13.9); absent: 1. */
  portalGroupTag?(tid: number, localAddress: string, localPort: number): number;
  discoveryParams?(): TargetParams;
}

export interface LoginConnInfo {
  peerAddress: string;
  localAddress: string;
  localPort: number;
  transport: 'tcp' | 'iser';
}

export interface LoginRequest {
  transit: boolean; cont: boolean; csg: number; nsg: number; versionMax: number; versionMin: number;
  isid: Buffer; tsih: number; itt: number; cid: number; cmdSN: number; expStatSN: number; data: Buffer;
}

export interface LoginReply {
  transit: boolean; cont: boolean; csg: number; nsg: number; versionMax: number; versionActive: number;
  statusClass: number; statusDetail: number; tsih: number; data: Buffer;
  /** Login succeeded: enter full feature phase after sending this reply. */
  done: boolean;
  /** Close the connection after sending this reply. */
  fail: boolean;
}

export interface LoginResult {
  sessionType: 'Normal' | 'Discovery';
  initiatorName: string;
  initiatorAlias: string | null;
  targetName: string | null;
  /** -1 for discovery. */
  tid: number;
  isid: Buffer;
  tsih: number;
  cid: number;
  params: NegotiatedParams;
}

/** RFC 7143 11.13.5 Login Response status (class << 8 | detail). */
export const LoginStatus = {
  Success: 0x0000,
  TargetMovedTemporarily: 0x0101,
  TargetMovedPermanently: 0x0102,
  InitiatorError: 0x0200,
  AuthenticationFailure: 0x0201,
  AuthorizationFailure: 0x0202,
  NotFound: 0x0203,
  TargetRemoved: 0x0204,
  UnsupportedVersion: 0x0205,
  TooManyConnections: 0x0206,
  MissingParameter: 0x0207,
  CantIncludeInSession: 0x0208,
  SessionTypeNotSupported: 0x0209,
  SessionDoesNotExist: 0x020a,
  InvalidDuringLogin: 0x020b,
  TargetError: 0x0300,
  ServiceUnavailable: 0x0301,
  OutOfResources: 0x0302,
} as const;

/** RFC 7143 6.3: during login each side may send at most 8192 bytes per PDU (MaxRecvDataSegmentLength default). */
export const LOGIN_SEGMENT = 8192;

type State = 'start' | 'security' | 'chap-challenge' | 'chap-done' | 'operational' | 'done' | 'failed';

export class LoginEngine {
  result: LoginResult | null = null;
  private state: State = 'start';
  private isid: Buffer = Buffer.alloc(6);
  private tsih = 0;
  private cid = 0;
  private initiatorName = '';
  /** The InitiatorName the initiator sent ('' until then; for log lines of a refused login). */
  get initiator(): string {
    return this.initiatorName;
  }
  private initiatorAlias: string | null = null;
  private discovery = false;
  private target: LoginTarget | null = null;
  private params: TargetParams = new TargetParams();
  private authRequired = false;
  private chap: ChapTarget | null = null;
  private neg: OperationalNegotiator | null = null;
  private sentFirst = false;
  /** Initiator text accumulated over PDUs with the C bit (RFC 7143 6.2). */
  private pendingIn: Buffer[] = [];
  private pendingInLength = 0;
  /** Our text not yet sent because it exceeded one PDU (sent on the initiator's empty requests). */
  private pendingOut: Buffer | null = null;
  private pendingOutReply: Omit<LoginReply, 'data' | 'cont'> | null = null;

  constructor(private readonly host: LoginHost, private readonly conn: LoginConnInfo) {}

  /** Handles one Login Request; never throws. */
  step(req: LoginRequest): LoginReply {
    try {
      return this.stepInner(req);
    } catch {
      return this.fail(req, LoginStatus.TargetError);
    }
  }

  private stepInner(req: LoginRequest): LoginReply {
    if (this.state === 'done' || this.state === 'failed') return this.fail(req, LoginStatus.InvalidDuringLogin);
    // RFC 7143 11.12.4: Version-min above what we speak cannot work.
    if (req.versionMin > ISCSI_VERSION || req.versionMax < ISCSI_VERSION) return this.fail(req, LoginStatus.UnsupportedVersion);
    // RFC 7143 11.12.2: T and C are never both set; CSG 2 is reserved.
    if ((req.transit && req.cont) || req.csg === 2 || req.csg === Stage.FullFeature) return this.fail(req, LoginStatus.InitiatorError);
    if (req.isid.length !== 6) return this.fail(req, LoginStatus.InitiatorError);
    if (this.state === 'start') {
      this.isid = Buffer.from(req.isid);
      this.tsih = req.tsih;
      this.cid = req.cid;
    } else if (!req.isid.equals(this.isid) || req.tsih !== this.tsih || req.cid !== this.cid) {
      // RFC 7143 6.3: ISID, TSIH and CID stay the same for the whole login.
      return this.fail(req, LoginStatus.InitiatorError);
    }

    // A long answer of ours is being pulled by empty requests.
    if (this.pendingOut !== null) {
      if (req.data.length !== 0 || req.cont) return this.fail(req, LoginStatus.InitiatorError);
      return this.sendChunk(req);
    }

    // Accumulate C-bit text; answer each partial PDU with an empty response (RFC 7143 6.2).
    if (this.pendingInLength + req.data.length > MAX_TEXT_LENGTH) return this.fail(req, LoginStatus.OutOfResources);
    if (req.cont) {
      this.pendingIn.push(Buffer.from(req.data)); // the request buffer is borrowed (connection.ts)
      this.pendingInLength += req.data.length;
      return this.reply(req, false, req.csg, 0, LoginStatus.Success, Buffer.alloc(0));
    }
    let data = req.data;
    if (this.pendingIn.length > 0) {
      data = Buffer.concat([...this.pendingIn, req.data]);
      this.pendingIn = [];
      this.pendingInLength = 0;
    }
    const parsed = parseText(data);
    if (parsed.errors.length > 0) return this.fail(req, LoginStatus.InitiatorError);
    const pairs = parsed.pairs;
    const out = new TextWriter();

    if (this.state === 'start') {
      const st = this.start(pairs, out);
      if (st !== 0) return this.fail(req, st, out);
      this.state = req.csg === Stage.Security ? 'security' : 'operational';
      if (req.csg === Stage.Operational && this.authRequired) return this.fail(req, LoginStatus.AuthenticationFailure);
    }

    if (req.csg === Stage.Security) {
      if (this.state === 'operational') return this.fail(req, LoginStatus.InitiatorError); // no way back (6.3)
      const st = this.security(pairs, out);
      if (st !== 0) return this.fail(req, st, out);
    } else {
      if (this.state !== 'operational') {
        // Operational stage entered without a granted transit from security.
        if (this.state !== 'chap-done' && this.state !== 'security') return this.fail(req, LoginStatus.InitiatorError);
        if (this.authRequired && this.state !== 'chap-done') return this.fail(req, LoginStatus.AuthenticationFailure);
        this.state = 'operational';
      }
      const neg = this.negotiator();
      const r = neg.handle(pairs);
      for (const [k, v] of r.answers) out.add(k, v);
      if (r.status !== NEG_OK) return this.fail(req, r.status, out);
      for (const [k, v] of neg.declarations()) out.add(k, v);
    }

    if (!this.sentFirst) {
      this.sentFirst = true;
      // RFC 7143 13.9: the first Login Response of a normal session carries the portal group tag.
      if (!this.discovery) {
        const tpgt = this.target === null ? 1 : this.host.portalGroupTag?.(this.target.tid, this.conn.localAddress, this.conn.localPort) ?? 1;
        out.add('TargetPortalGroupTag', String(tpgt));
        if (this.target?.alias) out.add('TargetAlias', this.target.alias);
      }
    }

    if (!req.transit) return this.reply(req, false, req.csg, 0, LoginStatus.Success, out.toBuffer());
    return this.transit(req, out);
  }

  /** First PDU: who is logging in to what (RFC 7143 6.3, 13.4-13.8). Returns 0 or a status. */
  private start(pairs: readonly TextPair[], out: TextWriter): number {
    const get = (k: string): string | undefined => pairs.find((p) => p.key === k)?.value;
    const name = get('InitiatorName');
    if (name === undefined || name.length === 0) return LoginStatus.MissingParameter;
    this.initiatorName = name;
    this.initiatorAlias = get('InitiatorAlias') ?? null;
    const type = get('SessionType') ?? 'Normal';
    if (type === 'Discovery') this.discovery = true;
    else if (type !== 'Normal') return LoginStatus.SessionTypeNotSupported;

    if (this.discovery) {
      this.params = this.host.discoveryParams?.() ?? new TargetParams();
      this.authRequired = this.host.incomingUsers(null).length > 0;
      return 0;
    }
    const targetName = get('TargetName');
    if (targetName === undefined || targetName.length === 0) return LoginStatus.MissingParameter;
    const t = this.host.findTarget(targetName);
    if (t === null || (t.iserOnly === true && this.conn.transport === 'tcp')) return LoginStatus.NotFound;
    this.target = t;
    this.params = t.params;

    // Redirection first, as tgt does: a redirected target answers every login with its address.
    const redirect = this.redirectFor(t);
    if (redirect !== null) {
      out.add('TargetAddress', redirect.address);
      return 0x0100 | redirect.reason;
    }
    if (!t.ready) return LoginStatus.ServiceUnavailable;
    if (!this.host.isAllowed(t.tid, name, this.conn.peerAddress)) return LoginStatus.AuthorizationFailure;
    this.authRequired = this.host.incomingUsers(t.tid).length > 0;
    return 0;
  }

  private redirectFor(t: LoginTarget): { address: string; reason: number } | null {
    const p = t.params;
    if (p.redirectCallback !== null) return this.host.redirect?.(t, this.initiatorName, this.conn.peerAddress) ?? null;
    if (p.redirectAddress.length === 0) return null;
    const addr = p.redirectAddress.includes(':') && !p.redirectAddress.startsWith('[') ? `[${p.redirectAddress}]` : p.redirectAddress;
    const port = p.redirectPort.length > 0 ? p.redirectPort : '3260';
    const reason = p.redirectReason === RedirectReason.None ? RedirectReason.Temporary : p.redirectReason;
    return { address: `${addr}:${port}`, reason };
  }

  private tidOrNull(): number | null {
    return this.discovery ? null : this.target!.tid;
  }

  /** Security stage keys (RFC 7143 12). Returns 0 or a status. */
  private security(pairs: readonly TextPair[], out: TextWriter): number {
    const get = (k: string): string | undefined => pairs.find((p) => p.key === k)?.value;
    for (const p of pairs) {
      if (p.key.startsWith('CHAP_') || p.key === 'AuthMethod') continue;
      if (['InitiatorName', 'InitiatorAlias', 'SessionType', 'TargetName'].includes(p.key)) continue;
      // Operational keys belong to the operational stage; tgt answers them NotUnderstood here too.
      out.add(p.key, 'NotUnderstood');
    }
    const method = get('AuthMethod');
    if (this.state === 'security' && method !== undefined) {
      let chosen: string | null = null;
      for (const m of method.split(',')) {
        if (m === 'None' && !this.authRequired) { chosen = 'None'; break; }
        if (m === 'CHAP' && this.host.incomingUsers(this.tidOrNull()).length > 0) { chosen = 'CHAP'; break; }
      }
      if (chosen === null) {
        out.add('AuthMethod', 'Reject');
        return LoginStatus.AuthenticationFailure;
      }
      out.add('AuthMethod', chosen);
      if (chosen === 'CHAP') {
        this.chap = new ChapTarget();
        this.state = 'chap-challenge';
      } else {
        this.state = 'chap-done'; // nothing more to authenticate
      }
    }
    if (this.state === 'chap-challenge' && this.chap !== null) {
      const chapA = get('CHAP_A');
      if (this.chap.alg === null) {
        if (chapA === undefined) return 0; // AuthMethod answered; CHAP_A comes next
        const keys = this.chap.challenge(chapA);
        if (keys === null) {
          out.add('CHAP_A', 'Reject');
          return LoginStatus.AuthenticationFailure;
        }
        out.add('CHAP_A', keys.CHAP_A);
        out.add('CHAP_I', keys.CHAP_I);
        out.add('CHAP_C', keys.CHAP_C);
        return 0;
      }
      return this.chapResponse(get, out);
    }
    return 0;
  }

  private chapResponse(get: (k: string) => string | undefined, out: TextWriter): number {
    const chap = this.chap!;
    const user = get('CHAP_N');
    const resp = get('CHAP_R');
    if (user === undefined || resp === undefined) return LoginStatus.AuthenticationFailure;
    const tid = this.tidOrNull();
    if (!this.host.incomingUsers(tid).includes(user)) return LoginStatus.AuthenticationFailure;
    const secret = this.host.password(user);
    if (secret === null || !chap.verify(resp, secret)) return LoginStatus.AuthenticationFailure;
    const ci = get('CHAP_I');
    const cc = get('CHAP_C');
    if (ci !== undefined || cc !== undefined) {
      // Mutual CHAP: answer with the outgoing account (RFC 7143 12.1.3).
      if (ci === undefined || cc === undefined) return LoginStatus.AuthenticationFailure;
      const outUser = this.host.outgoingUser(tid);
      const outSecret = outUser === null ? null : this.host.password(outUser);
      if (outUser === null || outSecret === null) return LoginStatus.AuthenticationFailure;
      const answer = chap.answer(ci, cc, outSecret);
      if (answer === null) return LoginStatus.AuthenticationFailure;
      out.add('CHAP_N', outUser);
      out.add('CHAP_R', answer);
    }
    this.state = 'chap-done';
    return 0;
  }

  private negotiator(): OperationalNegotiator {
    if (this.neg === null) {
      this.neg = new OperationalNegotiator(this.params, {
        transport: this.conn.transport,
        discovery: this.discovery,
        leading: this.tsih === 0,
      });
    }
    return this.neg;
  }

  /** The initiator asked to move to req.nsg (RFC 7143 6.3, 11.12.3). */
  private transit(req: LoginRequest, out: TextWriter): LoginReply {
    const nsg = req.nsg;
    if (nsg <= req.csg || nsg === 2) return this.fail(req, LoginStatus.InitiatorError, out);
    if (req.csg === Stage.Security) {
      // Still authenticating: refuse the transit for now (T=0).
      if (this.state === 'chap-challenge') return this.reply(req, false, req.csg, 0, LoginStatus.Success, out.toBuffer());
      if (this.state === 'security' && this.authRequired) return this.fail(req, LoginStatus.AuthenticationFailure, out);
      this.state = 'chap-done';
      if (nsg === Stage.Operational) return this.reply(req, true, req.csg, Stage.Operational, LoginStatus.Success, out.toBuffer());
      // Straight to full feature phase: only if the target has nothing to offer; else go through
      // the operational stage (the target may answer with a lower NSG, RFC 7143 6.3).
      const neg = this.negotiator();
      const offers = neg.offers();
      if (offers.length > 0 || this.conn.transport === 'iser') {
        this.state = 'operational';
        return this.reply(req, true, req.csg, Stage.Operational, LoginStatus.Success, out.toBuffer());
      }
      return this.finish(req, out);
    }
    const neg = this.negotiator();
    for (const [k, v] of neg.offers()) out.add(k, v);
    if (neg.waiting) return this.reply(req, false, req.csg, Stage.Operational, LoginStatus.Success, out.toBuffer());
    return this.finish(req, out);
  }

  /** Final response: bind the session and enter full feature phase. */
  private finish(req: LoginRequest, out: TextWriter): LoginReply {
    const neg = this.negotiator();
    const result: LoginResult = {
      sessionType: this.discovery ? 'Discovery' : 'Normal',
      initiatorName: this.initiatorName,
      initiatorAlias: this.initiatorAlias,
      targetName: this.discovery ? null : this.target!.name,
      tid: this.discovery ? -1 : this.target!.tid,
      isid: this.isid,
      tsih: this.tsih,
      cid: this.cid,
      params: neg.result(),
    };
    const b = this.host.bindSession(result);
    if ('statusClass' in b) return this.fail(req, (b.statusClass << 8) | b.statusDetail, out);
    result.tsih = b.tsih;
    this.result = result;
    const data = out.toBuffer();
    if (data.length > LOGIN_SEGMENT) {
      // Our final text does not fit one PDU: the last chunk will carry the transit.
      this.tsih = b.tsih;
      this.pendingOut = data;
      this.pendingOutReply = this.base(req, true, Stage.FullFeature, LoginStatus.Success, b.tsih, true);
      return this.sendChunk(req);
    }
    this.state = 'done';
    return { ...this.base(req, true, Stage.FullFeature, LoginStatus.Success, b.tsih, true), cont: false, data };
  }

  private base(req: LoginRequest, transit: boolean, nsg: number, status: number, tsih: number, done: boolean): Omit<LoginReply, 'data' | 'cont'> {
    return {
      transit, csg: req.csg, nsg: transit ? nsg : 0, versionMax: ISCSI_VERSION, versionActive: ISCSI_VERSION,
      statusClass: status >> 8, statusDetail: status & 0xff, tsih, done, fail: false,
    };
  }

  private reply(req: LoginRequest, transit: boolean, csg: number, nsg: number, status: number, data: Buffer): LoginReply {
    if (data.length > LOGIN_SEGMENT) {
      this.pendingOut = data;
      this.pendingOutReply = { ...this.base(req, transit, nsg, status, this.tsih, false), csg };
      return this.sendChunk(req);
    }
    return { ...this.base(req, transit, nsg, status, this.tsih, false), csg, cont: false, data };
  }

  /** Sends the next LOGIN_SEGMENT bytes of pendingOut with C=1, or the rest with the saved flags. */
  private sendChunk(req: LoginRequest): LoginReply {
    const all = this.pendingOut!;
    if (all.length > LOGIN_SEGMENT) {
      this.pendingOut = all.subarray(LOGIN_SEGMENT);
      return { ...this.base(req, false, 0, 0, this.tsih, false), csg: this.pendingOutReply!.csg, cont: true, data: all.subarray(0, LOGIN_SEGMENT) };
    }
    const r = this.pendingOutReply!;
    this.pendingOut = null;
    this.pendingOutReply = null;
    if (r.done) this.state = 'done';
    return { ...r, cont: false, data: all };
  }

  private fail(req: LoginRequest, status: number, out?: TextWriter): LoginReply {
    this.state = 'failed';
    this.result = null;
    // Redirects (class 1) carry TargetAddress; errors may carry the Reject keys that explain them.
    const data = out !== undefined ? out.toBuffer().subarray(0, LOGIN_SEGMENT) : Buffer.alloc(0);
    return {
      transit: false, cont: false, csg: req.csg & 3, nsg: 0, versionMax: ISCSI_VERSION, versionActive: ISCSI_VERSION,
      statusClass: status >> 8, statusDetail: status & 0xff, tsih: this.tsih, data: Buffer.from(data),
      done: false, fail: true,
    };
  }
}
