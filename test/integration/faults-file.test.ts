// Fault tests (issue 9 item 4.2): the backing file of an rdwr LUN truncated or unlinked under tgtd while a session uses it.
//
// What an administrator gets, and why:
// - Truncated: blocks still inside the file read and write as before. A read that reaches past
//   the new end of the file answers CHECK CONDITION, MEDIUM ERROR / UNRECOVERED READ ERROR, as
//   stock tgt does (its short pread is a medium error): the data there is gone, and zeros would
//   be a silent corruption that a filesystem on the initiator trusts as its own metadata. READ
//   CAPACITY keeps the size the LUN was created with until the admin says otherwise; a write
//   past the end lands (pwrite grows the file again, sparse in between), as with tgt.
// - Unlinked: the LUN keeps its open file, so it goes on serving the same data, like any Unix
//   file that is open; the space comes back when the LUN is deleted (the fd is closed then).
// In both cases tgtd goes on serving the other LUNs, the LUN can be deleted, and nothing leaks.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readlinkSync, statSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestDaemon } from '../helpers/daemon.js';
import { assertAlive, assertNoLeaks, baseline } from '../helpers/leaks.js';
import { ScsiClient, senseTriple } from '../helpers/scsi-client.js';

const IQN = 'iqn.2026-11.org.stgt.test:faults-file';
const daemons: TestDaemon[] = [];
const clients: ScsiClient[] = [];
after(() => {
  clients.forEach((c) => c.close());
  daemons.forEach((d) => d.kill());
});

const MIB_BLOCKS = 2048; // 512-byte blocks per MiB

const pattern = (blocks: number, seed: number): Buffer => {
  const b = Buffer.alloc(blocks * 512);
  for (let i = 0; i < b.length; i += 4) b.writeUInt32LE((i * 2246822519 + seed * 97) >>> 0, i);
  return b;
};

/** Paths tgtd holds open (targets of /proc/PID/fd links). */
function openPaths(pid: number): string[] {
  const out: string[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      out.push(readlinkSync(`/proc/${pid}/fd/${fd}`));
    } catch {
      /* gone */
    }
  }
  return out;
}

/** READ CAPACITY(10): the number of blocks (last LBA + 1). */
async function capacityBlocks(c: ScsiClient, lun: number): Promise<number> {
  const r = await c.command(Buffer.from([0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0]), { lun, readLen: 8 });
  assert.equal(r.status, 0);
  return r.data.readUInt32BE(0) + 1;
}

/** After a LUN delete the next command of the nexus reports UNIT ATTENTION / REPORTED LUNS DATA HAS CHANGED. */
async function expectLunsChanged(c: ScsiClient): Promise<void> {
  const r = await c.command(Buffer.alloc(6), { lun: 1 });
  assert.equal(r.status, 0x02);
  assert.deepEqual(senseTriple(r.sense), [0x06, 0x3f, 0x0e]);
}

async function setup(name: string): Promise<{ d: TestDaemon; disk: string }> {
  const d = await TestDaemon.start();
  daemons.push(d);
  await d.addTarget(1, IQN);
  await d.addLun(1, 1, '16M', ['--bstype', 'memory']);
  const disk = join(d.dir, `${name}.img`);
  writeFileSync(disk, '');
  truncateSync(disk, 32 << 20);
  await d.addLun(1, 2, disk, ['--bstype', 'rdwr']);
  return { d, disk };
}

async function login(d: TestDaemon, name: string): Promise<ScsiClient> {
  const c = await ScsiClient.login(d.iscsiPort, IQN, `iqn.2026-11.org.stgt.test:${name}`);
  clients.push(c);
  await c.clearUa(1);
  await c.clearUa(2);
  return c;
}

test('backing file truncated under the LUN: past the new end a MEDIUM ERROR, inside it the data; tgtd serves on; the LUN deletes', { timeout: 60_000 }, async () => {
  const { d, disk } = await setup('truncated');
  const base = baseline(d);
  const c = await login(d, 'truncate');
  const head = pattern(MIB_BLOCKS, 1);
  const tail = pattern(MIB_BLOCKS, 2);
  assert.equal((await c.write16(2, 0, head)).status, 0);
  assert.equal((await c.write16(2, 30 * MIB_BLOCKS, tail)).status, 0);

  truncateSync(disk, 8 << 20);

  const inside = await c.read16(2, 0, MIB_BLOCKS);
  assert.equal(inside.status, 0, 'a read inside the new end');
  assert.ok(inside.data.equals(head), 'the data inside the new end is intact');
  const beyond = await c.read16(2, 30 * MIB_BLOCKS, MIB_BLOCKS);
  assert.equal(beyond.status, 0x02, `a read past the new end: CHECK CONDITION, got ${beyond.status}`);
  assert.deepEqual(senseTriple(beyond.sense), [0x03, 0x11, 0x00], 'MEDIUM ERROR / UNRECOVERED READ ERROR');
  const across = await c.read16(2, 8 * MIB_BLOCKS - 8, 16);
  assert.deepEqual(senseTriple(across.sense), [0x03, 0x11, 0x00], 'a read across the new end fails as a whole');
  assert.equal(await capacityBlocks(c, 2), 32 * MIB_BLOCKS, 'READ CAPACITY keeps the size the LUN was made with');
  // The log says what happened, once (not a line per failed read).
  await d.waitForLog(/truncated\.img: read at byte \d+ is past the end of the file \(8388608 bytes now, 33554432 when the LU was created\)/);
  assert.equal((d.stderr.match(/past the end of the file/g) ?? []).length, 1, d.stderr);
  // The memory LUN beside it, and the inside of this one, keep working on the same session.
  const m = pattern(64, 3);
  assert.equal((await c.write16(1, 0, m)).status, 0);
  assert.ok((await c.read16(1, 0, 64)).data.equals(m));
  assert.equal((await c.write16(2, 16, m)).status, 0);
  assert.ok((await c.read16(2, 16, 64)).data.equals(m));

  // Truncated to nothing: every read fails the same way, nothing hangs.
  truncateSync(disk, 0);
  const none = await Promise.all([0, 100, 65_000].map((lba) => c.read16(2, lba, 8)));
  for (const r of none) assert.deepEqual(senseTriple(r.sense), [0x03, 0x11, 0x00]);

  // A write past the end lands (the file grows back to cover it) and reads back.
  const w = pattern(8, 4);
  assert.equal((await c.write16(2, 20 * MIB_BLOCKS, w)).status, 0);
  assert.equal(statSync(disk).size, 20 * (1 << 20) + 4096);
  assert.ok((await c.read16(2, 20 * MIB_BLOCKS, 8)).data.equals(w));

  // The LUN deletes with the session still logged in; the session goes on with LUN 1.
  await d.tgtadmOk('--mode', 'logicalunit', '--op', 'delete', '--tid', '1', '--lun', '2');
  assert.ok(!openPaths(d.pid).includes(disk), 'tgtd closed the backing file');
  await expectLunsChanged(c);
  assert.ok((await c.read16(1, 0, 64)).data.equals(m));
  assertAlive(d);
  c.close();
  const end = await assertNoLeaks(d, base, { rssSlackMiB: 64 });
  console.log(`truncate: RSS ${base.rss.toFixed(0)} -> ${end.rss.toFixed(0)} MiB, sockets ${base.sockets} -> ${end.sockets}`);
  await d.stop();
});

test('backing file unlinked under the LUN: it serves the same data until deleted, then the file is closed', { timeout: 60_000 }, async () => {
  const { d, disk } = await setup('unlinked');
  const base = baseline(d);
  const c = await login(d, 'unlink');
  const data = pattern(MIB_BLOCKS, 5);
  assert.equal((await c.write16(2, 4 * MIB_BLOCKS, data)).status, 0);

  unlinkSync(disk);
  assert.ok(!existsSync(disk));
  assert.ok(openPaths(d.pid).includes(`${disk} (deleted)`), 'tgtd still holds the unlinked file open');
  const r = await c.read16(2, 4 * MIB_BLOCKS, MIB_BLOCKS);
  assert.equal(r.status, 0);
  assert.ok(r.data.equals(data), 'the unlinked file still has its data');
  const more = pattern(64, 6);
  assert.equal((await c.write16(2, 0, more)).status, 0);
  assert.ok((await c.read16(2, 0, 64)).data.equals(more));
  // SYNCHRONIZE CACHE on the unlinked file works too (fdatasync of an open inode).
  assert.equal((await c.command(Buffer.from([0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0]), { lun: 2 })).status, 0);
  assert.match(await d.tgtadmOk('--mode', 'target', '--op', 'show'), new RegExp(`Backing store path: ${disk}\\n`));

  await d.tgtadmOk('--mode', 'logicalunit', '--op', 'delete', '--tid', '1', '--lun', '2');
  assert.ok(!openPaths(d.pid).some((p) => p.startsWith(disk)), 'deleting the LUN closed the unlinked file (its space is free)');
  await expectLunsChanged(c);
  assert.equal((await c.read16(1, 0, 8)).status, 0, 'the memory LUN serves on');
  assertAlive(d);
  c.close();
  const end = await assertNoLeaks(d, base, { rssSlackMiB: 64 });
  console.log(`unlink: RSS ${base.rss.toFixed(0)} -> ${end.rss.toFixed(0)} MiB, sockets ${base.sockets} -> ${end.sockets}`);
  await d.stop();
});
