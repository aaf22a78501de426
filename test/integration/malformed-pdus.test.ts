// Robustness (design.md §4): a generated corpus of malformed PDUs and login texts never crashes tgtd;
// each gets a Reject or a closed connection, and a healthy libiscsi session on the side goes on.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { TestDaemon, iscsiUrl, run, waitFor } from '../helpers/daemon.js';
import { MiniInitiator, BHS, textData } from '../helpers/mini-initiator.js';
import { rng } from '../helpers/fixtures.js';

const IQN = 'iqn.2026-11.org.stgt.test:fuzz';
const daemons: TestDaemon[] = [];
after(() => daemons.forEach((d) => d.kill()));


type Outcome = 'reject' | 'closed' | 'other' | 'silent';

/** Wait for the target's answer: a Reject PDU, a close, another PDU, or nothing. */
async function outcome(m: MiniInitiator, ms = 3000): Promise<Outcome> {
  const p = await m.recv(ms);
  if (p === null) return m.closed ? 'closed' : 'silent';
  return (p.bhs[0]! & 0x3f) === 0x3f ? 'reject' : 'other';
}

test('malformed PDUs get a Reject or a closed connection; tgtd and other sessions survive', { timeout: 300_000 }, async () => {
  const d = await TestDaemon.start();
  daemons.push(d);
  await d.addTarget(1, IQN);
  await d.tgtadmOk('--mode', 'logicalunit', '--op', 'new', '--tid', '1', '--lun', '1', '-b', '64M', '--bstype', 'memory');

  // A healthy session doing I/O for the whole test.
  const perf = spawn('iscsi-perf', ['-i', 'iqn.2026-11.org.stgt.test:healthy', iscsiUrl(d.iscsiPort, IQN, 1)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let perfOut = '';
  perf.stdout.on('data', (b: Buffer) => (perfOut += b.toString()));
  perf.stderr.on('data', (b: Buffer) => (perfOut += b.toString()));
  let perfExit: number | null = null;
  perf.on('exit', (c) => (perfExit = c ?? -1));
  after(() => perf.kill('SIGKILL'));
  const ticks = (): number => (perfOut.match(/iops current/g) ?? []).length;
  await waitFor(() => ticks() > 0, 20_000, 'iscsi-perf to report I/O');

  const r = rng(0x5eed1234);
  const byte = (): number => Math.floor(r() * 256);
  const counts: Record<string, Record<Outcome, number>> = {};
  const note = (kind: string, o: Outcome): void => {
    counts[kind] ??= { reject: 0, closed: 0, other: 0, silent: 0 };
    counts[kind]![o]++;
  };

  // 1. Random bytes before any login: the connection must be closed (never a crash or a hang).
  for (let i = 0; i < 40; i++) {
    const m = await MiniInitiator.connect(d.iscsiPort);
    const junk = Buffer.alloc(48 + Math.floor(r() * 200));
    for (let j = 0; j < junk.length; j++) junk[j] = byte();
    junk[0] = junk[0]! & 0x3f ? junk[0]! : 0x05; // not a Login opcode most of the time
    m.sendRaw(junk);
    const o = await outcome(m);
    note('garbage-before-login', o);
    m.close();
  }

  // 2. Mutated login texts and headers: a Login Response (possibly a failure status) or a close.
  const goodLogin = textData({
    InitiatorName: 'iqn.2026-11.org.stgt.test:mut', SessionType: 'Normal', TargetName: IQN, AuthMethod: 'None',
  });
  for (let i = 0; i < 60; i++) {
    const m = await MiniInitiator.connect(d.iscsiPort);
    const data = Buffer.from(goodLogin);
    const flips = 1 + Math.floor(r() * 6);
    for (let k = 0; k < flips; k++) data[Math.floor(r() * data.length)] = byte();
    const bhs = m.loginBhs(0, 1, true, data.length);
    if (i % 3 === 0) bhs[1 + Math.floor(r() * 3)] = byte(); // flags / versions
    if (i % 5 === 0) {
      // An AHS the login does not expect, framed correctly so the target sees the whole PDU.
      bhs[4] = 1 + (byte() & 0x3);
      const ahs = Buffer.alloc(bhs[4]! * 4);
      for (let j = 0; j < ahs.length; j++) ahs[j] = byte();
      const padded = Buffer.alloc((data.length + 3) & ~3);
      data.copy(padded);
      m.sendRaw(Buffer.concat([bhs, ahs, padded]));
    } else {
      m.send(bhs, data);
    }
    const p = await m.recv(15_000);
    const o: Outcome = p === null ? (m.closed ? 'closed' : 'silent') : (p.bhs[0]! & 0x3f) === 0x23 ? 'other' : 'reject';
    note('mutated-login', o);
    assert.notEqual(o, 'silent', `mutated login #${i} got no answer and no close`);
    m.close();
  }

  // 3. Malformed PDUs in full feature phase, one kind per connection.
  const ffp: Array<[string, (m: MiniInitiator) => void, Outcome[]]> = [
    ['unknown-opcode', (m) => { const b = Buffer.alloc(BHS); b[0] = 0x1c; b[1] = 0x80; b.writeUInt32BE(m.itt++, 16); m.send(b); }, ['reject', 'closed']],
    ['snack', (m) => { const b = Buffer.alloc(BHS); b[0] = 0x10; b[1] = 0x80; m.send(b); }, ['reject', 'closed']],
    ['login-in-ffp', (m) => { const b = m.loginBhs(1, 3, true, 0); m.send(b); }, ['reject', 'closed']],
    ['data-out-unknown-itt', (m) => { const b = Buffer.alloc(BHS); b[0] = 0x05; b[1] = 0x80; b.writeUIntBE(512, 5, 3); b.writeUInt32BE(0xdead, 16); m.send(b, Buffer.alloc(512)); }, ['reject', 'closed']],
    ['oversized-segment', (m) => { const b = m.scsiBhs(Buffer.from([0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0]), { write: true, edtl: 512, dataLen: 0xffffff }); m.sendRaw(b); m.sendRaw(Buffer.alloc(1024)); }, ['reject', 'closed']],
    ['immediate-data-without-w', (m) => { m.send(m.scsiBhs(Buffer.from([0x00]), { dataLen: 512 }), Buffer.alloc(512)); }, ['reject', 'closed']],
    ['bad-ahs', (m) => { const b = m.scsiBhs(Buffer.from([0x00])); b[4] = 2; m.sendRaw(Buffer.concat([b, Buffer.from([0, 8, 9, 0, 1, 2, 3, 4])])); }, ['reject', 'closed']],
    ['logout-bad-reason', (m) => { const b = Buffer.alloc(BHS); b[0] = 0x46; b[1] = 0x80 | 0x55; b.writeUInt32BE(m.itt++, 16); b.writeUInt32BE(m.cmdSN, 24); m.send(b); }, ['reject', 'closed']],
    ['data-out-past-edtl', (m) => {
      const cmd = m.scsiBhs(Buffer.from([0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0]), { write: true, edtl: 512 });
      m.send(cmd);
      const b = Buffer.alloc(BHS); b[0] = 0x05; b[1] = 0x80; b.writeUIntBE(1024, 5, 3); b.writeUInt32BE(cmd.readUInt32BE(16), 16);
      b.writeUInt32BE(0xffffffff, 20); b.writeUInt32BE(4096, 40); m.send(b, Buffer.alloc(1024));
    }, ['reject', 'closed', 'other']],
  ];
  for (const [kind, send, allowed] of ffp) {
    for (let i = 0; i < 3; i++) {
      const m = await MiniInitiator.connect(d.iscsiPort);
      await m.login(IQN, `iqn.2026-11.org.stgt.test:${kind}-${i}`);
      send(m);
      // An answer or a close is due: wait long enough for a loaded machine (3 s was not).
      const o = await outcome(m, 15_000);
      note(kind, o);
      assert.ok(allowed.includes(o), `${kind}: got ${o}, expected one of ${allowed.join(', ')}`);
      m.close();
    }
  }

  // 4. Random headers after a good login: any answer is fine as long as nothing hangs or dies.
  for (let i = 0; i < 60; i++) {
    const m = await MiniInitiator.connect(d.iscsiPort);
    await m.login(IQN, `iqn.2026-11.org.stgt.test:rand-${i}`);
    const b = Buffer.alloc(BHS);
    for (let j = 0; j < BHS; j++) b[j] = byte();
    b[4] = 0; // keep the stream framed...
    b.writeUIntBE(Math.floor(r() * 64) * 4, 5, 3); // ...with a small data segment
    m.send(b, Buffer.alloc(b.readUIntBE(5, 3)));
    note('random-header', await outcome(m, 1500));
    m.close();
  }

  // The daemon is alive and answers both management and iSCSI.
  const show = await d.tgtadmOk('--mode', 'target', '--op', 'show');
  assert.match(show, /Target 1: iqn\.2026-11\.org\.stgt\.test:fuzz/);
  const inq = await run('iscsi-inq', [iscsiUrl(d.iscsiPort, IQN, 1)], { timeoutMs: 20_000 });
  assert.equal(inq.code, 0, inq.stderr);
  // The healthy session kept doing I/O through all of it.
  const before = ticks();
  await waitFor(() => ticks() >= before + 2, 10_000, 'iscsi-perf to keep reporting I/O');
  assert.equal(perfExit, null, `the healthy session's iscsi-perf exited: ${perfOut}`);
  perf.kill('SIGINT');
  console.log(JSON.stringify(counts));
  await d.stop();
});
