// RFC 7143 11.10-11.11 Text Request/Response and Appendix D SendTargets, shared by discovery and normal sessions.
//
//   const te = new TextEngine(host, { discovery, initiatorName, peerAddress, localAddress, localPort, tid, maxSendSegment });
//   te.step({ final, cont, itt, ttt, data }) -> { final, cont, ttt, data } | { reject: RejectReason }
//
// Answers longer than the initiator's MaxRecvDataSegmentLength go out in pieces: F=0, C=1 and a
// target transfer tag; the initiator pulls the next piece with an empty request echoing that tag
// (RFC 7143 11.10.4, 11.11.4). Never throws.

import type { LoginHost } from './login.js';
import { parseText, TextWriter, MAX_TEXT_LENGTH } from './text-keys.js';
import { parseNumber } from './negotiate.js';
import { KEYS } from './params.js';
import { RESERVED_TAG } from './pdu.js';
import { RejectReason } from './pdu-write.js';

export interface TextSessionInfo {
  discovery: boolean;
  initiatorName: string;
  peerAddress: string;
  localAddress: string;
  localPort: number;
  /** -1 for discovery sessions. */
  tid: number;
  /** The initiator's MaxRecvDataSegmentLength: the largest Text Response data segment. */
  maxSendSegment: number;
}

export interface TextRequest {
  final: boolean;
  cont: boolean;
  itt: number;
  ttt: number;
  data: Buffer;
}

export type TextReply = { final: boolean; cont: boolean; ttt: number; data: Buffer } | { reject: number };

/** "addr:port,1" with IPv6 in brackets, zone id stripped, IPv4-mapped IPv6 shown as IPv4. */
export function formatTargetAddress(address: string, port: number, tpgt = 1): string {
  let a = address;
  const zone = a.indexOf('%');
  if (zone >= 0) a = a.slice(0, zone);
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a);
  if (mapped) a = mapped[1]!;
  if (a.includes(':')) a = `[${a}]`;
  return `${a}:${port},${tpgt}`;
}

export class TextEngine {
  private pendingOut: Buffer | null = null;
  private pendingIn: Buffer[] = [];
  private pendingInLength = 0;
  private tag = 0;
  private currentTtt = RESERVED_TAG;
  /** Updated when the initiator declares a new MaxRecvDataSegmentLength in full feature phase. */
  maxSendSegment: number;

  constructor(private readonly host: LoginHost, private readonly info: TextSessionInfo) {
    this.maxSendSegment = info.maxSendSegment;
  }

  step(req: TextRequest): TextReply {
    try {
      return this.stepInner(req);
    } catch {
      return { reject: RejectReason.ProtocolError };
    }
  }

  private nextTag(): number {
    this.tag = (this.tag + 1) >>> 0;
    if (this.tag === RESERVED_TAG || this.tag === 0) this.tag = 1;
    return this.tag;
  }

  private stepInner(req: TextRequest): TextReply {
    if (req.final && req.cont) return { reject: RejectReason.ProtocolError }; // RFC 7143 11.10.2
    if (req.ttt !== RESERVED_TAG) {
      // A continuation: must echo our tag (RFC 7143 11.10.4).
      if (req.ttt !== this.currentTtt) return { reject: RejectReason.InvalidPduField };
      if (this.pendingOut !== null) {
        if (req.data.length !== 0) return { reject: RejectReason.ProtocolError };
        return this.sendChunk(req);
      }
      // Else it continues a C-bit request of the initiator: fall through to accumulate.
    } else {
      // A fresh request resets any negotiation in progress (RFC 7143 11.10.4).
      this.pendingOut = null;
      if (this.currentTtt !== RESERVED_TAG && this.pendingIn.length === 0) this.currentTtt = RESERVED_TAG;
    }
    if (this.pendingInLength + req.data.length > MAX_TEXT_LENGTH) return { reject: RejectReason.ProtocolError };
    if (req.cont) {
      this.pendingIn.push(Buffer.from(req.data)); // the request buffer is borrowed (connection.ts)
      this.pendingInLength += req.data.length;
      this.currentTtt = this.nextTag();
      return { final: false, cont: false, ttt: this.currentTtt, data: Buffer.alloc(0) };
    }
    let data = req.data;
    if (this.pendingIn.length > 0) {
      data = Buffer.concat([...this.pendingIn, data]);
      this.pendingIn = [];
      this.pendingInLength = 0;
    }
    this.currentTtt = RESERVED_TAG;
    const parsed = parseText(data);
    if (parsed.errors.some((e) => e.kind !== 'duplicate')) return { reject: RejectReason.ProtocolError };
    const out = new TextWriter();
    for (const { key, value } of parsed.pairs) this.key(key, value, out);
    const all = out.toBuffer();
    if (all.length > this.maxSendSegment) {
      this.pendingOut = all;
      this.currentTtt = this.nextTag();
      return this.sendChunk(req);
    }
    return { final: req.final, cont: false, ttt: RESERVED_TAG, data: all };
  }

  private sendChunk(req: TextRequest): TextReply {
    const all = this.pendingOut!;
    const max = Math.max(1, this.maxSendSegment);
    if (all.length > max) {
      this.pendingOut = all.subarray(max);
      return { final: false, cont: true, ttt: this.currentTtt, data: all.subarray(0, max) };
    }
    this.pendingOut = null;
    this.currentTtt = RESERVED_TAG;
    return { final: req.final, cont: false, ttt: RESERVED_TAG, data: all };
  }

  private key(key: string, value: string, out: TextWriter): void {
    if (key === 'SendTargets') return this.sendTargets(value, out);
    if (key === 'MaxRecvDataSegmentLength') {
      // Declarative, allowed in full feature phase (RFC 7143 13.12); answer with ours is not needed.
      const n = parseNumber(value);
      if (n < 512 || n > 16777215) out.add(key, 'Reject');
      else this.maxSendSegment = n;
      return;
    }
    const def = KEYS.get(key);
    if (def === undefined) return out.add(key, 'NotUnderstood');
    // Everything else may only be negotiated during login (IO) or is the target's to send.
    out.add(key, def.phase === 'ALL' ? 'Irrelevant' : 'Reject');
  }

  /** RFC 7143 Appendix D. */
  private sendTargets(value: string, out: TextWriter): void {
    const info = this.info;
    let names: string[] | null;
    if (value === 'All') names = null;
    else if (value === '') {
      // Empty: the session's own target (normal sessions); nothing in discovery (as tgt).
      if (info.discovery || info.tid < 0) return;
      const own = this.host.targets().find((t) => t.tid === info.tid);
      if (own === undefined) return;
      names = [own.name];
    } else names = [value];
    for (const t of this.host.targets()) {
      if (names !== null && !names.includes(t.name)) continue;
      if (!this.host.isAllowed(t.tid, info.initiatorName, info.peerAddress)) continue;
      out.add('TargetName', t.name);
      const addrs = this.host.targetAddresses?.(t.tid, info.localAddress, info.localPort) ?? [];
      if (addrs.length === 0) out.add('TargetAddress', formatTargetAddress(info.localAddress, info.localPort));
      else for (const a of addrs) out.add('TargetAddress', a);
    }
  }
}
