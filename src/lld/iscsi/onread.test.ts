// Tests of the TCP connection read with `onread` (the accept loop's sockets, docs/multicore.md): write data kept across reads of a shared, reused buffer.
//
// A session of pipelined writes (immediate data, unsolicited Data-Out, R2T bursts, data segments
// larger than the shared buffer, odd segment sizes) is recorded once as the initiator's byte
// stream, then replayed into connections that read it through `nextReadBuffer`/`onRead` as Node
// does, the shared buffer scribbled over after every read (the next read would overwrite it), and
// a store that copies the data only on a later turn (as a store reading the buffers from the thread
// pool does). Every replay must leave the disk byte for byte as the recording did: a view of the
// shared buffer kept past its read callback would write 0xee bytes instead.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestConnectionHost } from '../../iscsi/testing/host.js';
import { TestInitiator } from '../../iscsi/testing/initiator.js';
import { until } from '../../iscsi/testing/capture-connection.js';
import { TOp, type TargetPdu } from '../../iscsi/testing/target-pdu.js';
import { TcpUnderTest } from './testing/fake-socket.js';

const BLOCKS = 4096;
const SEG = 262144;

function settings(digests: boolean): Record<string, string> {
  const t: Record<string, string> = { InitialR2T: 'No', MaxRecvDataSegmentLength: String(SEG), FirstBurstLength: String(SEG) };
  if (digests) Object.assign(t, { HeaderDigest: 'CRC32C,None', DataDigest: 'CRC32C,None' });
  return t;
}

interface Recording {
  stream: Buffer;
  /** The disk after the recorded session. */
  disk: Buffer;
  writes: number;
}

function record(digests: boolean): Recording {
  const host = new TestConnectionHost({ blocks: BLOCKS, asyncDevice: false });
  const wire = new TcpUnderTest(host);
  const ini = new TestInitiator(host, wire);
  const keys: Record<string, string> = {
    InitialR2T: 'No', FirstBurstLength: String(SEG), MaxBurstLength: String(SEG), MaxRecvDataSegmentLength: String(SEG),
  };
  if (digests) Object.assign(keys, { HeaderDigest: 'CRC32C', DataDigest: 'CRC32C' });
  // The replays' hosts are fresh too: the TEST UNIT READY takes the POWER ON unit attention in both.
  ini.login({ keys, target: settings(digests), keepUnitAttention: true });
  ini.command({ cdb: [0, 0, 0, 0, 0, 0], edtl: 0 });
  const itts: number[] = [];
  // Small writes, all their data immediate, pipelined.
  itts.push(ini.write(0, 8, { immediateData: 4096 }));
  itts.push(ini.write(8, 8, { immediateData: 4096 }));
  // 200 KiB: 128 KiB immediate (more than the shared buffer), the rest unsolicited.
  const c = ini.write(16, 400, { immediateData: 131072, final: false });
  itts.push(c);
  ini.dataOut({ itt: c, lba: 16, offset: 131072, length: 400 * 512 - 131072, dataSN: 0, final: true });
  // 600 KiB: 8 KiB immediate, the first burst in odd unsolicited segments, then two R2T bursts.
  const d = ini.write(416, 1200, { immediateData: 8192, final: false });
  itts.push(d);
  const first = ini.take().find((p) => p.opcode === TOp.R2T && p.itt === d);
  assert.ok(first !== undefined, 'R2T for the first solicited burst');
  let sn = 0;
  for (let off = 8192; off < SEG; off += 100_000) {
    const n = Math.min(100_000, SEG - off);
    ini.dataOut({ itt: d, lba: 416, offset: off, length: n, dataSN: sn++, final: off + n >= SEG });
  }
  // Small writes queued while the big one waits for its data.
  for (let i = 0; i < 20; i++) itts.push(ini.write(1616 + 8 * i, 8, { immediateData: 4096 }));
  ini.answerR2T(first, 416, 70_001);
  const second = ini.take().find((p): p is TargetPdu => p.opcode === TOp.R2T && p.itt === d);
  assert.ok(second !== undefined, 'R2T for the second solicited burst');
  ini.answerR2T(second, 416, 65_537);
  const out = ini.take();
  for (const itt of itts) {
    assert.ok(out.some((p) => p.itt === itt && p.opcode === TOp.ScsiResponse && p.status === 0) ||
      wire.sent.some((p) => p.itt === itt && p.opcode === TOp.ScsiResponse && p.status === 0), `GOOD status of 0x${itt.toString(16)}`);
  }
  assert.deepEqual(host.problems(), []);
  return { stream: Buffer.concat(wire.stream), disk: Buffer.from(host.dev.data), writes: itts.length };
}

/** Replays `rec.stream` cut at `cuts` through onread; resolves once every write has its status. */
async function replay(rec: Recording, cuts: readonly number[], digests: boolean, sharedSize?: number): Promise<TcpUnderTest> {
  const host = new TestConnectionHost({ blocks: BLOCKS, asyncDevice: true });
  for (const [k, v] of Object.entries(settings(digests))) host.params.set(k, v);
  // The store reads the data a turn later (a pwritev from the pool would), not when it is called.
  const dev = host.dev;
  const write = dev.write.bind(dev);
  dev.write = (offset, data, cb) => setImmediate(() => write(offset, data, cb));
  const wire = new TcpUnderTest(host, { onread: true, sharedSize });
  let from = 0;
  for (const at of [...cuts, rec.stream.length]) {
    if (at > from) wire.chunk(rec.stream.subarray(from, at));
    from = at;
  }
  const good = (): number => wire.sent.filter((p) => p.opcode === TOp.ScsiResponse && p.status === 0).length;
  await until(() => good() >= rec.writes && host.ioInFlight === 0, `every write answered (${good()} of ${rec.writes}, closed: ${wire.conn.isClosed}, ${host.problems().join('; ')}, ${JSON.stringify(host.logs.slice(-3))})`);
  assert.deepEqual(host.problems(), []);
  assert.equal(wire.conn.isClosed, false);
  const at = firstDifference(host.dev.data, rec.disk);
  assert.equal(at, -1, `disk differs from the recording at byte ${at} (0x${host.dev.data[at]?.toString(16)})`);
  return wire;
}

/**
 * Replays `rec.stream` in `size`-byte reads, one event-loop turn apart, with a store that takes the
 * data two turns after its write call: commands finish while later data arrives, so exhausted
 * arenas are reused (rx-arena.ts) while other writes still hold theirs.
 */
async function replayOverTurns(rec: Recording, size: number): Promise<TcpUnderTest> {
  const host = new TestConnectionHost({ blocks: BLOCKS, asyncDevice: true });
  for (const [k, v] of Object.entries(settings(false))) host.params.set(k, v);
  const dev = host.dev;
  const write = dev.write.bind(dev);
  dev.write = (offset, data, cb) => setImmediate(() => setImmediate(() => write(offset, data, cb)));
  const wire = new TcpUnderTest(host, { onread: true });
  for (let at = 0; at < rec.stream.length; at += size) {
    wire.chunk(rec.stream.subarray(at, Math.min(at + size, rec.stream.length)));
    await new Promise<void>((r) => setImmediate(r));
  }
  const good = (): number => wire.sent.filter((p) => p.opcode === TOp.ScsiResponse && p.status === 0).length;
  await until(() => good() >= rec.writes && host.ioInFlight === 0, `every write answered (${good()} of ${rec.writes})`);
  assert.deepEqual(host.problems(), []);
  const at = firstDifference(host.dev.data, rec.disk);
  assert.equal(at, -1, `disk differs from the recording at byte ${at} (0x${host.dev.data[at]?.toString(16)})`);
  return wire;
}

function firstDifference(a: Buffer, b: Buffer): number {
  if (a.equals(b)) return -1;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return a.length;
}

/** Offsets of the PDUs of `stream` (digests after the login's two PDUs), for cuts around each boundary. */
function boundaries(stream: Buffer, digests: boolean): number[] {
  const out: number[] = [];
  let o = 0;
  let n = 0;
  while (o < stream.length) {
    out.push(o);
    const ahs = stream[o + 4]! * 4;
    const len = stream.readUIntBE(o + 5, 3);
    const dg = digests && n >= 2;
    o += 48 + ahs + (dg ? 4 : 0) + ((len + 3) & ~3) + (dg && len > 0 ? 4 : 0);
    n++;
  }
  assert.equal(o, stream.length);
  return out;
}

/** Deterministic chunk sizes (xorshift), 1 to `max` bytes. */
function randomCuts(length: number, seed: number, max: number): number[] {
  const cuts: number[] = [];
  let x = seed;
  for (let at = 0; ;) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    at += 1 + ((x >>> 0) % max);
    if (at >= length) return cuts;
    cuts.push(at);
  }
}

for (const digests of [false, true]) {
  const name = digests ? 'digests on' : 'digests off';

  test(`onread (${name}): pipelined writes read through a scribbled shared buffer land byte for byte, cut around every PDU boundary`, async () => {
    const rec = record(digests);
    assert.ok(rec.stream.length > 900_000, `stream of ${rec.stream.length} bytes`);
    const one = await replay(rec, [], digests);
    assert.ok(one.sharedReads > 0 && one.reads > one.sharedReads, `shared and own reads both used (${one.sharedReads} of ${one.reads})`);
    for (const b of boundaries(rec.stream, digests)) {
      for (const d of [-5, -1, 1, 4, 48, 52]) {
        const at = b + d;
        if (at > 0 && at < rec.stream.length) await replay(rec, [at], digests);
      }
    }
  });

  if (!digests) {
    test('onread: arenas whose writes are done are reused while other writes still hold theirs, and every byte lands', async () => {
      const rec = record(false);
      let reused = 0;
      for (const size of [4096, 20_000, 65_536, 131_072]) reused += (await replayOverTurns(rec, size)).conn.rxArenasReused;
      assert.ok(reused > 0, 'some arenas were reused');
    });
  }

  test(`onread (${name}): random read sizes, and a shared buffer smaller than a PDU, land byte for byte`, async () => {
    const rec = record(digests);
    for (let seed = 1; seed <= 12; seed++) await replay(rec, randomCuts(rec.stream.length, seed, seed <= 6 ? 300 : 90_000), digests);
    for (const size of [48, 100, 1000, 4096]) await replay(rec, randomCuts(rec.stream.length, size, 5000), digests, size);
  });
}
