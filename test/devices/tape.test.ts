// tape device type end to end on the host, against Debian's tgt as the oracle: the same SSC commands on
// both daemons, tapes written by one read back by the other, `tgtimg --op show` of both files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { runClient, startDaemon, type CompatDaemon } from '../compat/daemons.js';
import { ScsiClient, senseTriple, type ScsiResult } from '../helpers/scsi-client.js';
import { cleanup, newTape, skipWithoutTgt as skip } from './lib.js';

const IQN = 'iqn.2026-12.org.stgt.test:tape';
const { daemons, clients } = cleanup();

/** `tgtimg --op show` of a file without the serial line (it holds the creation time). */
function show(file: string): string {
  const r = spawnSync('/usr/sbin/tgtimg', ['--op', 'show', '--file', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter((l) => !l.startsWith('Media serial number')).join('\n');
}

async function tapeLu(kind: 'debian' | 'stgt', file: string): Promise<{ d: CompatDaemon; c: ScsiClient }> {
  const d = await startDaemon(kind);
  daemons.push(d);
  const adm = async (...a: string[]): Promise<void> => {
    const r = await runClient('stgt', d, a);
    assert.equal(r.code, 0, `${kind}: tgtadm ${a.join(' ')}: ${r.stderr}`);
  };
  await adm('--lld', 'iscsi', '--mode', 'target', '--op', 'new', '--tid', '1', '-T', IQN);
  await adm('--lld', 'iscsi', '--mode', 'logicalunit', '--op', 'new', '--tid', '1', '--lun', '1', '-b', file, '--device-type', 'tape');
  await adm('--lld', 'iscsi', '--mode', 'target', '--op', 'bind', '--tid', '1', '-I', 'ALL');
  const c = await ScsiClient.login(d.iscsiPort, IQN, `iqn.2026-12.org.stgt.test:tape-${kind}`);
  clients.push(c);
  await c.clearUa(1);
  return { d, c };
}

const rw6 = (op: number, fixed: boolean, n: number): Buffer => Buffer.from([op, fixed ? 1 : 0, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff, 0]);
const block = (n: number, seed: number): Buffer => {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + seed) & 0xff;
  return b;
};

/**
 * What a result says, for comparing two daemons: status, sense key/ASC/ASCQ, the FILEMARK/EOM/ILI
 * bits, and the data of a GOOD read (tgt sends whatever its buffer held along with a CHECK CONDITION).
 */
function outcome(r: ScsiResult): unknown {
  const data = r.status === 0 ? r.data.subarray(0, r.dataInBytes).toString('hex') : '';
  return { status: r.status, sense: senseTriple(r.sense), bits: r.sense ? r.sense[2]! & 0xe0 : 0, data };
}

/** The same SSC sequence on either daemon: two files of variable blocks, rewind, read across the filemark. */
async function sequence(c: ScsiClient): Promise<unknown[]> {
  const out: unknown[] = [];
  const cmd = async (cdb: Buffer, o: { readLen?: number; write?: Buffer } = {}): Promise<ScsiResult> => {
    const r = await c.command(cdb, { lun: 1, ...o });
    out.push(outcome(r));
    return r;
  };
  await cmd(Buffer.from([0x01, 0, 0, 0, 0, 0])); // REWIND
  await cmd(Buffer.from([0x05, 0, 0, 0, 0, 0]), { readLen: 6 }); // READ BLOCK LIMITS
  await cmd(rw6(0x0a, false, 10240), { write: block(10240, 1) });
  await cmd(rw6(0x0a, false, 512), { write: block(512, 2) });
  await cmd(Buffer.from([0x10, 0, 0, 0, 1, 0])); // WRITE FILEMARKS 1
  await cmd(rw6(0x0a, false, 4096), { write: block(4096, 3) });
  await cmd(Buffer.from([0x10, 0, 0, 0, 1, 0]));
  await cmd(Buffer.from([0x01, 0, 0, 0, 0, 0]));
  await cmd(rw6(0x08, false, 10240), { readLen: 10240 });
  await cmd(rw6(0x08, false, 512), { readLen: 512 });
  await cmd(rw6(0x08, false, 512), { readLen: 512 }); // the filemark
  await cmd(rw6(0x08, false, 4096), { readLen: 4096 });
  await cmd(Buffer.from([0x01, 0, 0, 0, 0, 0]));
  await cmd(Buffer.from([0x11, 0x01, 0, 0, 1, 0])); // SPACE 1 filemark
  await cmd(rw6(0x08, false, 4096), { readLen: 4096 });
  return out;
}

test('the same SSC commands answer alike on stgt and Debian tgt, and each reads the tape the other wrote', { skip }, async () => {
  const results: Record<string, unknown[]> = {};
  const files: Record<string, string> = {};
  for (const kind of ['debian', 'stgt'] as const) {
    const dir = (await import('node:fs')).mkdtempSync(join((await import('node:os')).tmpdir(), 'stgt-tape-'));
    files[kind] = join(dir, 'TAPE01');
    newTape(files[kind]!, 'TAPE01');
    const { c } = await tapeLu(kind, files[kind]!);
    results[kind] = await sequence(c);
  }
  assert.deepEqual(results['stgt'], results['debian']);
  // the files have the same block list (tgtimg --op show)
  assert.equal(show(files['stgt']!), show(files['debian']!));
  assert.match(show(files['stgt']!), /Filemark\(64\): Blk No\. 3,/);
  // stgt reads Debian's tape and Debian reads stgt's: both files in order
  for (const [reader, file] of [['stgt', files['debian']!], ['debian', files['stgt']!]] as const) {
    const { c } = await tapeLu(reader, file);
    const a = await c.command(rw6(0x08, false, 10240), { lun: 1, readLen: 10240 });
    assert.deepEqual([a.status, a.data], [0, block(10240, 1)], `${reader} reads block 1`);
    assert.equal((await c.command(Buffer.from([0x11, 0x01, 0, 0, 1, 0]), { lun: 1 })).status, 0);
    const b = await c.command(rw6(0x08, false, 4096), { lun: 1, readLen: 4096 });
    assert.deepEqual([b.status, b.data], [0, block(4096, 3)], `${reader} reads the second file`);
  }
});

test('stgt tape: fixed blocks after MODE SELECT, READ POSITION, SPACE back, EOD, no medium, readonly, load/unload', { skip }, async () => {
  const dir = (await import('node:fs')).mkdtempSync(join((await import('node:os')).tmpdir(), 'stgt-tape-'));
  const file = join(dir, 'TAPE02');
  newTape(file, 'TAPE02');
  const { d, c } = await tapeLu('stgt', file);
  const cmd = (cdb: Buffer, o: { readLen?: number; write?: Buffer } = {}): Promise<ScsiResult> => c.command(cdb, { lun: 1, ...o });
  // variable mode: the block descriptor says block length 0
  const ms = await cmd(Buffer.from([0x1a, 0, 0x3f, 0, 255, 0]), { readLen: 255 });
  assert.deepEqual([ms.status, ms.data[3], ms.data.readUIntBE(4 + 5, 3), ms.data[2]! & 0x70], [0, 8, 0, 0x10]);
  // FIXED in variable mode is an invalid field
  assert.deepEqual(senseTriple((await cmd(rw6(0x0a, true, 1), { write: Buffer.alloc(512) })).sense), [0x05, 0x24, 0x00]);
  // mt setblk 512
  const sel = Buffer.alloc(12);
  sel[3] = 8;
  sel.writeUIntBE(512, 4 + 5, 3);
  assert.equal((await cmd(Buffer.from([0x15, 0x10, 0, 0, 12, 0]), { write: sel })).status, 0);
  const lim = await cmd(Buffer.from([0x05, 0, 0, 0, 0, 0]), { readLen: 6 });
  assert.deepEqual([lim.data.readUIntBE(1, 3), lim.data.readUInt16BE(4)], [512, 512]);
  const data = Buffer.concat([block(512, 5), block(512, 6), block(512, 7)]);
  assert.equal((await cmd(rw6(0x0a, true, 3), { write: data })).status, 0);
  assert.equal((await cmd(Buffer.from([0x10, 0, 0, 0, 1, 0]))).status, 0);
  let pos = await cmd(Buffer.from([0x34, 0, 0, 0, 0, 0, 0, 0, 20, 0]), { readLen: 20 });
  assert.deepEqual([pos.data[0]! & 0x80, pos.data.readUInt32BE(4)], [0, 4]);
  // SPACE back over the filemark and one block, read the last block
  assert.equal((await cmd(Buffer.from([0x11, 0x01, 0xff, 0xff, 0xff, 0]))).status, 0);
  assert.equal((await cmd(Buffer.from([0x11, 0x00, 0xff, 0xff, 0xff, 0]))).status, 0);
  const last = await cmd(rw6(0x08, true, 1), { readLen: 512 });
  assert.deepEqual([last.status, last.data], [0, block(512, 7)]);
  // reading 2 blocks at the filemark: FILEMARK set, residue 2
  const fm = await cmd(rw6(0x08, true, 2), { readLen: 1024 });
  assert.deepEqual([senseTriple(fm.sense), fm.sense![2]! & 0x80, fm.sense!.readUInt32BE(3)], [[0x00, 0x00, 0x01], 0x80, 2]);
  // at EOD: BLANK CHECK, END-OF-DATA DETECTED
  assert.deepEqual(senseTriple((await cmd(rw6(0x08, true, 1), { readLen: 512 })).sense), [0x08, 0x00, 0x05]);
  // back at BOP: READ POSITION says BOP
  assert.equal((await cmd(Buffer.from([0x01, 0, 0, 0, 0, 0]))).status, 0);
  pos = await cmd(Buffer.from([0x34, 0, 0, 0, 0, 0, 0, 0, 20, 0]), { readLen: 20 });
  assert.deepEqual([pos.data[0]! & 0x80, pos.data.readUInt32BE(4)], [0x80, 0]);
  // unload: not ready until LOAD
  assert.equal((await cmd(Buffer.from([0x1b, 0, 0, 0, 0, 0]))).status, 0);
  assert.deepEqual(senseTriple((await cmd(Buffer.from([0, 0, 0, 0, 0, 0]))).sense), [0x02, 0x3a, 0x00]);
  assert.equal((await cmd(Buffer.from([0x1b, 0, 0, 0, 1, 0]))).status, 0);
  assert.equal((await cmd(Buffer.from([0, 0, 0, 0, 0, 0]))).status, 0);
  // readonly: writes refused
  assert.equal((await runClient('stgt', d, ['--mode', 'logicalunit', '--op', 'update', '--tid', '1', '--lun', '1', '--params', 'readonly=1'])).code, 0);
  assert.deepEqual(senseTriple((await cmd(rw6(0x0a, true, 1), { write: block(512, 1) })).sense), [0x07, 0x27, 0x00]);
  // a file that is not a tape is refused at creation
  const bad = join(dir, 'junk');
  (await import('node:fs')).writeFileSync(bad, Buffer.alloc(8192));
  const r = await runClient('stgt', d, ['--mode', 'logicalunit', '--op', 'new', '--tid', '1', '--lun', '2', '-b', bad, '--device-type', 'tape']);
  assert.deepEqual([r.code, r.stderr], [22, 'tgtadm: invalid request\n']);
  // a drive with no tape
  assert.equal((await runClient('stgt', d, ['--mode', 'logicalunit', '--op', 'new', '--tid', '1', '--lun', '3', '--device-type', 'tape'])).code, 0);
  const show3 = await runClient('stgt', d, ['--mode', 'target', '--op', 'show']);
  assert.match(show3.stdout, /LUN: 3\n {12}Type: tape\n(?: {12}.*\n)*? {12}Online: No\n(?: {12}.*\n)*? {12}Backing store type: ssc\n {12}Backing store path: None\n/);
});
