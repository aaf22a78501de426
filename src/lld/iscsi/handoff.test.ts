// Unit tests: the main thread's wait for a connection's first PDU (tgtd --workers routing) over a scripted ReadWatch: split PDUs, EOF, errors, the deadline, cancel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loginRequest, wireBytes } from '../../iscsi/testing/pdus.js';
import { FIRST_PDU_MAX } from './first-login.js';
import { waitFirstPdu, type FirstPduOutcome, type ReadWatch, type ReadWatchCtor } from './handoff.js';

const IQN = 'iqn.2026-12.org.stgt.test:handoff';
const PDU = wireBytes(loginRequest({
  transit: true, csg: 1, nsg: 3, isid: Buffer.from([0x80, 0, 0, 0, 0, 2]), itt: 1, cmdSN: 0, expStatSN: 0,
  keys: [['InitiatorName', 'iqn.2026-12.org.stgt.test:i'], ['TargetName', IQN]],
}), { header: false, data: false });

/** A socket whose receive queue holds `queued` (what has arrived so far); readiness fires when the test says. */
class FakeWatch implements ReadWatch {
  static last: FakeWatch | null = null;
  queued: Buffer = Buffer.alloc(0);
  error = 0;
  started = false;
  closed = false;
  starts = 0;
  constructor(readonly fd: number, private readonly onReadable: () => void) {
    FakeWatch.last = this;
  }
  start(): number {
    this.starts++;
    this.started = true;
    // Level-triggered: data already queued makes it ready at once (on the next turn of the loop).
    if (this.queued.length > 0 || this.error !== 0) setImmediate(() => this.fire());
    return 0;
  }
  stop(): void {
    this.started = false;
  }
  peek(buf: Buffer): number {
    if (this.error !== 0) return -this.error;
    return this.queued.copy(buf, 0, 0, Math.min(buf.length, this.queued.length));
  }
  close(): void {
    this.started = false;
    this.closed = true;
  }
  /** Bytes arrive (and readiness fires if watched). */
  arrive(b: Buffer): void {
    this.queued = Buffer.concat([this.queued, b]);
    this.fire();
  }
  fire(): void {
    if (this.started && !this.closed) this.onReadable();
  }
}
const Watch: ReadWatchCtor = FakeWatch;

function wait(timeoutMs = 10_000): { outcome: Promise<FirstPduOutcome>; w: FakeWatch; cancel: () => void } {
  let resolve!: (o: FirstPduOutcome) => void;
  const outcome = new Promise<FirstPduOutcome>((r) => (resolve = r));
  let calls = 0;
  const h = waitFirstPdu(Watch, 9, Buffer.alloc(FIRST_PDU_MAX), timeoutMs, (o) => {
    calls++;
    assert.equal(calls, 1, 'done is called once');
    resolve(o);
  });
  return { outcome, w: FakeWatch.last!, cancel: () => h.cancel() };
}

test('a first PDU arriving in pieces: the watch pauses on each part and routes once it is whole', async () => {
  const { outcome, w } = wait();
  w.arrive(PDU.subarray(0, 20));
  assert.equal(w.started, false, 'paused after a partial PDU (no spinning on a readable socket)');
  w.queued = Buffer.concat([w.queued, PDU.subarray(20, 60)]);
  // The retry re-arms the watch, which sees the 60 bytes, still partial, and pauses again.
  await new Promise<void>((r) => {
    const poll = (): void => (w.starts >= 2 && !w.started ? r() : void setImmediate(poll));
    poll();
  });
  w.queued = Buffer.concat([w.queued, PDU.subarray(60)]);
  assert.deepEqual(await outcome, { kind: 'target', targetName: IQN });
  assert.ok(w.closed, 'the watch is released');
  assert.equal(w.queued.length, PDU.length, 'nothing was consumed: the worker reads the PDU itself');
});

test('the peer going away, a socket error, or no PDU before the deadline end the wait', async () => {
  const eof = wait();
  eof.w.arrive(Buffer.alloc(0));
  eof.w.fire();
  assert.deepEqual(await eof.outcome, { kind: 'closed', why: 'closed before its first PDU' });

  const err = wait();
  err.w.error = 104; // ECONNRESET
  err.w.fire();
  assert.deepEqual(await err.outcome, { kind: 'closed', why: 'recv: errno 104' });

  const slow = wait(30);
  slow.w.arrive(PDU.subarray(0, 47));
  const o = await slow.outcome;
  assert.equal(o.kind, 'closed');
  assert.match(o.kind === 'closed' ? o.why : '', /no whole first PDU within 30 ms/);
  assert.ok(slow.w.closed);
});

test('cancel releases the watch and never calls back', () => {
  const c = wait();
  c.cancel();
  assert.ok(c.w.closed);
  c.w.arrive(PDU);
  assert.equal(c.w.started, false);
});
