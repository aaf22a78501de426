// Test fixture: a duck-typed net.Socket for TcpConnection (RFC 7143 over TCP) and a ConnectionUnderTest over it.
//
// The fake has only what TcpConnection uses: addresses, setNoDelay/setKeepAlive, 'data' /
// 'error' / 'close' / 'drain' events, write/cork/uncork/pause/resume/end/destroy and writableLength. Bytes the
// target writes are kept and decoded back into PDUs, so the connection contract runs unchanged
// over the real framer.

import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { ConnectionHost } from '../../../iscsi/connection.js';
import type { ConnectionUnderTest } from '../../../iscsi/testing/capture-connection.js';
import { wireBytes, type InitiatorPdu } from '../../../iscsi/testing/pdus.js';
import { parseTargetStream, TargetPdu, TOp } from '../../../iscsi/testing/target-pdu.js';
import { SHARED_READ_SIZE, TcpConnection } from '../tcp-connection.js';

export class FakeSocket extends EventEmitter {
  readonly remoteAddress = '::ffff:192.0.2.10';
  readonly remotePort = 40000;
  readonly localAddress = '::ffff:192.0.2.1';
  readonly localPort = 3260;
  /** Copies of every buffer written, in order. */
  readonly written: Buffer[] = [];
  /** Bytes the kernel would not take (setBacklog). */
  backlog = 0;
  /** Bytes written while corked: a real socket counts them in writableLength until uncork writes them. */
  private corkedBytes = 0;
  private corks = 0;
  get writableLength(): number {
    return this.backlog + this.corkedBytes;
  }
  destroyed = false;
  ends = 0;

  setNoDelay(): this {
    return this;
  }
  setKeepAlive(): this {
    return this;
  }
  cork(): void {
    this.corks++;
  }
  uncork(): void {
    if (this.corks > 0 && --this.corks === 0) this.corkedBytes = 0; // written at once (the kernel took it)
  }
  /** Reading paused by the connection (back-pressure); 'data' is only emitted by the test. */
  paused = false;
  pause(): this {
    this.paused = true;
    return this;
  }
  resume(): this {
    this.paused = false;
    return this;
  }
  write(b: Buffer): boolean {
    if (this.corks > 0) this.corkedBytes += b.length;
    this.written.push(Buffer.from(b));
    return true;
  }
  end(): this {
    this.ends++;
    return this;
  }
  destroy(): this {
    this.destroyed = true;
    return this;
  }
  asSocket(): Socket {
    return this as unknown as Socket;
  }
}

/** Receive-side spy: every PDU the framer hands to the connection, as BHS + AHS + data bytes. */
export class SpyTcpConnection extends TcpConnection {
  readonly received: Buffer[] = [];

  override receivePdu(bhs: Buffer, ahs: Buffer, data: readonly Buffer[], dataLength: number): void {
    this.received.push(Buffer.concat([bhs, ahs, ...data], bhs.length + ahs.length + dataLength));
    super.receivePdu(bhs, ahs, data, dataLength);
  }
}

/** TcpConnection over a FakeSocket, seen through the transport-neutral ConnectionUnderTest. */
export class TcpUnderTest implements ConnectionUnderTest {
  readonly sock = new FakeSocket();
  readonly conn: SpyTcpConnection;
  /** Every chunk handed to the socket's 'data' event (the initiator's byte stream). */
  readonly stream: Buffer[] = [];
  private readonly pdus: TargetPdu[] = [];
  private parsedWrites = 0;
  private rest = Buffer.alloc(0);
  /**
   * onread mode (`{ onread: true }`): the loop's shared read buffer, scribbled over after every
   * read callback as the next read would overwrite it, so a view kept past the callback shows.
   */
  readonly shared: Buffer | null;
  /** onread mode: where Node would read next (asked right after each callback, as Node does). */
  private nextRead: Buffer | null = null;
  /** onread mode: reads delivered, and how many landed in the shared buffer. */
  reads = 0;
  sharedReads = 0;

  constructor(host: ConnectionHost, opts: { onread?: boolean; sharedSize?: number } = {}) {
    this.shared = opts.onread === true ? Buffer.alloc(opts.sharedSize ?? SHARED_READ_SIZE) : null;
    const s = this.sock;
    this.conn = new SpyTcpConnection(host, s.asSocket(), this.shared === null ? null : {
      shared: this.shared,
      peer: { peerAddress: s.remoteAddress, peerPort: s.remotePort, localAddress: s.localAddress, localPort: s.localPort },
    });
    if (this.shared !== null) this.nextRead = this.conn.nextReadBuffer();
  }

  /** The target's byte stream decoded so far (digests after the last Login Response, as negotiated). */
  get sent(): readonly TargetPdu[] {
    if (this.parsedWrites < this.sock.written.length) {
      this.rest = Buffer.concat([this.rest, ...this.sock.written.slice(this.parsedWrites)]);
      this.parsedWrites = this.sock.written.length;
      const p = this.conn.params;
      const { pdus, used } = parseTargetStream(this.rest, (bhs) =>
        (bhs[0]! & 0x3f) === TOp.LoginResponse ? { header: false, data: false } : { header: p.headerDigest, data: p.dataDigest },
      );
      this.pdus.push(...pdus);
      this.rest = this.rest.subarray(used);
    }
    return this.pdus;
  }

  get closes(): number {
    return this.sock.ends;
  }

  /** Encodes `pdu` as the initiator would (digests once in full feature phase) and delivers it as one chunk. */
  receive(pdu: InitiatorPdu): void {
    const ffp = this.conn.state !== 'login';
    const p = this.conn.params;
    this.chunk(wireBytes(pdu, { header: ffp && p.headerDigest, data: ffp && p.dataDigest }));
  }

  /** `bytes` arrive: as one 'data' event, or (onread) as reads of at most the buffer the connection offers. */
  chunk(bytes: Buffer): void {
    this.stream.push(bytes);
    if (this.shared === null) {
      this.sock.emit('data', bytes);
      return;
    }
    for (let o = 0; o < bytes.length && !this.conn.isClosed;) {
      const buf = this.nextRead!;
      const n = Math.min(buf.length, bytes.length - o);
      bytes.copy(buf, 0, o, o + n);
      o += n;
      this.reads++;
      if (buf === this.shared) this.sharedReads++;
      this.conn.onRead(n, buf);
      if (buf === this.shared) buf.fill(0xee, 0, n); // what the next read may overwrite
      this.nextRead = this.conn.nextReadBuffer();
    }
  }

  /**
   * The socket's buffered bytes. Going back to 0 happens a turn later, then 'drain' fires, as a
   * real socket does: TcpConnection arms its 'drain' listener when it flushes (on setImmediate).
   */
  setBacklog(bytes: number): void {
    if (bytes > 0) {
      this.sock.backlog = bytes;
      return;
    }
    setImmediate(() => {
      this.sock.backlog = 0;
      this.sock.emit('drain');
    });
  }
}

export const makeTcpConnection = (host: ConnectionHost): TcpUnderTest => new TcpUnderTest(host);
