// Tests of RFC 7143 CRC32C digests: check value, RFC 3720 B.4 vectors, running CRC across buffers, JS = native.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32cJs, crc32cHeader, crc32cData, crc32cList, crc32cLoadNative, crc32cNative, writeDigest } from './crc32c.js';

test('check value 0xe3069283 for "123456789"', () => {
  assert.equal(crc32cJs(Buffer.from('123456789')), 0xe3069283);
  assert.equal(crc32cData(Buffer.from('123456789')), 0xe3069283);
  assert.equal(crc32cHeader(Buffer.from('123456789')), 0xe3069283);
});

test('RFC 3720 B.4 vectors, written least significant byte first', () => {
  const d = Buffer.alloc(4);
  writeDigest(d, 0, crc32cJs(Buffer.alloc(32)));
  assert.equal(d.toString('hex'), 'aa36918a');
  writeDigest(d, 0, crc32cJs(Buffer.alloc(32, 0xff)));
  assert.equal(d.toString('hex'), '43aba862');
  const inc = Buffer.alloc(32);
  for (let i = 0; i < 32; i++) inc[i] = i;
  writeDigest(d, 0, crc32cJs(inc));
  assert.equal(d.toString('hex'), '4e79dd46');
});

test('running CRC across buffers, JS and native agree on random data', async () => {
  // The addon loads at the first data digest; run the checks with it in use (where it is installed).
  crc32cData(Buffer.alloc(64));
  const onNative = await crc32cLoadNative();
  assert.equal(onNative, crc32cNative());
  const big = Buffer.alloc(10007);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7919 + 13) & 0xff;
  const whole = crc32cJs(big);
  assert.equal(crc32cData(big), whole);
  assert.equal(crc32cData(big.subarray(3000), crc32cData(big.subarray(0, 3000))), whole);
  assert.equal(crc32cList([big.subarray(0, 5), big.subarray(5, 4099), big.subarray(4099)]), whole);
  assert.equal(crc32cJs(big, 0, 0, 17), crc32cJs(big.subarray(0, 17)));
  // Padding bytes are covered by the data digest.
  assert.equal(crc32cList([Buffer.from('abc')], 1), crc32cJs(Buffer.from('abc\0')));
});
