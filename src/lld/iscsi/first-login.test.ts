// Unit tests: routing a new connection by the TargetName of its first Login Request (RFC 7143 11.12, 13.4), from whatever part of the PDU has arrived.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loginRequest, scsiCommand, wireBytes } from '../../iscsi/testing/pdus.js';
import { FIRST_PDU_MAX, scanFirstLogin } from './first-login.js';
import { LOGIN_SEGMENT as LOGIN_SEGMENT_MAX } from '../../iscsi/login.js';

const ISID = Buffer.from([0x80, 0, 0, 0, 0, 1]);
const IQN = 'iqn.2026-12.org.stgt.test:route';

function login(keys: [string, string][], cont = false): Buffer {
  return wireBytes(loginRequest({ transit: !cont, cont, csg: 1, nsg: 3, isid: ISID, itt: 1, cmdSN: 0, expStatSN: 0, keys }), { header: false, data: false });
}

test('a Login Request split at every byte: need until the last byte, then its TargetName', () => {
  const pdu = login([['InitiatorName', 'iqn.2026-12.org.stgt.test:i'], ['SessionType', 'Normal'], ['TargetName', IQN], ['HeaderDigest', 'None']]);
  assert.equal(pdu.length % 4, 0);
  for (let n = 0; n < pdu.length; n++) {
    const r = scanFirstLogin(pdu.subarray(0, n));
    assert.equal(r.kind, 'need', `prefix of ${n} bytes`);
    if (r.kind === 'need') assert.ok(r.need > n && r.need <= pdu.length, `prefix ${n}: need ${r.need}`);
  }
  assert.deepEqual(scanFirstLogin(pdu), { kind: 'target', targetName: IQN });
  // What follows the first PDU (the initiator pipelining) does not change the answer.
  assert.deepEqual(scanFirstLogin(Buffer.concat([pdu, Buffer.alloc(100, 7)])), { kind: 'target', targetName: IQN });
});

test('a discovery session, or a login without TargetName, stays in the main thread', () => {
  assert.deepEqual(scanFirstLogin(login([['InitiatorName', 'i'], ['SessionType', 'Discovery']])), { kind: 'local' });
  // SessionType=Discovery wins even if a TargetName is (wrongly) sent along.
  assert.deepEqual(scanFirstLogin(login([['SessionType', 'Discovery'], ['TargetName', IQN]])), { kind: 'local' });
  assert.deepEqual(scanFirstLogin(login([['InitiatorName', 'i']])), { kind: 'local' });
  assert.deepEqual(scanFirstLogin(login([['InitiatorName', 'i']], true)), { kind: 'local' });
});

test('an AHS moves the data segment', () => {
  const pdu = login([['TargetName', IQN]]);
  const withAhs = Buffer.concat([pdu.subarray(0, 48), Buffer.alloc(8), pdu.subarray(48)]);
  withAhs[4] = 2; // TotalAHSLength in 4-byte words
  assert.equal(scanFirstLogin(withAhs.subarray(0, withAhs.length - 1)).kind, 'need');
  assert.deepEqual(scanFirstLogin(withAhs), { kind: 'target', targetName: IQN });
});

test('a first PDU that is not a Login Request, or too long for one, is malformed', () => {
  const cmd = wireBytes(scsiCommand({ itt: 1, cmdSN: 0, expStatSN: 0, cdb: [0, 0, 0, 0, 0, 0], edtl: 0 }), { header: false, data: false });
  const r = scanFirstLogin(cmd);
  assert.equal(r.kind, 'malformed');
  assert.match(r.kind === 'malformed' ? r.why : '', /opcode 0x1, not a Login Request/);
  const big = login([['TargetName', IQN]]);
  big.writeUIntBE(LOGIN_SEGMENT_MAX + 1, 5, 3);
  assert.equal(scanFirstLogin(big.subarray(0, 48)).kind, 'malformed');
  // The largest legal first PDU fits the peek buffer.
  const max = Buffer.alloc(FIRST_PDU_MAX);
  login([['TargetName', IQN]]).copy(max, 0, 0, 48);
  max[4] = 255;
  max.writeUIntBE(LOGIN_SEGMENT_MAX, 5, 3);
  assert.deepEqual(scanFirstLogin(max), { kind: 'local' });
});
