// Hostile full-feature-phase PDUs (RFC 7143 11.3-11.18) for one logged-in connection: valid traffic mixed with every kind of lie.
//
// `FfpFuzzer.emit()` returns the wire bytes of one hostile action (usually one PDU, sometimes a
// command with its Data-Out PDUs) and whether the target is expected to drop the connection after
// it (a fatal action ends the connection's script: writing more would only hit a closed socket).
// Nothing here waits for an answer: the caller writes bursts of actions back to back.

import { Rand } from './rand.js';
import { ahsCommand, badReadCdb, badWriteCdb, randomCdb, randomLba, rwCdb, simpleCdb, BLOCK } from './hostile-cdbs.js';
import {
  bareOpcode, dataOut, frame, keys, loginRequest, logout, nopOut, scsiCommand, setDsl, snack, taskMgmt, textRequest,
  type Digests, type Pdu,
} from './initiator-pdus.js';

const RESERVED = 0xffffffff;

/** What the connections of one session share: the CmdSN counter (RFC 7143 3.2.2.1: session-wide). */
export interface SessionCtx {
  cmdSN: number;
  tsih: number;
  isid: Buffer;
  initiatorName: string;
  /** CIDs of this session's connections (for Logout of another connection). */
  cids: number[];
  discovery: boolean;
}

/** Tags the connections of a round have used, so one can send Data-Out or TMFs for another's tasks. */
export class TagRing {
  private readonly tags = new Uint32Array(256);
  private n = 0;
  add(t: number): void {
    this.tags[this.n++ & 255] = t;
  }
  pick(r: Rand): number {
    return this.n === 0 ? r.u32() : this.tags[r.int(Math.min(this.n, 256))]!;
  }
}

/** A WRITE this connection started whose data is not all sent. */
interface LiveWrite {
  itt: number;
  lun: number;
  edtl: number;
  /** Bytes sent (immediate + Data-Out). */
  sent: number;
  /** Next DataSN of the unsolicited sequence. */
  dataSN: number;
  /** Unsolicited data allowed (FirstBurstLength with InitialR2T=No). */
  unsolicited: number;
}

export interface ConnLimits {
  /** The target's MaxRecvDataSegmentLength (what one PDU may carry to it). */
  maxRecv: number;
  firstBurst: number;
  /** Blocks of LUN 1. */
  blocks: number;
}

export interface Emitted {
  bytes: Buffer;
  pdus: number;
  fatal: boolean;
}

type Action = (f: FfpFuzzer) => Emitted;

export class FfpFuzzer {
  /** Next Initiator Task Tag. */
  private itt: number;
  private readonly writes: LiveWrite[] = [];
  private readonly reads: number[] = [];
  private readonly actions: Action[];
  private readonly weights: number[];
  private readonly total: number;

  constructor(
    readonly r: Rand,
    readonly sess: SessionCtx,
    readonly cid: number,
    readonly dig: Digests,
    readonly lim: ConnLimits,
    readonly expStatSN: number,
    readonly tags: TagRing,
  ) {
    this.itt = r.range(1, 0x7fff0000);
    // Weights. The kinds that end a connection (DataSN gap, logout, lost framing, bad header
    // digest) are rare so that a connection lives for a few hundred PDUs on average.
    const table: Array<[number, Action]> = [
      [14, (f) => f.simpleCommand()],
      [9, (f) => f.writeImmediate()],
      [6, (f) => f.writeSplit()],
      [6, (f) => f.writeBadLength()],
      [6, (f) => f.readBadLength()],
      [12, (f) => f.randomCdb()],
      [3, (f) => f.withAhs()],
      [4, (f) => f.cmdSNGap()],
      [3, (f) => f.cmdSNOutOfWindow()],
      [6, (f) => f.badDataOut()],
      [0.03, (f) => f.dataSNGap()],
      [5, (f) => f.tmf()],
      [6, (f) => f.nop()],
      [4, (f) => f.text()],
      [0.08, (f) => f.logout()],
      [1.5, (f) => f.snack()],
      [1, (f) => f.loginInFfp()],
      [1.5, (f) => f.unknownOpcode()],
      [5, (f) => f.bitFlip()],
      [0.06, (f) => f.lyingLength()],
      [0.04, (f) => f.truncated()],
      [dig.data ? 2 : 0, (f) => f.spoiledDataDigest(false)],
      [dig.data ? 0.03 : 0, (f) => f.spoiledDataDigest(true)],
      [dig.header ? 0.03 : 0, (f) => f.spoiledHeaderDigest()],
      [0.03, (f) => f.oversizeSegment()],
    ];
    this.actions = table.map((t) => t[1]);
    this.weights = table.map((t) => t[0]);
    this.total = this.weights.reduce((a, b) => a + b, 0);
  }

  emit(): Emitted {
    return this.actions[this.r.weighted(this.weights, this.total)]!(this);
  }

  // ------------------------------------------------------------------ helpers

  private nextItt(): number {
    const t = this.itt;
    this.itt = this.itt >= 0xfffffffe ? 1 : this.itt + 1;
    this.tags.add(t);
    return t;
  }

  /** CmdSN for a PDU: consumes one unless immediate. */
  private sn(immediate: boolean): number {
    const sn = this.sess.cmdSN;
    if (!immediate) this.sess.cmdSN = (sn + 1) >>> 0;
    return sn;
  }

  /** ExpStatSN: mostly plausible, sometimes a lie (RFC 7143 3.2.2.2 lets the target ignore it, never trust it). */
  private statSN(): number {
    return this.r.chance(0.1) ? this.r.u32() : this.expStatSN;
  }

  private lun(): number {
    const x = this.r.int(20);
    return x < 14 ? 1 : x < 17 ? 0 : x < 19 ? 2 : this.r.int(0x4000);
  }

  private one(p: Pdu, fatal = false): Emitted {
    return { bytes: frame(p, this.dig), pdus: 1, fatal };
  }

  private lba(blocks: number): number {
    return randomLba(this.r, this.lim, blocks);
  }

  private command(o: { immediate?: boolean; flags: number; lun?: number; edtl: number; cdb: Buffer; data?: Buffer | null; ahs?: Buffer | null }): { pdu: Pdu; itt: number } {
    const immediate = o.immediate ?? this.r.chance(0.08);
    const itt = this.nextItt();
    const pdu = scsiCommand({
      immediate, flags: o.flags, lun: o.lun ?? 1, itt, edtl: o.edtl, cmdSN: this.sn(immediate), expStatSN: this.statSN(),
      cdb: o.cdb, ahs: o.ahs ?? null, data: o.data ?? null,
    });
    return { pdu, itt };
  }

  // ------------------------------------------------------------------ valid and nearly valid commands

  /** TEST UNIT READY, INQUIRY, READ CAPACITY, small READs ...: keeps the session busy with real work. */
  simpleCommand(): Emitted {
    const c = simpleCdb(this.r, this.lim);
    const { pdu, itt } = this.command(c);
    if (c.edtl > BLOCK) this.remember(this.reads, itt);
    return this.one(pdu);
  }

  /** WRITE with all of its data immediate (within FirstBurstLength and one segment). */
  writeImmediate(): Emitted {
    const max = Math.max(1, Math.floor(Math.min(this.lim.maxRecv, this.lim.firstBurst) / BLOCK));
    const n = this.r.range(1, Math.min(16, max));
    const cdb = rwCdb(true, this.r.pick([10, 16, 12] as const), this.lba(n), n);
    const { pdu } = this.command({ flags: 0x20, edtl: n * BLOCK, cdb, data: this.r.bytes(n * BLOCK) });
    return this.one(pdu);
  }

  /** WRITE with some immediate data and the rest in unsolicited Data-Out PDUs, often left unfinished. */
  writeSplit(): Emitted {
    const r = this.r;
    // Mostly within FirstBurstLength; sometimes beyond it, so the target sends R2Ts nobody answers.
    const n = r.chance(0.2) ? r.range(2, 256) : r.range(2, Math.max(2, Math.floor(Math.min(this.lim.firstBurst, 32 * BLOCK) / BLOCK)));
    const edtl = n * BLOCK;
    const imm = Math.min(r.int(n) * BLOCK, this.lim.maxRecv);
    const cdb = rwCdb(true, 10, this.lba(n), n);
    const { pdu, itt } = this.command({ flags: 0x20, edtl, cdb, data: imm > 0 ? r.bytes(imm) : null });
    const w: LiveWrite = { itt, lun: 1, edtl, sent: imm, dataSN: 0, unsolicited: Math.min(edtl, this.lim.firstBurst) };
    const parts = [frame(pdu, this.dig)];
    let pdus = 1;
    // Finish it now (60%), or leave the rest for badDataOut to continue or spoil later.
    if (r.chance(0.6)) {
      while (w.sent < w.unsolicited) {
        parts.push(frame(this.nextDataOut(w, Math.min(this.lim.maxRecv, w.unsolicited - w.sent)), this.dig));
        pdus++;
      }
    } else this.remember(this.writes, w);
    return { bytes: Buffer.concat(parts), pdus, fatal: false };
  }

  private nextDataOut(w: LiveWrite, len: number): Pdu {
    const p = dataOut({
      final: w.sent + len >= w.unsolicited, lun: w.lun, itt: w.itt, ttt: RESERVED, expStatSN: this.statSN(),
      dataSN: w.dataSN, offset: w.sent, data: this.r.bytes(len),
    });
    w.sent += len;
    w.dataSN++;
    return p;
  }

  private remember<T>(list: T[], x: T): void {
    list.push(x);
    if (list.length > 16) list.shift();
  }

  /** A WRITE whose lengths disagree: EDTL vs CDB vs immediate data, W bit vs data, LBA range. */
  writeBadLength(): Emitted {
    return this.one(this.command(badWriteCdb(this.r, this.lim)).pdu);
  }

  /** A READ whose lengths disagree (underflow, overflow, no R bit, zero, out of range). */
  readBadLength(): Emitted {
    const { pdu, itt } = this.command(badReadCdb(this.r, this.lim));
    this.remember(this.reads, itt);
    return this.one(pdu);
  }

  /** Any opcode with random CDB bytes, flags, task attribute, LUN and EDTL. */
  randomCdb(): Emitted {
    const { pdu } = this.command({ ...randomCdb(this.r), lun: this.lun() });
    if (this.r.chance(0.02)) pdu.bhs[1] = pdu.bhs[1]! & 0x7f; // F clear on a command: the data never follows
    return this.one(pdu);
  }

  /** Commands with AHS: extended CDB, bidirectional read length, malformed AHS areas. */
  withAhs(): Emitted {
    return this.one(this.command(ahsCommand(this.r)).pdu);
  }

  // ------------------------------------------------------------------ sequence numbers

  /** A command ahead of ExpCmdSN inside the window: it waits for the gap (which later commands fill). */
  cmdSNGap(): Emitted {
    const sn = (this.sess.cmdSN + this.r.range(1, 127)) >>> 0;
    const kind = this.r.int(5);
    const immediate = false;
    let p: Pdu;
    const itt = this.nextItt();
    // Non-command PDUs ahead of the window are the ones that once left placeholders with no connection.
    if (kind === 0) p = nopOut({ immediate, lun: 0, itt, ttt: RESERVED, cmdSN: sn, expStatSN: this.statSN(), data: null });
    else if (kind === 1) p = textRequest({ immediate, final: true, cont: false, itt, ttt: RESERVED, cmdSN: sn, expStatSN: this.statSN(), data: keys([['SendTargets', 'All']]) });
    else if (kind === 2) p = taskMgmt({ immediate, fn: this.r.pick([1, 2, 4, 5]), lun: 1, itt, rtt: this.tags.pick(this.r), cmdSN: sn, expStatSN: this.statSN(), refCmdSN: sn, expDataSN: 0 });
    else p = scsiCommand({ immediate, flags: 0, lun: 1, itt, edtl: 0, cmdSN: sn, expStatSN: this.statSN(), cdb: Buffer.from([0, 0, 0, 0, 0, 0]) });
    return this.one(p);
  }

  /** CmdSN below ExpCmdSN or beyond MaxCmdSN: the target must drop it silently (RFC 7143 3.2.2.1). */
  cmdSNOutOfWindow(): Emitted {
    const r = this.r;
    const sn = r.pick([
      (this.sess.cmdSN + r.range(128, 0x7fffffff)) >>> 0,
      (this.sess.cmdSN - r.range(1, 1000)) >>> 0,
      r.u32(),
    ]);
    const itt = this.nextItt();
    const k = r.int(40);
    const p = k < 20
      ? scsiCommand({ immediate: false, flags: 0x40, lun: 1, itt, edtl: 512, cmdSN: sn, expStatSN: this.statSN(), cdb: rwCdb(false, 10, 0, 1) })
      : k < 30
        ? nopOut({ immediate: false, lun: 0, itt, ttt: RESERVED, cmdSN: sn, expStatSN: this.statSN(), data: null })
        : k < 39
          ? textRequest({ immediate: false, final: true, cont: false, itt, ttt: RESERVED, cmdSN: sn, expStatSN: this.statSN(), data: keys([['SendTargets', 'All']]) })
          : logout({ immediate: false, reason: r.int(3), itt, cid: this.cid, cmdSN: sn, expStatSN: this.statSN() });
    return this.one(p);
  }

  // ------------------------------------------------------------------ Data-Out

  /** Data-Out that continues a live write, or lies about it, or names someone else's task. */
  badDataOut(): Emitted {
    const r = this.r;
    const w = this.writes.length > 0 ? this.writes[r.int(this.writes.length)]! : null;
    const k = r.int(8);
    const len = r.pick([0, 4, 512, 1024, Math.min(4096, this.lim.maxRecv)]);
    if (w !== null && k < 3 && w.sent < w.unsolicited) {
      return this.one(this.nextDataOut(w, Math.min(len || BLOCK, w.unsolicited - w.sent, this.lim.maxRecv))); // correct continuation
    }
    const itt = w !== null && k < 5 ? w.itt
      : k === 5 ? this.tags.pick(r)
        : k === 6 && this.reads.length > 0 ? r.pick(this.reads)
          : r.chance(0.5) ? r.u32() : RESERVED;
    const p = dataOut({
      final: r.chance(0.7), lun: w?.lun ?? this.lun(), itt,
      ttt: r.pick([RESERVED, RESERVED, r.range(1, 64), r.u32()]),
      expStatSN: this.statSN(),
      dataSN: w !== null && itt === w.itt && r.chance(0.5) ? w.dataSN : r.pick([0, 0, 1, r.u32()]),
      offset: w !== null && itt === w.itt ? r.pick([w.sent + BLOCK, w.edtl, w.edtl - BLOCK, 0, r.u32()]) >>> 0 : r.pick([0, 512, r.u32()]),
      data: len > 0 ? r.bytes(len) : null,
    });
    // A wrong DataSN for the task in hand ends the connection at ErrorRecoveryLevel 0.
    return this.one(p);
  }

  /** A DataSN gap in a live write's unsolicited sequence: fatal at ErrorRecoveryLevel 0 (RFC 7143 7.1). */
  dataSNGap(): Emitted {
    let w = this.writes.find((x) => x.sent < x.unsolicited);
    const parts: Buffer[] = [];
    if (w === undefined) {
      const n = 8;
      const cdb = rwCdb(true, 10, this.lba(n), n);
      const { pdu, itt } = this.command({ immediate: false, flags: 0x20, edtl: n * BLOCK, cdb, data: null });
      parts.push(frame(pdu, this.dig));
      w = { itt, lun: 1, edtl: n * BLOCK, sent: 0, dataSN: 0, unsolicited: Math.min(n * BLOCK, this.lim.firstBurst) };
    }
    w.dataSN += this.r.range(1, 5);
    parts.push(frame(this.nextDataOut(w, Math.min(BLOCK, w.unsolicited - w.sent)), this.dig));
    return { bytes: Buffer.concat(parts), pdus: parts.length, fatal: true };
  }

  // ------------------------------------------------------------------ TMF, NOP, Text, Logout, SNACK

  tmf(): Emitted {
    const r = this.r;
    const x = r.int(1000);
    // Cold reset ends every session of the target, warm reset aborts every task: keep them rare.
    const fn = x < 1 ? 7 : x < 4 ? 6 : r.pick([1, 1, 1, 2, 3, 4, 5, 8, 0, r.range(9, 127)]);
    const immediate = r.chance(0.7);
    const rtt = r.pick([
      this.writes.length > 0 ? this.writes[r.int(this.writes.length)]!.itt : RESERVED,
      this.reads.length > 0 ? r.pick(this.reads) : RESERVED,
      this.tags.pick(r), r.u32(), RESERVED,
    ]);
    const p = taskMgmt({
      immediate, fn, lun: this.lun(), itt: this.nextItt(), rtt, cmdSN: this.sn(immediate), expStatSN: this.statSN(),
      refCmdSN: (this.sess.cmdSN + r.range(-5, 5)) >>> 0, expDataSN: r.pick([0, r.u32()]),
    });
    return this.one(p, fn === 7);
  }

  nop(): Emitted {
    const r = this.r;
    const k = r.int(6);
    const immediate = k < 4 && r.chance(0.6);
    const dataLen = r.pick([0, 0, 4, 100, 512, Math.min(8192, this.lim.maxRecv)]);
    const data = dataLen > 0 ? r.bytes(dataLen) : null;
    let itt = this.nextItt();
    let ttt = RESERVED;
    let cmdSN = this.sn(immediate);
    if (k === 4) {
      // An answer to a ping the target never sent.
      itt = RESERVED;
      ttt = r.pick([1, r.range(1, 100), r.u32()]);
    } else if (k === 5) {
      // A non-immediate ping ahead of the window: inside it (a gap) or beyond MaxCmdSN.
      cmdSN = (this.sess.cmdSN + r.pick([1, r.range(2, 127), r.range(128, 100000)])) >>> 0;
    }
    return this.one(nopOut({ immediate, lun: r.chance(0.8) ? 0 : this.lun(), itt, ttt, cmdSN, expStatSN: this.statSN(), data }));
  }

  text(): Emitted {
    const r = this.r;
    const immediate = r.chance(0.3);
    const k = r.int(6);
    let data: Buffer;
    let final = true;
    let cont = false;
    switch (k) {
      case 0: data = keys([['SendTargets', r.pick(['All', '', this.sess.discovery ? 'All' : 'iqn.nosuch', 'x'.repeat(300)])]]); break;
      case 1: data = keys([[r.pick(['MaxRecvDataSegmentLength', 'HeaderDigest', 'MaxBurstLength', 'X-org.stgt.fuzz', 'TargetName', 'InitialR2T']), r.pick(['0', '512', 'CRC32C', 'Yes', '???', 'x'.repeat(r.int(600))])]]); break;
      case 2: data = r.bytes(r.int(1024)); break;
      case 3: data = keys([['SendTargets', 'All']]); final = false; cont = true; break; // more text promised
      case 4: data = Buffer.from('SendTargets=All'); break; // no terminating NUL
      default: data = keys([['SendTargets', 'All']]); final = r.chance(0.5); cont = r.chance(0.5);
    }
    let cmdSN = this.sn(immediate);
    if (r.chance(0.1)) cmdSN = (this.sess.cmdSN + r.range(1, 200)) >>> 0; // ahead of the window
    return this.one(textRequest({
      immediate, final, cont, itt: this.nextItt(), ttt: r.chance(0.8) ? RESERVED : r.u32(), cmdSN, expStatSN: this.statSN(), data,
    }));
  }

  logout(): Emitted {
    const r = this.r;
    const reason = r.pick([0, 1, 1, 2, 3, r.int(128)]);
    const cid = r.pick([this.cid, r.pick(this.sess.cids), r.int(0x10000)]);
    const immediate = r.chance(0.6);
    const p = logout({ immediate, reason, itt: this.nextItt(), cid, cmdSN: this.sn(immediate), expStatSN: this.statSN() });
    // Reason 0 (session) or 1 for this connection ends it; others are answered and the connection stays.
    return this.one(p, reason === 0 || (reason === 1 && cid === this.cid));
  }

  snack(): Emitted {
    const r = this.r;
    return this.one(snack({
      type: r.int(16), lun: this.lun(), itt: r.chance(0.5) ? this.tags.pick(r) : RESERVED, ttt: r.u32(), expStatSN: this.statSN(),
      begRun: r.int(10), runLength: r.int(10),
    }));
  }

  loginInFfp(): Emitted {
    const r = this.r;
    return this.one(loginRequest({
      transit: r.chance(0.5), cont: false, csg: r.int(4), nsg: r.int(4), isid: this.sess.isid, tsih: this.sess.tsih,
      itt: this.nextItt(), cid: this.cid, cmdSN: this.sess.cmdSN, expStatSN: this.statSN(),
      data: r.chance(0.5) ? keys([['InitiatorName', this.sess.initiatorName]]) : null,
    }));
  }

  unknownOpcode(): Emitted {
    const r = this.r;
    const op = r.pick([r.range(0x07, 0x0f), r.range(0x11, 0x1f), r.range(0x20, 0x3f)]);
    const data = r.chance(0.3) ? r.bytes(r.int(256)) : null;
    return this.one(bareOpcode(op, r.chance(0.5), this.nextItt(), this.sess.cmdSN, data));
  }

  // ------------------------------------------------------------------ broken framing

  /** Some other action with 1-3 bits of its BHS flipped (digests computed over the flipped header). */
  bitFlip(): Emitted {
    const e = this.pick();
    if (e === null) return this.simpleCommand();
    const n = this.r.range(1, 3);
    let framing = false;
    for (let i = 0; i < n; i++) {
      // The length fields (bytes 4..7) only now and then: flipping them ends the connection's script.
      const at = this.r.chance(0.01) ? this.r.range(4, 7) : this.r.pick([this.r.range(0, 3), this.r.range(8, 47)]);
      e.bhs[at] = e.bhs[at]! ^ (1 << this.r.int(8));
      if (at >= 4 && at <= 7) framing = true;
    }
    // A flipped TotalAHSLength or DataSegmentLength loses the stream: nothing after it is a PDU.
    return this.one(e, framing);
  }

  /** A PDU whose DataSegmentLength or TotalAHSLength does not match what follows: the stream is lost. */
  lyingLength(): Emitted {
    const e = this.pick() ?? scsiCommand({ immediate: true, flags: 0, lun: 1, itt: this.nextItt(), edtl: 0, cmdSN: this.sess.cmdSN, expStatSN: 0, cdb: Buffer.alloc(6) });
    const r = this.r;
    if (r.chance(0.6)) {
      const actual = e.data?.length ?? 0;
      setDsl(e.bhs, Math.max(0, actual + r.pick([-4, -1, 1, 3, 4, 100, r.int(this.lim.maxRecv)])));
    } else {
      e.bhs[4] = r.range(1, 255);
    }
    return this.one(e, true); // the stream is lost: the script ends here
  }

  /** The first part of a PDU only, then nothing more: the target waits for the rest (or the login timeout / the round's end). */
  truncated(): Emitted {
    const e = this.pick() ?? nopOut({ immediate: true, lun: 0, itt: this.nextItt(), ttt: RESERVED, cmdSN: this.sess.cmdSN, expStatSN: 0, data: null });
    const b = frame(e, this.dig);
    return { bytes: b.subarray(0, this.r.int(b.length)), pdus: 1, fatal: true };
  }

  /** A command or Data-Out (rejected) or a NOP-Out (fatal) with a wrong data digest (RFC 7143 7.8). */
  spoiledDataDigest(fatal: boolean): Emitted {
    const r = this.r;
    let p: Pdu;
    if (fatal) {
      p = nopOut({ immediate: true, lun: 0, itt: this.nextItt(), ttt: RESERVED, cmdSN: this.sess.cmdSN, expStatSN: this.statSN(), data: r.bytes(r.range(1, 512)) });
    } else if (r.chance(0.5)) {
      const n = r.range(1, 8);
      p = this.command({ flags: 0x20, edtl: n * BLOCK, cdb: rwCdb(true, 10, this.lba(n), n), data: r.bytes(n * BLOCK) }).pdu;
    } else {
      p = dataOut({ final: true, lun: 1, itt: this.tags.pick(r), ttt: RESERVED, expStatSN: this.statSN(), dataSN: 0, offset: 0, data: r.bytes(512) });
    }
    return { bytes: frame(p, this.dig, 'data'), pdus: 1, fatal };
  }

  spoiledHeaderDigest(): Emitted {
    const p = nopOut({ immediate: true, lun: 0, itt: this.nextItt(), ttt: RESERVED, cmdSN: this.sess.cmdSN, expStatSN: this.statSN(), data: null });
    return { bytes: frame(p, this.dig, 'header'), pdus: 1, fatal: true };
  }

  /** DataSegmentLength above the target's MaxRecvDataSegmentLength: only the header and a little data go out. */
  oversizeSegment(): Emitted {
    const p = nopOut({ immediate: true, lun: 0, itt: this.nextItt(), ttt: RESERVED, cmdSN: this.sess.cmdSN, expStatSN: this.statSN(), data: null });
    setDsl(p.bhs, this.r.range(this.lim.maxRecv + 1, 0xffffff));
    const b = frame(p, this.dig);
    return { bytes: Buffer.concat([b, this.r.bytes(this.r.int(64))]), pdus: 1, fatal: true };
  }

  /** A fresh, otherwise reasonable PDU to mutate (not counted or sequenced twice). */
  private pick(): Pdu | null {
    const r = this.r;
    const immediate = r.chance(0.5);
    switch (r.int(5)) {
      case 0: return this.command({ immediate, flags: 0x40, edtl: 512, cdb: rwCdb(false, 10, this.lba(1), 1) }).pdu;
      case 1: return this.command({ immediate, flags: 0x20, edtl: 512, cdb: rwCdb(true, 10, this.lba(1), 1), data: r.bytes(512) }).pdu;
      case 2: return nopOut({ immediate, lun: 0, itt: this.nextItt(), ttt: RESERVED, cmdSN: this.sn(immediate), expStatSN: this.statSN(), data: r.chance(0.5) ? r.bytes(64) : null });
      case 3: return taskMgmt({ immediate: true, fn: r.pick([1, 2, 5]), lun: 1, itt: this.nextItt(), rtt: this.tags.pick(r), cmdSN: this.sess.cmdSN, expStatSN: this.statSN(), refCmdSN: this.sess.cmdSN, expDataSN: 0 });
      default: return textRequest({ immediate, final: true, cont: false, itt: this.nextItt(), ttt: RESERVED, cmdSN: this.sn(immediate), expStatSN: this.statSN(), data: keys([['SendTargets', 'All']]) });
    }
  }
}

