// tgtd --workers 2 (issue 10 item 5, docs/multicore.md): targets in two worker threads, connections routed by TargetName, management forwarded with tgt's bytes, nothing leaked.
//
// Needs native/io (the accept loop and ReadWatch): without it --workers is refused, which the last
// test checks with STGT_NATIVE_IO=0.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { TestDaemon, run, waitFor } from '../helpers/daemon.js';
import { haveReadWatch } from '../helpers/native-io.js';
import { ScsiClient } from '../helpers/scsi-client.js';
import { assertAlive, assertNoLeaks, baseline } from '../helpers/leaks.js';
import { MiniInitiator } from '../helpers/mini-initiator.js';

const IQN1 = 'iqn.2026-12.org.stgt.test:workers-a';
const IQN2 = 'iqn.2026-12.org.stgt.test:workers-b';
const INITIATOR = 'iqn.2026-12.org.stgt.test:workers-client';
const skip = haveReadWatch() ? false : 'native/io not built with ReadWatch (npm run build:native)';

const daemons: TestDaemon[] = [];
const clients: ScsiClient[] = [];
after(() => {
  clients.forEach((c) => c.close());
  daemons.forEach((d) => d.kill());
});

/** Two targets, each with a 64 MiB memory LUN 1, an ACL and a CHAP-less account binding (the same on every daemon). */
async function setup(d: TestDaemon): Promise<void> {
  await d.addTarget(1, IQN1);
  await d.addTarget(2, IQN2);
  await d.tgtadmOk('--mode', 'logicalunit', '--op', 'new', '--tid', '1', '--lun', '1', '-b', '64M', '--bstype', 'memory');
  await d.tgtadmOk('--mode', 'logicalunit', '--op', 'new', '--tid', '2', '--lun', '1', '-b', '32M', '--bstype', 'memory');
  await d.tgtadmOk('--mode', 'target', '--op', 'bind', '--tid', '2', '-I', '10.1.2.3');
  await d.tgtadmOk('--mode', 'account', '--op', 'new', '--user', 'alice', '--password', 'secretsecret');
  await d.tgtadmOk('--mode', 'account', '--op', 'bind', '--tid', '2', '--user', 'alice', '--outgoing');
}

async function login(d: TestDaemon, iqn: string): Promise<ScsiClient> {
  const c = await ScsiClient.login(d.iscsiPort, iqn, INITIATOR);
  clients.push(c);
  await c.clearUa(1);
  return c;
}

/** Writes `blocks` random blocks at `lba` in pieces of 64 KiB, reads them back, and compares. */
async function writeAndVerify(c: ScsiClient, lba: number, blocks: number): Promise<void> {
  const data = randomBytes(blocks * 512);
  const step = 128;
  await Promise.all(Array.from({ length: blocks / step }, async (_, i) => {
    const w = await c.write16(1, lba + i * step, data.subarray(i * step * 512, (i + 1) * step * 512));
    assert.equal(w.status, 0, 'WRITE(16) GOOD');
  }));
  const r = await c.read16(1, lba, blocks);
  assert.equal(r.status, 0, 'READ(16) GOOD');
  assert.ok(r.data.equals(data), 'the data read back is the data written');
}

test('--workers 2: the targets run in two workers, with I/O to both at once and tgt\'s show text', { skip, timeout: 120_000 }, async () => {
  const plain = await TestDaemon.start();
  daemons.push(plain);
  const d = await TestDaemon.start({ args: ['--workers', '2'] });
  daemons.push(d);
  await setup(plain);
  await setup(d);
  await d.waitForLog(/tid 1 \(iqn\.2026-12\.org\.stgt\.test:workers-a\) runs in worker 0/);
  await d.waitForLog(/tid 2 \(iqn\.2026-12\.org\.stgt\.test:workers-b\) runs in worker 1/);

  // Byte for byte what the daemon without workers says (no session yet: nexus numbers are per worker).
  for (const args of [
    ['--mode', 'target', '--op', 'show'],
    ['--mode', 'target', '--op', 'show', '--tid', '2'],
    ['--mode', 'lld', '--op', 'show'],
    ['--mode', 'system', '--op', 'show'],
    ['--mode', 'system', '--op', 'stat'],
    ['--mode', 'account', '--op', 'show'],
  ]) {
    assert.equal(await d.tgtadmOk(...args), await plain.tgtadmOk(...args), args.join(' '));
  }

  // The main thread's copies of the targets have no LUN 1: I/O that works ran in the workers.
  const c1 = await login(d, IQN1);
  const c2 = await login(d, IQN2);
  await Promise.all([writeAndVerify(c1, 0, 2048), writeAndVerify(c2, 100, 2048)]);

  // Forwarded to the owner: a session and connection show of tid 2, an LU update seen by INQUIRY.
  const show = await d.tgtadmOk('--mode', 'target', '--op', 'show');
  assert.match(show, new RegExp(`Target 2: ${IQN2}[^]*I_T nexus: \\d+\\n {12}Initiator: ${INITIATOR}`));
  const conn = await d.tgtadmOk('--mode', 'conn', '--op', 'show', '--tid', '2');
  assert.match(conn, /IP Address: 127\.0\.0\.1/);
  const sid2 = /I_T nexus: (\d+)/.exec(show.slice(show.indexOf('Target 2:')))?.[1];
  assert.ok(sid2 !== undefined);
  const sess = await d.tgtadmOk('--mode', 'session', '--op', 'show', '--tid', '2', '--sid', sid2);
  assert.match(sess, new RegExp(`^Session: ${sid2}\\n {4}Initiator: ${INITIATOR}\\n`));
  await d.tgtadmOk('--mode', 'logicalunit', '--op', 'update', '--tid', '2', '--lun', '1', '--params', 'vendor_id=WORKER2');
  const inq = await c2.command(Buffer.from([0x12, 0, 0, 0, 96, 0]), { lun: 1, readLen: 96 });
  assert.equal(inq.status, 0);
  assert.equal(inq.data.toString('latin1', 8, 16), 'WORKER2 ');
  const inq1 = await c1.command(Buffer.from([0x12, 0, 0, 0, 96, 0]), { lun: 1, readLen: 96 });
  assert.notEqual(inq1.data.toString('latin1', 8, 16), 'WORKER2 ', 'the other target is untouched');

  // A target with a session is not deleted (tgt: "this target is still active"), as without workers.
  const del = await d.tgtadm('--mode', 'target', '--op', 'delete', '--tid', '2');
  const c3 = await ScsiClient.login(plain.iscsiPort, IQN2, INITIATOR);
  clients.push(c3);
  const delPlain = await plain.tgtadm('--mode', 'target', '--op', 'delete', '--tid', '2');
  assert.notEqual(del.code, 0);
  assert.deepEqual([del.code, del.stdout, del.stderr], [delPlain.code, delPlain.stdout, delPlain.stderr]);
  await writeAndVerify(c2, 4096, 256);
  assertAlive(d);
});

test('--workers 2: a connection killed mid-I/O leaks nothing; a malformed first PDU closes only itself', { skip, timeout: 120_000 }, async () => {
  const d = await TestDaemon.start({ args: ['--workers', '2'] });
  daemons.push(d);
  await setup(d);
  const keep = await login(d, IQN1);
  const base = baseline(d);

  // Many writes in flight, then the initiator vanishes.
  const victim = await ScsiClient.login(d.iscsiPort, IQN2, INITIATOR);
  await victim.clearUa(1);
  const inFlight = Array.from({ length: 32 }, (_, i) => victim.write16(1, i * 128, randomBytes(128 * 512)));
  await waitFor(() => victim.outstanding > 0, 10_000, 'writes in flight');
  victim.m.sock.destroy();
  await Promise.all(inFlight);

  // Not a Login Request as the first PDU: the main thread closes it; nothing reaches a worker.
  const raw = net.connect({ host: '127.0.0.1', port: d.iscsiPort });
  await new Promise<void>((r) => raw.once('connect', () => r()));
  const closed = new Promise<void>((r) => raw.once('close', () => r()));
  raw.on('error', () => {});
  const bad = Buffer.alloc(48);
  bad[0] = 0x01; // SCSI Command
  raw.write(bad);
  await closed;
  await d.waitForLog(/not a Login Request; connection closed/);

  // A first Login PDU that arrives in two pieces (20 bytes, the rest 30 ms later) is routed all
  // the same: the session shows in its worker's answer (the main thread's copy has no sessions).
  const split = await MiniInitiator.connect(d.iscsiPort);
  split.sock.setNoDelay(true);
  const write = split.sock.write.bind(split.sock) as (b: Buffer) => boolean;
  let first = true;
  split.sock.write = ((b: Buffer): boolean => {
    if (!first) return write(b);
    first = false;
    write(b.subarray(0, 20));
    setTimeout(() => write(b.subarray(20)), 30);
    return true;
  }) as typeof split.sock.write;
  await split.login(IQN1, 'iqn.2026-12.org.stgt.test:split');
  const shown = await d.tgtadmOk('--mode', 'target', '--op', 'show');
  assert.match(shown.slice(0, shown.indexOf('Target 2:')), /Initiator: iqn\.2026-12\.org\.stgt\.test:split/);
  split.close();

  // A login to a target nobody has is refused by the main thread, as without workers.
  const m = await MiniInitiator.connect(d.iscsiPort);
  await assert.rejects(m.login('iqn.2026-12.org.stgt.test:nobody', INITIATOR));
  m.close();

  // Discovery is answered by the main thread (its copies, with the ACLs bound); iscsi-ls -s then
  // logs in to each target, in its worker, and lists the LU of each.
  const ls = await run('iscsi-ls', ['-s', '-i', INITIATOR, `iscsi://127.0.0.1:${d.iscsiPort}`], { timeoutMs: 30_000 });
  assert.equal(ls.code, 0, ls.stderr);
  assert.match(ls.stdout, new RegExp(`Target:${IQN1} Portal:127\\.0\\.0\\.1:${d.iscsiPort},1[^]*Lun:1\\s+Type:DIRECT_ACCESS \\(Size:63M\\)`));
  assert.match(ls.stdout, new RegExp(`Target:${IQN2} Portal:127\\.0\\.0\\.1:${d.iscsiPort},1[^]*Lun:1\\s+Type:DIRECT_ACCESS \\(Size:31M\\)`));

  await writeAndVerify(keep, 0, 512);
  keep.close();
  await assertNoLeaks(d, { ...base, sockets: base.sockets - 1 });
  assert.equal((await d.stop()).code, 0);
  assert.doesNotMatch(d.stderr, /error: worker/, 'an orderly stop ends the workers without an error line');
});

test('--workers is refused without native/io', { skip, timeout: 60_000 }, async () => {
  await assert.rejects(TestDaemon.start({ args: ['--workers', '2'], env: { STGT_NATIVE_IO: '0' } }),
    /"code":1[^]*--workers 2 needs the native\/io addon: STGT_NATIVE_IO=0/);
});

test('--workers 1: a connection that never completes its first PDU is closed by the main thread at the login timeout', { skip, timeout: 60_000 }, async () => {
  const d = await TestDaemon.start({ args: ['--workers', '1', '--iscsi', 'login_timeout=1'] });
  daemons.push(d);
  await setup(d);
  const base = baseline(d);
  const closes = [Buffer.alloc(0), Buffer.alloc(20, 0x43)].map(async (part) => {
    const s = net.connect({ host: '127.0.0.1', port: d.iscsiPort });
    s.on('error', () => {});
    await new Promise<void>((r) => s.once('connect', () => r()));
    const t0 = Date.now();
    if (part.length > 0) s.write(part); // a Login Request's first 20 bytes, then nothing
    await new Promise<void>((r) => s.once('close', () => r()));
    return Date.now() - t0;
  });
  for (const ms of await Promise.all(closes)) assert.ok(ms >= 900, `closed after ${ms} ms, not at the 1 s login timeout`);
  await assertNoLeaks(d, base);
  assert.equal((await d.stop()).code, 0);
});
