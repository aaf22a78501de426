// Fault tests (issue 9 item 4.1): a failing backing store (examples/stgt-bs-faulty) under the real tgtd - sense per errno, a memory LUN beside it unaffected, a store that takes seconds.
//
// Expected sense (SPC-4 Annex D codes; Cmd.ioFail in src/scsi/command.ts):
//   a failed READ, whatever the errno          MEDIUM ERROR 03h / UNRECOVERED READ ERROR 11h/00h
//   WRITE or SYNCHRONIZE CACHE with EIO         MEDIUM ERROR 03h / WRITE ERROR 0Ch/00h
//   ... with ENOSPC (the host file has no room) DATA PROTECT 07h / SPACE ALLOCATION FAILED WRITE PROTECT 27h/07h
//   ... with EROFS (host fs remounted ro)      DATA PROTECT 07h / WRITE PROTECTED 27h/00h
// Every test ends with the leak checks of test/helpers/leaks.ts once its clients are gone.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, TestDaemon, waitFor } from '../helpers/daemon.js';
import { assertAlive, assertNoLeaks, baseline, rssMiB } from '../helpers/leaks.js';
import { ScsiClient, senseTriple, type ScsiResult } from '../helpers/scsi-client.js';

const IQN = 'iqn.2026-11.org.stgt.test:faults-store';
const FAULTY = join(repoRoot(), 'examples', 'stgt-bs-faulty', 'index.js');
const daemons: TestDaemon[] = [];
const clients: ScsiClient[] = [];
after(() => {
  clients.forEach((c) => c.close());
  daemons.forEach((d) => d.kill());
});

const MEM_LUN = 1;
/** Blocks 100-199 fail on read, 300-399 on write; SYNCHRONIZE CACHE always fails. */
const RULES = 'read_error=100-199;write_error=300-399;flush_error=yes';
const ERRNO_LUNS = [
  { lun: 2, errno: 'EIO', write: [0x03, 0x0c, 0x00] },
  { lun: 3, errno: 'ENOSPC', write: [0x07, 0x27, 0x07] },
  { lun: 4, errno: 'EROFS', write: [0x07, 0x27, 0x00] },
] as const;
const READ_ERROR = [0x03, 0x11, 0x00];
const SLOW_LUN = 5;
const SLOW_MS = 3000;

async function startDaemon(): Promise<{ d: TestDaemon; disk: string }> {
  const d = await TestDaemon.start();
  daemons.push(d);
  await d.tgtadmOk('--mode', 'system', '--op', 'bsload', '--bstype', FAULTY);
  await d.addTarget(1, IQN);
  const disk = join(d.dir, 'faulty.img');
  writeFileSync(disk, '');
  truncateSync(disk, 16 << 20);
  await d.addLun(1, MEM_LUN, '16M', ['--bstype', 'memory']);
  return { d, disk };
}

async function connect(d: TestDaemon, name: string, luns: readonly number[]): Promise<ScsiClient> {
  const c = await ScsiClient.login(d.iscsiPort, IQN, `iqn.2026-11.org.stgt.test:${name}`);
  clients.push(c);
  for (const lun of luns) await c.clearUa(lun);
  return c;
}

const pattern = (blocks: number, seed: number): Buffer => {
  const b = Buffer.alloc(blocks * 512);
  for (let i = 0; i < b.length; i += 4) b.writeUInt32LE((i * 2654435761 + seed) >>> 0, i);
  return b;
};

function checkFailed(r: ScsiResult, sense: readonly number[], what: string): void {
  assert.equal(r.status, 0x02, `${what}: CHECK CONDITION expected, got status ${r.status}`);
  assert.deepEqual(senseTriple(r.sense), sense, `${what}: sense key/ASC/ASCQ`);
}

test('EIO, ENOSPC, EROFS on read, write and flush: the right sense each time, the memory LUN beside serves on', { timeout: 60_000 }, async () => {
  const { d, disk } = await startDaemon();
  for (const e of ERRNO_LUNS) await d.addLun(1, e.lun, disk, ['--bstype', 'faulty', '--bsopts', `${RULES};errno=${e.errno}`]);
  const base = baseline(d);
  const c = await connect(d, 'errno', [MEM_LUN, ...ERRNO_LUNS.map((e) => e.lun)]);

  let round = 0;
  for (const e of ERRNO_LUNS) {
    // One pipelined batch per errno: failing and good commands on the faulty LUN interleaved with
    // a write and a read-back on the memory LUN, all outstanding together.
    const memData = pattern(64, ++round);
    const memLba = round * 64;
    const good = pattern(8, 100 + round);
    const sync10 = Buffer.from([0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const [badRead, memWrite, badWrite, goodWrite, memRead, goodRead, straddle, badSync] = await Promise.all([
      c.read16(e.lun, 150, 8),
      c.write16(MEM_LUN, memLba, memData),
      c.write16(e.lun, 300, pattern(8, 7)),
      c.write16(e.lun, 8 * round, good),
      c.read16(MEM_LUN, memLba, 64),
      c.read16(e.lun, 8 * round, 8),
      c.read16(e.lun, 96, 8), // 96-103: its last four blocks are in the failing range
      c.command(sync10, { lun: e.lun }),
    ]);
    checkFailed(badRead, READ_ERROR, `${e.errno} READ`);
    assert.equal(badRead.dataInBytes, 0, 'no data with a failed read');
    checkFailed(straddle, READ_ERROR, `${e.errno} READ across the range start`);
    checkFailed(badWrite, e.write, `${e.errno} WRITE`);
    checkFailed(badSync, e.write, `${e.errno} SYNCHRONIZE CACHE`);
    const unwritten = await c.read16(e.lun, 300, 8);
    assert.equal(unwritten.status, 0);
    assert.ok(unwritten.data.equals(Buffer.alloc(8 * 512)), `${e.errno}: the failed write wrote nothing`);
    assert.equal(goodWrite.status, 0, `${e.errno}: a write outside the ranges`);
    // The write before it in the batch may still be in flight when the read runs (no ordering
    // between SIMPLE tasks), so read the good range again now.
    assert.equal(goodRead.status, 0);
    const again = await c.read16(e.lun, 8 * round, 8);
    assert.equal(again.status, 0);
    assert.ok(again.data.equals(good), `${e.errno}: data outside the ranges reads back`);
    assert.equal(memWrite.status, 0, 'memory LUN write');
    assert.equal(memRead.status, 0, 'memory LUN read');
    const memAgain = await c.read16(MEM_LUN, memLba, 64);
    assert.ok(memAgain.data.equals(memData), 'memory LUN data intact');
  }
  assertAlive(d);
  c.close();
  const after = await assertNoLeaks(d, base, { rssSlackMiB: 64 });
  // The faulty LUNs can go and the store unloads (nothing of it is held any more).
  for (const e of ERRNO_LUNS) await d.tgtadmOk('--mode', 'logicalunit', '--op', 'delete', '--tid', '1', '--lun', String(e.lun));
  await d.tgtadmOk('--mode', 'system', '--op', 'bsunload', '--bstype', 'faulty');
  console.log(`errno faults: RSS ${base.rss.toFixed(0)} -> ${after.rss.toFixed(0)} MiB, sockets ${base.sockets} -> ${after.sockets}`);
  await d.stop();
});

test(`a store that takes ${SLOW_MS / 1000} s per I/O: the command completes; the memory LUN answers meanwhile`, { timeout: 60_000 }, async () => {
  const { d, disk } = await startDaemon();
  await d.addLun(1, SLOW_LUN, disk, ['--bstype', 'faulty', '--bsopts', `delay_ms=${SLOW_MS}`]);
  const base = baseline(d);
  const c = await connect(d, 'slow', [MEM_LUN, SLOW_LUN]);
  // A second nexus on the same target, to see that the other sessions do not wait either.
  const other = await connect(d, 'bystander', [MEM_LUN]);

  const written = pattern(16, 42);
  let slowDone = false;
  const slowWrite = c.write16(SLOW_LUN, 64, written).then((r) => {
    slowDone = true;
    return r;
  });
  // While the slow write is in the store: memory-LUN I/O on the same connection and on another
  // session completes, each one checked to have finished while the slow write is still outstanding.
  let fastWhileSlow = 0;
  for (let i = 0; i < 20 && !slowDone; i++) {
    const data = pattern(8, i);
    const cl = i % 2 === 0 ? c : other;
    assert.equal((await cl.write16(MEM_LUN, i * 8, data)).status, 0);
    const r = await cl.read16(MEM_LUN, i * 8, 8);
    assert.equal(r.status, 0);
    assert.ok(r.data.equals(data));
    if (!slowDone) fastWhileSlow++;
  }
  assert.equal(slowDone, false, `the slow write finished before 20 memory-LUN round trips (${fastWhileSlow} done)`);
  assert.equal(fastWhileSlow, 20);
  assert.equal(c.outstanding, 1, 'the slow write is the one command still outstanding');
  assert.equal((await slowWrite).status, 0, 'the slow write completes with GOOD');

  // A slow read, with the same check from the other session.
  let readDone = false;
  const slowRead = c.read16(SLOW_LUN, 64, 16).then((r) => {
    readDone = true;
    return r;
  });
  let fast = 0;
  for (let i = 0; i < 10 && !readDone; i++) {
    assert.equal((await other.read16(MEM_LUN, 0, 8)).status, 0);
    if (!readDone) fast++;
  }
  assert.equal(fast, 10, 'the memory LUN answered 10 reads while the slow read was outstanding');
  const r = await slowRead;
  assert.equal(r.status, 0);
  assert.ok(r.data.equals(written), 'the slow store returns what the slow write stored');

  // A client that leaves while its command is still in the slow store: the command finishes
  // into a closed connection, and nothing is left behind.
  const leaver = await connect(d, 'leaver', [SLOW_LUN, MEM_LUN]);
  const rssBefore = rssMiB(d.pid);
  void leaver.read16(SLOW_LUN, 0, 2048);
  await leaver.write16(MEM_LUN, 0, pattern(1, 1)); // the read is queued in the store by now
  leaver.close();
  c.close();
  other.close();
  const after = await assertNoLeaks(d, base, { timeoutMs: SLOW_MS + 15_000, rssSlackMiB: 64 });
  // The LUN cannot be deleted while the leaver's read is still in the store ("this logical unit
  // is still active", exit 22, as tgt answers for an LU with commands queued or running); once
  // the store answers, the delete succeeds.
  let refused = 0;
  await waitFor(async () => {
    const r = await d.tgtadm('--mode', 'logicalunit', '--op', 'delete', '--tid', '1', '--lun', String(SLOW_LUN));
    if (r.code === 0) return true;
    assert.deepEqual([r.code, r.stderr], [22, 'tgtadm: this logical unit is still active\n']);
    refused++;
    return false;
  }, SLOW_MS + 15_000, 'the slow LUN to be deleted');
  assertAlive(d);
  console.log(`slow store: ${fastWhileSlow} memory round trips during one ${SLOW_MS} ms write; ` +
    `LUN delete refused ${refused} times while the orphaned read was in the store; ` +
    `RSS ${base.rss.toFixed(0)} -> ${rssBefore.toFixed(0)} -> ${after.rss.toFixed(0)} MiB`);
  await d.stop();
});
