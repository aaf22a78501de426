// Test fixture: a small iSER initiator over an RDMA provider (the loopback one in unit tests): CM connect, PDUs in Sends, data by STag (RFC 7145 as Linux ib_iser does it).
//
// It registers one pool: receive slots, send slots and a data area. A command's data area is
// advertised with the pool's rkey and virtual address, as ib_iser does: Read STag for data the
// target RDMA-WRITEs, Write STag (VA past any unsolicited data) for data it RDMA-READs.

import { loginRequest, scsiCommand, logoutRequest, nopOut, textRequest, tmfRequest, type InitiatorPdu } from '../../../iscsi/testing/pdus.js';
import { parseText } from '../../../iscsi/text-keys.js';
import {
  WC_STATUS, WC_STRIDE, WC_BYTE_LEN, WcStatus, type CmEvent, type CompletionBatch, type ConnHandle, type RdmaEndpoint,
  type RdmaProvider, type RegisteredPool,
} from '../rdma-provider-api.js';
import { ISER_HEADER_LENGTH, parseIserHeader, writeInitiatorHeader } from '../iser-header.js';

const SLOT = 8192 + 512;
const RECVS = 64;
const SENDS = 64;
export const DATA_AREA = 16 * 1024 * 1024;

/** A PDU the target sent: its BHS and data segment (copies). */
export interface Received {
  bhs: Buffer;
  data: Buffer;
  /** The iSER header said a STag was valid (a target must never advertise one). */
  stagValid: boolean;
}

export class IserTestInitiator {
  readonly ep: RdmaEndpoint;
  readonly pool: RegisteredPool;
  conn: ConnHandle = 0;
  state: 'idle' | 'connecting' | 'established' | 'rejected' | 'disconnected' = 'idle';
  readonly inbox: Received[] = [];
  readonly errors: string[] = [];
  private nextSend = 0;
  private sendsOut = 0;
  itt = 1;
  cmdSN = 1;
  expStatSN = 0;
  isid = Buffer.from([0x40, 0, 0, 0x12, 0x34, 0x56]);
  tsih = 0;
  /** Offset of the data area in the pool. */
  readonly dataOffset = (RECVS + SENDS) * SLOT;

  constructor(provider: RdmaProvider) {
    this.ep = provider.createEndpoint({
      onCmEvents: (evs) => evs.forEach((e) => this.onCm(e)),
      onCompletions: (b) => this.onWc(b),
    });
    this.pool = this.ep.registerPool((RECVS + SENDS) * SLOT + DATA_AREA);
  }

  connect(address: string, port: number, privateData = Uint8Array.from([0x80, 0, 0, 0])): void {
    this.state = 'connecting';
    this.conn = this.ep.connect(address, port, privateData, { sendDepth: SENDS + 8, recvDepth: RECVS, responderResources: 16, initiatorDepth: 1 });
  }

  private onCm(e: CmEvent): void {
    if (e.type === 'route-resolved') {
      for (let i = 0; i < RECVS; i++) this.ep.postRecv(this.conn, this.pool.pool, i * SLOT, SLOT, i);
    } else if (e.type === 'established') this.state = 'established';
    else if (e.type === 'rejected' || e.type === 'unreachable') this.state = 'rejected';
    else if (e.type === 'disconnected') {
      this.state = 'disconnected';
      this.ep.disconnect(this.conn);
    }
  }

  private onWc(b: CompletionBatch): void {
    for (let i = 0; i < b.count; i++) {
      const wr = b.wrId[i]!;
      const status = b.fields[i * WC_STRIDE + WC_STATUS]!;
      if (wr >= RECVS) {
        this.sendsOut--;
        if (status !== WcStatus.Success) this.errors.push(`send ${wr} status ${status}`);
        continue;
      }
      if (status !== WcStatus.Success) {
        if (status !== WcStatus.WrFlushErr) this.errors.push(`recv status ${status}`);
        continue;
      }
      const len = b.fields[i * WC_STRIDE + WC_BYTE_LEN]!;
      const buf = this.pool.buffer.subarray(wr * SLOT, wr * SLOT + len);
      const h = parseIserHeader(buf)!;
      const bhs = Buffer.from(buf.subarray(ISER_HEADER_LENGTH, ISER_HEADER_LENGTH + 48));
      const dl = bhs.readUIntBE(5, 3);
      const start = ISER_HEADER_LENGTH + 48 + bhs[4]! * 4;
      if (start + dl > len) this.errors.push(`short PDU: ${len} bytes for ${dl} of data`);
      this.inbox.push({ bhs, data: Buffer.from(buf.subarray(start, start + dl)), stagValid: h.readStag !== null || h.writeStag !== null });
      // StatSN-carrying PDUs advance ExpStatSN (RFC 7143 11.2.1.4); Data-In never comes over iSER.
      this.expStatSN = (bhs.readUInt32BE(24) + 1) >>> 0;
      this.ep.postRecv(this.conn, this.pool.pool, wr * SLOT, SLOT, wr);
    }
  }

  /** Send one PDU; `write`/`read` advertise data-area ranges (offset in the data area, VA as ib_iser). */
  send(p: InitiatorPdu, stags: { write?: { offset: number }; read?: { offset: number } } = {}): number {
    // Offsets may point outside the data area on purpose (a test of the target's bounds).
    const slot = this.nextSend;
    this.nextSend = (this.nextSend + 1) % SENDS;
    const off = (RECVS + slot) * SLOT;
    const b = this.pool.buffer.subarray(off, off + SLOT);
    const va = (o: number): bigint => this.pool.addr + BigInt(this.dataOffset + o);
    writeInitiatorHeader(
      b,
      stags.write === undefined ? null : { stag: this.pool.rkey, va: va(stags.write.offset) },
      stags.read === undefined ? null : { stag: this.pool.rkey, va: va(stags.read.offset) },
    );
    p.bhs.copy(b, ISER_HEADER_LENGTH);
    p.ahs.copy(b, ISER_HEADER_LENGTH + 48);
    p.data.copy(b, ISER_HEADER_LENGTH + 48 + p.ahs.length);
    this.sendsOut++;
    return this.ep.postSend(this.conn, this.pool.pool, off, ISER_HEADER_LENGTH + 48 + p.ahs.length + p.data.length, RECVS + slot, true);
  }

  /** The data area (initiator memory the target reads from and writes to). */
  data(offset: number, length: number): Buffer {
    return this.pool.buffer.subarray(this.dataOffset + offset, this.dataOffset + offset + length);
  }

  take(): Received | undefined {
    return this.inbox.shift();
  }

  loginPdu(csg: number, nsg: number, keys: [string, string][]): InitiatorPdu {
    return loginRequest({ transit: true, csg, nsg, isid: this.isid, tsih: this.tsih, itt: this.itt++, cmdSN: this.cmdSN, expStatSN: this.expStatSN, keys });
  }

  command(o: { cdb: number[]; read?: number; write?: number; lun?: number; immediate?: boolean }): { pdu: InitiatorPdu; itt: number } {
    const itt = this.itt++;
    const edtl = o.read ?? o.write ?? 0;
    const pdu = scsiCommand({
      itt, cmdSN: this.cmdSN, expStatSN: this.expStatSN, lun: o.lun ?? 1, cdb: o.cdb, read: o.read !== undefined,
      write: o.write !== undefined, edtl, immediate: o.immediate,
    });
    if (o.immediate !== true) this.cmdSN = (this.cmdSN + 1) >>> 0;
    return { pdu, itt };
  }

  nop(data?: Buffer): InitiatorPdu {
    return nopOut({ itt: this.itt++, cmdSN: this.cmdSN, expStatSN: this.expStatSN, immediate: true, data });
  }

  text(keys: [string, string][]): InitiatorPdu {
    const p = textRequest({ itt: this.itt++, cmdSN: this.cmdSN, expStatSN: this.expStatSN, keys });
    this.cmdSN = (this.cmdSN + 1) >>> 0;
    return p;
  }

  /** An immediate Task Management Function Request (RFC 7143 11.5), e.g. ABORT TASK (1) of `ref`. */
  tmf(fn: number, ref: number, refCmdSN = 0): InitiatorPdu {
    return tmfRequest({ itt: this.itt++, cmdSN: this.cmdSN, expStatSN: this.expStatSN, immediate: true, fn, refTaskTag: ref, refCmdSN });
  }

  logout(): InitiatorPdu {
    const p = logoutRequest({ itt: this.itt++, cmdSN: this.cmdSN, expStatSN: this.expStatSN, reason: 0, cid: 0, immediate: true });
    return p;
  }

  get sendsOutstanding(): number {
    return this.sendsOut;
  }

  close(): void {
    this.ep.close();
  }
}

/** The keys of a Login/Text Response data segment. */
export function keysOf(data: Buffer): Map<string, string> {
  return new Map(parseText(data).pairs.map((p) => [p.key, p.value]));
}
