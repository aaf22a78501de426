// Persistent reservations with APTPL (SPC-4 5.13.5) survive a restart of tgtd: the LU created again finds them.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestDaemon } from '../helpers/daemon.js';
import { ScsiClient, cdb16, senseTriple } from '../helpers/scsi-client.js';
import { sparseDisk } from '../helpers/fixtures.js';

const IQN = 'iqn.2026-11.org.stgt.test:pr-aptpl';
const INIT_A = 'iqn.2026-11.org.stgt.test:pr-a';
const INIT_B = 'iqn.2026-11.org.stgt.test:pr-b';
const K1 = 0xa1a1a1a1n;
const K2 = 0xb2b2b2b2n;
const WRITE_EXCLUSIVE = 1;
const EXCLUSIVE_ACCESS = 3;

const dirs: string[] = [];
const daemons: TestDaemon[] = [];
const clients: ScsiClient[] = [];
after(() => {
  clients.forEach((c) => c.close());
  daemons.forEach((d) => d.kill());
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

/** PERSISTENT RESERVE OUT (SPC-4 6.16): 1 SERVICE ACTION, 2 SCOPE|TYPE, 5..8 PARAMETER LIST LENGTH; 24-byte list. */
function prOut(c: ScsiClient, sa: number, type: number, resKey: bigint, saKey: bigint, aptpl = false, lun = 1) {
  const cdb = Buffer.from([0x5f, sa, type, 0, 0, 0, 0, 0, 24, 0]);
  const p = Buffer.alloc(24);
  p.writeBigUInt64BE(resKey, 0);
  p.writeBigUInt64BE(saKey, 8);
  p[20] = aptpl ? 0x01 : 0;
  return c.command(cdb, { lun, write: p });
}
function prIn(c: ScsiClient, sa: number, lun = 1) {
  return c.command(Buffer.from([0x5e, sa, 0, 0, 0, 0, 0, 0x10, 0x00, 0]), { lun, readLen: 4096 });
}

async function daemonWithLun(disk: string, stateDir: string): Promise<TestDaemon> {
  const d = await TestDaemon.start({ env: { STGT_PR_DIR: stateDir } });
  daemons.push(d);
  await d.addTarget(1, IQN);
  await d.addLun(1, 1, disk);
  // LUN 2 has no backing file of its own (the null store on /dev/null): its state goes to STGT_PR_DIR.
  await d.addLun(1, 2, '/dev/null', ['--bstype', 'null']);
  return d;
}

async function client(d: TestDaemon, name: string): Promise<ScsiClient> {
  const c = await ScsiClient.login(d.iscsiPort, IQN, name);
  clients.push(c);
  await c.clearUa(1);
  await c.clearUa(2);
  return c;
}

test('APTPL: registration and reservation are on disk before GOOD, back after tgtd restarts, gone after APTPL=0', { timeout: 120_000 }, async () => {
  const { work, disk } = sparseDisk('stgt-pr-', 8 << 20);
  dirs.push(work);
  const stateDir = mkdtempSync(join(tmpdir(), 'stgt-pr-state-'));
  dirs.push(stateDir);
  const state = disk + '.stgt-pr';

  let d = await daemonWithLun(disk, stateDir);
  const a = await client(d, INIT_A);
  assert.equal((await prOut(a, 0, 0, 0n, K1, true)).status, 0, 'REGISTER with APTPL');
  assert.equal((await prOut(a, 1, WRITE_EXCLUSIVE, K1, 0n)).status, 0, 'RESERVE Write Exclusive');
  assert.ok(existsSync(state), 'the state file is beside the backing file');
  assert.equal((await prOut(a, 0, 0, 0n, K2, true, 2)).status, 0, 'REGISTER with APTPL on LUN 2');
  assert.equal((await prOut(a, 1, EXCLUSIVE_ACCESS, K2, 0n, false, 2)).status, 0, 'RESERVE Exclusive Access on LUN 2');
  const state2 = join(stateDir, `${IQN},2.stgt-pr`);
  assert.ok(existsSync(state2), 'a LU without a file of its own keeps its state in STGT_PR_DIR');
  const caps = await prIn(a, 2);
  assert.equal(caps.data[3]! & 0x01, 1, 'REPORT CAPABILITIES: PTPL_A');
  const portA = `${INIT_A},i,0x${a.m.isid.toString('hex')}`;
  assert.equal(JSON.parse(readFileSync(state, 'utf8')).reservation.holder, portA);
  a.close();
  assert.equal((await d.stop()).code, 0);

  // tgtd again, the same target and LU created again: the reservation is there.
  d = await daemonWithLun(disk, stateDir);
  const b = await client(d, INIT_B);
  const res = await prIn(b, 1);
  assert.equal(res.status, 0);
  assert.equal(res.data.readUInt32BE(4), 16, 'READ RESERVATION: a reservation');
  assert.equal(res.data.readBigUInt64BE(8), K1);
  assert.equal(res.data[21]! & 0x0f, WRITE_EXCLUSIVE);
  const res2 = await prIn(b, 1, 2);
  assert.equal(res2.data.readBigUInt64BE(8), K2, 'LUN 2: its reservation is back too');
  assert.equal(res2.data[21]! & 0x0f, EXCLUSIVE_ACCESS);
  assert.equal((await b.command(cdb16(0x88, 0, 1), { lun: 2, readLen: 512 })).status, 0x18, 'LUN 2: Exclusive Access, no reads either');
  const full = await prIn(b, 3);
  const tidLen = full.data.readUInt32BE(8 + 20);
  const tid = full.data.subarray(8 + 24, 8 + 24 + tidLen);
  assert.equal(tid.subarray(4, tid.indexOf(0, 4)).toString(), portA, 'READ FULL STATUS names the holder port');
  assert.equal(full.data[8 + 12]! & 0x01, 1, 'R_HOLDER');
  // Write Exclusive for the holder that has not come back: B may read, not write.
  assert.equal((await b.command(cdb16(0x88, 0, 1), { lun: 1, readLen: 512 })).status, 0);
  assert.equal((await b.command(cdb16(0x8a, 0, 1), { lun: 1, write: Buffer.alloc(512, 1) })).status, 0x18, 'RESERVATION CONFLICT');
  // B registers without APTPL (persistence ends: the file goes) and preempts A's reservation.
  assert.equal((await prOut(b, 0, 0, 0n, K2)).status, 0);
  assert.ok(!existsSync(state), 'APTPL=0 removed the state');
  assert.equal((await prOut(b, 4, EXCLUSIVE_ACCESS, K2, K1)).status, 0, 'PREEMPT');
  const after2 = await prIn(b, 1);
  assert.equal(after2.data.readBigUInt64BE(8), K2);
  assert.equal(after2.data[21]! & 0x0f, EXCLUSIVE_ACCESS);
  assert.equal((await b.command(cdb16(0x8a, 0, 1), { lun: 1, write: Buffer.alloc(512, 2) })).status, 0);
  b.close();
  assert.equal((await d.stop()).code, 0);

  // Without APTPL nothing is restored.
  d = await daemonWithLun(disk, stateDir);
  const c = await client(d, INIT_A);
  const none = await prIn(c, 1);
  assert.equal(none.data.readUInt32BE(4), 0, 'no reservation after a restart without APTPL');
  assert.deepEqual(senseTriple(none.sense), null);
  c.close();
  assert.equal((await d.stop()).code, 0);
});
