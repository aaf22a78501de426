// Tests of the RFC 7143 11.2 TCP byte-stream framer: a recorded session split at every byte gives the same PDUs and responses.
//
// A session (login, writes with immediate, unsolicited and solicited data, a read, NOP-Out and
// Text with unpadded data, a logout) is recorded once as the initiator's byte stream, digests off
// and on. It is then replayed into a fresh TcpConnection as one chunk, as two chunks for every
// split point, and one byte at a time: the PDUs reaching receivePdu and the bytes the target
// writes must be identical every time. The backing store completes synchronously, so the target's
// output does not depend on how the input was chunked.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestConnectionHost } from '../../iscsi/testing/host.js';
import { TestInitiator } from '../../iscsi/testing/initiator.js';
import { TOp } from '../../iscsi/testing/target-pdu.js';
import { TcpUnderTest } from './testing/fake-socket.js';

/** A small disk: every replay builds a fresh host. */
const HOST = { asyncDevice: false, blocks: 128 };

interface Run {
  /** BHS + AHS + data of every PDU handed to receivePdu. */
  received: Buffer[];
  /** Everything the target wrote. */
  output: Buffer;
}

function targetSettings(digests: boolean): Record<string, string> {
  const t: Record<string, string> = { InitialR2T: 'No' };
  if (digests) Object.assign(t, { HeaderDigest: 'CRC32C,None', DataDigest: 'CRC32C,None' });
  return t;
}

/** Runs a scripted session live (one chunk per PDU) and returns the initiator's byte stream. */
function record(digests: boolean): Buffer {
  const host = new TestConnectionHost(HOST);
  const wire = new TcpUnderTest(host);
  const ini = new TestInitiator(host, wire);
  const keys: Record<string, string> = { InitialR2T: 'No', FirstBurstLength: '1024', MaxBurstLength: '1024' };
  if (digests) Object.assign(keys, { HeaderDigest: 'CRC32C', DataDigest: 'CRC32C' });
  ini.login({ keys, target: targetSettings(digests), keepUnitAttention: true });
  assert.equal(wire.conn.params.headerDigest, digests);
  assert.equal(wire.conn.params.dataDigest, digests);
  const tur = ini.command({ cdb: [0, 0, 0, 0, 0, 0], edtl: 0 }); // takes the POWER ON unit attention
  // Immediate data plus unsolicited Data-Out, within FirstBurstLength.
  const w1 = ini.write(0, 2, { immediateData: 512, final: false });
  ini.dataOut({ itt: w1, lba: 0, offset: 512, length: 256, dataSN: 0, final: false });
  ini.dataOut({ itt: w1, lba: 0, offset: 768, length: 256, dataSN: 1, final: true });
  // Beyond FirstBurstLength: unsolicited first burst, then an R2T answered in two PDUs.
  const w2 = ini.write(64, 4, { final: false });
  ini.dataOut({ itt: w2, lba: 64, offset: 0, length: 1024, dataSN: 0, final: true });
  const early = ini.take();
  const r2t = early.find((p) => p.opcode === TOp.R2T && p.itt === w2);
  assert.ok(r2t !== undefined, 'R2T for the second write');
  ini.answerR2T(r2t, 64, 512);
  const rd = ini.read(0, 2);
  // A 32-byte CDB: 16 bytes in the BHS, 16 in an extended-CDB AHS (AHSLength 17, 20 bytes padded).
  const ahs = Buffer.alloc(20);
  ahs.writeUInt16BE(17, 0);
  ahs[2] = 0x01;
  ahs.fill(0x5a, 4);
  const long = ini.command({ cdb: [0x7f, 0, 0, 0, 0, 0, 0, 0x18], edtl: 0, ahs });
  ini.nop({ data: Buffer.from('odd!!') }); // 5 bytes: 3 pad bytes
  ini.text([['SendTargets', 'All']]);
  ini.logout(0);
  const out = [...early, ...ini.take()];
  for (const itt of [tur, w1, w2, rd, long]) {
    assert.ok(out.some((p) => p.itt === itt && (p.opcode === TOp.ScsiResponse || (p.opcode === TOp.DataIn && (p.flags & 1) === 1))), `status of 0x${itt.toString(16)}`);
  }
  assert.equal(wire.conn.state, 'closed', 'logged out');
  assert.deepEqual(host.problems(), []);
  return Buffer.concat(wire.stream);
}

/**
 * Feeds `stream` cut at `cuts` into a fresh connection: as 'data' events, or (`onread`) as reads
 * into the buffers the connection offers, the shared one scribbled over after every read.
 */
function replay(stream: Buffer, cuts: readonly number[], digests: boolean, onread = false): Run {
  const host = new TestConnectionHost(HOST);
  for (const [k, v] of Object.entries(targetSettings(digests))) host.params.set(k, v);
  const wire = new TcpUnderTest(host, { onread });
  let from = 0;
  for (const at of [...cuts, stream.length]) {
    if (at > from) wire.chunk(stream.subarray(from, at));
    from = at;
  }
  assert.deepEqual(host.problems(), []);
  return { received: wire.conn.received, output: Buffer.concat(wire.sock.written) };
}

function same(a: Run, b: Run, what: string): void {
  if (a.received.length !== b.received.length || a.received.some((r, i) => !r.equals(b.received[i]!))) {
    assert.fail(`${what}: ${b.received.length} PDUs reached receivePdu, expected ${a.received.length} (first difference at ${a.received.findIndex((r, i) => !b.received[i]?.equals(r))})`);
  }
  if (!a.output.equals(b.output)) assert.fail(`${what}: target output differs (${b.output.length} bytes, expected ${a.output.length})`);
}

for (const digests of [false, true]) {
  const name = digests ? 'digests on' : 'digests off';

  test(`framer (${name}): two chunks at every split point, and 1-byte chunks, frame exactly as one chunk`, () => {
    const stream = record(digests);
    const whole = replay(stream, [], digests);
    assert.ok(stream.length > 3000 && stream.length < 8000, `stream of ${stream.length} bytes`);
    assert.ok(whole.received.length >= 15, `the session has ${whole.received.length} PDUs`);
    assert.equal(whole.received[0]![0]! & 0x3f, 0x03, 'first PDU is a Login Request');
    for (let at = 1; at < stream.length; at++) same(whole, replay(stream, [at], digests), `split at ${at}`);
    const bytes = Array.from({ length: stream.length - 1 }, (_, i) => i + 1);
    same(whole, replay(stream, bytes, digests), '1-byte chunks');
  });

  // onread (the accept loop's sockets): a partial PDU left in the shared buffer must be copied out
  // before the next read overwrites it; the scribbled buffer makes a missed copy change the PDUs.
  // Every split point with digests on (its framing is a superset: digest bytes too); one read and
  // 1-byte reads with both.
  test(`framer (${name}, onread, shared buffer scribbled after every read): ${digests ? 'every split point and ' : ''}1-byte reads frame as 'data' events do`, () => {
    const stream = record(digests);
    const whole = replay(stream, [], digests);
    same(whole, replay(stream, [], digests, true), 'one read');
    if (digests) for (let at = 1; at < stream.length; at++) same(whole, replay(stream, [at], digests, true), `split at ${at}`);
    const bytes = Array.from({ length: stream.length - 1 }, (_, i) => i + 1);
    same(whole, replay(stream, bytes, digests, true), '1-byte reads');
  });
}

/** Where each received PDU starts on the wire: Login PDUs have no digests, the later ones both. */
function wireOffsets(received: readonly Buffer[], logins: number): number[] {
  const out: number[] = [];
  let o = 0;
  received.forEach((r, i) => {
    out.push(o);
    const ahs = r[4]! * 4;
    const len = r.length - 48 - ahs;
    const digests = i >= logins;
    o += 48 + ahs + (digests ? 4 : 0) + ((len + 3) & ~3) + (digests && len > 0 ? 4 : 0);
  });
  out.push(o);
  return out;
}

test('framer (digests on): a bad header digest closes the connection; a bad data digest on a Data-Out is rejected', () => {
  const digests = true;
  const stream = record(digests);
  const whole = replay(stream, [], digests);
  const at = wireOffsets(whole.received, 2);
  assert.equal(at[at.length - 1], stream.length, 'offsets cover the stream');

  const badHeader = Buffer.from(stream);
  badHeader[at[2]! + 48]! ^= 0xff; // the TEST UNIT READY's header digest
  let host = new TestConnectionHost(HOST);
  for (const [k, v] of Object.entries(targetSettings(digests))) host.params.set(k, v);
  let wire = new TcpUnderTest(host);
  wire.chunk(badHeader);
  assert.equal(wire.conn.state, 'closed');
  assert.equal(wire.conn.received.length, 2, 'only the two Login Requests reached the connection');

  const badData = Buffer.from(stream);
  badData[at[5]! - 1]! ^= 0xff; // the data digest of the first Data-Out (PDU 4)
  host = new TestConnectionHost(HOST);
  for (const [k, v] of Object.entries(targetSettings(digests))) host.params.set(k, v);
  wire = new TcpUnderTest(host);
  wire.chunk(badData);
  const rejects = wire.sent.filter((p) => p.opcode === TOp.Reject);
  assert.ok(rejects.length >= 1);
  assert.equal(rejects[0]!.response, 0x02, 'Reject reason: data digest error');
  assert.ok(rejects[0]!.data.equals(whole.received[4]!.subarray(0, 48)), 'the Reject carries the Data-Out BHS');
  assert.ok(!wire.conn.received.some((r) => r.equals(whole.received[4]!)), 'the damaged Data-Out never reached the connection');
});
