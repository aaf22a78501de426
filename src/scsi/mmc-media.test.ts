// Tests for the virtual DVD medium's parameter data (mmc-media.ts), byte for byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MmcMedium, Profile, DVD_PLUS_R_BLOCKS } from './mmc-media.js';
import { Reason } from './sense.js';

const rom = (blocks: number): MmcMedium => {
  const m = new MmcMedium();
  m.insert(blocks * 2048);
  return m;
};
const buf = (r: Buffer | object): Buffer => {
  assert.ok(Buffer.isBuffer(r), `expected data, got ${JSON.stringify(r)}`);
  return r as Buffer;
};

test('no medium: every media command answers NOT READY, MEDIUM NOT PRESENT (tray closed, or open after eject)', () => {
  const m = new MmcMedium();
  assert.equal(m.readCapacity(), Reason.MediumNotPresentTrayClosed);
  assert.equal(m.readToc(false, 0, 0), Reason.MediumNotPresentTrayClosed);
  assert.equal(m.discInformation(), Reason.MediumNotPresentTrayClosed);
  assert.equal(m.trackInformation(1, 1), Reason.MediumNotPresentTrayClosed);
  assert.equal(m.checkIo(false), Reason.MediumNotPresentTrayClosed);
  const r = rom(10);
  assert.equal(r.loadEject(false, () => null), null);
  assert.equal(r.checkIo(false), Reason.MediumNotPresentTrayOpen);
  assert.equal(r.readCapacity(), Reason.MediumNotPresentTrayOpen);
});

test('READ CAPACITY of an ISO: last LBA and 2048; a blank DVD+R reads 0', () => {
  assert.deepEqual([...buf(rom(1000).readCapacity())], [0, 0, 0x03, 0xe7, 0, 0, 0x08, 0]);
  const blank = new MmcMedium();
  blank.insert(0);
  assert.equal(blank.profile, Profile.DvdPlusR);
  assert.deepEqual([...buf(blank.readCapacity())], [0, 0, 0, 0, 0, 0, 0x08, 0]);
});

test('READ TOC format 0 in LBA and MSF, the lead-out only, format 1, a bad track or format', () => {
  const m = rom(1000);
  assert.deepEqual([...buf(m.readToc(false, 0, 0))], [0, 0x12, 1, 1, 0, 0x14, 1, 0, 0, 0, 0, 0, 0, 0x14, 0xaa, 0, 0, 0, 0x03, 0xe8]);
  // 1000 + 150 frames = 00:15:25; track 1 at 00:00:02:00
  assert.deepEqual([...buf(m.readToc(true, 0, 1))], [0, 0x12, 1, 1, 0, 0x14, 1, 0, 0, 0, 2, 0, 0, 0x14, 0xaa, 0, 0, 0, 15, 25]);
  assert.deepEqual([...buf(m.readToc(false, 0, 0xaa))], [0, 0x0a, 1, 1, 0, 0x14, 0xaa, 0, 0, 0, 0x03, 0xe8]);
  assert.deepEqual([...buf(m.readToc(false, 1, 0))], [0, 0x0a, 1, 1, 0, 0x14, 1, 0, 0, 0, 0, 0]);
  assert.equal(m.readToc(false, 0, 2), Reason.InvalidFieldInCdb);
  assert.equal(m.readToc(false, 2, 0), Reason.InvalidFieldInCdb);
});

test('GET CONFIGURATION: header with the current profile, features in order, RT 1 and 2, start feature', () => {
  const m = rom(100);
  const all = buf(m.getConfiguration(0, 0, Buffer.from('beaf1234')));
  assert.equal(all.readUInt32BE(0), all.length - 4);
  assert.equal(all.readUInt16BE(6), Profile.DvdRom);
  // the profile list: DVD-ROM current, DVD+R not
  assert.deepEqual([...all.subarray(8, 20)], [0, 0, 0x03, 8, 0, 0x10, 1, 0, 0, 0x1b, 0, 0]);
  const codes = (b: Buffer): number[] => {
    const out: number[] = [];
    for (let o = 8; o < b.length; o += 4 + b[o + 3]!) out.push(b.readUInt16BE(o));
    return out;
  };
  assert.deepEqual(codes(all), [0, 1, 2, 3, 0x10, 0x1d, 0x1f, 0x2b, 0x100, 0x105, 0x107, 0x108, 0x10a]);
  assert.deepEqual(codes(buf(m.getConfiguration(1, 0, Buffer.alloc(8)))), [0, 1, 2, 3, 0x10, 0x1f, 0x100, 0x105, 0x107, 0x108]);
  assert.deepEqual(codes(buf(m.getConfiguration(2, 0x1f, Buffer.alloc(8)))), [0x1f]);
  assert.deepEqual(codes(buf(m.getConfiguration(0, 0x100, Buffer.alloc(8)))), [0x100, 0x105, 0x107, 0x108, 0x10a]);
  const serial = all.subarray(all.length - 16 - 8, all.length - 16); // before the 16-byte DCB feature
  assert.equal(serial.toString(), 'beaf1234');
  assert.equal(m.getConfiguration(3, 0, Buffer.alloc(8)), Reason.InvalidFieldInCdb);
  const none = buf(new MmcMedium().getConfiguration(0, 0, Buffer.alloc(8)));
  assert.equal(none.readUInt16BE(6), 0);
});

test('READ DISC INFORMATION and READ TRACK INFORMATION of a DVD-ROM and a blank DVD+R', () => {
  const d = buf(rom(1000).discInformation());
  assert.deepEqual([...d.subarray(0, 8)], [0, 0x20, 0x0e, 1, 1, 1, 1, 0]);
  const t = buf(rom(1000).trackInformation(1, 1));
  assert.equal(t.length, 36);
  assert.deepEqual([t.readUInt16BE(0), t[2], t[5], t[6], t.readUInt32BE(24), t.readUInt32BE(28)], [34, 1, 4, 1, 1000, 999]);
  assert.equal(rom(1).trackInformation(1, 2), Reason.InvalidFieldInCdb);
  const blank = new MmcMedium();
  blank.insert(0);
  const bd = buf(blank.discInformation());
  assert.deepEqual([bd[2], bd[7], bd.readUInt32BE(20)], [0, 0x10, DVD_PLUS_R_BLOCKS]);
  const bt = buf(blank.trackInformation(0, 0));
  assert.deepEqual([bt[6], bt[7], bt.readUInt32BE(12), bt.readUInt32BE(16)], [0x41, 1, 0, DVD_PLUS_R_BLOCKS]);
  assert.equal(blank.readToc(false, 0, 0), Reason.InvalidFieldInCdb);
});

test('DVD+R writing: reads refused, the image grows, writing the reserved track or CLOSE makes it a DVD-ROM', () => {
  const m = new MmcMedium();
  m.insert(0);
  assert.equal(m.checkIo(false), Reason.LbaOutOfRange);
  assert.equal(m.checkIo(true), null);
  m.reservedBlocks = 32;
  m.wrote(16);
  assert.equal(m.blocks, 16);
  assert.equal(m.profile, Profile.DvdPlusR);
  assert.equal(buf(m.trackInformation(0, 0)).readUInt32BE(12), 16);
  m.wrote(32);
  assert.equal(m.profile, Profile.DvdRom);
  assert.equal(m.checkIo(true), Reason.CannotWriteIncompatibleFormat);
  const n = new MmcMedium();
  n.insert(0);
  n.wrote(5);
  assert.equal(n.close(), null);
  assert.equal(n.profile, Profile.DvdRom);
  assert.equal(buf(n.readCapacity()).readUInt32BE(0), 4);
});

test('PREVENT blocks eject; events report new media and removal once', () => {
  const m = rom(10);
  let e = buf(m.eventStatus(true, 0x10));
  assert.deepEqual([...e], [0, 6, 4, 0x10, 2, 0x02, 0, 0]);
  e = buf(m.eventStatus(true, 0x10));
  assert.deepEqual([...e], [0, 6, 4, 0x10, 0, 0x02, 0, 0]);
  m.prevent = 1;
  assert.equal(m.loadEject(false, () => 10), Reason.MediumRemovalPrevented);
  assert.ok(m.present);
  m.prevent = 0;
  assert.equal(m.loadEject(false, () => 10), null);
  assert.deepEqual([...buf(m.eventStatus(true, 0x10))], [0, 6, 4, 0x10, 3, 0x01, 0, 0]);
  assert.deepEqual([...m.mechanismStatus()], [0, 0x10, 0, 0, 0, 0, 0, 0]);
  assert.equal(m.loadEject(true, () => 4096), null);
  assert.ok(m.present);
  assert.equal(m.blocks, 2);
  assert.deepEqual([...buf(m.eventStatus(true, 0x02))], [0, 2, 0x80, 0x10]);
  assert.equal(m.eventStatus(false, 0x10), Reason.InvalidFieldInCdb);
});
