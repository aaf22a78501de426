// Tests for the tgtadm IPC codec, with bytes captured from Debian's tgtadm 1.0.85 and tgtd 1.0.85.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ipc from './ipc.js';

const Z = (n: number): string => '00'.repeat(n);

// `tgtadm -C 5 --lld iscsi --mode target --op new --tid 1 -T iqn.2024-01.test:t1`
const TARGET_NEW =
  '01000000' + '00000000' + '6973637369' + Z(59) + '97000000' + '01000000' + Z(8) +
  'ffffffffffffffff' + Z(24) + Buffer.from('targetname=iqn.2024-01.test:t1\0').toString('hex');
// `tgtadm -C 5 --mode lu --op update --tid 1 --lun 2 --params vendor_id=Foo,product_id=Bar`
const LU_UPDATE =
  '02000000' + '05000000' + Z(64) + 'a0000000' + '01000000' + Z(8) + '0200000000000000' + Z(24) +
  Buffer.from('targetOps vendor_id=Foo,product_id=Bar,\0').toString('hex');
// `tgtadm -C 5 --mode account --op bind --user u -O x` (no --tid: GLOBAL_TID; -O: outgoing)
const ACCOUNT_BIND =
  '07000000' + '03000000' + Z(64) + '7f000000' + 'ffffffff' + Z(8) + 'ffffffffffffffff' + Z(12) +
  '01000000' + Z(8) + Buffer.from('user=u\0').toString('hex');
// `tgtadm -C 5 --op show --mode sys`: header only
const SYS_SHOW = '00000000' + '02000000' + Z(64) + '78000000' + 'ffffffff' + Z(8) + 'ffffffffffffffff' + Z(24);

test('fixtures are the captured bytes', () => {
  // verbatim hex dumps from a unix-socket server that Debian's tgtadm connected to
  assert.equal(TARGET_NEW, '01000000000000006973637369000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000097000000010000000000000000000000ffffffffffffffff0000000000000000000000000000000000000000000000007461726765746e616d653d69716e2e323032342d30312e746573743a743100');
  assert.equal(ACCOUNT_BIND, '0700000003000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000007f000000ffffffff0000000000000000ffffffffffffffff000000000000000000000000010000000000000000000000757365723d7500');
  assert.equal(LU_UPDATE, '020000000500000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000a000000001000000000000000000000002000000000000000000000000000000000000000000000000000000000000007461726765744f70732076656e646f725f69643d466f6f2c70726f647563745f69643d4261722c00');
});

test('decodes captured tgtadm requests', () => {
  const b = Buffer.from(TARGET_NEW, 'hex');
  assert.equal(b.length, 151);
  const r = ipc.decodeRequestHeader(b);
  assert.equal(r.mode, ipc.MODE_TARGET);
  assert.equal(r.op, ipc.OP_NEW);
  assert.equal(r.lld, 'iscsi');
  assert.equal(r.len, 151);
  assert.equal(r.tid, 1);
  assert.equal(r.lun, ipc.LUN_UNSET);
  assert.equal(ipc.decodePayload(b.subarray(120)), 'targetname=iqn.2024-01.test:t1');

  const a = ipc.decodeRequestHeader(Buffer.from(ACCOUNT_BIND, 'hex'));
  assert.equal(a.tid, ipc.GLOBAL_TID);
  assert.equal(a.acDir, ipc.ACCOUNT_TYPE_OUTGOING);
  assert.equal(a.op, ipc.OP_BIND);
});

test('encodes byte-identical to tgtadm', () => {
  const base = ipc.emptyRequest();
  assert.equal(ipc.encodeRequest({ ...base, mode: 1, op: 0, lld: 'iscsi', tid: 1, payload: 'targetname=iqn.2024-01.test:t1' }).toString('hex'), TARGET_NEW);
  assert.equal(ipc.encodeRequest({ ...base, mode: 2, op: 5, tid: 1, lun: 2n, payload: 'targetOps vendor_id=Foo,product_id=Bar,' }).toString('hex'), LU_UPDATE);
  assert.equal(ipc.encodeRequest({ ...base, mode: 7, op: 3, acDir: 1, payload: 'user=u' }).toString('hex'), ACCOUNT_BIND);
  assert.equal(ipc.encodeRequest({ ...base, mode: 0, op: 2 }).toString('hex'), SYS_SHOW);
});

test('responses match tgtd', () => {
  // tgtd's answer to target delete --tid 9 (no such target): err 4, header only.
  assert.equal(ipc.encodeResponse(4, 'ignored').toString('hex'), '0400000008000000');
  // empty successful show
  assert.equal(ipc.encodeResponse(0, '').toString('hex'), '0000000008000000');
  const r = ipc.encodeResponse(0, 'Portal: 127.0.0.1:3260,1\n');
  assert.deepEqual(ipc.decodeResponseHeader(r), { err: 0, len: 8 + 25 + 1 });
  assert.equal(r[r.length - 1], 0);
});

test('payload parsing', () => {
  const p = ipc.parsePayload('targetOps vendor_id=Foo,product_id=Bar,');
  assert.equal(p.opsKind, 'targetOps');
  assert.deepEqual(p.ops, [['vendor_id', 'Foo'], ['product_id', 'Bar']]);
  assert.deepEqual(ipc.parsePayload('HeaderDigest=CRC32C,None').pairs, [['HeaderDigest', 'CRC32C,None']]);
  const q = ipc.parsePayload('path=/x.img,bstype=rdwr,bsopts=a=b,bsoflags=sync');
  assert.deepEqual(q.pairs, [['path', '/x.img'], ['bstype', 'rdwr'], ['bsopts', 'a=b'], ['bsoflags', 'sync']]);
  const r = ipc.parsePayload('portalOps portal=127.0.0.1:3262,');
  assert.deepEqual(r.ops, [['portal', '127.0.0.1:3262']]);
});
