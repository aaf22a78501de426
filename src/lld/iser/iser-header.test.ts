// Byte-exact tests of the RFC 7145 iSER header and the CM private data header.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ISER_HEADER_LENGTH, parseCmHeader, parseIserHeader, targetCmHeader, writeControlHeader, writeInitiatorHeader,
} from './iser-header.js';

test('an initiator header with both STags round-trips, offsets as the RFC lays them out', () => {
  const b = Buffer.alloc(ISER_HEADER_LENGTH);
  writeInitiatorHeader(b, { stag: 0x11223344, va: 0x0102030405060708n }, { stag: 0xaabbccdd, va: 0xf0e0d0c0b0a09080n });
  assert.equal(b.toString('hex'),
    '1c000000' + '11223344' + '0102030405060708' + 'aabbccdd' + 'f0e0d0c0b0a09080');
  assert.deepEqual(parseIserHeader(b), {
    opcode: 1, writeStag: 0x11223344, writeVA: 0x0102030405060708n, readStag: 0xaabbccdd, readVA: 0xf0e0d0c0b0a09080n,
  });
});

test('STags without their valid bit are absent; short buffers do not parse', () => {
  const b = Buffer.alloc(ISER_HEADER_LENGTH);
  writeInitiatorHeader(b, null, { stag: 7, va: 9n });
  assert.equal(b[0], 0x14);
  const h = parseIserHeader(b)!;
  assert.equal(h.writeStag, null);
  assert.equal(h.readStag, 7);
  assert.equal(parseIserHeader(Buffer.alloc(27)), null);
});

test('target control header: opcode 1, nothing valid, rest zero', () => {
  const b = Buffer.alloc(ISER_HEADER_LENGTH + 4, 0xff);
  writeControlHeader(b, 2);
  assert.equal(b.subarray(2, 2 + ISER_HEADER_LENGTH).toString('hex'), '10' + '00'.repeat(27));
  assert.equal(b[0], 0xff);
});

test('CM private data: the initiator flags byte, padded data accepted, target answers 0xc0', () => {
  assert.equal(parseCmHeader(Uint8Array.from([0x80, 0, 0, 0])), 0x80);
  assert.equal(parseCmHeader(new Uint8Array(56)), 0);
  assert.equal(parseCmHeader(new Uint8Array(2)), null);
  assert.deepEqual([...targetCmHeader()], [0xc0, 0, 0, 0]);
});
