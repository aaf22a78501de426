// Tests of RFC 7143 Text Request handling: SendTargets (Appendix D), ACL filtering, multi-PDU answers, continuation rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TextEngine, formatTargetAddress } from './text.js';
import { FakeHost } from './login-test-host.js';
import { encodeText, parseText, MAX_KEY_LENGTH } from './text-keys.js';
import { RejectReason } from './pdu-write.js';

const INI = 'iqn.2024-01.test:ini';
const info = { discovery: true, initiatorName: INI, peerAddress: '127.0.0.1', localAddress: '127.0.0.1', localPort: 3260, tid: -1, maxSendSegment: 8192 };
const req = (data: Buffer, ttt = 0xffffffff) => ({ final: true, cont: false, itt: 5, ttt, data });

test('SendTargets=All lists allowed targets with the portal address', () => {
  const h = new FakeHost();
  h.addTarget(1, 'iqn.2024-01.test:a');
  h.addTarget(2, 'iqn.2024-01.test:b');
  h.denied.add(`2:${INI}`);
  const te = new TextEngine(h, info);
  const r = te.step(req(encodeText([['SendTargets', 'All']])));
  assert.ok(!('reject' in r));
  assert.equal(r.data.toString(), 'TargetName=iqn.2024-01.test:a\0TargetAddress=127.0.0.1:3260,1\0');
  assert.equal(r.final, true);
  assert.equal(r.ttt, 0xffffffff);
});

test('SendTargets=<name>, empty in discovery, empty in normal session', () => {
  const h = new FakeHost();
  h.addTarget(1, 'iqn.2024-01.test:a');
  h.addTarget(2, 'iqn.2024-01.test:b');
  let r = new TextEngine(h, info).step(req(encodeText([['SendTargets', 'iqn.2024-01.test:b']])));
  assert.ok(!('reject' in r) && r.data.toString().startsWith('TargetName=iqn.2024-01.test:b\0'));
  r = new TextEngine(h, info).step(req(encodeText([['SendTargets', '']])));
  assert.ok(!('reject' in r) && r.data.length === 0);
  r = new TextEngine(h, { ...info, discovery: false, tid: 1, localAddress: '::1' }).step(req(encodeText([['SendTargets', '']])));
  assert.ok(!('reject' in r));
  assert.equal(r.data.toString(), 'TargetName=iqn.2024-01.test:a\0TargetAddress=[::1]:3260,1\0');
});

test('address formatting', () => {
  assert.equal(formatTargetAddress('::ffff:10.0.0.1', 3260), '10.0.0.1:3260,1');
  assert.equal(formatTargetAddress('fe80::1%eth0', 3261), '[fe80::1]:3261,1');
});

test('long answers are split with C=1 and a TTT, pulled with empty requests', () => {
  const h = new FakeHost();
  for (let i = 1; i <= 50; i++) h.addTarget(i, `iqn.2024-01.test:target-number-${i}`);
  const te = new TextEngine(h, { ...info, maxSendSegment: 512 });
  let r = te.step(req(encodeText([['SendTargets', 'All']])));
  const parts: Buffer[] = [];
  let n = 0;
  while (!('reject' in r) && !r.final) {
    assert.equal(r.cont, true);
    assert.notEqual(r.ttt, 0xffffffff);
    assert.ok(r.data.length <= 512);
    parts.push(r.data);
    r = te.step(req(Buffer.alloc(0), r.ttt));
    if (++n > 100) break;
  }
  assert.ok(!('reject' in r));
  parts.push(r.data);
  assert.equal(r.ttt, 0xffffffff);
  const all = parseText(Buffer.concat(parts));
  // TargetAddress repeats once per target, so only duplicates are expected.
  assert.equal(all.errors.filter((e) => e.kind !== 'duplicate').length, 0);
  const names = Buffer.concat(parts).toString().split('\0').filter((s) => s.startsWith('TargetName='));
  assert.equal(names.length, 50);
  // A continuation with a stale tag is rejected.
  const bad = te.step(req(Buffer.alloc(0), 12345));
  assert.deepEqual(bad, { reject: RejectReason.InvalidPduField });
});

test('FFP keys: MaxRecvDataSegmentLength updates the send size; others NotUnderstood / Reject', () => {
  const te = new TextEngine(new FakeHost(), info);
  const r = te.step(req(encodeText([['MaxRecvDataSegmentLength', '65536'], ['X-foo', 'bar'], ['InitialR2T', 'No']])));
  assert.ok(!('reject' in r));
  assert.equal(r.data.toString(), 'X-foo=NotUnderstood\0InitialR2T=Reject\0');
  assert.equal(te.maxSendSegment, 65536);
});

test('text-keys parser reports errors and never throws', () => {
  const r = parseText(Buffer.concat([
    Buffer.from('A=1\0A=2\0noequals\0=v\0' + 'K'.repeat(MAX_KEY_LENGTH + 1) + '=v\0B=' + 'v'.repeat(256) + '\0'),
    Buffer.from([0x43, 0x3d, 0xff, 0xfe, 0]), Buffer.from('\0\0Good=0x' + 'ab'.repeat(1000) + '\0Tail=x'),
  ]));
  assert.deepEqual(r.pairs.map((p) => p.key), ['A', 'Good']);
  assert.deepEqual(r.errors.map((e) => e.kind), ['duplicate', 'missing-equals', 'empty-key', 'key-too-long', 'value-too-long', 'bad-utf8', 'unterminated']);
  assert.equal(encodeText([['a', 'b'], ['c', '']]).toString(), 'a=b\0c=\0');
});
