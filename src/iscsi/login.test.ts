// Tests of the RFC 7143 6 login engine: stages, negotiation answers, CHAP one-way/mutual, failures, iSER, C bit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { LoginEngine } from './login.js';
import { FakeHost, loginReq, keysOf } from './login-test-host.js';

const TGT = 'iqn.2024-01.test:t1';
const INI = 'iqn.2024-01.test:ini';
const conn = { peerAddress: '127.0.0.1', localAddress: '127.0.0.1', localPort: 3260, transport: 'tcp' as const };

function setup(): { host: FakeHost; e: LoginEngine } {
  const host = new FakeHost();
  host.addTarget(1, TGT);
  return { host, e: new LoginEngine(host, conn) };
}

// What open-iscsi sends in its operational stage (usr/login.c, defaults of iscsid.conf).
const OPEN_ISCSI_OPS: [string, string][] = [
  ['HeaderDigest', 'None'], ['DataDigest', 'None'], ['DefaultTime2Wait', '2'], ['DefaultTime2Retain', '0'],
  ['IFMarker', 'No'], ['OFMarker', 'No'], ['ErrorRecoveryLevel', '0'], ['InitialR2T', 'No'],
  ['ImmediateData', 'Yes'], ['MaxBurstLength', '16776192'], ['FirstBurstLength', '262144'],
  ['MaxOutstandingR2T', '1'], ['MaxConnections', '1'], ['DataPDUInOrder', 'Yes'], ['DataSequenceInOrder', 'Yes'],
  ['MaxRecvDataSegmentLength', '262144'],
];

test('open-iscsi style login without auth: security then operational then FFP', () => {
  const { host, e } = setup();
  const r1 = e.step(loginReq(0, 1, true, [['InitiatorName', INI], ['SessionType', 'Normal'], ['TargetName', TGT], ['AuthMethod', 'None']]));
  assert.equal(r1.statusClass, 0);
  assert.equal(r1.transit, true);
  assert.equal(r1.csg, 0);
  assert.equal(r1.nsg, 1);
  assert.equal(r1.data.toString(), 'AuthMethod=None\0TargetPortalGroupTag=1\0');
  const r2 = e.step(loginReq(1, 3, true, OPEN_ISCSI_OPS));
  assert.equal(r2.statusClass, 0);
  assert.equal(r2.done, true);
  assert.equal(r2.transit, true);
  assert.equal(r2.nsg, 3);
  assert.equal(r2.tsih, 1);
  assert.equal(r2.data.toString(),
    'HeaderDigest=None\0DataDigest=None\0DefaultTime2Wait=2\0DefaultTime2Retain=0\0IFMarker=No\0OFMarker=No\0' +
    'ErrorRecoveryLevel=0\0InitialR2T=Yes\0ImmediateData=Yes\0MaxBurstLength=262144\0FirstBurstLength=65536\0' +
    'MaxOutstandingR2T=1\0MaxConnections=1\0DataPDUInOrder=Yes\0DataSequenceInOrder=Yes\0MaxRecvDataSegmentLength=262144\0');
  const res = e.result!;
  assert.equal(res.sessionType, 'Normal');
  assert.equal(res.tid, 1);
  assert.equal(res.tsih, 1);
  assert.equal(res.params.maxRecvDataSegmentLength, 262144);
  assert.equal(res.params.targetMaxRecvDataSegmentLength, 262144);
  assert.equal(res.params.initialR2T, true);
  assert.equal(res.params.firstBurstLength, 65536);
  assert.equal(res.params.maxBurstLength, 262144);
  assert.equal(res.params.defaultTime2Retain, 0);
  assert.equal(res.params.headerDigest, false);
  assert.equal(res.params.maxQueueCmd, 128);
  assert.equal(host.bound.length, 1);
});

test('admin values: HeaderDigest CRC32C taken when offered; target offers non-default keys and waits', () => {
  const { host, e } = setup();
  const t = host.targetList[0]!;
  assert.equal(t.params.set('HeaderDigest', 'CRC32C,None'), 'ok');
  assert.equal(t.params.set('MaxRecvDataSegmentLength', '262144'), 'ok');
  assert.equal(t.params.set('ImmediateData', 'No'), 'ok');
  const r1 = e.step(loginReq(1, 3, true, [['InitiatorName', INI], ['TargetName', TGT], ['HeaderDigest', 'CRC32C,None']]));
  const k1 = keysOf(r1.data);
  assert.equal(k1.get('HeaderDigest'), 'CRC32C');
  assert.equal(k1.get('MaxRecvDataSegmentLength'), '262144');
  assert.equal(k1.get('ImmediateData'), 'No'); // offered by the target
  assert.equal(k1.get('TargetPortalGroupTag'), '1');
  assert.equal(r1.transit, false);
  assert.equal(r1.done, false);
  const r2 = e.step(loginReq(1, 3, true, [['ImmediateData', 'No']]));
  assert.equal(r2.done, true);
  assert.equal(r2.data.length, 0);
  assert.equal(e.result!.params.headerDigest, true);
  assert.equal(e.result!.params.immediateData, false);
  assert.equal(e.result!.params.targetMaxRecvDataSegmentLength, 262144);
});

test('an answer that breaks the AND rule fails the login with 0x0200', () => {
  const { host, e } = setup();
  host.targetList[0]!.params.set('ImmediateData', 'No');
  e.step(loginReq(1, 3, true, [['InitiatorName', INI], ['TargetName', TGT]]));
  const r = e.step(loginReq(1, 3, true, [['ImmediateData', 'Yes']]));
  assert.equal(r.fail, true);
  assert.equal((r.statusClass << 8) | r.statusDetail, 0x0200);
});

test('unknown, vendor and malformed keys get NotUnderstood / Reject', () => {
  const { e } = setup();
  const r = e.step(loginReq(1, 1, false, [
    ['InitiatorName', INI], ['TargetName', TGT], ['X-com.example.Foo', '1'], ['Bogus', 'x'],
    ['MaxBurstLength', '100'], ['InitialR2T', 'maybe'], ['TargetAddress', '1.2.3.4:3260,1'], ['OFMarkInt', '2048~2048'],
  ]));
  const k = keysOf(r.data);
  assert.equal(k.get('X-com.example.Foo'), 'NotUnderstood');
  assert.equal(k.get('Bogus'), 'NotUnderstood');
  assert.equal(k.get('MaxBurstLength'), 'Reject');
  assert.equal(k.get('InitialR2T'), 'Reject');
  assert.equal(k.get('TargetAddress'), 'Reject');
  assert.equal(k.get('TargetPortalGroupTag'), '1');
  assert.equal(k.get('OFMarkInt'), 'Irrelevant');
  assert.equal(r.fail, false);
});

test('failure statuses', () => {
  const st = (r: { statusClass: number; statusDetail: number }): number => (r.statusClass << 8) | r.statusDetail;
  let s = setup();
  assert.equal(st(s.e.step(loginReq(0, 1, true, [['TargetName', TGT]]))), 0x0207);
  s = setup();
  assert.equal(st(s.e.step(loginReq(0, 1, true, [['InitiatorName', INI]]))), 0x0207);
  s = setup();
  assert.equal(st(s.e.step(loginReq(0, 1, true, [['InitiatorName', INI], ['TargetName', 'iqn.x:none']]))), 0x0203);
  s = setup();
  s.host.denied.add(`1:${INI}`);
  assert.equal(st(s.e.step(loginReq(0, 1, true, [['InitiatorName', INI], ['TargetName', TGT]]))), 0x0202);
  s = setup();
  s.host.targetList[0]!.ready = false;
  assert.equal(st(s.e.step(loginReq(0, 1, true, [['InitiatorName', INI], ['TargetName', TGT]]))), 0x0301);
  s = setup();
  assert.equal(st(s.e.step(loginReq(0, 1, true, [['InitiatorName', INI], ['SessionType', 'Weird']]))), 0x0209);
  s = setup();
  assert.equal(st(s.e.step(loginReq(0, 1, true, [['InitiatorName', INI], ['TargetName', TGT]], { versionMin: 2, versionMax: 2 }))), 0x0205);
  s = setup();
  const bad = s.e.step(loginReq(0, 1, true, [['InitiatorName', INI], ['TargetName', TGT]], { cont: true }));
  assert.equal(st(bad), 0x0200);
  assert.equal(bad.fail, true);
  s = setup();
  s.e.step(loginReq(1, 1, false, [['InitiatorName', INI], ['TargetName', TGT]]));
  assert.equal(st(s.e.step(loginReq(0, 1, true, []))), 0x0200); // back to security stage
  s = setup();
  s.host.bindAnswer = { statusClass: 2, statusDetail: 0x0a };
  const nb = s.e.step(loginReq(1, 3, true, [['InitiatorName', INI], ['TargetName', TGT]], { tsih: 5 }));
  assert.equal(st(nb), 0x020a);
  assert.equal(nb.fail, true);
  s = setup();
  s.host.incoming.set(1, ['u1']);
  assert.equal(st(s.e.step(loginReq(1, 3, true, [['InitiatorName', INI], ['TargetName', TGT]]))), 0x0201);
  s = setup();
  s.host.incoming.set(1, ['u1']);
  const am = s.e.step(loginReq(0, 1, true, [['InitiatorName', INI], ['TargetName', TGT], ['AuthMethod', 'None']]));
  assert.equal(st(am), 0x0201);
  assert.equal(keysOf(am.data).get('AuthMethod'), 'Reject');
});

test('redirect answers class 1 with TargetAddress', () => {
  const s = setup();
  const p = s.host.targetList[0]!.params;
  p.set('RedirectAddress', '10.1.2.3');
  p.set('RedirectPort', '3261');
  p.set('RedirectReason', 'Permanent');
  const r = s.e.step(loginReq(0, 1, true, [['InitiatorName', INI], ['TargetName', TGT]]));
  assert.equal(r.statusClass, 1);
  assert.equal(r.statusDetail, 2);
  assert.equal(r.data.toString(), 'TargetAddress=10.1.2.3:3261\0');
});

function md5Resp(id: number, secret: string, challenge: Buffer): string {
  return '0x' + createHash('md5').update(Buffer.concat([Buffer.of(id), Buffer.from(secret), challenge])).digest('hex');
}

test('CHAP one-way and mutual (MD5), reflection refused', () => {
  for (const mode of ['one-way', 'mutual', 'reflect', 'wrong'] as const) {
    const { host, e } = setup();
    host.incoming.set(1, ['alice']);
    host.passwords.set('alice', 'secretpass12');
    host.outgoing.set(1, 'bob');
    host.passwords.set('bob', 'bobsecret123');
    const r1 = e.step(loginReq(0, 1, true, [['InitiatorName', INI], ['TargetName', TGT], ['AuthMethod', 'CHAP,None']]));
    assert.equal(keysOf(r1.data).get('AuthMethod'), 'CHAP');
    assert.equal(r1.transit, false);
    const r2 = e.step(loginReq(0, 1, false, [['CHAP_A', '7,5']]));
    const k2 = keysOf(r2.data);
    assert.equal(k2.get('CHAP_A'), '7'); // first supported in the initiator's order (SHA-256)
    const id = Number(k2.get('CHAP_I'));
    const chal = Buffer.from(k2.get('CHAP_C')!.slice(2), 'hex');
    assert.equal(chal.length, 32);
    const resp = '0x' + createHash('sha256').update(Buffer.concat([Buffer.of(id), Buffer.from(mode === 'wrong' ? 'x' : 'secretpass12'), chal])).digest('hex');
    const keys: [string, string][] = [['CHAP_N', 'alice'], ['CHAP_R', resp]];
    const myChal = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
    if (mode === 'mutual') keys.push(['CHAP_I', '9'], ['CHAP_C', '0x' + myChal.toString('hex')]);
    if (mode === 'reflect') keys.push(['CHAP_I', '9'], ['CHAP_C', k2.get('CHAP_C')!]);
    const r3 = e.step(loginReq(0, 1, true, keys));
    if (mode === 'wrong' || mode === 'reflect') {
      assert.equal((r3.statusClass << 8) | r3.statusDetail, 0x0201, mode);
      continue;
    }
    assert.equal(r3.statusClass, 0);
    assert.equal(r3.transit, true);
    assert.equal(r3.nsg, 1);
    if (mode === 'mutual') {
      const k3 = keysOf(r3.data);
      assert.equal(k3.get('CHAP_N'), 'bob');
      const exp = '0x' + createHash('sha256').update(Buffer.concat([Buffer.of(9), Buffer.from('bobsecret123'), myChal])).digest('hex');
      assert.equal(k3.get('CHAP_R'), exp);
    }
    const r4 = e.step(loginReq(1, 3, true, [['MaxRecvDataSegmentLength', '65536']]));
    assert.equal(r4.done, true);
  }
});

test('CHAP MD5 with base64 challenge answered in base64; discovery CHAP uses global accounts', () => {
  const host = new FakeHost();
  host.incoming.set(null, ['disc']);
  host.passwords.set('disc', 'discoverypass');
  host.outgoing.set(null, 'dout');
  host.passwords.set('dout', 'doutpass1234');
  const e = new LoginEngine(host, conn);
  e.step(loginReq(0, 1, false, [['InitiatorName', INI], ['SessionType', 'Discovery'], ['AuthMethod', 'CHAP']]));
  const k = keysOf(e.step(loginReq(0, 1, false, [['CHAP_A', '5']])).data);
  assert.equal(k.get('CHAP_A'), '5');
  const chal = Buffer.from(k.get('CHAP_C')!.slice(2), 'hex');
  const mine = Buffer.from('abcdefabcdefabcd');
  const r = e.step(loginReq(0, 3, true, [['CHAP_N', 'disc'], ['CHAP_R', md5Resp(Number(k.get('CHAP_I')), 'discoverypass', chal)],
    ['CHAP_I', '200'], ['CHAP_C', '0b' + mine.toString('base64')]]));
  assert.equal(r.statusClass, 0);
  const k3 = keysOf(r.data);
  const exp = createHash('md5').update(Buffer.concat([Buffer.of(200), Buffer.from('doutpass1234'), mine])).digest('base64');
  assert.equal(k3.get('CHAP_R'), '0b' + exp);
  assert.equal(r.done, true); // discovery with nothing to offer may go straight to FFP
  assert.equal(e.result!.sessionType, 'Discovery');
  assert.equal(e.result!.tid, -1);
});

test('iSER: RDMAExtensions=Yes forces InitialR2T=Yes, ImmediateData=No, no digests, TRDSL declared', () => {
  const host = new FakeHost();
  host.addTarget(1, TGT);
  const e = new LoginEngine(host, { ...conn, transport: 'iser' });
  e.step(loginReq(0, 1, true, [['InitiatorName', INI], ['TargetName', TGT], ['AuthMethod', 'None']]));
  const r = e.step(loginReq(1, 3, true, [
    ['HeaderDigest', 'CRC32C,None'], ['InitialR2T', 'No'], ['ImmediateData', 'Yes'],
    ['InitiatorRecvDataSegmentLength', '131072'], ['TargetRecvDataSegmentLength', '524288'], ['RDMAExtensions', 'Yes'],
  ]));
  const k = keysOf(r.data);
  assert.equal(k.get('HeaderDigest'), 'None');
  assert.equal(k.get('InitialR2T'), 'Yes');
  assert.equal(k.get('ImmediateData'), 'No');
  assert.equal(k.get('RDMAExtensions'), 'Yes');
  assert.equal(k.get('InitiatorRecvDataSegmentLength'), '131072');
  // What one iser receive buffer holds (ISER_RECV_DATA_LIMIT), below tgt's 262144 default.
  assert.equal(k.get('TargetRecvDataSegmentLength'), '8192');
  assert.equal(k.has('MaxRecvDataSegmentLength'), false);
  assert.equal(r.done, true);
  const p = e.result!.params;
  assert.equal(p.rdmaExtensions, true);
  assert.equal(p.maxRecvDataSegmentLength, 131072);
  assert.equal(p.targetMaxRecvDataSegmentLength, 8192);
  assert.equal(p.immediateData, false);
});

test('RDMAExtensions=Yes on TCP is answered No', () => {
  const { e } = setup();
  const r = e.step(loginReq(1, 3, true, [['InitiatorName', INI], ['TargetName', TGT], ['RDMAExtensions', 'Yes']]));
  assert.equal(keysOf(r.data).get('RDMAExtensions'), 'No');
  assert.equal(e.result!.params.rdmaExtensions, false);
});

test('C bit: text split over two PDUs is joined; empty replies in between', () => {
  const { e } = setup();
  const all = loginReq(1, 3, true, [['InitiatorName', INI], ['TargetName', TGT], ['MaxRecvDataSegmentLength', '16384']]).data;
  const r1 = e.step({ ...loginReq(1, 3, false, []), cont: true, data: all.subarray(0, 10) });
  assert.equal(r1.data.length, 0);
  assert.equal(r1.transit, false);
  assert.equal(r1.fail, false);
  const r2 = e.step({ ...loginReq(1, 3, true, []), data: all.subarray(10) });
  assert.equal(r2.done, true);
  assert.equal(e.result!.params.maxRecvDataSegmentLength, 16384);
});

test('ISID change mid-login fails', () => {
  const { e } = setup();
  e.step(loginReq(0, 1, false, [['InitiatorName', INI], ['TargetName', TGT]]));
  const r = e.step(loginReq(0, 1, true, [], { isid: Buffer.from('400001370001', 'hex') }));
  assert.equal(r.fail, true);
});

test('the first login response carries the portal group tag the host gives for the portal the initiator reached', () => {
  const host = new FakeHost();
  host.addTarget(1, TGT);
  const asked: string[] = [];
  host.portalGroupTag = (tid: number, address: string, port: number): number => {
    asked.push(`${tid} ${address}:${port}`);
    return 2;
  };
  const e = new LoginEngine(host, { ...conn, localPort: 3261 });
  const r = e.step(loginReq(0, 1, true, [['InitiatorName', INI], ['SessionType', 'Normal'], ['TargetName', TGT], ['AuthMethod', 'None']]));
  assert.equal(r.data.toString(), 'AuthMethod=None\0TargetPortalGroupTag=2\0');
  assert.deepEqual(asked, ['1 127.0.0.1:3261']);
});
