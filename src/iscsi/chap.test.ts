// Tests of RFC 7143 12.1.3 CHAP helpers: algorithm choice, binary encodings, response digest, reflection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chooseAlgorithm, decodeBinary, encodeBinary, chapResponse, ChapTarget, CHAP_ALGORITHMS } from './chap.js';

test('algorithm choice follows the initiator order, IANA numbering', () => {
  assert.equal(chooseAlgorithm('5')!.hash, 'md5');
  assert.equal(chooseAlgorithm('99,8,5')!.hash, 'sha3-256');
  assert.equal(chooseAlgorithm('6')!.length, 20);
  assert.equal(chooseAlgorithm('1,2,x'), null);
});

test('binary values: hex (odd length), base64, malformed', () => {
  assert.deepEqual(decodeBinary('0xabc')!.bytes, Buffer.from([0x0a, 0xbc]));
  assert.deepEqual(decodeBinary('0bAAEC'), { bytes: Buffer.from([0, 1, 2]), encoding: 'base64' });
  assert.equal(decodeBinary('0xzz'), null);
  assert.equal(decodeBinary('abc'), null);
  assert.equal(encodeBinary(Buffer.from([1, 2]), 'hex'), '0x0102');
});

test('response digest = H(id || secret || challenge) for every algorithm', () => {
  for (const alg of CHAP_ALGORITHMS.values()) {
    const c = Buffer.from('challenge-bytes');
    const want = createHash(alg.hash).update(Buffer.concat([Buffer.of(7), Buffer.from('s3cret'), c])).digest();
    assert.deepEqual(chapResponse(alg, 7, 's3cret', c), want);
    assert.equal(want.length, alg.length);
  }
});

test('ChapTarget verifies, answers mutual, refuses its own challenge', () => {
  const t = new ChapTarget();
  const k = t.challenge('5')!;
  assert.equal(k.CHAP_A, '5');
  assert.equal(t.sentChallenge.length, 16);
  const resp = encodeBinary(chapResponse(t.alg!, Number(k.CHAP_I), 'pw', t.sentChallenge), 'base64');
  assert.equal(t.verify(resp, 'pw'), true);
  assert.equal(t.verify(resp, 'other'), false);
  assert.equal(t.verify('0x00', 'pw'), false);
  assert.equal(t.answer('1', k.CHAP_C, 'x'), null);
  assert.equal(t.answer('256', '0x0102', 'x'), null);
  assert.match(t.answer('1', '0x0102', 'x')!, /^0x[0-9a-f]{32}$/);
});
