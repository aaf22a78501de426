// A SCSI initiator over MiniInitiator for fault tests: commands by ITT, R2T-driven Data-Out, Data-In reassembly (RFC 7143 11.3-11.8).
//
// Several commands may be outstanding at once (each answered by its Initiator Task Tag), so a test
// can hold a slow command open on one LUN and see another LUN answer meanwhile. It logs in with
// InitialR2T=Yes and ImmediateData=No, so every write byte moves in answer to an R2T: a test can
// stop in the middle of a burst (`abortAt`) at a point the target has asked for.

import { BHS, MiniInitiator, type Pdu } from './mini-initiator.js';

/** Outcome of one command; `status` -1 when the connection ended first (or `abortAt` cut it). */
export interface ScsiResult {
  status: number;
  /** Sense data of a CHECK CONDITION (SPC-4 4.5), or null. */
  sense: Buffer | null;
  /** Data-In received (exactly `readLen` bytes allocated; `dataInBytes` says how many arrived). */
  data: Buffer;
  dataInBytes: number;
  dataOutBytes: number;
}

export interface CommandOptions {
  lun: number;
  /** Expected Data-In length (a read). */
  readLen?: number;
  /** Data-Out (a write). */
  write?: Buffer;
  /**
   * Close the connection once this many bytes have moved (Data-Out sent in answer to R2Ts, or
   * Data-In received): an initiator that vanishes in the middle of a transfer.
   */
  abortAt?: number;
  /** How `abortAt` closes: 'fin' (end, then destroy: a process that exits) or 'rst' (a reset). Default 'fin'. */
  abortWith?: 'fin' | 'rst';
}

interface Pending {
  opts: CommandOptions;
  result: ScsiResult;
  resolve: (r: ScsiResult) => void;
  /** Set after `abortAt`: the command is over for us, whatever the target still sends. */
  done: boolean;
}

/** [sense key, ASC, ASCQ] of fixed (70h/71h) or descriptor (72h/73h) sense data. */
export function senseTriple(s: Buffer | null): [number, number, number] | null {
  if (s === null || s.length < 4) return null;
  const code = s[0]! & 0x7f;
  if (code === 0x72 || code === 0x73) return [s[1]! & 0x0f, s[2]!, s[3]!];
  return [s[2]! & 0x0f, s[12] ?? 0, s[13] ?? 0];
}

/** CDB of READ(16) (88h) or WRITE(16) (8Ah) (SBC-4): LBA at bytes 2-9, TRANSFER LENGTH at 10-13. */
export function cdb16(op: 0x88 | 0x8a, lba: number, blocks: number): Buffer {
  const c = Buffer.alloc(16);
  c[0] = op;
  c.writeUInt32BE(Math.floor(lba / 0x100000000), 2);
  c.writeUInt32BE(lba >>> 0, 6);
  c.writeUInt32BE(blocks, 10);
  return c;
}

export class ScsiClient {
  private readonly pending = new Map<number, Pending>();
  /** MaxRecvDataSegmentLength the target declared: the largest Data-Out segment we may send. */
  private targetMrdsl = 8192;
  private pumping = false;
  /** The keys of the target's login responses (TargetPortalGroupTag, the negotiated values). */
  loginKeys: ReadonlyMap<string, string> = new Map();

  private constructor(readonly m: MiniInitiator) {}

  /**
   * Connects and logs in to `iqn` as `initiator`; `extra` keys override the defaults. `isid`: the
   * initiator port's ISID (default: MiniInitiator's random one), to be the same initiator port on
   * several targets or gateways.
   */
  static async login(port: number, iqn: string, initiator: string, extra: Record<string, string> = {}, isid?: Buffer): Promise<ScsiClient> {
    const m = await MiniInitiator.connect(port);
    if (isid !== undefined) m.isid = Buffer.from(isid);
    const c = new ScsiClient(m);
    try {
      const keys = await m.login(iqn, initiator, { InitialR2T: 'Yes', ImmediateData: 'No', ...extra });
      c.targetMrdsl = Number(keys.get('MaxRecvDataSegmentLength') ?? '8192');
      c.loginKeys = keys;
    } catch (e) {
      m.close();
      throw e;
    }
    c.pump();
    return c;
  }

  get closed(): boolean {
    return this.m.closed;
  }

  /** Commands sent and not yet answered. */
  get outstanding(): number {
    let n = 0;
    for (const p of this.pending.values()) if (!p.done) n++;
    return n;
  }

  /** Sends one command; resolves with its status (or -1 when the connection ends first). */
  command(cdb: Buffer, opts: CommandOptions): Promise<ScsiResult> {
    const readLen = opts.readLen ?? 0;
    const writeLen = opts.write?.length ?? 0;
    const bhs = this.m.scsiBhs(cdb, { lun: opts.lun, read: readLen > 0, write: writeLen > 0, edtl: readLen || writeLen });
    const itt = bhs.readUInt32BE(16);
    return new Promise((resolve) => {
      const result: ScsiResult = { status: -1, sense: null, data: Buffer.alloc(readLen), dataInBytes: 0, dataOutBytes: 0 };
      if (this.m.closed) return resolve(result);
      this.pending.set(itt, { opts, result, resolve, done: false });
      this.m.send(bhs);
    });
  }

  /** TEST UNIT READY until it is GOOD (the first command of a nexus reports the power-on UNIT ATTENTION). */
  async clearUa(lun: number): Promise<void> {
    for (let i = 0; i < 4; i++) {
      const r = await this.command(Buffer.alloc(6), { lun });
      if (r.status === 0) return;
      if (r.status === -1) throw new Error('connection closed during TEST UNIT READY');
    }
    throw new Error(`LUN ${lun}: TEST UNIT READY never became GOOD`);
  }

  read16(lun: number, lba: number, blocks: number, abort: Pick<CommandOptions, 'abortAt' | 'abortWith'> = {}, blockSize = 512): Promise<ScsiResult> {
    return this.command(cdb16(0x88, lba, blocks), { lun, readLen: blocks * blockSize, ...abort });
  }

  write16(lun: number, lba: number, data: Buffer, abort: Pick<CommandOptions, 'abortAt' | 'abortWith'> = {}, blockSize = 512): Promise<ScsiResult> {
    return this.command(cdb16(0x8a, lba, data.length / blockSize), { lun, write: data, ...abort });
  }

  close(): void {
    this.m.close();
  }

  /**
   * Leaves in the middle of a transfer. 'fin': what was queued goes out, then a FIN, as when an
   * initiator process exits (the kernel still answers the target's further data with RSTs).
   * 'rst': a reset at once, unsent bytes dropped, as when the initiator's host crashes and reboots.
   */
  private vanish(how: 'fin' | 'rst' = 'fin'): void {
    const s = this.m.sock;
    if (how === 'rst') s.resetAndDestroy();
    else s.end(() => s.destroy());
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    for (;;) {
      const p = await this.m.recv(3_600_000);
      if (p === null) {
        if (this.m.closed) break;
        continue;
      }
      this.onPdu(p);
    }
    for (const [itt, p] of this.pending) {
      this.pending.delete(itt);
      if (!p.done) p.resolve(p.result);
    }
  }

  private finish(itt: number, p: Pending, status: number): void {
    p.result.status = status;
    this.pending.delete(itt);
    if (!p.done) {
      p.done = true;
      p.resolve(p.result);
    }
  }

  private onPdu(pdu: Pdu): void {
    const b = pdu.bhs;
    const op = b[0]! & 0x3f;
    const itt = b.readUInt32BE(16);
    const p = this.pending.get(itt);
    // StatSN rides on Data-In only with the S bit (RFC 7143 11.7.4), always on SCSI Response.
    if (op === 0x21 || (op === 0x25 && (b[1]! & 0x01) !== 0)) this.m.expStatSN = (b.readUInt32BE(24) + 1) >>> 0;
    if (p === undefined || p.done) return;
    if (op === 0x25) {
      // Data-In: 40 Buffer Offset; 1 F/A/O/U/S flags, 3 Status (valid with S).
      const off = b.readUInt32BE(40);
      pdu.data.copy(p.result.data, off);
      p.result.dataInBytes += pdu.data.length;
      if (p.opts.abortAt !== undefined && p.result.dataInBytes >= p.opts.abortAt) {
        p.done = true;
        p.resolve(p.result);
        this.vanish(p.opts.abortWith);
        return;
      }
      if ((b[1]! & 0x01) !== 0) this.finish(itt, p, b[3]!);
    } else if (op === 0x21) {
      // SCSI Response: 3 Status; data segment = SenseLength (2 bytes) + sense data.
      if (pdu.data.length >= 2) {
        const n = pdu.data.readUInt16BE(0);
        if (n > 0) p.result.sense = pdu.data.subarray(2, 2 + n);
      }
      this.finish(itt, p, b[3]!);
    } else if (op === 0x31) {
      // R2T: 20 Target Transfer Tag, 36 R2TSN, 40 Buffer Offset, 44 Desired Data Transfer Length.
      this.answerR2t(p, b.readUInt32BE(20), b.readUInt32BE(40), b.readUInt32BE(44), itt);
    }
  }

  private answerR2t(p: Pending, ttt: number, offset: number, length: number, itt: number): void {
    const data = p.opts.write ?? Buffer.alloc(0);
    let dataSN = 0;
    for (let pos = offset; pos < offset + length; ) {
      let n = Math.min(this.targetMrdsl, offset + length - pos);
      const abortAt = p.opts.abortAt;
      const cut = abortAt !== undefined && p.result.dataOutBytes + n >= abortAt;
      if (cut) n = Math.max(0, abortAt - p.result.dataOutBytes);
      // Data-Out (RFC 7143 11.7): 0 opcode 05h, 1 F, 5 DataSegmentLength, 8 LUN, 16 ITT, 20 TTT,
      // 28 ExpStatSN, 36 DataSN, 40 Buffer Offset.
      const h = Buffer.alloc(BHS);
      h[0] = 0x05;
      h[1] = pos + n >= offset + length ? 0x80 : 0;
      h.writeUIntBE(n, 5, 3);
      h[9] = p.opts.lun;
      h.writeUInt32BE(itt, 16);
      h.writeUInt32BE(ttt, 20);
      h.writeUInt32BE(this.m.expStatSN, 28);
      h.writeUInt32BE(dataSN++, 36);
      h.writeUInt32BE(pos, 40);
      if (n > 0) {
        // Block-sized writes need no padding (a multiple of 4 bytes).
        this.m.sendRaw(h);
        this.m.sendRaw(data.subarray(pos, pos + n));
      }
      p.result.dataOutBytes += n;
      pos += n;
      if (cut) {
        p.done = true;
        p.resolve(p.result);
        this.vanish(p.opts.abortWith);
        return;
      }
    }
  }
}
