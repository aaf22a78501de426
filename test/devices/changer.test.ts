// changer device type end to end on the host: tgt's element --params, MODE SENSE 1Dh, READ ELEMENT STATUS and
// MOVE MEDIUM into a tape drive LU of the same target, compared with Debian's tgt where both implement the same thing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runClient, startDaemon, type CompatDaemon } from '../compat/daemons.js';
import { ScsiClient, senseTriple } from '../helpers/scsi-client.js';
import { cleanup, newTape, skipWithoutTgt as skip } from './lib.js';

const IQN = 'iqn.2026-12.org.stgt.test:vtl';
const { daemons, clients } = cleanup();

async function library(kind: 'debian' | 'stgt'): Promise<{ d: CompatDaemon; c: ScsiClient }> {
  const d = await startDaemon(kind);
  daemons.push(d);
  const home = join(d.dir, 'tapes');
  mkdirSync(home);
  for (const b of ['TAPE01', 'TAPE02']) newTape(join(home, b), b, 8);
  writeFileSync(join(d.dir, 'changer'), '');
  const adm = async (...a: string[]): Promise<void> => {
    const r = await runClient('stgt', d, ['--lld', 'iscsi', ...a]);
    assert.equal(r.code, 0, `${kind}: tgtadm ${a.join(' ')}: ${r.stderr}`);
  };
  await adm('--mode', 'target', '--op', 'new', '--tid', '1', '-T', IQN);
  await adm('--mode', 'logicalunit', '--op', 'new', '--tid', '1', '--lun', '1', '--device-type', 'tape');
  await adm('--mode', 'logicalunit', '--op', 'new', '--tid', '1', '--lun', '2', '-b', join(d.dir, 'changer'), '--device-type', 'changer');
  for (const p of [
    'element_type=1,start_address=1,quantity=1',
    'element_type=2,start_address=1000,quantity=3',
    'element_type=4,start_address=500,quantity=1',
    'element_type=4,address=500,tid=1,lun=1',
    'element_type=2,address=1000,barcode=TAPE01',
    'element_type=2,address=1001,barcode=TAPE02',
    `media_home=${home}`,
  ]) await adm('--mode', 'logicalunit', '--op', 'update', '--tid', '1', '--lun', '2', '--params', p);
  await adm('--mode', 'target', '--op', 'bind', '--tid', '1', '-I', 'ALL');
  const c = await ScsiClient.login(d.iscsiPort, IQN, `iqn.2026-12.org.stgt.test:vtl-${kind}`);
  clients.push(c);
  await c.clearUa(2);
  await c.command(Buffer.from([0, 0, 0, 0, 0, 0]), { lun: 1 }); // the drive's power-on unit attention
  return { d, c };
}

const res = (type: number, voltag: boolean): Buffer =>
  Buffer.from([0xb8, (voltag ? 0x10 : 0) | type, 0, 0, 0xff, 0xff, 0, 0, 0x10, 0, 0, 0]);
const move = (src: number, dst: number): Buffer => Buffer.from([0xa5, 0, 0, 0, src >> 8, src & 0xff, dst >> 8, dst & 0xff, 0, 0, 0, 0]);

/** Element address, FULL bit, volume tag and source of each storage/drive element, from a one-type READ ELEMENT STATUS. */
function elements(b: Buffer): [number, number, string][] {
  const out: [number, number, string][] = [];
  const len = b.readUInt16BE(8 + 2);
  const n = b.readUIntBE(8 + 5, 3) / len;
  for (let i = 0; i < n; i++) {
    const e = b.subarray(16 + i * len, 16 + (i + 1) * len);
    out.push([e.readUInt16BE(0), e[2]! & 0x01, e.subarray(12, 44).toString('latin1').trim()]);
  }
  return out;
}

test('a virtual tape library: the element page, READ ELEMENT STATUS and MOVE MEDIUM agree with Debian tgt; the drive gets the tape', { skip }, async () => {
  const seen: Record<string, unknown> = {};
  for (const kind of ['debian', 'stgt'] as const) {
    const { c } = await library(kind);
    const ms = await c.command(Buffer.from([0x1a, 0x08, 0x1d, 0, 0xff, 0]), { lun: 2, readLen: 255 });
    assert.equal(ms.status, 0, kind);
    const page = ms.data.subarray(4, 4 + 20);
    const before = elements((await c.command(res(2, true), { lun: 2, readLen: 4096 })).data);
    const drive0 = elements((await c.command(res(4, true), { lun: 2, readLen: 4096 })).data);
    const tur0 = senseTriple((await c.command(Buffer.from([0, 0, 0, 0, 0, 0]), { lun: 1 })).sense);
    const mv = await c.command(move(1000, 500), { lun: 2 });
    const drive1 = elements((await c.command(res(4, true), { lun: 2, readLen: 4096 })).data);
    // stgt tells the drive's initiators that the tape may have changed; tgt does not
    const ua = senseTriple((await c.command(Buffer.from([0, 0, 0, 0, 0, 0]), { lun: 1 })).sense);
    assert.deepEqual(ua, kind === 'stgt' ? [0x06, 0x28, 0x00] : null, kind);
    const tur1 = kind === 'stgt' ? (await c.command(Buffer.from([0, 0, 0, 0, 0, 0]), { lun: 1 })).status : 0;
    // the tape in the drive is TAPE01: write a block, it lands in that file
    const full = await c.command(move(1001, 500), { lun: 2 });
    const empty = await c.command(move(1002, 1001), { lun: 2 });
    const back = await c.command(move(500, 1002), { lun: 2 });
    const after = elements((await c.command(res(2, true), { lun: 2, readLen: 4096 })).data);
    seen[kind] = {
      page: [...page], before, drive0, tur0, mv: mv.status, drive1, tur1,
      full: senseTriple(full.sense), empty: senseTriple(empty.sense), back: back.status, after,
    };
  }
  assert.deepEqual(seen['stgt'], seen['debian']);
  const s = seen['stgt'] as { before: unknown; drive1: unknown; after: unknown };
  assert.deepEqual(s.before, [[1000, 1, 'TAPE01'], [1001, 1, 'TAPE02'], [1002, 0, '']]);
  assert.deepEqual(s.drive1, [[500, 1, 'TAPE01']]);
  assert.deepEqual(s.after, [[1000, 0, ''], [1001, 1, 'TAPE02'], [1002, 1, 'TAPE01']]);
});

test('stgt changer: an unknown element parameter is refused, the data transfer element names its drive (DVCID)', { skip }, async () => {
  const { d, c } = await library('stgt');
  const r = await runClient('stgt', d, ['--mode', 'logicalunit', '--op', 'update', '--tid', '1', '--lun', '2', '--params', 'element_type=2,address=4242,barcode=X']);
  assert.deepEqual([r.code, r.stderr], [22, 'tgtadm: invalid request\n']);
  const dv = await c.command(Buffer.from([0xb8, 4, 0, 0, 0, 1, 0x01, 0, 0x10, 0, 0, 0]), { lun: 2, readLen: 4096 });
  assert.equal(dv.status, 0);
  const e = dv.data.subarray(16);
  assert.deepEqual([e[12], e[15]], [2, 34]);
  assert.match(e.subarray(16, 50).toString('latin1'), /^IET {5}VIRTUAL-TAPE {4}beaf11/);
  const show = await runClient('stgt', d, ['--mode', 'target', '--op', 'show']);
  assert.match(show.stdout, /LUN: 2\n {12}Type: changer\n(?: {12}.*\n)*? {12}Backing store type: smc\n/);
  const sys = await runClient('stgt', d, ['--mode', 'system', '--op', 'show']);
  assert.match(sys.stdout, /Device types:\n {4}disk\n {4}cd\/dvd\n {4}controller\n {4}changer\n {4}tape\n/);
});
