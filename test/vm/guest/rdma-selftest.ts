// Guest program: the real RDMA addon (native/rdma, provider v2) over rxe0 — CM with private data, Sends, 1 MiB RDMA WRITE/READ, bad rkey, teardown, fds
//
// Runs inside the test VM under the host's node (dist/ and native/rdma/build from the read-only
// repo share): `node dist/test/vm/guest/rdma-selftest.js <eth0 address>`. A target endpoint
// listens on the address, an initiator endpoint of the same process connects to it (rxe loops
// the traffic back inside the guest's kernel), and the flow below runs with every step waiting
// for the event or completion it needs (Recorder.waitFor), never for time. Prints one
// `RDMA-RESULT <json>` line; exits 0 only if every check held and nothing was left open.
import { readdirSync, readlinkSync } from 'node:fs';
import net from 'node:net';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  findAddon, loadRdmaProvider, WcOpcode, WcStatus, type ConnHandle, type RdmaEndpoint, type RdmaProvider,
} from '../../../src/lld/iser/rdma-provider.js';
import { Recorder } from '../../../src/lld/iser/testing/recorder.js';

const MiB = 1 << 20;
/** Generous: the guest runs under TCG on a shared machine (a boot has taken 47 s). */
const WAIT_MS = 90_000;
const CM_TIMEOUT = { timeoutMs: 10_000 };
const address = process.argv[2] ?? '10.0.2.15';
const address6 = process.argv[3];
const result: Record<string, unknown> = { address };
const t0 = Date.now();

function check(cond: boolean, what: string): void {
  if (!cond) throw new Error(`check failed: ${what}`);
}

function fds(): string[] {
  return readdirSync('/proc/self/fd').map((fd) => {
    try {
      return `${fd}->${readlinkSync(`/proc/self/fd/${fd}`)}`;
    } catch {
      return `${fd}->?`; // the fd readdir itself used
    }
  });
}

const pattern = (seed: number) => (i: number): number => (i * 131 + seed + (i >> 12)) & 0xff;

function fill(b: Buffer, start: number, length: number, f: (i: number) => number): void {
  for (let i = 0; i < length; i++) b[start + i] = f(i);
}

function same(b: Buffer, start: number, length: number, f: (i: number) => number): boolean {
  for (let i = 0; i < length; i++) if (b[start + i] !== f(i)) return false;
  return true;
}

async function main(): Promise<void> {
  const here = dirname(fileURLToPath(import.meta.url));
  const path = findAddon(here);
  check(path !== null, 'addon built (native/rdma/build/Release/stgt_rdma.node)');
  const provider: RdmaProvider = loadRdmaProvider(path!, (p) => createRequire(import.meta.url)(p) as unknown);
  const devices = provider.listDevices();
  result['devices'] = devices.map((d) => `${d.name}/${d.transport}`);
  check(devices.some((d) => d.name === 'rxe0'), 'listDevices has rxe0');
  check(provider.cmProbe() === '', 'cmProbe');

  // One-time fds that are not ours go into the baseline: libuv keeps a reserve fd (/dev/null) from
  // the first TCP listen on (portSharing listens), and librdmacm opens each device once per
  // process and keeps it, so a first endpoint pays for that.
  const warm = net.createServer();
  await new Promise<void>((resolve) => warm.listen(0, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => warm.close(() => resolve()));
  const before = fds().length;
  provider.createEndpoint(new Recorder('warm-up', WAIT_MS)).close();
  const baseline = fds();
  result['fdsBeforeFirstEndpoint'] = before;
  result['fdsBaseline'] = baseline.length;

  const tr = new Recorder('target', WAIT_MS);
  const ir = new Recorder('initiator', WAIT_MS);
  const T: RdmaEndpoint = provider.createEndpoint(tr, { batchSize: 16 });
  const I: RdmaEndpoint = provider.createEndpoint(ir);
  result['fdsWithTwoEndpoints'] = fds().length;
  const rxe = T.devices.find((d) => d.name === 'rxe0');
  check(rxe !== undefined && rxe.maxQpWr > 0 && rxe.maxQpInitRdAtom > 0, 'endpoint opened rxe0 and knows its limits');
  result['rxe0'] = rxe;
  const tp = T.registerPool(2 * MiB + 8192);
  const ip = I.registerPool(2 * MiB + 8192);
  check(tp.addr % 4096n === 0n && ip.addr % 4096n === 0n, 'pools page-aligned');
  check(tp.buffer.length === 2 * MiB + 8192, 'pool buffer length');
  const CTRL = 2 * MiB; // control messages live past the data area

  // ---- CM: private data both ways (iser_cm_hdr + a marker), depths as ib_iser sends them ----
  const reqData = Buffer.concat([Buffer.from([0x80, 0, 0, 0]), Buffer.from('stgt-initiator')]);
  const repData = Buffer.concat([Buffer.from([0xc0, 0, 0, 0]), Buffer.from('stgt-target')]);
  const l = T.listen(address, 0, 8);
  result['listenPort'] = l.port;
  let tc: ConnHandle = 0;
  tr.onEvent = (ev) => {
    if (ev.type !== 'connect-request') return;
    tc = ev.conn;
    check(T.createQp(ev.conn, { sendDepth: 64, recvDepth: 16 }) === 0, 'createQp');
    for (let k = 0; k < 4; k++) check(T.postRecv(ev.conn, tp.pool, CTRL + k * 1024, 1024, 100 + k) === 0, 'target postRecv');
    check(T.accept(ev.conn, { privateData: repData, responderResources: 1, initiatorDepth: Math.min(ev.initiatorDepth, 4) }) === 0, 'accept');
  };
  ir.onEvent = (ev) => {
    if (ev.type !== 'route-resolved') return;
    for (let k = 0; k < 4; k++) check(I.postRecv(ev.conn, ip.pool, CTRL + k * 1024, 1024, 200 + k) === 0, 'initiator postRecv');
  };
  const ic = I.connect(address, l.port, reqData, { ...CM_TIMEOUT, responderResources: 4, initiatorDepth: 1, retryCount: 7, rnrRetryCount: 6, sendDepth: 64, recvDepth: 16 });
  const req = await tr.event('connect-request');
  check(req.listener === l.conn, 'connect-request names the listener');
  check(req.privateData.subarray(0, reqData.length).equals(reqData), 'target sees the initiator private data');
  result['connectRequestDepths'] = { initiatorDepth: req.initiatorDepth, responderResources: req.responderResources };
  // The IB CM reports them from the receiver's side: initiatorDepth is the peer's responder_resources.
  check(req.initiatorDepth === 4 && req.responderResources === 1, 'depths in connect-request (swapped to the target\'s view)');
  check(req.peerAddress === address && req.localAddress === address && req.localPort === l.port, 'addresses');
  result['connectRequest'] = { privateDataLength: req.privateData.length, device: req.device, peerPort: req.peerPort };
  const est = await ir.event('established', ic);
  check(est.privateData.subarray(0, repData.length).equals(repData), 'initiator sees the target private data');
  await tr.event('established', tc);
  check(est.initiatorDepth === 1 && est.responderResources === 4, 'depths in established (the target\'s, swapped)');
  result['established'] = { repPrivateDataLength: est.privateData.length, initiatorDepth: est.initiatorDepth, responderResources: est.responderResources };
  result['connectMs'] = Date.now() - t0;

  // ---- Sends both ways; the initiator's carries its pool's rkey and address (as an iSER header would) ----
  const hello = ip.buffer.subarray(CTRL + 8192 - 64, CTRL + 8192);
  hello.fill(0);
  hello.write('LOGIN', 0);
  hello.writeUInt32BE(ip.rkey, 8);
  hello.writeBigUInt64BE(ip.addr, 16);
  check(I.postSend(ic, ip.pool, CTRL + 8192 - 64, 64, 300, true) === 0, 'initiator postSend');
  const rx = await tr.completion(100);
  check(rx.status === 0 && rx.opcode === WcOpcode.Recv && rx.byteLen === 64 && rx.conn === tc, 'target receive completion');
  const got = tp.buffer.subarray(CTRL, CTRL + 64);
  check(got.toString('latin1', 0, 5) === 'LOGIN', 'target receives the bytes sent');
  const rkey = got.readUInt32BE(8);
  const raddr = got.readBigUInt64BE(16);
  check(rkey === ip.rkey && raddr === ip.addr, 'rkey and address carried');
  check((await ir.completion(300)).status === 0, 'initiator send completion');
  tp.buffer.write('LOGIN-RSP', CTRL + 4096, 'latin1');
  check(T.postSend(tc, tp.pool, CTRL + 4096, 48, 301, true) === 0, 'target postSend');
  const rx2 = await ir.completion(200);
  check(rx2.status === 0 && rx2.byteLen === 48 && ip.buffer.toString('latin1', CTRL, CTRL + 9) === 'LOGIN-RSP', 'initiator receives');
  await tr.completion(301);

  // ---- RDMA WRITE 1 MiB chained before a Send (read data, then the response), as iSER does ----
  fill(tp.buffer, 0, MiB, pattern(1));
  ip.buffer.fill(0, 0, MiB);
  tp.buffer.write('SCSI-RSP', CTRL + 4096, 'latin1');
  let t1 = Date.now();
  check(T.postRdmaWriteSend(tc, tp.pool, 0, MiB, raddr, rkey, tp.pool, CTRL + 4096, 48, 400, true) === 0, 'postRdmaWriteSend');
  const rx3 = await ir.completion(201);
  result['writeMiBMs'] = Date.now() - t1;
  check(rx3.status === 0 && ip.buffer.toString('latin1', CTRL + 1024, CTRL + 1032) === 'SCSI-RSP', 'response after the write');
  check(same(ip.buffer, 0, MiB, pattern(1)), '1 MiB RDMA WRITE landed (checked when the Send arrived)');
  check((await tr.completion(400)).opcode === WcOpcode.Send, 'a chain completes as its Send');

  // ---- a plain signaled RDMA WRITE at an offset ----
  fill(tp.buffer, MiB, 65536, pattern(2));
  check(T.postRdmaWrite(tc, tp.pool, MiB, 65536, raddr + BigInt(MiB), rkey, 401, true) === 0, 'postRdmaWrite');
  const w = await tr.completion(401);
  check(w.status === 0 && w.opcode === WcOpcode.RdmaWrite, 'RDMA WRITE completion');
  check(same(ip.buffer, MiB, 65536, pattern(2)), '64 KiB RDMA WRITE landed');

  // ---- RDMA READ 1 MiB (write data pulled from the initiator) ----
  fill(ip.buffer, MiB, MiB, pattern(3));
  tp.buffer.fill(0, 0, MiB);
  t1 = Date.now();
  check(T.postRdmaRead(tc, tp.pool, 0, MiB, raddr + BigInt(MiB), rkey, 402) === 0, 'postRdmaRead');
  const r = await tr.completion(402);
  result['readMiBMs'] = Date.now() - t1;
  check(r.status === 0 && r.opcode === WcOpcode.RdmaRead && r.byteLen === MiB, 'RDMA READ completion');
  check(same(tp.buffer, 0, MiB, pattern(3)), '1 MiB RDMA READ landed');

  // ---- data path errors: returned errnos, then a bad rkey as an error completion ----
  result['postErrors'] = {
    outOfPool: T.postSend(tc, tp.pool, tp.buffer.length - 4, 8, 1, true),
    unknownPool: T.postSend(tc, 99999, 0, 8, 1, true),
    unknownConn: T.postSend(77777, tp.pool, 0, 8, 1, true),
  };
  check(JSON.stringify(result['postErrors']) === '{"outOfPool":22,"unknownPool":22,"unknownConn":107}', 'post errnos');
  check(T.postRdmaRead(tc, tp.pool, 0, 4096, raddr, rkey ^ 0x5a5a00, 403) === 0, 'post with a bad rkey is accepted');
  const bad = await tr.completion(403);
  result['badRkey'] = { status: bad.status, opcode: bad.opcode };
  check(bad.status !== WcStatus.Success, 'bad rkey -> error completion');

  // ---- teardown: disconnect, flushed receives, destroy (twice), close, fds ----
  // rdma_cm: the side that gets 'disconnected' calls disconnect too (the IB CM's DREP); only then
  // does the first side's 'disconnected' arrive (else it waits for the DREQ to time out).
  check(I.disconnect(ic) === 0, 'disconnect');
  await tr.event('disconnected', tc);
  check(T.disconnect(tc) === 0, 'disconnect on disconnected');
  await ir.event('disconnected', ic);
  const flushed = await ir.waitFor(() => {
    const f = ir.wcs.filter((x) => (x.wrId === 202 || x.wrId === 203) && x.status === WcStatus.WrFlushErr);
    return f.length === 2 ? f : false;
  }, 'the initiator\'s two unused receives flushed');
  result['flushedRecvs'] = flushed.length;
  I.destroy(ic);
  I.destroy(ic);
  T.destroy(tc);
  T.destroy(l.conn);
  result['batches'] = { target: tr.batches, initiator: ir.batches };
  result['events'] = { target: tr.events.map((e) => e.type), initiator: ir.events.map((e) => e.type) };
  T.close();
  I.close();
  T.close();
  check(T.closed && I.closed, 'closed');
  check(T.postSend(tc, tp.pool, 0, 8, 1, true) === 107, 'post after close -> ENOTCONN');
  if (address6 !== undefined) await ipv6AndCloseInHandler(provider, address6);
  if (address6 !== undefined) await portSharing(provider, address6);
  await postThread(provider);

  const after = fds();
  result['fdsAfterClose'] = after.length;
  if (after.length !== baseline.length) result['fdDiff'] = after.filter((x) => !baseline.includes(x));
  check(after.length === baseline.length, 'fd count back to the baseline');
  // A second cycle returns to the same count: nothing accumulates per endpoint.
  provider.createEndpoint(new Recorder('again', WAIT_MS)).close();
  check(fds().length === baseline.length, 'fd count after a second endpoint');
  result['totalMs'] = Date.now() - t0;
}

/**
 * IPv6 listen/connect; 40 signaled RDMA WRITEs on an endpoint with batchSize 4 (every batch <= 4);
 * then the target endpoint is closed from inside its own completion handler: no crash, the
 * initiator sees 'disconnected' (destroying a connected cm id sends the DREQ).
 */
async function ipv6AndCloseInHandler(provider: RdmaProvider, addr6: string): Promise<void> {
  const tr = new Recorder('target6', WAIT_MS);
  const ir = new Recorder('initiator6', WAIT_MS);
  const T = provider.createEndpoint(tr, { batchSize: 4 });
  const I = provider.createEndpoint(ir);
  const tp = T.registerPool(65536);
  const ip = I.registerPool(65536);
  const l = T.listen(addr6, 0);
  let tc: ConnHandle = 0;
  tr.onEvent = (ev) => {
    if (ev.type !== 'connect-request') return;
    tc = ev.conn;
    check(ev.peerAddress === addr6 && ev.localAddress === addr6, `IPv6 addresses in connect-request (${ev.peerAddress})`);
    check(T.accept(ev.conn, { sendDepth: 64, recvDepth: 4 }) === 0, 'IPv6 accept');
  };
  const ic = I.connect(addr6, l.port, undefined, { ...CM_TIMEOUT, sendDepth: 8, recvDepth: 4 });
  await ir.event('established', ic);
  await tr.event('established', tc);
  fill(tp.buffer, 0, 40 * 1024, pattern(4));
  for (let k = 0; k < 40; k++) {
    check(T.postRdmaWrite(tc, tp.pool, k * 1024, 1024, ip.addr + BigInt(k * 1024), ip.rkey, 500 + k, true) === 0, 'post write');
  }
  await tr.waitFor(() => tr.wcs.length >= 40, '40 write completions');
  check(tr.wcs.every((w) => w.status === 0), 'writes succeeded');
  check(same(ip.buffer, 0, 40 * 1024, pattern(4)), '40 KiB written over IPv6');
  check(Math.max(...tr.batches) <= 4 && tr.batches.reduce((a, b) => a + b, 0) === 40, 'batches of at most batchSize');
  tr.onCompletion = (wc) => {
    if (wc.wrId === 600) T.close();
  };
  check(T.postRdmaWrite(tc, tp.pool, 0, 1024, ip.addr, ip.rkey, 600, true) === 0, 'post the last write');
  await tr.waitFor(() => T.closed, 'close() inside the completion handler');
  await ir.event('disconnected', ic);
  I.destroy(ic);
  I.close();
  result['ipv6'] = { address: addr6, port: l.port, targetBatches: tr.batches, initiatorEvents: ir.events.map((e) => e.type) };
}

/**
 * postThread: the target posts its send queue from the provider's thread. Signaled RDMA WRITEs and
 * a chained WRITE + Send land as in the caller-posted case; then 64 unsignaled WRITEs on a QP of
 * sendDepth 8 overflow the queue: every one the thread cannot post comes back once as an error
 * completion (GeneralErr, vendorErr ENOMEM), none is lost or doubled; disconnect, destroy and
 * close with the thread still work.
 */
async function postThread(provider: RdmaProvider): Promise<void> {
  const tr = new Recorder('target-pt', WAIT_MS);
  const ir = new Recorder('initiator-pt', WAIT_MS);
  const T = provider.createEndpoint(tr, { postThread: true });
  const I = provider.createEndpoint(ir);
  const tp = T.registerPool(256 * 1024);
  const ip = I.registerPool(256 * 1024);
  const l = T.listen(address, 0);
  let tc: ConnHandle = 0;
  tr.onEvent = (ev) => {
    if (ev.type !== 'connect-request') return;
    tc = ev.conn;
    check(T.accept(ev.conn, { sendDepth: 8, recvDepth: 4 }) === 0, 'postThread accept');
  };
  const ic = I.connect(address, l.port, undefined, { ...CM_TIMEOUT, sendDepth: 8, recvDepth: 4 });
  await ir.event('established', ic);
  await tr.event('established', tc);
  check(I.postRecv(ic, ip.pool, 200 * 1024, 1024, 900) === 0, 'postThread initiator postRecv');
  fill(tp.buffer, 0, 8 * 4096, pattern(7));
  for (let k = 0; k < 6; k++) {
    check(T.postRdmaWrite(tc, tp.pool, k * 4096, 4096, ip.addr + BigInt(k * 4096), ip.rkey, 700 + k, true) === 0, 'queued write');
  }
  tp.buffer.write('PT-RSP', 128 * 1024, 'latin1');
  check(T.postRdmaWriteSend(tc, tp.pool, 6 * 4096, 8192, ip.addr + BigInt(6 * 4096), ip.rkey, tp.pool, 128 * 1024, 64, 706, true) === 0, 'queued chain');
  await tr.waitFor(() => tr.wcs.filter((w) => w.wrId >= 700 && w.wrId <= 706).length === 7 || false, 'seven completions');
  check(tr.wcs.every((w) => w.status === WcStatus.Success), 'posted from the thread: all succeeded');
  const rsp = await ir.completion(900);
  check(rsp.status === 0 && ip.buffer.toString('latin1', 200 * 1024, 200 * 1024 + 6) === 'PT-RSP', 'the chained Send arrived');
  check(same(ip.buffer, 0, 8 * 4096, pattern(7)), '32 KiB written from the posting thread');
  const before = tr.wcs.length;
  for (let k = 0; k < 64; k++) {
    check(T.postRdmaWrite(tc, tp.pool, 0, 512, ip.addr, ip.rkey, 800 + k, false) === 0, 'queued unsignaled write');
  }
  // The QP holds sendDepth (8; rxe may round up) of them at a time; how many more fit depends on how
  // fast rxe drains it while they are posted. A signaled write posted after them marks the end: a
  // write that does not fit is reported as an error completion when it is posted, in posting order,
  // so once the marker's completion (success or error) is in, every failure before it is too.
  check(T.postRdmaWrite(tc, tp.pool, 0, 512, ip.addr, ip.rkey, 900, true) === 0, 'queued marker write');
  await tr.completion(900);
  const failed = tr.wcs.slice(before).filter((w) => w.wrId >= 800 && w.wrId < 864);
  check(failed.length > 0, 'the writes that did not fit come back as error completions (none did)');
  const ids = new Set(failed.map((w) => w.wrId));
  result['postThread'] = {
    failed: failed.length, statuses: [...new Set(failed.map((w) => w.status))], vendorErr: [...new Set(failed.map((w) => w.vendorErr))],
  };
  check(ids.size === failed.length && failed.every((w) => w.wrId >= 800 && w.wrId < 864), 'each failed write reported once, by its wrId');
  check(failed.every((w) => w.status === WcStatus.GeneralErr && w.vendorErr === 12 && w.conn === tc), 'GeneralErr with ENOMEM');
  check(I.disconnect(ic) === 0, 'postThread disconnect');
  await tr.event('disconnected', tc);
  T.disconnect(tc);
  await ir.event('disconnected', ic);
  I.destroy(ic);
  T.destroy(tc);
  T.destroy(l.conn);
  T.close();
  I.close();
}

/**
 * One port, three portals: iSCSI/TCP (a plain TCP server) and RDMA CM listeners on 0.0.0.0 and
 * :: (IPv6-only) all on 3260; each connect reaches the listener of its family and is rejected
 * with private data; a connect to a port nobody listens on is refused.
 */
async function portSharing(provider: RdmaProvider, addr6: string): Promise<void> {
  const tcp = net.createServer();
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen(3260, address, resolve);
  });
  const tr = new Recorder('target-3260', WAIT_MS);
  const ir = new Recorder('initiator-3260', WAIT_MS);
  const T = provider.createEndpoint(tr);
  const I = provider.createEndpoint(ir);
  const l4 = T.listen('0.0.0.0', 3260);
  const l6 = T.listen('::', 3260);
  const seen: Record<number, ConnHandle> = {};
  tr.onEvent = (ev) => {
    if (ev.type !== 'connect-request') return;
    seen[ev.conn] = ev.listener;
    check(T.reject(ev.conn, Buffer.from('busy')) === 0, 'reject');
  };
  const c4 = I.connect(address, 3260, undefined, CM_TIMEOUT);
  const c6 = I.connect(addr6, 3260, undefined, CM_TIMEOUT);
  const r4 = await ir.event('rejected', c4);
  const r6 = await ir.event('rejected', c6);
  check(r4.privateData.toString('latin1', 0, 4) === 'busy' && r6.privateData.toString('latin1', 0, 4) === 'busy', 'reject private data');
  const listeners = Object.values(seen).sort();
  check(listeners.length === 2 && listeners[0] === l4.conn && listeners[1] === l6.conn, 'each family reached its own listener');
  const c0 = I.connect(address, 3261, undefined, CM_TIMEOUT);
  const none = await ir.waitFor(() => ir.events.find((e) => e.conn === c0 && (e.type === 'rejected' || e.type === 'unreachable')), 'no listener answer');
  result['portSharing'] = {
    rejectStatus: [r4.status, r6.status], noListener: { type: none.type, status: 'status' in none ? none.status : NaN },
  };
  for (const c of [c4, c6, c0]) I.destroy(c);
  for (const c of Object.keys(seen)) T.destroy(Number(c));
  T.close();
  I.close();
  await new Promise<void>((resolve) => tcp.close(() => resolve()));
}

main().then(
  () => {
    result['ok'] = true;
    console.log(`RDMA-RESULT ${JSON.stringify(result)}`);
    // No explicit exit: the process ends only if close() stopped every uv poll.
  },
  (e: unknown) => {
    result['ok'] = false;
    result['error'] = e instanceof Error ? e.stack ?? e.message : String(e);
    console.log(`RDMA-RESULT ${JSON.stringify(result)}`);
    process.exit(1);
  },
);
