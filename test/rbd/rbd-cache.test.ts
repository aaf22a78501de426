// One LU through two stgt gateways stays coherent (issue 12, SPC-4 / SBC-4: one logical unit, one cache): no librbd client cache unless asked for.
//
// A real one-node Ceph and two tgtd exporting the same image as one LU (rbd-helpers startGateways).
// The gateways read a ceph.conf whose [client] section turns librbd's cache into the kinds that
// hold data: write-back (what many hypervisor hosts configure; librbd 16's own default policy is
// write-around, which acknowledges a write before the OSDs have it but caches no reads) and
// write-through (caches reads). "rbd cache max dirty age" is raised so librbd's flusher thread
// does not write dirty data back during the test: the outcome depends on the cache, not on timing.
// librbd's exclusive lock (a default image feature) bounds the damage but does not prevent it: a
// writer that loses the lock writes back and drops its cache, but reads take no lock.
import { test } from 'node:test';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import assert from 'node:assert/strict';
import type { TestDaemon } from '../helpers/daemon.js';
import { ScsiClient, senseTriple } from '../helpers/scsi-client.js';
import { GATEWAY_IQN, GATEWAY_LUN as LUN, rbdUnavailable, startGateways, CephFixture } from './rbd-helpers.js';

const INI = 'iqn.2026-12.org.stgt.test:cache-initiator';
/** Block X: 4 KiB at LBA 64 (512-byte blocks), inside the first RADOS object. */
const X = 64;
const LEN = 4096;

const SKIP = rbdUnavailable();
if (SKIP !== null) console.log(`# rbd cache tests skipped: ${SKIP}`);
const skip = SKIP ?? false;

const fx = new CephFixture(SKIP);

/** bsopts naming a client configuration with librbd cache policy `policy` (and `extra` appended). */
function cacheConf(policy: 'writeback' | 'writethrough', extra = ''): string {
  const c = fx.cluster;
  const conf = c.clientConf(`client-${policy}.conf`, {
    'rbd cache': 'true',
    'rbd cache policy': policy,
    'rbd cache writethrough until flush': 'true',
    'rbd cache max dirty age': '300',
  });
  return `conf=${conf};id=admin${extra}`;
}

async function paths(image: string, bsopts: string, disableFeatures: readonly string[] = []): Promise<[ScsiClient, ScsiClient, TestDaemon[]]> {
  const pair = await startGateways(fx.cluster, image, fx.daemons, { bsopts, disableFeatures });
  const out: ScsiClient[] = [];
  for (const [g, side] of [[pair[0], 'a'], [pair[1], 'b']] as const) {
    const s = await ScsiClient.login(g.iscsiPort, GATEWAY_IQN, `${INI}-${image}-${side}`);
    fx.clients.push(s);
    await s.clearUa(LUN);
    out.push(s);
  }
  return [out[0]!, out[1]!, pair];
}

const pattern = (byte: number): Buffer => Buffer.alloc(LEN, byte);

async function write(s: ScsiClient, data: Buffer, what: string): Promise<void> {
  const r = await s.write16(LUN, X, data);
  assert.equal(r.status, 0, `${what}: ${JSON.stringify(senseTriple(r.sense))}`);
}

/** The byte block X holds through `s` ('mixed' if it is not one pattern). */
async function readX(s: ScsiClient): Promise<number | 'mixed'> {
  const r = await s.read16(LUN, X, LEN / 512);
  assert.equal(r.status, 0, JSON.stringify(senseTriple(r.sense)));
  const b = r.data.subarray(0, LEN);
  return b.equals(Buffer.alloc(LEN, b[0]!)) ? b[0]! : 'mixed';
}

/** SYNCHRONIZE CACHE (10) of the whole LU (SBC-4 5.26). */
async function sync(s: ScsiClient, what: string): Promise<void> {
  const r = await s.command(Buffer.from([0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0]), { lun: LUN });
  assert.equal(r.status, 0, `${what}: ${JSON.stringify(senseTriple(r.sense))}`);
}

const P1 = 0x11, P2 = 0x22, P3 = 0x33, P4 = 0x44;

/** Features that make a writer take the exclusive lock; without them two gateways write the image at once. */
const LOCKING = ['object-map', 'fast-diff', 'exclusive-lock'];

for (const [label, image, disableFeatures] of [['with exclusive-lock', 'wb', []], ['without exclusive-lock', 'wbnolock', LOCKING]] as const) {
  test(`two gateways, write-back librbd cache in ceph.conf, image ${label}: a write acknowledged through A is read through B, and A's SYNCHRONIZE CACHE does not bring back data older than B's`, { skip, timeout: 180_000 }, async () => {
    const [viaA, viaB, gws] = await paths(image, cacheConf('writeback'), disableFeatures);
    await write(viaA, pattern(P1), 'X = P1 through A');
    // librbd is write-through until the first flush, then write-back (rbd_cache_writethrough_until_flush).
    await sync(viaA, 'first SYNCHRONIZE CACHE through A');
    await write(viaA, pattern(P2), 'X = P2 through A');
    // A read takes no exclusive lock: nothing makes A write its dirty data back first.
    assert.equal(await readX(viaB), P2, 'B reads what A acknowledged (a write-back cache in A would still hold it)');
    // With exclusive-lock, B's write takes the lock and A writes back and drops its cache on releasing it;
    // without, A keeps P2 dirty and writes it back on its next flush.
    await write(viaB, pattern(P3), 'X = P3 through B');
    await sync(viaA, 'SYNCHRONIZE CACHE through A');
    assert.equal(await readX(viaB), P3, 'A\'s flush must not write its older P2 over B\'s P3');
    assert.equal(await readX(viaA), P3, 'A reads B\'s write, not its own cached P2');
    for (const g of gws) await g.stop(30_000);
  });
}

test('two gateways, write-through librbd cache in ceph.conf: a block A has read, then B writes, reads back B\'s data through A', { skip, timeout: 180_000 }, async () => {
  const [viaA, viaB, gws] = await paths('wt', cacheConf('writethrough'));
  // B writes first and so holds the exclusive lock throughout: A only reads and is never told to drop its cache.
  await write(viaB, pattern(P1), 'X = P1 through B');
  assert.equal(await readX(viaA), P1, 'A reads P1 (and a read cache keeps it)');
  await write(viaB, pattern(P4), 'X = P4 through B');
  assert.equal(await readX(viaB), P4);
  assert.equal(await readX(viaA), P4, 'A must not serve its cached P1 after B wrote P4');
  for (const g of gws) await g.stop(30_000);
});

/** Block X as the image holds it in Ceph (rbd export, past every gateway's cache). */
async function inCeph(image: string): Promise<number | 'mixed'> {
  const file = join(mkdtempSync(join(tmpdir(), 'stgt-rbdcache-')), 'img');
  await fx.cluster.rbdOk('export', `rbd/${image}`, file);
  const b = readFileSync(file).subarray(X * 512, X * 512 + LEN);
  rmSync(dirname(file), { recursive: true, force: true });
  return b.equals(Buffer.alloc(LEN, b[0]!)) ? b[0]! : 'mixed';
}

test('cache=librbd (one gateway only) keeps librbd\'s cache as ceph.conf configures it: a write-back write stays in A until A\'s SYNCHRONIZE CACHE', { skip, timeout: 180_000 }, async () => {
  // The incoherence this option accepts is the evidence that it is honoured.
  const [viaA, , gws] = await paths('optin', cacheConf('writeback', ';cache=librbd'));
  await write(viaA, pattern(P1), 'X = P1 through A');
  await sync(viaA, 'first SYNCHRONIZE CACHE through A');
  await write(viaA, pattern(P2), 'X = P2 through A');
  assert.equal(await inCeph('optin'), P1, 'with librbd\'s write-back cache, A still holds P2');
  await sync(viaA, 'SYNCHRONIZE CACHE through A');
  assert.equal(await inCeph('optin'), P2, 'SYNCHRONIZE CACHE through A writes P2 back (the store calls rbd_flush)');
  for (const g of gws) await g.stop(30_000);
});
