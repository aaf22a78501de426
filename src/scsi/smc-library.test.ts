// Tests for the media changer element model (smc-library.ts): tgt's --params, mode page 1Dh, READ ELEMENT STATUS bytes, MOVE MEDIUM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MediaChanger, ElementType, type DriveHooks } from './smc-library.js';
import { Reason } from './sense.js';

function library(): { m: MediaChanger; calls: string[]; hooks: DriveHooks; prevent: { on: boolean } } {
  const m = new MediaChanger();
  const calls: string[] = [];
  const prevent = { on: false };
  const hooks: DriveHooks = {
    removable: () => (prevent.on ? Reason.MediumRemovalPrevented : null),
    loadUnload: async (tid, lun, path) => {
      calls.push(`${tid}:${lun}:${path}`);
      return null;
    },
    identity: () => ({ peripheralType: 1, vendor: 'STGT', product: 'VIRTUAL-TAPE', serial: 'beaf11' }),
  };
  const none = (): 'unknown-param' => 'unknown-param';
  for (const p of [
    'element_type=1,start_address=1,quantity=1',
    'element_type=2,start_address=1000,quantity=4',
    'element_type=3,start_address=10,quantity=1',
    'element_type=4,start_address=500,quantity=1',
    'element_type=4,address=500,tid=1,lun=1',
    'element_type=2,address=1000,barcode=TAPE01',
    'element_type=2,address=1001,barcode=TAPE02',
    'media_home=/var/tapes',
  ]) assert.equal(m.configure(p, none), 'ok', p);
  return { m, calls, hooks, prevent };
}

test('tgt --params build the elements and the Element Address Assignment page', () => {
  const { m } = library();
  assert.equal(m.elements.length, 7);
  assert.deepEqual([...m.addressAssignment()], [0, 1, 0, 1, 0x03, 0xe8, 0, 4, 0, 10, 0, 1, 0x01, 0xf4, 0, 1, 0, 0]);
  assert.equal(m.mediaHome, '/var/tapes');
  assert.equal(m.configure('element_type=2,start_address=1000,quantity=2', () => 'ok'), 'invalid'); // address taken
  assert.equal(m.configure('element_type=2,address=2000,barcode=X', () => 'ok'), 'invalid'); // no such slot
  assert.equal(m.configure('element_type=4,address=500', () => 'ok'), 'invalid'); // a drive needs tid
  assert.equal(m.configure('bogus=1', () => 'unknown-param'), 'unknown-param');
  assert.equal(m.configure('vendor_id=X', () => 'ok'), 'ok'); // the LU's own parameters pass through
  assert.equal(m.configure('element_type=2,address=1001,clear_slot=1', () => 'ok'), 'ok');
  assert.equal(m.elements.find((e) => e.address === 1001)!.full, false);
});

test('READ ELEMENT STATUS: header, one page per type, descriptors with volume tags and the drive identity', () => {
  const { m, hooks } = library();
  const all = m.readElementStatus(ElementType.Any, 0, 0xffff, true, false, hooks) as Buffer;
  assert.equal(all.readUInt16BE(0), 1); // first element reported
  assert.equal(all.readUInt16BE(2), 7);
  assert.equal(all.readUInt32BE(4), all.length - 8);
  // pages in type order: transport(1), storage(4), import/export(1), data transfer(1); 52-byte descriptors
  const pages: number[][] = [];
  for (let o = 8; o < all.length; o += 8 + all.readUInt32BE(o + 4)) pages.push([all[o]!, all[o + 1]!, all.readUInt16BE(o + 2), all.readUInt32BE(o + 4)]);
  assert.deepEqual(pages, [[1, 0x80, 52, 52], [2, 0x80, 52, 208], [3, 0x80, 52, 52], [4, 0x80, 52, 52]]);
  const st = m.readElementStatus(ElementType.Storage, 1001, 2, true, false, hooks) as Buffer;
  assert.equal(st.readUInt16BE(0), 1001);
  assert.equal(st.readUInt16BE(2), 2);
  const d = st.subarray(16, 16 + 52);
  assert.equal(d.readUInt16BE(0), 1001);
  assert.equal(d[2], 0x09); // FULL | ACCESS
  assert.equal(d.subarray(12, 44).toString('latin1'), 'TAPE02'.padEnd(32));
  const empty = st.subarray(16 + 52, 16 + 104);
  assert.equal(empty[2], 0x08);
  assert.equal(empty.subarray(12, 44).toString('latin1'), ' '.repeat(32));
  const dt = m.readElementStatus(ElementType.DataTransfer, 0, 10, false, true, hooks) as Buffer;
  assert.equal(dt.readUInt16BE(8 + 2), 50);
  const dd = dt.subarray(16);
  assert.deepEqual([dd[12], dd[15]], [2, 34]);
  assert.equal(dd.subarray(16, 50).toString('latin1'), 'STGT    VIRTUAL-TAPE    beaf11    ');
  assert.equal(m.readElementStatus(5, 0, 10, false, false, hooks), Reason.InvalidFieldInCdb);
  // an unbound drive reports EXCEPT with 04/02
  const u = new MediaChanger();
  u.configure('element_type=4,start_address=500,quantity=1', () => 'ok');
  const ud = u.readElementStatus(4, 0, 1, false, false, hooks) as Buffer;
  assert.deepEqual([ud[16 + 2], ud[16 + 4], ud[16 + 5]], [0x0c, 0x04, 0x02]);
});

test('MOVE MEDIUM: slot to drive loads <media_home>/<barcode>, back unloads; errors for empty, full, unknown, prevented', async () => {
  const { m, calls, hooks, prevent } = library();
  assert.equal(await m.move(1000, 500, false, hooks), null);
  assert.deepEqual(calls, ['1:1:/var/tapes/TAPE01']);
  const drive = m.elements.find((e) => e.address === 500)!;
  assert.deepEqual([drive.full, drive.barcode, drive.source], [true, 'TAPE01', 1000]);
  assert.equal(await m.move(1000, 1002, false, hooks), Reason.MediumSourceEmpty);
  assert.equal(await m.move(1001, 500, false, hooks), Reason.MediumDestinationFull);
  assert.equal(await m.move(1001, 4242, false, hooks), Reason.InvalidElementAddress);
  assert.equal(await m.move(1001, 1002, true, hooks), Reason.InvalidFieldInCdb);
  prevent.on = true;
  assert.equal(await m.move(500, 1000, false, hooks), Reason.MediumRemovalPrevented);
  prevent.on = false;
  assert.equal(await m.move(500, 1000, false, hooks), null);
  assert.deepEqual(calls, ['1:1:/var/tapes/TAPE01', '1:1:null']);
  const slot = m.elements.find((e) => e.address === 1000)!;
  assert.deepEqual([slot.full, slot.barcode, slot.source, drive.full], [true, 'TAPE01', 500, false]);
});
