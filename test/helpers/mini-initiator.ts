// A minimal iSCSI initiator for tests that need raw PDUs (RFC 7143 11): login, then send anything.
//
// It is deliberately small and permissive: tests use it to reach full feature phase and then send
// malformed or unusual PDUs that real initiators never produce.

import net from 'node:net';

export const BHS = 48;

export interface Pdu {
  bhs: Buffer;
  data: Buffer;
}

function pad4(n: number): number {
  return (n + 3) & ~3;
}

/** key=value\0 text data. */
export function textData(pairs: Record<string, string>): Buffer {
  return Buffer.from(Object.entries(pairs).map(([k, v]) => `${k}=${v}\0`).join(''), 'utf8');
}

export function parseTextData(data: Buffer): Map<string, string> {
  const m = new Map<string, string>();
  for (const kv of data.toString('utf8').split('\0')) {
    const i = kv.indexOf('=');
    if (i > 0) m.set(kv.slice(0, i), kv.slice(i + 1));
  }
  return m;
}

/** A failed login with its status (class << 8 | detail), -1 when the connection closed. */
export class LoginError extends Error {
  constructor(msg: string, readonly status: number) {
    super(msg);
  }
}

export class MiniInitiator {
  private buf = Buffer.alloc(0);
  private waiters: Array<(p: Pdu | null) => void> = [];
  private queue: Pdu[] = [];
  closed = false;
  cmdSN = 1;
  expStatSN = 0;
  itt = 1;
  /** TSIH to log in with (0: a new session); set from the final Login Response. */
  tsih = 0;
  cid = 0;
  isid = Buffer.from([0x80, 0x12, 0x34, 0x56, 0x78, Math.floor(Math.random() * 256)]);

  private constructor(readonly sock: net.Socket) {
    sock.on('data', (d: Buffer) => this.onData(d));
    sock.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w(null);
    });
    sock.on('error', () => {});
  }

  static connect(port: number, host = '127.0.0.1'): Promise<MiniInitiator> {
    return new Promise((res, rej) => {
      const s = net.connect({ host, port }, () => res(new MiniInitiator(s)));
      s.once('error', rej);
    });
  }

  private onData(d: Buffer): void {
    this.buf = Buffer.concat([this.buf, d]);
    for (;;) {
      if (this.buf.length < BHS) return;
      const ahs = this.buf[4]! * 4;
      const dsl = this.buf.readUIntBE(5, 3);
      const total = BHS + ahs + pad4(dsl);
      if (this.buf.length < total) return;
      const pdu = { bhs: Buffer.from(this.buf.subarray(0, BHS)), data: Buffer.from(this.buf.subarray(BHS + ahs, BHS + ahs + dsl)) };
      this.buf = this.buf.subarray(total);
      const w = this.waiters.shift();
      if (w !== undefined) w(pdu);
      else this.queue.push(pdu);
    }
  }

  /**
   * The next PDU from the target, or null when the connection closed or `ms` passed. The default
   * is for answers that are due (login responses): long enough for a loaded machine.
   */
  recv(ms = 15_000): Promise<Pdu | null> {
    const q = this.queue.shift();
    if (q !== undefined) return Promise.resolve(q);
    if (this.closed) return Promise.resolve(null);
    return new Promise((res) => {
      const t = setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        res(null);
      }, ms);
      const w = (p: Pdu | null): void => {
        clearTimeout(t);
        res(p);
      };
      this.waiters.push(w);
    });
  }

  send(bhs: Buffer, data: Buffer = Buffer.alloc(0)): void {
    if (this.closed) return;
    const padded = Buffer.alloc(pad4(data.length));
    data.copy(padded);
    this.sock.write(Buffer.concat([bhs, padded]));
  }

  sendRaw(b: Buffer): void {
    if (!this.closed) this.sock.write(b);
  }

  /** A login request BHS (RFC 7143 11.12). */
  loginBhs(csg: number, nsg: number, transit: boolean, dataLen: number): Buffer {
    const b = Buffer.alloc(BHS);
    b[0] = 0x43; // Login, immediate
    b[1] = (transit ? 0x80 : 0) | (csg << 2) | nsg;
    b.writeUIntBE(dataLen, 5, 3);
    this.isid.copy(b, 8);
    b.writeUInt16BE(this.tsih, 14);
    b.writeUInt32BE(this.itt, 16);
    b.writeUInt16BE(this.cid, 20);
    b.writeUInt32BE(this.cmdSN, 24);
    b.writeUInt32BE(this.expStatSN, 28);
    return b;
  }

  /** Log in without authentication to `target` (or a discovery session); throws on failure. */
  async login(target: string | null, initiator = 'iqn.2026-11.org.stgt.test:mini', extra: Record<string, string> = {}): Promise<Map<string, string>> {
    const keys: Record<string, string> = {
      InitiatorName: initiator,
      SessionType: target === null ? 'Discovery' : 'Normal',
      AuthMethod: 'None',
      ...(target === null ? {} : { TargetName: target }),
    };
    let data = textData(keys);
    this.send(this.loginBhs(0, 1, true, data.length), data);
    let rsp = await this.recv();
    if (rsp === null || rsp.bhs[36] !== 0) {
      throw new LoginError(`security login failed: ${rsp?.bhs[36]}/${rsp?.bhs[37]}`, rsp === null ? -1 : (rsp.bhs[36]! << 8) | rsp.bhs[37]!);
    }
    const answers = parseTextData(rsp.data);
    this.expStatSN = (rsp.bhs.readUInt32BE(24) + 1) >>> 0;
    const op: Record<string, string> = {
      HeaderDigest: 'None', DataDigest: 'None', MaxRecvDataSegmentLength: '262144', InitialR2T: 'No',
      ImmediateData: 'Yes', MaxBurstLength: '262144', FirstBurstLength: '65536', DefaultTime2Wait: '0',
      DefaultTime2Retain: '0', MaxOutstandingR2T: '1', DataPDUInOrder: 'Yes', DataSequenceInOrder: 'Yes',
      ErrorRecoveryLevel: '0', MaxConnections: '1', ...extra,
    };
    if (target === null) for (const k of ['InitialR2T', 'ImmediateData', 'MaxBurstLength', 'FirstBurstLength', 'MaxOutstandingR2T', 'DataPDUInOrder', 'DataSequenceInOrder']) delete op[k];
    data = textData(op);
    this.send(this.loginBhs(1, 3, true, data.length), data);
    for (;;) {
      rsp = await this.recv();
      if (rsp === null || rsp.bhs[36] !== 0) {
        throw new LoginError(`operational login failed: ${rsp?.bhs[36]}/${rsp?.bhs[37]}`, rsp === null ? -1 : (rsp.bhs[36]! << 8) | rsp.bhs[37]!);
      }
      this.expStatSN = (rsp.bhs.readUInt32BE(24) + 1) >>> 0;
      for (const [k, v] of parseTextData(rsp.data)) answers.set(k, v);
      if ((rsp.bhs[1]! & 0x80) !== 0 && (rsp.bhs[1]! & 3) === 3) {
        this.tsih = rsp.bhs.readUInt16BE(14);
        return answers;
      }
      // The target offered keys of its own and did not transit: answer with nothing new.
      this.send(this.loginBhs(1, 3, true, 0));
    }
  }

  /** A SCSI Command BHS with `cdb` (RFC 7143 11.3). */
  scsiBhs(cdb: Buffer, opts: { lun?: number; read?: boolean; write?: boolean; edtl?: number; dataLen?: number } = {}): Buffer {
    const b = Buffer.alloc(BHS);
    b[0] = 0x01;
    b[1] = 0x80 | (opts.read ? 0x40 : 0) | (opts.write ? 0x20 : 0) | 1;
    b.writeUIntBE(opts.dataLen ?? 0, 5, 3);
    b[9] = opts.lun ?? 0;
    b.writeUInt32BE(this.itt++, 16);
    b.writeUInt32BE(opts.edtl ?? 0, 20);
    b.writeUInt32BE(this.cmdSN++, 24);
    b.writeUInt32BE(this.expStatSN, 28);
    cdb.copy(b, 32);
    return b;
  }

  /**
   * Sends a Task Management Function Request (RFC 7143 11.5, immediate) and returns the TMF
   * Response's Response code, or null without one (other PDUs meanwhile are skipped).
   */
  async tmf(fn: number, lun: number, ref = 0xffffffff, refCmdSN = this.cmdSN): Promise<number | null> {
    const r = await this.tmfResponse(fn, lun, ref, refCmdSN);
    return r === null ? null : r[2]!;
  }

  /** As tmf(), returning the whole TMF Response BHS (RFC 7144 bytes 8..10: ADDITIONAL RESPONSE INFORMATION), or null. */
  async tmfResponse(fn: number, lun: number, ref = 0xffffffff, refCmdSN = this.cmdSN): Promise<Buffer | null> {
    const b = Buffer.alloc(BHS);
    b[0] = 0x42;
    b[1] = 0x80 | fn;
    b[9] = lun;
    b.writeUInt32BE(this.itt++, 16);
    b.writeUInt32BE(ref, 20);
    b.writeUInt32BE(this.cmdSN, 24);
    b.writeUInt32BE(refCmdSN >>> 0, 32);
    this.send(b);
    for (;;) {
      const r = await this.recv(15_000);
      if (r === null) return null;
      if ((r.bhs[0]! & 0x3f) === 0x22) return Buffer.from(r.bhs);
    }
  }

  close(): void {
    this.sock.destroy();
  }
}
