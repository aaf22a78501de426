// Unit tests: SBC-4 / SPC-4 CDB parsing, byte for byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ParsedCdb, parseCdb } from './cdb.js';
import { Reason } from './sense.js';

function parse(bytes: number[]): [ParsedCdb, ReturnType<typeof parseCdb>] {
  const p = new ParsedCdb();
  const c = Buffer.alloc(Math.max(16, bytes.length));
  Buffer.from(bytes).copy(c);
  return [p, parseCdb(c, p)];
}

test('READ(6): 21-bit LBA, transfer length 0 means 256', () => {
  const [p, r] = parse([0x08, 0xff, 0x12, 0x34, 0x00, 0x00]);
  assert.equal(r, null);
  assert.equal(p.lba, 0x1f1234);
  assert.equal(p.blocks, 256);
});

test('WRITE(10): LBA, length, DPO/FUA, WRPROTECT, group', () => {
  const [p] = parse([0x2a, 0xb8, 0x01, 0x02, 0x03, 0x04, 0x05, 0x01, 0x00, 0x00]);
  assert.equal(p.lba, 0x01020304);
  assert.equal(p.blocks, 0x100);
  assert.equal(p.dpo, true);
  assert.equal(p.fua, true);
  assert.equal(p.protect, 5);
  assert.equal(p.group, 5);
});

test('READ(16): 64-bit LBA and 32-bit length', () => {
  const [p] = parse([0x88, 0x08, 0, 0, 0, 0x01, 0, 0, 0, 0x02, 0, 0x01, 0, 0, 0x00, 0]);
  assert.equal(p.lba, 0x100000002);
  assert.equal(p.blocks, 0x10000);
  assert.equal(p.fua, true);
  assert.equal(p.dpo, false);
});

test('READ(12) / VERIFY(12) BYTCHK', () => {
  const [p] = parse([0xaf, 0x02, 0, 0, 0, 9, 0, 0, 0, 3, 0, 0]);
  assert.equal(p.bytchk, 1);
  assert.equal(p.lba, 9);
  assert.equal(p.blocks, 3);
  const [q] = parse([0x2f, 0x06, 0, 0, 0, 1, 0, 0, 2, 0]);
  assert.equal(q.bytchk, 3);
});

test('WRITE SAME(16): UNMAP, ANCHOR, NDOB', () => {
  const [p] = parse([0x93, 0x19, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 8, 0, 0]);
  assert.equal(p.unmap, true);
  assert.equal(p.anchor, true);
  assert.equal(p.ndob, true);
  assert.equal(p.lba, 7);
  assert.equal(p.blocks, 8);
  const [q] = parse([0x41, 0x08, 0, 0, 0, 7, 0, 0, 8, 0]);
  assert.equal(q.unmap, true);
  assert.equal(q.ndob, false);
  assert.equal(q.blocks, 8);
});

test('COMPARE AND WRITE: NUMBER OF LOGICAL BLOCKS in byte 13', () => {
  const [p] = parse([0x89, 0x08, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0, 4, 0, 0]);
  assert.equal(p.lba, 0x1000);
  assert.equal(p.blocks, 4);
  assert.equal(p.fua, true);
});

test('UNMAP parameter list length and ANCHOR', () => {
  const [p] = parse([0x42, 0x01, 0, 0, 0, 0, 0, 0x01, 0x18, 0]);
  assert.equal(p.anchor, true);
  assert.equal(p.paramLen, 0x118);
});

test('service actions: READ CAPACITY(16), GET LBA STATUS, RSOC, PR', () => {
  const [a, ra] = parse([0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0]);
  assert.equal(ra, null);
  assert.equal(a.sa, 0x10);
  assert.equal(a.allocLen, 32);
  const [b] = parse([0x9e, 0x12, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 24, 0, 0]);
  assert.equal(b.sa, 0x12);
  assert.equal(b.lba, 5);
  const [c] = parse([0xa3, 0x0c, 0x82, 0x5e, 0x00, 0x01, 0, 0, 0x02, 0, 0, 0]);
  assert.equal(c.rctd, true);
  assert.equal(c.reportingOptions, 2);
  assert.equal(c.reqOpcode, 0x5e);
  assert.equal(c.reqSa, 1);
  assert.equal(c.allocLen, 0x200);
  const [d] = parse([0x5f, 0x01, 0x13, 0, 0, 0, 0, 0, 24, 0]);
  assert.equal(d.sa, 1);
  assert.equal(d.prScope, 1);
  assert.equal(d.prType, 3);
  assert.equal(d.paramLen, 24);
});

test('INQUIRY / MODE SENSE(10) / REPORT LUNS fields', () => {
  const [i] = parse([0x12, 0x01, 0x83, 0x01, 0x00, 0]);
  assert.equal(i.evpd, true);
  assert.equal(i.pageCode, 0x83);
  assert.equal(i.allocLen, 256);
  const [m] = parse([0x5a, 0x18, 0xbf, 0xff, 0, 0, 0, 0x10, 0x00, 0]);
  assert.equal(m.llbaa, true);
  assert.equal(m.dbd, true);
  assert.equal(m.pc, 2);
  assert.equal(m.pageCode, 0x3f);
  assert.equal(m.subpage, 0xff);
  assert.equal(m.allocLen, 0x1000);
  const [r] = parse([0xa0, 0, 0x02, 0, 0, 0, 0, 0, 1, 0, 0, 0]);
  assert.equal(r.selectReport, 2);
  assert.equal(r.allocLen, 256);
});

test('unknown opcode and unknown service action', () => {
  assert.equal(parse([0xc0, 0, 0, 0, 0, 0])[1], Reason.InvalidOpcode);
  assert.equal(parse([0x9e, 0x1f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])[1], Reason.InvalidOpcode);
  assert.equal(parse([0x5e, 0x1f, 0, 0, 0, 0, 0, 0, 0, 0])[1], Reason.InvalidFieldInCdb);
  const p = new ParsedCdb();
  assert.equal(parseCdb(Buffer.from([0x28, 0, 0, 0, 0]), p), Reason.InvalidFieldInCdb);
});
