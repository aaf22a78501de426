// The iser LLD end to end over the in-process loopback RDMA provider: CM accept, login with RDMAExtensions, reads by RDMA WRITE, writes by RDMA READ, discovery, NOP, teardown (RFC 7145).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LoopbackFabric } from './testing/loopback-provider.js';
import { DATA_AREA, IserTestInitiator, keysOf } from './testing/iser-initiator.js';
import { initIser } from './module.js';
import type { IserTargetDriver } from './driver.js';
import { Target } from '../../scsi/target.js';
import { LogicalUnit } from '../../scsi/logical-unit.js';
import { MemoryDevice } from '../../scsi/testing/memory-device.js';
import { emptyBindings } from '../../iscsi/chap-accounts.js';
import type { IscsiServices } from '../../iscsi/login-host.js';
import { until } from '../../iscsi/testing/capture-connection.js';
import { rw10 } from '../../iscsi/testing/pdus.js';
import type { LldContext } from '../api.js';

const IQN = 'iqn.2026-12.org.stgt.test:iser';
const BLOCK = 512;
const TARGET_ADDR = '192.0.2.1';

interface Rig {
  fabric: LoopbackFabric;
  driver: IserTargetDriver;
  dev: MemoryDevice;
  logs: string[];
  ini: IserTestInitiator;
}

async function rig(args = `portal=${TARGET_ADDR}:3260,pool_sz_mb=16,buf_sz_kb=64`): Promise<Rig> {
  const fabric = new LoopbackFabric();
  const dev = new MemoryDevice(16 * 1024 * 1024, { async: true });
  const target = new Target({ tid: 1, name: IQN, lldName: 'iser' });
  target.addLun(new LogicalUnit({
    tid: 1, lun: 1, deviceType: 'disk', dev, bsName: 'memory', path: null, oflags: { sync: false, direct: false }, blockSize: BLOCK,
  }));
  target.aclAddresses.push('ALL');
  const services: IscsiServices = {
    targets: new Map([[1, target]]),
    accounts: { discovery: emptyBindings(), password: () => null },
    system: { state: 'ready' },
  };
  const logs: string[] = [];
  const ctx: LldContext = { args, services, log: (l, m) => void logs.push(`${l}: ${m}`) };
  const driver = await initIser(ctx, { addonPath: '/x', sysfs: () => ['loop0'], requireAddon: () => fabric.provider(TARGET_ADDR) });
  driver.targetCreate(1);
  const ini = new IserTestInitiator(fabric.provider('192.0.2.9'));
  ini.connect(TARGET_ADDR, 3260);
  await until(() => ini.state !== 'connecting', 'CM established');
  assert.equal(ini.state, 'established');
  return { fabric, driver, dev, logs, ini };
}

async function next(r: Rig, what: string): Promise<{ bhs: Buffer; data: Buffer }> {
  await until(() => r.ini.inbox.length > 0, what);
  const p = r.ini.take()!;
  assert.equal(p.stagValid, false, 'the target advertises no STag');
  return p;
}

async function login(r: Rig, sessionType: 'Normal' | 'Discovery' = 'Normal'): Promise<Map<string, string>> {
  const ini = r.ini;
  const sec: [string, string][] = [['InitiatorName', 'iqn.2026-12.org.stgt.test:ini'], ['SessionType', sessionType], ['AuthMethod', 'None']];
  if (sessionType === 'Normal') sec.push(['TargetName', IQN]);
  ini.send(ini.loginPdu(0, 1, sec));
  let rsp = await next(r, 'security login response');
  assert.equal(rsp.bhs[36], 0, `login status ${rsp.bhs[36]}/${rsp.bhs[37]}`);
  const op: [string, string][] = sessionType === 'Normal'
    ? [['RDMAExtensions', 'Yes'], ['InitiatorRecvDataSegmentLength', '262144'], ['TargetRecvDataSegmentLength', '8192'],
      ['HeaderDigest', 'None'], ['DataDigest', 'None'], ['MaxBurstLength', '262144'], ['FirstBurstLength', '65536'],
      ['InitialR2T', 'Yes'], ['ImmediateData', 'Yes'], ['MaxOutstandingR2T', '1'], ['ErrorRecoveryLevel', '0']]
    : [['HeaderDigest', 'None'], ['DataDigest', 'None'], ['MaxRecvDataSegmentLength', '8192']];
  ini.send(ini.loginPdu(1, 3, op));
  const keys = new Map<string, string>();
  for (;;) {
    rsp = await next(r, 'operational login response');
    assert.equal(rsp.bhs[36], 0, `login status ${rsp.bhs[36]}/${rsp.bhs[37]}`);
    for (const [k, v] of keysOf(rsp.data)) keys.set(k, v);
    if ((rsp.bhs[1]! & 0x80) !== 0 && (rsp.bhs[1]! & 3) === 3) break;
    ini.send(ini.loginPdu(1, 3, []));
  }
  ini.tsih = rsp.bhs.readUInt16BE(14);
  return keys;
}

async function response(r: Rig, itt: number): Promise<{ status: number; bhs: Buffer; data: Buffer }> {
  const p = await next(r, `response to ${itt}`);
  assert.equal(p.bhs[0]! & 0x3f, 0x21, `SCSI Response, got opcode 0x${(p.bhs[0]! & 0x3f).toString(16)}`);
  assert.equal(p.bhs.readUInt32BE(16), itt);
  return { status: p.bhs[3]!, bhs: p.bhs, data: p.data };
}

/** TEST UNIT READY until the power-on unit attention is consumed. */
async function settle(r: Rig): Promise<void> {
  for (let i = 0; i < 3; i++) {
    const c = r.ini.command({ cdb: [0, 0, 0, 0, 0, 0] });
    r.ini.send(c.pdu);
    if ((await response(r, c.itt)).status === 0) return;
  }
  assert.fail('TEST UNIT READY never GOOD');
}

async function teardown(r: Rig): Promise<void> {
  r.ini.close();
  await until(() => r.driver.sessions.sessions.size === 0, 'sessions gone');
  await r.driver.exit();
}

test('login over iSER: RDMAExtensions=Yes, InitialR2T=Yes, ImmediateData=No, TargetRecvDataSegmentLength declared', async () => {
  const r = await rig();
  const keys = await login(r);
  assert.equal(keys.get('RDMAExtensions'), 'Yes');
  assert.equal(keys.get('InitialR2T'), 'Yes');
  assert.equal(keys.get('ImmediateData'), 'No');
  assert.equal(keys.get('HeaderDigest'), 'None');
  assert.ok(!keys.has('MaxRecvDataSegmentLength'), 'no MaxRecvDataSegmentLength with RDMAExtensions');
  assert.ok(Number(keys.get('TargetRecvDataSegmentLength')) <= 8192);
  assert.equal(r.driver.sessions.sessions.size, 1);
  await teardown(r);
});

for (const blocks of [1, 8, 128, 2048, 16384]) {
  test(`write then read ${blocks * BLOCK} bytes: RDMA READ from the Write STag, RDMA WRITE to the Read STag`, async () => {
    const r = await rig();
    await login(r);
    await settle(r);
    const len = blocks * BLOCK;
    const pattern = Buffer.alloc(len);
    for (let i = 0; i < len; i++) pattern[i] = (i * 7 + blocks) & 0xff;
    pattern.copy(r.ini.data(0, len));
    const w = r.ini.command({ cdb: rw10(0x2a, 3, blocks), write: len });
    r.ini.send(w.pdu, { write: { offset: 0 } });
    const wr = await response(r, w.itt);
    assert.equal(wr.status, 0);
    assert.ok(r.dev.data.subarray(3 * BLOCK, 3 * BLOCK + len).equals(pattern), 'the store has what the initiator sent');
    // Contract v2: the store is handed the registered pool run itself, so nothing is copied between
    // the store and the RDMA WRITE.
    const poolMemory = r.driver.dataPool().pool.buffer.buffer;
    const intoPool: boolean[] = [];
    const read = r.dev.read.bind(r.dev);
    r.dev.read = (o, into, cb) => {
      intoPool.push(into.buffer === poolMemory);
      read(o, into, cb);
    };
    const rd = r.ini.command({ cdb: rw10(0x28, 3, blocks), read: len });
    // The read lands at the advertised offset and nowhere else: canaries on both sides stay.
    const at = Math.min(len + 4096, DATA_AREA - len);
    const end = Math.min(DATA_AREA, at + len + 4096);
    r.ini.data(at - 4096, end - at + 4096).fill(0xee);
    r.ini.send(rd.pdu, { read: { offset: at } });
    const rr = await response(r, rd.itt);
    assert.equal(rr.status, 0);
    assert.ok(r.ini.data(at, len).equals(pattern), 'the initiator memory has what was written');
    assert.ok(r.ini.data(at - 4096, 4096).every((b) => b === 0xee), 'nothing written before the Read STag offset');
    assert.ok(r.ini.data(at + len, end - at - len).every((b) => b === 0xee), 'nothing written past the read');
    assert.deepEqual(intoPool, [true], 'the backing store read into the registered data pool');
    const conns = (r.driver as unknown as { connections: Set<{ dataInCopies: number }> }).connections;
    assert.deepEqual([...conns].map((c) => c.dataInCopies), [0], 'no read data copied');
    await until(() => r.driver.dataPool().chunksInUse === 0, 'pool chunks back');
    await teardown(r);
  });
}

test('commands wait for pool memory instead of failing: 8 x 1 MiB reads on a 2 MiB pool all complete', async () => {
  const r = await rig(`portal=${TARGET_ADDR}:3260,pool_sz_mb=2,buf_sz_kb=512`);
  await login(r);
  await settle(r);
  const len = 1024 * 1024;
  const itts: number[] = [];
  for (let i = 0; i < 8; i++) {
    const c = r.ini.command({ cdb: rw10(0x28, 0, len / BLOCK), read: len });
    r.ini.send(c.pdu, { read: { offset: (i % 4) * len } });
    itts.push(c.itt);
  }
  await until(() => r.driver.dataPool().waiting > 0, 'a command waiting for the pool');
  for (const itt of itts) assert.equal((await response(r, itt)).status, 0);
  await until(() => r.driver.dataPool().chunksInUse === 0, 'pool chunks back');
  await teardown(r);
});

test('target-originated Sends in full feature phase keep within 128 data bytes (NOP-In echo, sense)', async () => {
  const r = await rig();
  await login(r);
  r.ini.send(r.ini.nop(Buffer.alloc(1000, 0x5a)));
  const nop = await next(r, 'NOP-In');
  assert.equal(nop.bhs[0]! & 0x3f, 0x20);
  assert.ok(nop.data.length <= 128, `NOP-In echo of ${nop.data.length} bytes`);
  const c = r.ini.command({ cdb: [0, 0, 0, 0, 0, 0] });
  r.ini.send(c.pdu);
  const ua = await response(r, c.itt);
  assert.equal(ua.status, 2, 'CHECK CONDITION (power-on unit attention)');
  assert.ok(ua.data.length > 2 && ua.data.length <= 128);
  await teardown(r);
});

test('discovery over iSER: SendTargets lists the target', async () => {
  const r = await rig();
  await login(r, 'Discovery');
  r.ini.send(r.ini.text([['SendTargets', 'All']]));
  const t = await next(r, 'Text Response');
  assert.equal(t.bhs[0]! & 0x3f, 0x24);
  assert.match(t.data.toString('latin1'), new RegExp(`TargetName=${IQN}`));
  await teardown(r);
});

test('disconnect mid-transfer: every pool chunk, session and connection is released', async () => {
  const r = await rig();
  await login(r);
  await settle(r);
  const len = 1024 * 1024;
  for (let i = 0; i < 4; i++) {
    const w = r.ini.command({ cdb: rw10(0x2a, i * 2048, len / BLOCK), write: len });
    r.ini.send(w.pdu, { write: { offset: 0 } });
  }
  r.ini.close();
  await until(() => r.driver.sessions.sessions.size === 0, 'session gone');
  await until(() => r.driver.dataPool().chunksInUse === 0, 'pool chunks back');
  await r.driver.exit();
});

test('logout: Logout Response sent before the disconnect, nothing left', async () => {
  const r = await rig();
  await login(r);
  r.ini.send(r.ini.logout());
  const lo = await next(r, 'Logout Response');
  assert.equal(lo.bhs[0]! & 0x3f, 0x26);
  await until(() => r.ini.state === 'disconnected', 'target disconnects after the Logout Response');
  await until(() => r.driver.sessions.sessions.size === 0, 'session gone');
  r.ini.close();
  await r.driver.exit();
});

test('ABORT TASK while the write data is still being RDMA-READ: Function complete, no SCSI Response, the chunk comes back', async () => {
  const r = await rig();
  await login(r);
  await settle(r);
  const ep = r.driver.endpoint as unknown as { pause(): void; resume(): void };
  const len = 64 * 1024;
  r.ini.data(0, len).fill(0x42);
  ep.pause(); // the target's RDMA READ stays in flight
  const w = r.ini.command({ cdb: rw10(0x2a, 100, len / BLOCK), write: len });
  r.ini.send(w.pdu, { write: { offset: 0 } });
  await until(() => r.driver.dataPool().chunksInUse > 0, 'the write holds pool memory');
  r.ini.send(r.ini.tmf(1, w.itt));
  // The target has taken the abort while its RDMA READ is still held: the task is gone from the engine.
  const conn = (): { tasks: Map<number, unknown> } => [...r.driver.sessions.sessions.values()][0]!.connections.values().next().value as unknown as { tasks: Map<number, unknown> };
  await until(() => !conn().tasks.has(w.itt), 'the aborted write gone from the connection');
  ep.resume();
  const t = await next(r, 'TMF Response');
  assert.equal(t.bhs[0]! & 0x3f, 0x22, `TMF Response, got 0x${(t.bhs[0]! & 0x3f).toString(16)}`);
  assert.equal(t.bhs[2], 0, 'Function complete');
  await until(() => r.driver.dataPool().chunksInUse === 0, 'pool chunks back after the RDMA READ completed');
  // No SCSI Response for the aborted write; the session goes on.
  const c = r.ini.command({ cdb: [0, 0, 0, 0, 0, 0] });
  r.ini.send(c.pdu);
  assert.equal((await response(r, c.itt)).status, 0);
  assert.ok(r.dev.data.subarray(100 * BLOCK, 100 * BLOCK + len).every((b) => b === 0), 'the aborted write never reached the store');
  await teardown(r);
});

test('a Write STag offset outside the initiator memory: the RDMA READ fails, the connection closes, nothing leaks', async () => {
  const r = await rig();
  await login(r);
  await settle(r);
  const w = r.ini.command({ cdb: rw10(0x2a, 0, 8), write: 4096 });
  r.ini.send(w.pdu, { write: { offset: 64 * 1024 * 1024 } }); // past the end of the registered pool
  await until(() => r.driver.sessions.sessions.size === 0, 'the session ends');
  await until(() => r.driver.dataPool().chunksInUse === 0, 'pool chunks back');
  assert.ok(r.logs.every((l) => !/uncaught|TypeError/.test(l)), r.logs.join('\n'));
  r.ini.close();
  await r.driver.exit();
});
