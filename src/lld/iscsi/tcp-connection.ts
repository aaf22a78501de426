// RFC 7143 over TCP: PDU framing from a byte stream (BHS, AHS, digests, padding), batched sends, and data movement with R2T/Data-Out and Data-In PDUs.

import net, { type Socket } from 'node:net';
import { IscsiConnection, MAX_QUEUED_READ_BYTES, type ConnectionHost } from '../../iscsi/connection.js';
import type { IscsiTask } from '../../iscsi/task.js';
import * as W from '../../iscsi/pdu-write.js';
import { dataInResidual, residualFlags } from '../../iscsi/responses.js';
import { errorText } from '../../iscsi/session-table.js';
import * as P from '../../iscsi/pdu.js';
import { crc32cHeader, crc32cList, readDigest, writeDigest } from '../../iscsi/crc32c.js';
import { Slab } from '../../iscsi/header-pool.js';
import { LOGIN_SEGMENT } from '../../iscsi/login.js';
import { RxArena, type ArenaSlot } from './rx-arena.js';

/** Padding of a data segment to a 4-byte boundary (RFC 7143 11.2.1.4), by length (views made once). */
const PADS: readonly Buffer[] = [0, 1, 2, 3].map((n) => Buffer.alloc(n));
const NO_AHS = Buffer.alloc(0);
const NO_DATA: readonly Buffer[] = Object.freeze([]);

/** TCP's slot on a task (task.transport): the R2Ts of a write (RFC 7143 11.8). */
class R2tState {
  /** Next offset to ask for with an R2T (everything below it is asked for or unsolicited). */
  offset = 0;
  outstanding = 0;
  /** Target transfer tags of the R2Ts not yet answered in full. */
  readonly tags: number[] = [];
  sn = 0;
  /** Receive arenas holding this command's write data, pinned until it finishes (rx-arena.ts). */
  readonly slots: ArenaSlot[] = [];
}
/**
 * Reads up to this size land in a slice of the connection's read slab (task.scsi.readBuffer)
 * instead of a buffer of their own: a 4 KiB Buffer.allocUnsafe is a malloc and an ArrayBuffer
 * each (1.4-1.8 µs in a loop here, against 0.3-0.7 µs for a slice); larger ones keep theirs. A busy
 * connection holds at most its slab (128 KiB) beyond the reads in flight.
 */
const SLAB_READ_MAX = 16 * 1024;

/** Size of the read buffer one event loop's connections share (Node reads 64 KiB at a time too). */
export const SHARED_READ_SIZE = 64 * 1024;
/** Inside a data segment with at least this much left, read into the connection's own memory. */
const OWN_READ_MIN = 2048;
/**
 * A read into the arena gets at least this much room (else a new arena): the rest of an arena
 * can be small, and reads of a few KiB would cost a syscall each (64 KiB writes at QD16 cost ~10%
 * more CPU per MB with a 2 KiB minimum).
 */
const OWN_READ_ROOM = 16 * 1024;

/** Addresses of an accepted connection (the accept loop knows them; net.Socket would ask the kernel). */
export interface TcpPeer {
  peerAddress: string;
  peerPort: number;
  localAddress: string;
  localPort: number;
}

/**
 * A connection read with `onread` (docs/multicore.md): reads land in `shared`, the buffer of its
 * event loop, unless the connection expects data that outlives the read; see nextReadBuffer.
 */
export interface OnreadMode {
  shared: Buffer;
  peer: TcpPeer;
}

export class TcpConnection extends IscsiConnection {
  /** Received bytes not yet framed, as a list of views; the first `head` bytes of chunks[0] are consumed already. */
  private chunks: Buffer[] = [];
  /**
   * Consumed bytes of chunks[0]: an offset instead of a new view of its rest per PDU (two fewer
   * Buffer objects per PDU; at 8 KiB Data-Out PDUs they were most of the garbage per write).
   */
  private head = 0;
  private buffered = 0;
  /** Header of the PDU being received (BHS+AHS), once complete. */
  private bhs: Buffer | null = null;
  private ahs: Buffer = NO_AHS;
  /** Views of the data segment being dispatched (borrowed by receivePdu: reused for the next PDU). */
  private readonly dataViews: Buffer[] = [];
  /**
   * The data segment as one view, when it lies in one chunk (the usual case): an array that keeps
   * its length. (`length = 0` on an array frees its backing store, so refilling dataViews costs an
   * allocation per PDU.)
   */
  private readonly oneView: Buffer[] = [NO_AHS];
  /** Views of a header or digest being joined (reused). */
  private readonly headViews: Buffer[] = [];
  private dataLength = 0;
  /** Digests are in effect for what we receive / send (after the final login response). */
  private rxHeaderDigest = false;
  private rxDataDigest = false;
  private txHeaderDigest = false;
  private txDataDigest = false;
  /** The socket is corked: PDUs queued since the last flush wait in it. */
  private corked = false;
  /** A flush is scheduled for the end of this event-loop turn (setImmediate). */
  private flushQueued = false;
  /** Inside onData: what the received PDUs produce is flushed when it returns. */
  private receiving = false;
  /** closeTransport ran: nothing more is sent. */
  private txEnded = false;
  /** Where small reads land (see SLAB_READ_MAX); no memory until the first read. */
  private readonly readSlab = new Slab(32 * 1024, 128 * 1024);
  private nextTTT = 1;
  /** A 'drain' listener is armed (see flush). */
  private waitingDrain = false;
  /** We stopped reading the socket until our unsent answers drain (see flush). */
  private readPaused = false;
  private readonly flushTurn = (): void => {
    this.flushQueued = false;
    this.flush();
  };

  /** Send what is queued (one writev), then watch the socket's back-pressure. */
  private flush(): void {
    if (!this.corked) return; // nothing queued, or closeTransport flushed already
    this.corked = false;
    this.socket.uncork();
    // Back-pressure: an initiator that does not read what we send must not make us queue without
    // bound. The connection holds back new commands until the socket drains (IscsiConnection.drained);
    // and once answers of any kind (NOP-In echoes, Rejects, Text) pile up beyond the same bound, it
    // stops reading, so the initiator's own TCP window closes instead of tgtd's memory growing.
    const congested = this.congested();
    const overfull = this.socket.writableLength > MAX_QUEUED_READ_BYTES;
    if (overfull && !this.readPaused) {
      this.readPaused = true;
      this.socket.pause();
    }
    if (!this.waitingDrain && (congested || this.readPaused)) {
      this.waitingDrain = true;
      this.socket.once('drain', () => {
        this.waitingDrain = false;
        if (this.readPaused && !this.isClosed) {
          this.readPaused = false;
          this.socket.resume();
        }
        this.drained();
      });
    } else if (!congested) {
      // What was unsent counted against the limit (unsentBytes) and is in the kernel now: commands
      // held back meanwhile may run (no 'drain' comes for bytes the socket never queued).
      this.drained();
    }
  }

  /** onread mode: the loop's shared read buffer (null: 'data' events, each chunk Node's own). */
  private readonly shared: Buffer | null;
  /** onread mode: this connection's own receive memory. */
  private readonly arena = new RxArena((ab) => this.framerHolds(ab));
  /** The last PDU header framed announced write data to follow (a Data-Out, or a command beyond its immediate data). */
  private writeExpected = false;
  /** onread: a read arrived since the last sweepIdle. */
  private readSinceSweep = false;

  /**
   * `onread` given: the socket was created with `TcpConnection.onreadOptions` (or a test drives
   * nextReadBuffer/onRead itself) and no 'data' listener is attached.
   */
  constructor(host: ConnectionHost, private readonly socket: Socket, onread: OnreadMode | null = null) {
    const peer = onread?.peer;
    const peerAddress = (peer?.peerAddress ?? socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    const localAddress = (peer?.localAddress ?? socket.localAddress ?? '').replace(/^::ffff:/, '');
    super(host, peerAddress, peer?.peerPort ?? socket.remotePort ?? 0, localAddress, peer?.localPort ?? socket.localPort ?? 0, 'tcp');
    this.shared = onread?.shared ?? null;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 1800_000);
    if (this.shared === null) socket.on('data', (chunk: Buffer) => this.onData(chunk));
    // The errno names the cause in the close line (ECONNRESET: the initiator reset the connection).
    socket.on('error', (e: NodeJS.ErrnoException) => this.close(`socket ${e.code ?? 'failure'}`));
    socket.on('close', () => this.close('peer closed'));
  }

  /**
   * Wraps a descriptor the accept loop gave us (documented API: `new net.Socket({ fd, onread })`).
   * Node calls `buffer` after every read for where the next one lands, and `callback` with what
   * arrived; both go to the connection once it exists (Node asks for the first buffer while the
   * socket is being built).
   */
  static fromFd(host: ConnectionHost, fd: number, peer: TcpPeer, shared: Buffer): TcpConnection {
    let conn: TcpConnection | null = null;
    // `onread` of new net.Socket (Node's net.md, "new net.Socket([options])"): @types/node has it
    // on connect() only, so the options go through a variable.
    const opts: net.SocketConstructorOpts & { onread: net.OnReadOpts } = {
      fd, readable: true, writable: true,
      onread: {
        buffer: () => (conn === null ? shared : conn.nextReadBuffer()),
        callback: (n: number, buf: Uint8Array): boolean => {
          conn!.onRead(n, buf as Buffer);
          return true; // keep reading (back-pressure pauses the socket itself)
        },
      },
    };
    const socket = new net.Socket(opts);
    conn = new TcpConnection(host, socket, { shared, peer });
    return conn;
  }

  /**
   * onread: where the next read lands. The shared buffer when what arrives is expected to be
   * consumed within the read callback (commands, responses to answer at once); the connection's
   * own arena when it is inside a large data segment or expects write data (Data-Out after an R2T,
   * a command's unsolicited data), so that write data stays where it landed until the command runs.
   */
  nextReadBuffer(): Buffer {
    const shared = this.shared!;
    if (this.isClosed) return shared; // what still arrives is dropped unread
    if (this.bhs !== null) {
      const left = P.padded(this.dataLength) + (this.rxDataDigest && this.dataLength > 0 ? 4 : 0) - this.buffered;
      if (left >= OWN_READ_MIN) return this.arena.space(Math.min(left, OWN_READ_ROOM));
    }
    if (this.writeExpected) return this.arena.space(OWN_READ_ROOM);
    return shared;
  }

  /**
   * onread: the driver calls this every few seconds. A connection that read nothing since the last
   * call drops its arena (views others hold keep their part alive), so idle connections hold no
   * receive memory; a busy one keeps it (releasing it per command would allocate 64 KiB per write
   * at QD1). Node still holds the buffer it was last given until the next read: at most the rest of
   * one arena when the last PDU received was write data.
   */
  sweepIdle(): void {
    if (!this.readSinceSweep && this.buffered === 0 && this.bhs === null) this.arena.release();
    this.readSinceSweep = false;
  }

  /** onread: `n` bytes arrived at the start of `buf` (the buffer nextReadBuffer returned). */
  onRead(n: number, buf: Buffer): void {
    const shared = this.shared!;
    this.readSinceSweep = true;
    if (buf !== shared) {
      this.arena.commit(n);
      this.onData(buf.subarray(0, n));
      return;
    }
    this.onData(shared.subarray(0, n));
    if (this.isClosed) return;
    // The next read overwrites the shared buffer: copy out what this one left unframed.
    const ab = shared.buffer;
    const chunks = this.chunks;
    if (chunks.length > 0 && this.head > 0 && chunks[0]!.buffer === ab) {
      chunks[0] = chunks[0]!.subarray(this.head);
      this.head = 0;
    }
    for (let i = 0; i < chunks.length; i++) if (chunks[i]!.buffer === ab) chunks[i] = this.arena.copy(chunks[i]!);
    if (this.bhs !== null && this.bhs.buffer === ab) {
      this.bhs = this.arena.copy(this.bhs);
      if (this.ahs.length > 0) this.ahs = this.arena.copy(this.ahs);
    }
  }

  /** Receive arenas reused instead of allocated (rx-arena.ts), for tests. */
  get rxArenasReused(): number {
    return this.arena.reused;
  }

  /** Whether the framer still refers to memory of `ab` (a reused arena must not be one of those). */
  private framerHolds(ab: ArrayBufferLike): boolean {
    if (this.bhs !== null && this.bhs.buffer === ab) return true;
    if (this.ahs.buffer === ab) return true;
    if (this.oneView[0]!.buffer === ab) return true;
    return inBuffer(this.chunks, ab) || inBuffer(this.dataViews, ab) || inBuffer(this.headViews, ab);
  }

  /** Write data kept by `task`: pin the arenas it lies in until the command finishes. */
  protected override dataAccepted(task: IscsiTask, pieces: readonly Buffer[]): void {
    if (this.shared === null) return;
    const slots = (task.transport as R2tState).slots;
    for (let i = 0; i < pieces.length; i++) {
      const slot = this.arena.slotOf(pieces[i]!);
      if (slot !== null && !slots.includes(slot)) {
        this.arena.pin(slot);
        slots.push(slot);
      }
    }
  }

  /** The engine is done with the command: its arenas may be reused if only the store saw the data. */
  protected override commandFinished(task: IscsiTask): void {
    const r = task.transport as R2tState | null;
    if (r === null || r.slots.length === 0) return;
    const transient = task.scsi.dataOutTransient === true;
    for (const slot of r.slots) this.arena.unpin(slot, transient);
    r.slots.length = 0;
  }

  /** Write data the engine keeps beyond receivePdu, received into the shared buffer: one copy in the arena. */
  protected override keepData(pieces: readonly Buffer[], len: number): readonly Buffer[] {
    return this.shared === null ? super.keepData(pieces, len) : [this.arena.join(pieces, len)];
  }

  protected override onFullFeature(): void {
    this.rxHeaderDigest = this.txHeaderDigest = this.params.headerDigest;
    this.rxDataDigest = this.txDataDigest = this.params.dataDigest;
  }

  protected override unsentBytes(): number {
    return this.socket.writableLength;
  }

  // ------------------------------------------------------------------ receive

  private onData(chunk: Buffer): void {
    if (this.isClosed) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    this.receiving = true;
    try {
      while (this.state !== 'closed') {
        if (this.bhs === null) {
          if (!this.readHeader()) break;
        }
        if (!this.readData()) break;
      }
    } catch (e) {
      // A framing bug must cost this one connection, never reach the process-wide handler.
      this.host.log('error', `connection ${this.logContext()}: framing: ${errorText(e)}`);
      this.close('internal error');
    } finally {
      this.receiving = false;
    }
    // What these PDUs produced (responses of commands that completed at once, R2Ts) goes out now,
    // in one write, not a loop turn later (issue 10 QD1).
    this.flush();
  }

  /** Frame BHS + AHS (+ header digest). Returns false when more bytes are needed. */
  private readHeader(): boolean {
    if (this.buffered < P.BHS_LENGTH) return false;
    // The BHS's first fields, read in place when chunks[0] holds all of it (no view).
    const c0 = this.chunks[0]!;
    const inPlace = c0.length - this.head >= P.BHS_LENGTH;
    const first = inPlace ? c0 : this.peek(P.BHS_LENGTH);
    const at = inPlace ? this.head : 0;
    if (this.state === 'login' && P.opcode(first, at) !== P.Op.Login) {
      // Only Login PDUs are allowed before full feature phase (RFC 7143 6.3): do not wait for the rest.
      this.close('non-login PDU during login');
      return false;
    }
    const ahsLen = P.totalAHSLength(first, at);
    const hlen = P.BHS_LENGTH + ahsLen + (this.rxHeaderDigest ? 4 : 0);
    if (this.buffered < hlen) return false;
    const head = this.takeJoined(hlen);
    if (this.rxHeaderDigest) {
      const crc = crc32cHeader(head.subarray(0, hlen - 4));
      if (crc !== readDigest(head, hlen - 4)) {
        // The length fields cannot be trusted: the stream is lost (RFC 7143 7.8).
        this.close('header digest error');
        return false;
      }
    }
    if (ahsLen === 0) {
      this.bhs = head.length === P.BHS_LENGTH ? head : head.subarray(0, P.BHS_LENGTH);
      this.ahs = NO_AHS;
    } else {
      this.bhs = head.subarray(0, P.BHS_LENGTH);
      this.ahs = head.subarray(P.BHS_LENGTH, P.BHS_LENGTH + ahsLen);
    }
    this.dataLength = P.dataSegmentLength(this.bhs);
    if (this.shared !== null) {
      const op = P.opcode(this.bhs);
      // A heuristic for where the next read lands (nextReadBuffer), never a matter of correctness.
      this.writeExpected = op === P.Op.DataOut ||
        (op === P.Op.ScsiCommand && P.writeBit(this.bhs) && P.expectedDataTransferLength(this.bhs) > this.dataLength);
    }
    // During login the initiator may send up to the RFC default MaxRecvDataSegmentLength (RFC 7143 6.3).
    const limit = this.state === 'login' ? LOGIN_SEGMENT : this.params.maxRecvSegment;
    if (this.dataLength > limit) {
      this.close(`data segment of ${this.dataLength} bytes exceeds ${limit}`);
      return false;
    }
    return true;
  }

  /** Frame the data segment (+ padding, + data digest) and dispatch. */
  private readData(): boolean {
    const bhs = this.bhs!;
    const len = this.dataLength;
    const digest = this.rxDataDigest && len > 0 ? 4 : 0;
    const total = P.padded(len) + digest;
    if (this.buffered < total) return false;
    let data: readonly Buffer[] = NO_DATA;
    if (len > 0) {
      const one = this.takeContiguous(len);
      if (one !== null) {
        this.oneView[0] = one;
        data = this.oneView;
      } else data = this.take(len, this.dataViews);
    }
    const pad = P.padded(len) - len;
    if (pad > 0) this.skip(pad);
    this.bhs = null;
    if (digest > 0) {
      const d = readDigest(this.takeJoined(4), 0);
      if (crc32cList(data, pad) !== d) {
        // RFC 7143 7.8: a data digest error on a command or Data-Out is rejected; the PDU is dropped.
        const op = P.opcode(bhs);
        if (op === P.Op.ScsiCommand || op === P.Op.DataOut) this.reject(bhs, W.RejectReason.DataDigestError);
        else this.close('data digest error');
        return this.state !== 'closed';
      }
    }
    if (this.shared !== null) this.rxBuffersReused = inBuffer(data, this.shared.buffer);
    this.receivePdu(bhs, this.ahs, data, len);
    // The engine kept what it needed (views of write data in its own list): do not pin the chunks.
    this.oneView[0] = NO_AHS;
    if (this.dataViews.length > 0) this.dataViews.length = 0;
    return this.state !== 'closed';
  }

  /** First `n` bytes without consuming (n <= buffered), joined: for a header that spans chunks. */
  private peek(n: number): Buffer {
    const c0 = this.chunks[0]!;
    if (c0.length - this.head >= n) return c0.subarray(this.head, this.head + n);
    const first = this.head > 0 ? [c0.subarray(this.head), ...this.chunks.slice(1)] : this.chunks;
    return Buffer.concat(first, n);
  }

  /** Consume `n` bytes as views into the received chunks (no copy), into `out` (emptied first). */
  private take(n: number, out: Buffer[]): Buffer[] {
    out.length = 0;
    this.buffered -= n;
    while (n > 0) {
      const c = this.chunks[0]!;
      const at = this.head;
      const avail = c.length - at;
      if (avail <= n) {
        out.push(at === 0 ? c : c.subarray(at));
        this.chunks.shift();
        this.head = 0;
        n -= avail;
      } else {
        out.push(c.subarray(at, at + n));
        this.head = at + n;
        n = 0;
      }
    }
    return out;
  }

  /** Consume `n` bytes as one view when chunks[0] holds them all, else null (nothing consumed). */
  private takeContiguous(n: number): Buffer | null {
    const c = this.chunks[0]!;
    const at = this.head;
    const avail = c.length - at;
    if (avail < n) return null;
    this.buffered -= n;
    if (avail > n) {
      this.head = at + n;
      return c.subarray(at, at + n);
    }
    this.chunks.shift();
    this.head = 0;
    return at === 0 ? c : c.subarray(at);
  }

  private takeJoined(n: number): Buffer {
    const one = this.takeContiguous(n);
    if (one !== null) return one;
    const parts = this.take(n, this.headViews);
    const b = parts.length === 1 ? parts[0]! : Buffer.concat(parts, n);
    parts.length = 0;
    return b;
  }

  /** Consume `n` bytes (padding) without views. */
  private skip(n: number): void {
    this.buffered -= n;
    while (n > 0) {
      const avail = this.chunks[0]!.length - this.head;
      if (avail <= n) {
        this.chunks.shift();
        this.head = 0;
        n -= avail;
      } else {
        this.head += n;
        n = 0;
      }
    }
  }

  // ------------------------------------------------------------------ data movement: R2T, Data-Out, Data-In

  protected override prepareTask(task: IscsiTask): void {
    const readLen = task.scsi.expectedReadLength;
    if (readLen > 0 && readLen <= SLAB_READ_MAX) task.scsi.readBuffer = this.readSlab.take(readLen);
    let r = task.transport as R2tState | null;
    if (r === null) task.transport = r = new R2tState();
    r.offset = task.unsolicitedEnd;
    r.outstanding = 0;
    r.tags.length = 0;
    r.sn = 0;
    r.slots.length = 0;
  }

  /** Ask for write data beyond what comes unsolicited: R2Ts up to MaxOutstandingR2T (RFC 7143 11.8). */
  protected getWriteData(task: IscsiTask): void {
    const s = this.session!;
    const r = task.transport as R2tState;
    while (r.offset < task.edtl && r.outstanding < this.params.maxOutstandingR2T) {
      const len = Math.min(this.params.maxBurstLength, task.edtl - r.offset);
      const hdr = this.headers.get();
      // Each R2T gets its own TTT: it names the Data-Out sequence (and DataSN restarts for it).
      const ttt = this.nextTTT;
      this.nextTTT = this.nextTTT >= 0x7fffffff ? 1 : this.nextTTT + 1;
      r.tags.push(ttt);
      W.writeR2T(hdr, task.itt, ttt, task.scsi.lun, r.sn, r.offset, len, this.statSN, s.expCmdSN, s.maxCmdSN);
      r.sn++;
      r.outstanding++;
      r.offset += len;
      this.sendPdu(hdr, null, 0);
    }
  }

  protected override solicitedTag(task: IscsiTask, ttt: number): boolean {
    return (task.transport as R2tState).tags.includes(ttt);
  }

  protected override solicitedDataOut(task: IscsiTask, ttt: number, final: boolean): void {
    const r = task.transport as R2tState;
    if (final) {
      r.outstanding--;
      removeTag(r.tags, ttt);
    }
    if (task.aborted || task.dataComplete) return;
    if (task.received >= r.offset || r.outstanding < this.params.maxOutstandingR2T) this.getWriteData(task);
  }

  /**
   * Send `len` bytes of `data` as Data-In PDUs (RFC 7143 11.7): segments of at most the initiator's
   * MaxRecvDataSegmentLength, F at the end of each MaxBurstLength sequence; the status goes in the
   * last PDU when allowed (phase collapse, 11.7.4).
   */
  protected queueDataIn(task: IscsiTask, data: Buffer, len: number, withStatus: boolean): boolean {
    const s = this.session!;
    const t = task.scsi;
    const seg = this.params.maxSendSegment;
    const burst = this.params.maxBurstLength;
    const r = withStatus ? dataInResidual(task, len) : 0;
    const rFlags = residualFlags(r);
    const rCount = Math.abs(r);
    let offset = 0;
    let burstLeft = burst;
    while (offset < len) {
      const n = Math.min(seg, len - offset, burstLeft);
      const last = offset + n >= len;
      burstLeft -= n;
      let flags = 0;
      if (last || burstLeft === 0) flags |= W.DataInFlag.Final;
      const status = last && withStatus;
      if (status) flags |= W.DataInFlag.Status | rFlags;
      const hdr = this.headers.get();
      W.writeDataIn(
        hdr, task.itt, P.RESERVED_TAG, t.lun, flags, t.status, task.dataSN, offset, rCount,
        status ? this.nextStatSN() : this.statSN, s.expCmdSN, s.maxCmdSN, n,
      );
      task.dataSN = (task.dataSN + 1) >>> 0;
      this.sendPdu(hdr, data.subarray(offset, offset + n), n);
      offset += n;
      if (burstLeft === 0) burstLeft = burst;
    }
    return withStatus;
  }

  // ------------------------------------------------------------------ send

  protected sendPdu(bhs: Buffer, data: readonly Buffer[] | Buffer | null, dataLength: number): void {
    if (this.txEnded || this.socket.destroyed) return;
    const s = this.socket;
    if (!this.corked) {
      // Batch the PDUs of this event-loop turn into one writev (node-and-libraries.md §3.2): the
      // ones sent while received data is framed go when onData returns; the others (backing-store
      // completions) on setImmediate, after the poll phase, so every completion of the turn shares
      // one syscall (nextTick would flush after each).
      this.corked = true;
      s.cork();
      if (!this.receiving && !this.flushQueued) {
        this.flushQueued = true;
        setImmediate(this.flushTurn);
      }
    }
    s.write(bhs);
    if (this.txHeaderDigest) {
      const d = Buffer.allocUnsafe(4);
      writeDigest(d, 0, crc32cHeader(bhs));
      s.write(d);
    }
    if (data === null || dataLength === 0) return;
    const pad = P.padded(dataLength) - dataLength;
    if (Buffer.isBuffer(data)) {
      s.write(data);
      if (pad > 0) s.write(PADS[pad]!);
      if (this.txDataDigest) this.writeDataDigest([data], pad);
      return;
    }
    for (let i = 0; i < data.length; i++) s.write(data[i]!);
    if (pad > 0) s.write(PADS[pad]!);
    if (this.txDataDigest) this.writeDataDigest(data, pad);
  }

  private writeDataDigest(list: readonly Buffer[], pad: number): void {
    const d = Buffer.allocUnsafe(4);
    writeDigest(d, 0, crc32cList(list, pad));
    this.socket.write(d);
  }

  protected closeTransport(): void {
    this.chunks = [];
    this.head = 0;
    this.buffered = 0;
    this.bhs = null;
    this.arena.release();
    if (this.socket.destroyed) {
      this.txEnded = true;
      return;
    }
    // Let queued responses (a Logout Response, a failed Login Response) go out first, but do not
    // wait on a peer that stops reading: destroy after a grace period.
    if (this.corked) {
      this.corked = false;
      this.socket.uncork();
    }
    this.txEnded = true;
    this.socket.end();
    const t = setTimeout(() => this.socket.destroy(), 2000);
    t.unref();
    this.socket.once('close', () => clearTimeout(t));
  }
}

/** Removes `ttt` from `tags` in place (splice would return a new array per R2T). */
function removeTag(tags: number[], ttt: number): void {
  const i = tags.indexOf(ttt);
  if (i < 0) return;
  for (let j = i + 1; j < tags.length; j++) tags[j - 1] = tags[j]!;
  tags.length--;
}

/** Whether any of `views` lies in the memory `ab` (indexed: a for-of here allocated an iterator per PDU). */
function inBuffer(views: readonly Buffer[], ab: ArrayBufferLike): boolean {
  for (let i = 0; i < views.length; i++) if (views[i]!.buffer === ab) return true;
  return false;
}
