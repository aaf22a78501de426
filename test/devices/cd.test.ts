// cd/dvd device type end to end on the host: tgtadm makes the LU, an iSCSI initiator sends MMC commands (tgt mmc.c behaviour).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestDaemon } from '../helpers/daemon.js';
import { ScsiClient, senseTriple } from '../helpers/scsi-client.js';

const IQN = 'iqn.2026-12.org.stgt.test:cd';
const GENISO = '/usr/bin/genisoimage';
const daemons: TestDaemon[] = [];
const clients: ScsiClient[] = [];
after(async () => {
  for (const c of clients) c.close();
  for (const d of daemons) await d.stop();
});

/** An ISO9660 image holding two files; returns its path and bytes. */
function makeIso(dir: string, name: string, text: string): string {
  const src = join(dir, `${name}-src`);
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, 'hello.txt'), text);
  writeFileSync(join(src, 'big.bin'), Buffer.alloc(300 * 1024, 0x5a));
  const iso = join(dir, `${name}.iso`);
  const r = spawnSync(GENISO, ['-quiet', '-r', '-V', name.toUpperCase(), '-o', iso, src], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return iso;
}

const cdb = (...b: number[]): Buffer => {
  const c = Buffer.alloc(b.length < 10 ? 10 : b.length);
  Buffer.from(b).copy(c);
  return c;
};

test('a cd LU serves an ISO: INQUIRY type 05h removable, READ CAPACITY 2048, TOC, configuration, reads; eject, PREVENT, new media by path= with a unit attention', { skip: existsSync(GENISO) ? false : `${GENISO} is not installed` }, async () => {
  const d = await TestDaemon.start();
  daemons.push(d);
  const iso1 = makeIso(d.dir, 'one', 'hello from one\n');
  const iso2 = makeIso(d.dir, 'two', 'and this is two\n');
  await d.addTarget(1, IQN);
  await d.tgtadmOk('--mode', 'logicalunit', '--op', 'new', '--tid', '1', '--lun', '1', '-b', iso1, '--device-type', 'cd');
  // a cd with no medium: tgt makes it without -b
  await d.tgtadmOk('--mode', 'logicalunit', '--op', 'new', '--tid', '1', '--lun', '2', '--device-type', 'cd');
  const show = await d.tgtadmOk('--mode', 'target', '--op', 'show');
  assert.match(show, /LUN: 1\n {12}Type: cd\/dvd\n/);
  assert.match(show, /LUN: 1\n(?: {12}.*\n)*? {12}Removable media: Yes\n(?: {12}.*\n)*? {12}Backing store type: mmc\n {12}Backing store path: .*one\.iso\n/);
  assert.match(show, /LUN: 2\n {12}Type: cd\/dvd\n(?: {12}.*\n)*? {12}Online: No\n/);
  const sys = await d.tgtadmOk('--mode', 'system', '--op', 'show');
  assert.match(sys, /Device types:\n {4}disk\n {4}cd\/dvd\n {4}controller\n/);

  const c = await ScsiClient.login(d.iscsiPort, IQN, 'iqn.2026-12.org.stgt.test:cd-init');
  clients.push(c);
  await c.clearUa(1);
  await c.command(cdb(0x00), { lun: 2 }); // takes the power-on unit attention (the drive never gets ready)
  const inq = await c.command(Buffer.from([0x12, 0, 0, 0, 96, 0]), { lun: 1, readLen: 96 });
  assert.equal(inq.status, 0);
  assert.deepEqual([inq.data[0], inq.data[1]], [0x05, 0x80]);
  assert.equal(inq.data.subarray(16, 32).toString('latin1').trim(), 'VIRTUAL-CDROM');

  const isoBytes = readFileSync(iso1);
  const blocks = isoBytes.length / 2048;
  const cap = await c.command(cdb(0x25), { lun: 1, readLen: 8 });
  assert.deepEqual([cap.status, cap.data.readUInt32BE(0), cap.data.readUInt32BE(4)], [0, blocks - 1, 2048]);
  // READ(10) of the primary volume descriptor (block 16): "CD001" and the volume id
  const pvd = await c.command(cdb(0x28, 0, 0, 0, 0, 16, 0, 0, 1), { lun: 1, readLen: 2048 });
  assert.equal(pvd.status, 0);
  assert.deepEqual(pvd.data, isoBytes.subarray(16 * 2048, 17 * 2048));
  assert.equal(pvd.data.subarray(1, 6).toString('latin1'), 'CD001');
  const toc = await c.command(cdb(0x43, 0, 0, 0, 0, 0, 0, 0, 32), { lun: 1, readLen: 32 });
  assert.equal(toc.status, 0);
  assert.deepEqual([...toc.data.subarray(0, 4)], [0, 0x12, 1, 1]);
  assert.equal(toc.data.readUInt32BE(16), blocks); // lead-out
  const conf = await c.command(cdb(0x46, 0, 0, 0, 0, 0, 0, 0x04, 0), { lun: 1, readLen: 1024 });
  assert.equal(conf.status, 0);
  assert.equal(conf.data.readUInt16BE(6), 0x0010); // current profile DVD-ROM
  const ev = await c.command(cdb(0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8), { lun: 1, readLen: 8 });
  assert.deepEqual([ev.status, ev.data[2], ev.data[5]], [0, 4, 0x02]);
  // writing a DVD-ROM: CANNOT WRITE MEDIUM, INCOMPATIBLE FORMAT
  const wr = await c.command(cdb(0x2a, 0, 0, 0, 0, 0, 0, 0, 1), { lun: 1, write: Buffer.alloc(2048) });
  assert.deepEqual(senseTriple(wr.sense), [0x05, 0x30, 0x05]);
  // an empty drive answers NOT READY, MEDIUM NOT PRESENT
  const tur2 = await c.command(cdb(0x00), { lun: 2 });
  assert.deepEqual(senseTriple(tur2.sense), [0x02, 0x3a, 0x00]);

  // PREVENT, then eject is refused; ALLOW, eject; the drive is empty with its tray open
  assert.equal((await c.command(Buffer.from([0x1e, 0, 0, 0, 1, 0]), { lun: 1 })).status, 0);
  const ej1 = await c.command(Buffer.from([0x1b, 0, 0, 0, 0x02, 0]), { lun: 1 });
  assert.deepEqual(senseTriple(ej1.sense), [0x05, 0x53, 0x02]);
  assert.equal((await c.command(Buffer.from([0x1e, 0, 0, 0, 0, 0]), { lun: 1 })).status, 0);
  assert.equal((await c.command(Buffer.from([0x1b, 0, 0, 0, 0x02, 0]), { lun: 1 })).status, 0);
  assert.deepEqual(senseTriple((await c.command(cdb(0x25), { lun: 1, readLen: 8 })).sense), [0x02, 0x3a, 0x02]);
  assert.deepEqual(senseTriple((await c.command(cdb(0x28, 0, 0, 0, 0, 16, 0, 0, 1), { lun: 1, readLen: 2048 })).sense), [0x02, 0x3a, 0x00]);
  // load closes the tray and the same image is back
  assert.equal((await c.command(Buffer.from([0x1b, 0, 0, 0, 0x03, 0]), { lun: 1 })).status, 0);
  assert.equal((await c.command(cdb(0x25), { lun: 1, readLen: 8 })).data.readUInt32BE(0), blocks - 1);

  // tgtadm: a new path while the medium is in is refused; online=0 then path= changes the disc
  const busy = await d.tgtadm('--mode', 'logicalunit', '--op', 'update', '--tid', '1', '--lun', '1', '--params', `path=${iso2}`);
  assert.deepEqual([busy.code, busy.stderr], [22, 'tgtadm: invalid request\n']);
  await d.tgtadmOk('--mode', 'logicalunit', '--op', 'update', '--tid', '1', '--lun', '1', '--params', 'online=0');
  assert.deepEqual(senseTriple((await c.command(cdb(0x00), { lun: 1 })).sense), [0x02, 0x3a, 0x00]);
  await d.tgtadmOk('--mode', 'logicalunit', '--op', 'update', '--tid', '1', '--lun', '1', '--params', `path=${iso2}`);
  // the initiator is told once that the disc may have changed (tgt says nothing)
  assert.deepEqual(senseTriple((await c.command(cdb(0x00), { lun: 1 })).sense), [0x06, 0x28, 0x00]);
  const pvd2 = await c.command(cdb(0x28, 0, 0, 0, 0, 16, 0, 0, 1), { lun: 1, readLen: 2048 });
  assert.deepEqual(pvd2.data, readFileSync(iso2).subarray(16 * 2048, 17 * 2048));
  assert.match(await d.tgtadmOk('--mode', 'target', '--op', 'show'), /Backing store path: .*two\.iso\n/);
  // the empty drive takes a disc the same way
  await d.tgtadmOk('--mode', 'logicalunit', '--op', 'update', '--tid', '1', '--lun', '2', '--params', `path=${iso1}`);
  assert.deepEqual(senseTriple((await c.command(cdb(0x00), { lun: 2 })).sense), [0x06, 0x28, 0x00]);
  assert.equal((await c.command(cdb(0x00), { lun: 2 })).status, 0);
  const bad = await d.tgtadm('--mode', 'logicalunit', '--op', 'update', '--tid', '1', '--lun', '2', '--params', 'online=0,path=/nonexistent.iso');
  assert.equal(bad.code, 22);
});

test('a DVD+R made by tgtimg is written, closed and read back as a DVD-ROM', async () => {
  const d = await TestDaemon.start();
  daemons.push(d);
  const img = join(d.dir, 'blank.dvd');
  writeFileSync(img, '');
  await d.addTarget(1, IQN);
  await d.tgtadmOk('--mode', 'logicalunit', '--op', 'new', '--tid', '1', '--lun', '1', '-b', img, '--device-type', 'cd');
  const c = await ScsiClient.login(d.iscsiPort, IQN, 'iqn.2026-12.org.stgt.test:dvdr');
  clients.push(c);
  await c.clearUa(1);
  const conf = await c.command(cdb(0x46, 1, 0, 0, 0, 0, 0, 0x04, 0), { lun: 1, readLen: 1024 });
  assert.equal(conf.data.readUInt16BE(6), 0x001b); // DVD+R
  const disc = await c.command(cdb(0x51, 0, 0, 0, 0, 0, 0, 0, 34), { lun: 1, readLen: 34 });
  assert.equal(disc.data[2], 0); // empty disc
  assert.deepEqual(senseTriple((await c.command(cdb(0x28, 0, 0, 0, 0, 0, 0, 0, 1), { lun: 1, readLen: 2048 })).sense), [0x05, 0x21, 0x00]);
  const data = Buffer.alloc(4 * 2048);
  for (let i = 0; i < data.length; i += 4) data.writeUInt32BE(i, i);
  assert.equal((await c.command(cdb(0x53, 0, 0, 0, 0, 0, 0, 0, 4), { lun: 1 })).status, 0); // RESERVE TRACK 4 blocks
  assert.equal((await c.command(cdb(0x2a, 0, 0, 0, 0, 0, 0, 0, 2), { lun: 1, write: data.subarray(0, 4096) })).status, 0);
  const ti = await c.command(cdb(0x52, 1, 0, 0, 0, 1, 0, 0, 36), { lun: 1, readLen: 36 });
  assert.equal(ti.data.readUInt32BE(12), 2); // next writable address
  assert.equal((await c.command(cdb(0x2a, 0, 0, 0, 0, 2, 0, 0, 2), { lun: 1, write: data.subarray(4096) })).status, 0);
  // the reserved track is full: the disc is a DVD-ROM now
  const rd = await c.command(cdb(0x28, 0, 0, 0, 0, 0, 0, 0, 4), { lun: 1, readLen: data.length });
  assert.equal(rd.status, 0);
  assert.deepEqual(rd.data, data);
  assert.deepEqual(readFileSync(img), data);
  const conf2 = await c.command(cdb(0x46, 1, 0, 0, 0, 0, 0, 0x04, 0), { lun: 1, readLen: 1024 });
  assert.equal(conf2.data.readUInt16BE(6), 0x0010);
});
