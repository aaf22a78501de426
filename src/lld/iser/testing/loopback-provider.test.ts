// Unit tests of the loopback RDMA provider: CM flow, Send/Recv, RDMA READ/WRITE with key and bounds checks, error completions, teardown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WcOpcode, WcStatus, type ConnHandle, type RegisteredPool } from '../rdma-provider-api.js';
import { LoopbackFabric, type LoopbackEndpoint, type LoopbackOptions } from './loopback-provider.js';
import { Recorder } from './recorder.js';

const ISER_HDR = Buffer.from([0x80 | 0x40, 0, 0, 0]);

interface Pair {
  fabric: LoopbackFabric;
  t: LoopbackEndpoint;
  i: LoopbackEndpoint;
  tr: Recorder;
  ir: Recorder;
  tc: ConnHandle;
  ic: ConnHandle;
  tp: RegisteredPool;
  ip: RegisteredPool;
}

/** Target endpoint listening on 10.0.0.1:3260, initiator connected to it, one 1 MiB pool each. */
async function pair(opts: LoopbackOptions = {}, initiatorRecvs = 0): Promise<Pair> {
  const fabric = new LoopbackFabric(opts);
  const tr = new Recorder('target');
  const ir = new Recorder('initiator');
  const t = fabric.provider('10.0.0.1').createEndpoint(tr) as LoopbackEndpoint;
  const i = fabric.provider('10.0.0.2').createEndpoint(ir) as LoopbackEndpoint;
  const tp = t.registerPool(1 << 20);
  const ip = i.registerPool(1 << 20);
  const l = t.listen('10.0.0.1', 3260);
  tr.onEvent = (ev) => {
    if (ev.type !== 'connect-request') return;
    assert.equal(t.createQp(ev.conn, { sendDepth: 16, recvDepth: 16 }), 0);
    assert.equal(t.postRecv(ev.conn, tp.pool, 0, 8192, 1), 0);
    assert.equal(t.accept(ev.conn, { privateData: ISER_HDR, responderResources: 2, initiatorDepth: 4 }), 0);
  };
  ir.onEvent = (ev) => {
    if (ev.type !== 'route-resolved') return;
    for (let k = 0; k < initiatorRecvs; k++) assert.equal(i.postRecv(ev.conn, ip.pool, k * 4096, 4096, 1000 + k), 0);
  };
  const ic = i.connect('10.0.0.1', 3260, Buffer.from([0x80, 0, 0, 0]), { responderResources: 16, initiatorDepth: 1, sendDepth: 16, recvDepth: 16 });
  const req = await tr.event('connect-request');
  assert.equal(req.listener, l.conn);
  assert.equal(req.peerAddress, '10.0.0.2');
  assert.equal(req.localAddress, '10.0.0.1');
  assert.equal(req.localPort, 3260);
  // Depths as the IB CM reports them: from the receiver's side (the peer's initiator_depth is our responder_resources).
  assert.equal(req.responderResources, 1);
  assert.equal(req.initiatorDepth, 16);
  assert.equal(req.privateData.length, 56, 'REQ private data is padded as IB pads it');
  assert.deepEqual([...req.privateData.subarray(0, 4)], [0x80, 0, 0, 0]);
  const est = await ir.event('established', ic);
  assert.equal(est.privateData.length, 196);
  assert.equal(est.privateData[0], 0xc0);
  assert.deepEqual([est.initiatorDepth, est.responderResources], [2, 4]);
  await tr.event('established', req.conn);
  return { fabric, t, i, tr, ir, tc: req.conn, ic, tp, ip };
}

test('CM: route-resolved comes first, receives posted there are in place when the target sends at once', async () => {
  const p = await pair({}, 2);
  assert.equal(p.ir.events[0]!.type, 'route-resolved');
  p.tp.buffer.write('hello initiator', 100);
  assert.equal(p.t.postSend(p.tc, p.tp.pool, 100, 15, 7, true), 0);
  assert.deepEqual(await p.tr.completion(7), { wrId: 7, conn: p.tc, opcode: WcOpcode.Send, status: 0, byteLen: 15, vendorErr: 0 });
  const rx = await p.ir.completion(1000);
  assert.equal(rx.opcode, WcOpcode.Recv);
  assert.equal(rx.byteLen, 15);
  assert.equal(p.ip.buffer.toString('utf8', 0, 15), 'hello initiator');
  p.t.close();
  p.i.close();
});

test('Send/Recv: unsignaled sends complete silently, batches hold at most batchSize and reuse one object', async () => {
  const fabric = new LoopbackFabric();
  const tr = new Recorder('t');
  const ir = new Recorder('i');
  const t = fabric.provider().createEndpoint(tr, { batchSize: 8 }) as LoopbackEndpoint;
  const i = fabric.provider().createEndpoint(ir) as LoopbackEndpoint;
  const tp = t.registerPool(65536);
  const ip = i.registerPool(65536);
  t.listen('0.0.0.0', 4000);
  tr.onEvent = (ev) => {
    if (ev.type !== 'connect-request') return;
    t.createQp(ev.conn, { recvDepth: 32 });
    for (let k = 0; k < 20; k++) assert.equal(t.postRecv(ev.conn, tp.pool, k * 1024, 1024, 100 + k), 0);
    t.accept(ev.conn, {});
  };
  const ic = i.connect('198.51.100.9', 4000, undefined, {});
  await ir.event('established', ic);
  const seen = new Set<unknown>();
  const orig = tr.onCompletions.bind(tr);
  tr.onCompletions = (b) => {
    seen.add(b);
    orig(b);
  };
  for (let k = 0; k < 20; k++) {
    ip.buffer.fill(k, k * 100, k * 100 + 100);
    assert.equal(i.postSend(ic, ip.pool, k * 100, 100, 500 + k, k === 19), 0);
  }
  await ir.completion(519);
  await tr.completion(119);
  assert.equal(ir.wcs.length, 1, 'only the signaled send completes');
  assert.deepEqual(tr.batches, [8, 8, 4]);
  assert.equal(seen.size, 1);
  for (let k = 0; k < 20; k++) assert.equal(tp.buffer[k * 1024 + 99], k);
  t.close();
  i.close();
});

test('RDMA WRITE and READ copy 1 MiB between pools; chained WRITE + Send places data before the Send arrives', async () => {
  const p = await pair({}, 1);
  for (let k = 0; k < p.tp.buffer.length; k++) p.tp.buffer[k] = (k * 7) & 0xff;
  // Target writes its pool into the initiator's (Data-In), then the response.
  assert.equal(p.t.postRdmaWriteSend(p.tc, p.tp.pool, 0, 1 << 20, p.ip.addr, p.ip.rkey, p.tp.pool, 0, 48, 9, true), 0);
  const rx = await p.ir.completion(1000);
  assert.equal(rx.status, 0);
  assert.ok(p.ip.buffer.equals(p.tp.buffer), 'initiator pool holds the written bytes');
  await p.tr.completion(9);
  assert.equal(p.tr.wcs.filter((w) => w.wrId === 9).length, 1, 'a chain completes once');
  // Target reads the initiator's buffer back (Data-Out).
  p.ip.buffer.fill(0x5a, 4096, 8192);
  assert.equal(p.t.postRdmaRead(p.tc, p.tp.pool, 0, 4096, p.ip.addr + 4096n, p.ip.rkey, 10), 0);
  const rd = await p.tr.completion(10);
  assert.deepEqual([rd.opcode, rd.status, rd.byteLen], [WcOpcode.RdmaRead, 0, 4096]);
  assert.ok(p.tp.buffer.subarray(0, 4096).every((b) => b === 0x5a));
  p.t.close();
  p.i.close();
});

test('bad rkey and out-of-bounds remote range: error completions, then everything flushes', async () => {
  const p = await pair();
  assert.equal(p.t.postRdmaRead(p.tc, p.tp.pool, 0, 16, p.ip.addr, p.ip.rkey + 1, 20), 0);
  assert.equal(p.t.postRdmaWrite(p.tc, p.tp.pool, 0, 16, p.ip.addr, p.ip.rkey, 21, true), 0);
  assert.equal((await p.tr.completion(20)).status, WcStatus.RemAccessErr);
  assert.equal((await p.tr.completion(21)).status, WcStatus.WrFlushErr);
  assert.equal((await p.tr.completion(1)).status, WcStatus.WrFlushErr, 'the posted receive flushes too');
  // A second pair: range one byte past the end, and a local slice outside the pool.
  const q = await pair();
  assert.equal(q.t.postRdmaWrite(q.tc, q.tp.pool, 0, 16, q.ip.addr + BigInt((1 << 20) - 15), q.ip.rkey, 30, false), 0);
  assert.equal((await q.tr.completion(30)).status, WcStatus.RemAccessErr, 'unsignaled but failed: completes');
  assert.equal(q.t.postSend(q.tc, q.tp.pool, (1 << 20) - 4, 8, 31, true), 22);
  assert.equal(q.t.postSend(q.tc, 999, 0, 8, 31, true), 22);
  assert.equal(q.t.postSend(12345, q.tp.pool, 0, 8, 31, true), 107);
  // A pool of the target itself is not the peer's: its rkey is refused too.
  const r = await pair();
  assert.equal(r.t.postRdmaWrite(r.tc, r.tp.pool, 0, 16, r.tp.addr, r.tp.rkey, 40, true), 0);
  assert.equal((await r.tr.completion(40)).status, WcStatus.RemAccessErr);
  for (const x of [p, q, r]) {
    x.t.close();
    x.i.close();
  }
});

test('RNR: a Send without a posted receive fails (default) or waits for one (rnr: wait); short receive -> length error', async () => {
  const p = await pair();
  assert.equal(p.t.postSend(p.tc, p.tp.pool, 0, 8, 50, true), 0);
  assert.equal((await p.tr.completion(50)).status, WcStatus.RnrRetryExcErr);
  const q = await pair({ rnr: 'wait' });
  assert.equal(q.t.postSend(q.tc, q.tp.pool, 0, 8, 51, true), 0);
  await new Promise((r) => setImmediate(r));
  assert.equal(q.tr.wcs.length, 0);
  assert.equal(q.i.postRecv(q.ic, q.ip.pool, 0, 4, 52), 0);
  assert.equal((await q.ir.completion(52)).status, WcStatus.LocLenErr);
  assert.equal((await q.tr.completion(51)).status, WcStatus.RemInvReqErr);
  for (const x of [p, q]) {
    x.t.close();
    x.i.close();
  }
});

test('send queue slots: unsignaled WRs hold their slots until a signaled one completes', async () => {
  const p = await pair({}, 16);
  for (let k = 0; k < 16; k++) assert.equal(p.t.postSend(p.tc, p.tp.pool, 0, 1, 60 + k, false), 0);
  assert.equal(p.t.postSend(p.tc, p.tp.pool, 0, 1, 80, true), 12, 'ENOMEM: 16 slots taken');
  await p.ir.completion(1015);
  assert.equal(p.t.inspect(p.tc)!.sendsOutstanding, 16, 'executed but never signaled: still held');
  const q = await pair({}, 16);
  for (let k = 0; k < 15; k++) q.t.postSend(q.tc, q.tp.pool, 0, 1, 60 + k, false);
  assert.equal(q.t.postSend(q.tc, q.tp.pool, 0, 1, 80, true), 0);
  await q.tr.completion(80);
  assert.equal(q.t.inspect(q.tc)!.sendsOutstanding, 0);
  for (const x of [p, q]) {
    x.t.close();
    x.i.close();
  }
});

test('pause holds RDMA READs in flight; inspect reports the most that were in flight at once', async () => {
  const p = await pair();
  p.t.pause();
  for (let k = 0; k < 3; k++) assert.equal(p.t.postRdmaRead(p.tc, p.tp.pool, k * 512, 512, p.ip.addr, p.ip.rkey, 70 + k), 0);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual([p.t.inspect(p.tc)!.readsInFlight, p.tr.wcs.length], [3, 0]);
  p.t.resume();
  await p.tr.completion(72);
  assert.deepEqual([p.t.inspect(p.tc)!.readsInFlight, p.t.inspect(p.tc)!.maxReadsInFlight], [0, 3]);
  p.t.close();
  p.i.close();
});

test('reject with private data, no listener, destroy of an unanswered request', async () => {
  const fabric = new LoopbackFabric();
  const tr = new Recorder('t');
  const ir = new Recorder('i');
  const t = fabric.provider().createEndpoint(tr);
  const i = fabric.provider().createEndpoint(ir);
  t.listen('::', 3260);
  assert.throws(() => t.listen('::', 3260), { errno: 98 });
  const c1 = i.connect('2001:db8::1', 3260, undefined);
  const r1 = await tr.event('connect-request');
  assert.equal(t.reject(r1.conn, Buffer.from('no')), 0);
  const rej = await ir.event('rejected', c1);
  assert.equal(rej.status, 28);
  assert.equal(rej.privateData.toString('utf8', 0, 2), 'no');
  const c2 = i.connect('10.1.1.1', 3260, undefined);
  assert.equal((await ir.event('rejected', c2)).status, 8, 'IPv6 wildcard does not take IPv4');
  tr.events.length = 0;
  const c3 = i.connect('2001:db8::1', 3260, undefined);
  const r3 = await tr.event('connect-request');
  t.destroy(r3.conn);
  t.destroy(r3.conn);
  assert.equal((await ir.event('rejected', c3)).status, 28);
  t.close();
  i.close();
});

test('disconnect flushes and tells both sides; destroy is safe twice; close frees everything', async () => {
  const p = await pair({}, 3);
  assert.equal(p.i.disconnect(p.ic), 0);
  await p.tr.event('disconnected', p.tc);
  await new Promise((r) => setImmediate(r));
  assert.equal(p.ir.events.some((e) => e.type === 'disconnected'), false, 'the DREQ is not answered yet');
  assert.equal(p.t.disconnect(p.tc), 0);
  await p.ir.event('disconnected', p.ic);
  await p.ir.event('timewait-exit', p.ic);
  await p.tr.event('timewait-exit', p.tc);
  const flushed = await p.ir.waitFor(() => (p.ir.wcs.length === 3 ? p.ir.wcs : false), '3 flushed receives');
  assert.deepEqual(flushed.map((w) => [w.wrId, w.status, w.opcode]), [[1000, 5, -1], [1001, 5, -1], [1002, 5, -1]]);
  assert.equal((await p.tr.completion(1)).status, WcStatus.WrFlushErr);
  p.i.destroy(p.ic);
  p.i.destroy(p.ic);
  p.i.destroy(424242);
  p.t.close();
  p.t.close();
  assert.equal(p.t.closed, true);
  assert.equal(p.t.conns.size + p.t.pools.size, 0);
  assert.equal(p.fabric.listeners.size, 0);
  assert.equal(p.t.postRecv(p.tc, p.tp.pool, 0, 1, 1), 107);
  assert.throws(() => p.t.listen('10.0.0.1', 1), { errno: 9 });
  // Destroying a connected conn disconnects the peer.
  const q = await pair();
  q.t.destroy(q.tc);
  await q.ir.event('disconnected', q.ic);
  q.i.close();
  q.t.close();
  p.i.close();
});

test('close() inside a completion handler: no later batch, the peer is disconnected', async () => {
  const fabric = new LoopbackFabric();
  const tr = new Recorder('t');
  const ir = new Recorder('i');
  const t = fabric.provider().createEndpoint(tr, { batchSize: 2 });
  const i = fabric.provider().createEndpoint(ir);
  const tp = t.registerPool(4096);
  const ip = i.registerPool(4096);
  t.listen('10.9.9.9', 3260);
  tr.onEvent = (ev) => {
    if (ev.type === 'connect-request') t.accept(ev.conn, {});
  };
  const ic = i.connect('10.9.9.9', 3260, undefined);
  const est = await tr.event('established');
  for (let k = 0; k < 6; k++) assert.equal(t.postRdmaWrite(est.conn, tp.pool, 0, 64, ip.addr, ip.rkey, k, true), 0);
  tr.onCompletion = (wc) => {
    if (wc.wrId === 1) t.close();
  };
  await ir.event('disconnected', ic);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(tr.batches, [2], 'the batch being read finishes, nothing after close');
  i.close();
});
