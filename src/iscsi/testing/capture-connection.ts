// Test fixture: the transport seam of the RFC 7143 connection base, captured: every PDU sent, every close, a settable backlog.
//
// `ConnectionUnderTest` is what the contract tests (contract.ts) drive; any transport can supply
// one (this capturing connection, TCP over a fake socket, iSER over a fake RDMA provider).

import { IscsiConnection, type ConnectionHost } from '../connection.js';
import type { IscsiTask } from '../task.js';
import type { InitiatorPdu } from './pdus.js';
import { TargetPdu } from './target-pdu.js';

export interface ConnectionUnderTest {
  readonly conn: IscsiConnection;
  /** Every PDU the target sent, in order. */
  readonly sent: readonly TargetPdu[];
  /** How many times the transport was closed (closeTransport). */
  readonly closes: number;
  /** Hand one initiator PDU to the connection (through the transport's framing, if it has one). */
  receive(pdu: InitiatorPdu): void;
  /**
   * Make the transport report `bytes` of responses queued but unsent (back-pressure); setting it
   * back to 0 is the transport's "drained" event.
   */
  setBacklog(bytes: number): void;
}

/** Builds a fresh connection under test on `host` (one per test). */
export type MakeConnection = (host: ConnectionHost) => ConnectionUnderTest;

/**
 * An IscsiConnection whose transport is an array: sendPdu copies, closeTransport counts. Data moves
 * out of band, as over RDMA: getWriteData records what the engine asks for (a test answers with
 * supplyWriteData), queueDataIn records the read data, and the status always follows separately.
 */
export class CaptureConnection extends IscsiConnection implements ConnectionUnderTest {
  readonly sent: TargetPdu[] = [];
  closes = 0;
  private backlog = 0;
  /** Write data the engine asked for: ITT, from which offset, how much. */
  readonly writeRequests: { itt: number; offset: number; length: number }[] = [];
  /** Read data delivered, per ITT (copies). */
  readonly readData = new Map<number, Buffer>();

  constructor(host: ConnectionHost) {
    super(host, '192.0.2.10', 40000, '192.0.2.1', 3260, 'tcp');
  }

  get conn(): IscsiConnection {
    return this;
  }

  protected sendPdu(bhs: Buffer, data: readonly Buffer[] | Buffer | null, dataLength: number): void {
    // Copies: the engine may reuse its header slab and the backing store its buffers.
    let joined: Buffer;
    if (data === null || dataLength === 0) joined = Buffer.alloc(0);
    else if (Buffer.isBuffer(data)) joined = Buffer.from(data.subarray(0, dataLength));
    else joined = Buffer.concat(data as Buffer[], dataLength);
    this.sent.push(new TargetPdu(Buffer.from(bhs.subarray(0, 48)), joined));
  }

  protected closeTransport(): void {
    this.closes++;
  }

  protected getWriteData(task: IscsiTask): void {
    this.writeRequests.push({ itt: task.itt, offset: task.received, length: task.edtl - task.received });
  }

  /** Deliver the write data of a recorded request, as a transport's own fetch would. */
  supplyWriteData(itt: number, data: Buffer): void {
    const task = this.tasks.get(itt);
    if (task === undefined) throw new Error(`no task ${itt}`);
    this.writeDataArrived(task, [data], data.length);
  }

  protected queueDataIn(task: IscsiTask, data: Buffer, len: number): boolean {
    this.readData.set(task.itt, Buffer.from(data.subarray(0, len)));
    return false;
  }

  protected override unsentBytes(): number {
    return this.backlog;
  }

  receive(pdu: InitiatorPdu): void {
    this.receivePdu(pdu.bhs, pdu.ahs, pdu.data.length > 0 ? [pdu.data] : [], pdu.data.length);
  }

  setBacklog(bytes: number): void {
    this.backlog = bytes;
    if (bytes === 0) this.drained();
  }
}

export const makeCaptureConnection: MakeConnection = (host) => new CaptureConnection(host);

/**
 * Wait for a state, not for a time: yield to the event loop (setImmediate, so backing-store
 * completions and timers of this turn run) until `cond` holds; fail after `turns` turns.
 */
export async function until(cond: () => boolean, what = 'condition', turns = 10_000): Promise<void> {
  for (let i = 0; !cond(); i++) {
    if (i >= turns) throw new Error(`until: ${what} not reached after ${turns} event-loop turns`);
    await new Promise<void>((r) => setImmediate(r));
  }
}
