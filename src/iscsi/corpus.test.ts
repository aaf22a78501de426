// Malformed-input corpus (RFC 7143 6, 11.12): random and mutated Login/Text PDUs never throw and end in an error reply or a failure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LoginEngine, type LoginReply } from './login.js';
import { TextEngine } from './text.js';
import { FakeHost, loginReq } from './login-test-host.js';
import { parseLoginRequest } from './pdu.js';
import { parseText } from './text-keys.js';

/** Deterministic PRNG (xorshift32) so failures reproduce. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    return x;
  };
}

const GOOD = loginReq(0, 1, true, [
  ['InitiatorName', 'iqn.2024-01.test:ini'], ['SessionType', 'Normal'], ['TargetName', 'iqn.2024-01.test:t1'],
  ['AuthMethod', 'CHAP,None'],
]);

function mutate(buf: Buffer, r: () => number): Buffer {
  const out = Buffer.from(buf);
  const n = 1 + (r() % 6);
  for (let i = 0; i < n && out.length > 0; i++) {
    const pos = r() % out.length;
    switch (r() % 4) {
      case 0: out[pos] = r() & 0xff; break;
      case 1: out[pos] = 0; break;
      case 2: out[pos] = 0x3d; break; // '='
      default: out[pos] = 0x2c; break; // ','
    }
  }
  return r() % 5 === 0 ? out.subarray(0, r() % (out.length + 1)) : out;
}

function checkReply(rep: LoginReply): void {
  assert.ok(Buffer.isBuffer(rep.data));
  assert.ok(rep.data.length <= 8192);
  if (rep.fail) assert.ok(rep.statusClass !== 0);
  if (rep.statusClass !== 0) assert.equal(rep.fail, true);
}

test('mutated login text and random BHS never throw', () => {
  const r = rng(12345);
  let failed = 0;
  for (let i = 0; i < 3000; i++) {
    const host = new FakeHost();
    const t = host.addTarget(1, 'iqn.2024-01.test:t1');
    if (i % 3 === 0) { host.incoming.set(1, ['u']); host.passwords.set('u', 'passpasspass'); }
    if (i % 7 === 0) t.params.set('HeaderDigest', 'CRC32C');
    const e = new LoginEngine(host, { peerAddress: '127.0.0.1', localAddress: '127.0.0.1', localPort: 3260, transport: i % 2 ? 'tcp' : 'iser' });
    for (let step = 0; step < 4; step++) {
      const bhs = Buffer.alloc(48);
      for (let j = 0; j < 48; j++) bhs[j] = r() & 0xff;
      const req = step === 0 && i % 4 !== 0
        ? { ...GOOD, data: mutate(GOOD.data, r), csg: r() % 4, nsg: r() % 4, transit: (r() & 1) === 1, cont: r() % 8 === 0 }
        : parseLoginRequest(bhs, mutate(GOOD.data, r));
      const rep = e.step(req);
      checkReply(rep);
      if (rep.fail) { failed++; break; }
    }
  }
  assert.ok(failed > 1000, `expected most garbage to fail, got ${failed}`);
});

test('random bytes through the text parser and text engine never throw', () => {
  const r = rng(999);
  const host = new FakeHost();
  host.addTarget(1, 'iqn.2024-01.test:t1');
  const te = new TextEngine(host, { discovery: true, initiatorName: 'i', peerAddress: '::1', localAddress: '::1', localPort: 3260, tid: -1, maxSendSegment: 512 });
  for (let i = 0; i < 3000; i++) {
    const len = r() % 300;
    const b = Buffer.alloc(len);
    for (let j = 0; j < len; j++) b[j] = r() % 3 === 0 ? [0, 0x3d, 0x41][r() % 3]! : r() & 0xff;
    parseText(b);
    const rep = te.step({ final: (r() & 1) === 1, cont: r() % 4 === 0, itt: r(), ttt: r() % 3 === 0 ? r() : 0xffffffff, data: b });
    assert.ok('reject' in rep || Buffer.isBuffer(rep.data));
  }
});
