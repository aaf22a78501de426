// RFC 7143 sessions against the real daemon with raw PDUs: MaxConnections > 1, the CmdSN window across
// connections, logout of one connection, session reinstatement, and refusals (6.3.5, 11.14).

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestDaemon } from '../helpers/daemon.js';
import { LoginError, MiniInitiator } from '../helpers/mini-initiator.js';

const IQN = 'iqn.2026-11.org.stgt.test:sessions';
const INIT = 'iqn.2026-11.org.stgt.test:mcs-initiator';
const daemons: TestDaemon[] = [];
const conns: MiniInitiator[] = [];
after(() => {
  conns.forEach((c) => c.close());
  daemons.forEach((d) => d.kill());
});

async function start(): Promise<TestDaemon> {
  const d = await TestDaemon.start();
  daemons.push(d);
  await d.addTarget(1, IQN);
  await d.tgtadmOk('--mode', 'logicalunit', '--op', 'new', '--tid', '1', '--lun', '1', '-b', '16M', '--bstype', 'memory');
  return d;
}

async function connect(d: TestDaemon, host = '127.0.0.1'): Promise<MiniInitiator> {
  const m = await MiniInitiator.connect(d.iscsiPort, host);
  conns.push(m);
  return m;
}

/**
 * Waits (15 s at most) until the target has closed `m`; returns how many PDUs came meanwhile. A
 * fixed 3 s recv() followed by `m.closed` fails whenever a loaded machine closes later than that.
 */
async function untilClosed(m: MiniInitiator, ms = 15_000): Promise<number> {
  const end = Date.now() + ms;
  let pdus = 0;
  while (!m.closed && Date.now() < end) if ((await m.recv(Math.max(1, end - Date.now()))) !== null) pdus++;
  return pdus;
}

/** TEST UNIT READY on LUN 1; returns the SCSI status, or null without a response. */
async function tur(m: MiniInitiator): Promise<number | null> {
  for (let i = 0; i < 3; i++) {
    m.send(m.scsiBhs(Buffer.from([0, 0, 0, 0, 0, 0]), { lun: 1 }));
    const r = await m.recv(15_000);
    if (r === null) return null;
    if ((r.bhs[0]! & 0x3f) !== 0x21) continue;
    if (r.bhs[3] === 0x02) continue; // the first command reports the power-on unit attention
    return r.bhs[3]!;
  }
  return null;
}

test('two connections in one session share the CmdSN window; one logs out, the other goes on', async () => {
  const d = await start();
  await d.tgtadmOk('--mode', 'target', '--op', 'update', '--tid', '1', '--name', 'MaxConnections', '--value', '2');
  const a = await connect(d);
  const keys = await a.login(IQN, INIT, { MaxConnections: '2' });
  assert.equal(keys.get('MaxConnections'), '2');
  assert.equal(await tur(a), 0);

  const b = await connect(d);
  b.isid = a.isid;
  b.tsih = a.tsih;
  b.cid = 1;
  b.cmdSN = a.cmdSN;
  await b.login(IQN, INIT, { MaxConnections: '2' });
  assert.equal(b.tsih, a.tsih, 'the second connection joined the same session');
  const show = await d.tgtadmOk('--mode', 'conn', '--op', 'show', '--tid', '1');
  assert.match(show, new RegExp(`^Session: ${a.tsih}\\n {4}Connection: 0\\n[^]*\\n {4}Connection: 1\\n`));

  // Commands alternate between the connections in CmdSN order.
  b.cmdSN = a.cmdSN;
  assert.equal(await tur(b), 0);
  a.cmdSN = b.cmdSN;
  assert.equal(await tur(a), 0);

  // Logout of connection 1 only (reason 1 = close the connection).
  const lo = Buffer.alloc(48);
  lo[0] = 0x46;
  lo[1] = 0x80 | 1;
  lo.writeUInt32BE(b.itt++, 16);
  lo.writeUInt16BE(1, 20);
  lo.writeUInt32BE(b.cmdSN, 24);
  b.send(lo);
  const rsp = await b.recv();
  assert.ok(rsp !== null && (rsp.bhs[0]! & 0x3f) === 0x26 && rsp.bhs[2] === 0, 'logout response "closed successfully"');
  assert.equal(await untilClosed(b), 0);
  assert.ok(b.closed, 'the logged-out connection is closed');
  a.cmdSN = b.cmdSN + 1;
  assert.equal(await tur(a), 0, 'the session goes on with its other connection');
  await d.stop();
});

test('with MaxConnections=1 a second connection is refused; same ISID with TSIH 0 reinstates the session', async () => {
  const d = await start();
  const a = await connect(d);
  await a.login(IQN, INIT);
  assert.equal(await tur(a), 0);

  const b = await connect(d);
  b.isid = a.isid;
  b.tsih = a.tsih;
  b.cid = 1;
  await assert.rejects(b.login(IQN, INIT), (e: unknown) => e instanceof LoginError && e.status === 0x0206);

  const c = await connect(d);
  c.isid = a.isid;
  await c.login(IQN, INIT);
  assert.notEqual(c.tsih, a.tsih, 'a new session');
  assert.equal(await untilClosed(a), 0);
  assert.ok(a.closed, 'the reinstated session lost its connection');
  assert.equal(await tur(c), 0);
  const show = await d.tgtadmOk('--mode', 'target', '--op', 'show');
  assert.equal((show.match(/I_T nexus: /g) ?? []).length, 1, show);

  // An unknown TSIH is "session does not exist".
  const e = await connect(d);
  e.isid = a.isid;
  e.tsih = 0x7777;
  await assert.rejects(e.login(IQN, INIT), (x: unknown) => x instanceof LoginError && x.status === 0x020a);
  await d.stop();
});

test('the portal group is part of the session identity (RFC 7143 4.4.3): same ISID via two groups = two sessions, via one = reinstatement; a session never spans groups', async () => {
  const d = await start();
  await d.tgtadmOk('--mode', 'target', '--op', 'update', '--tid', '1', '--name', 'MaxConnections', '--value', '2');
  // A second portal of the same daemon, in ALUA group 2: portal group tag 2 (alua.ts).
  await d.tgtadmOk('--lld', 'iscsi', '--mode', 'portal', '--op', 'new', '--param', `portal=127.0.0.2:${d.iscsiPort}`);
  await d.tgtadmOk('--mode', 'target', '--op', 'update', '--tid', '1', '--name', 'alua_group', '--value', '2:127.0.0.2');
  const nexuses = async (): Promise<number> => ((await d.tgtadmOk('--mode', 'target', '--op', 'show')).match(/I_T nexus: /g) ?? []).length;

  const a = await connect(d, '127.0.0.1');
  assert.equal((await a.login(IQN, INIT, { MaxConnections: '2' })).get('TargetPortalGroupTag'), '1');
  assert.equal(await tur(a), 0);
  const b = await connect(d, '127.0.0.2');
  b.isid = a.isid;
  assert.equal((await b.login(IQN, INIT, { MaxConnections: '2' })).get('TargetPortalGroupTag'), '2');
  assert.notEqual(b.tsih, a.tsih, 'a session of its own');
  assert.equal(await tur(b), 0);
  assert.equal(await tur(a), 0, 'the group 1 session was not reinstated by the group 2 login');
  assert.equal(await nexuses(), 2);

  // A connection for group 1's session through group 2's portal: Can't include in session (0208h).
  const c = await connect(d, '127.0.0.2');
  c.isid = a.isid;
  c.tsih = a.tsih;
  c.cid = 1;
  c.cmdSN = a.cmdSN;
  await assert.rejects(c.login(IQN, INIT, { MaxConnections: '2' }), (e: unknown) => e instanceof LoginError && e.status === 0x0208);
  // Through group 1's own portal it joins.
  const j = await connect(d, '127.0.0.1');
  j.isid = a.isid;
  j.tsih = a.tsih;
  j.cid = 1;
  j.cmdSN = a.cmdSN;
  await j.login(IQN, INIT, { MaxConnections: '2' });
  assert.equal(j.tsih, a.tsih);

  // The same ISID through group 2 again, TSIH 0: reinstates group 2's session only.
  const e = await connect(d, '127.0.0.2');
  e.isid = a.isid;
  await e.login(IQN, INIT);
  assert.equal(await untilClosed(b), 0);
  assert.ok(b.closed, 'group 2\'s old session lost its connection');
  assert.equal(await tur(e), 0);
  j.cmdSN = a.cmdSN;
  assert.equal(await tur(j), 0, 'group 1\'s session goes on');
  assert.ok(!a.closed);
  assert.equal(await nexuses(), 2);
  await d.stop();
});

test('target NOP-In pings (nop_interval/nop_count): answered pings keep the connection, silence closes it', { timeout: 60_000 }, async () => {
  const d = await start();
  await d.tgtadmOk('--mode', 'target', '--op', 'update', '--tid', '1', '--name', 'nop_interval', '--value', '1');
  await d.tgtadmOk('--mode', 'target', '--op', 'update', '--tid', '1', '--name', 'nop_count', '--value', '2');
  assert.match(await d.tgtadmOk('--mode', 'target', '--op', 'show'), /\n {8}Nop interval: 1\n {8}Nop count: 2\n/);

  // An initiator that answers every ping (NOP-Out with ITT 0xffffffff echoing the TTT) stays.
  const a = await connect(d);
  await a.login(IQN, `${INIT}-answers`);
  // Wait for pings, not for a time: four answered pings, twice nop_count, prove that answers
  // count (a fixed 4.5 s window saw fewer pings on a loaded machine).
  let pings = 0;
  const end = Date.now() + 30_000;
  while (pings < 4 && Date.now() < end) {
    const p = await a.recv(end - Date.now());
    if (p === null) break;
    if ((p.bhs[0]! & 0x3f) !== 0x20) continue;
    assert.equal(p.bhs.readUInt32BE(16), 0xffffffff, 'a target ping carries the reserved ITT');
    const ttt = p.bhs.readUInt32BE(20);
    assert.notEqual(ttt, 0xffffffff);
    pings++;
    const out = Buffer.alloc(48);
    out[0] = 0x40; // NOP-Out, immediate
    out[1] = 0x80;
    out.writeUInt32BE(0xffffffff, 16);
    out.writeUInt32BE(ttt, 20);
    out.writeUInt32BE(a.cmdSN, 24);
    a.send(out);
  }
  assert.equal(pings, 4, `expected a ping a second, got ${pings} in 30 s`);
  assert.equal(a.closed, false, 'a connection that answers pings stays open');
  assert.equal(await tur(a), 0);

  // One that never answers is closed after nop_count unanswered pings: it sees exactly 2.
  const b = await connect(d);
  await b.login(IQN, `${INIT}-silent`);
  const silentPings = await untilClosed(b, 30_000);
  assert.ok(b.closed, 'the silent connection was closed');
  assert.equal(silentPings, 2, 'closed at the ping after nop_count unanswered ones');
  await d.stop();
});

/** Send a task management request; returns the TMF Response code, or null without one. */
function tmf(m: MiniInitiator, fn: number, lun: number, ref = 0xffffffff, refCmdSN = m.cmdSN): Promise<number | null> {
  return m.tmf(fn, lun, ref, refCmdSN);
}

test('task management: every function of RFC 7143 11.5 is answered; resets raise unit attentions elsewhere', async () => {
  const d = await start();
  const a = await connect(d);
  await a.login(IQN, `${INIT}-tmf-a`);
  const other = await connect(d);
  await other.login(IQN, `${INIT}-tmf-b`);
  assert.equal(await tur(a), 0);
  assert.equal(await tur(other), 0);
  assert.equal(await tmf(a, 1, 1, 0x1234, a.cmdSN - 1), 1, 'ABORT TASK of a finished task: task does not exist');
  assert.equal(await tmf(a, 1, 1, 0x1235, a.cmdSN + 3), 0, 'ABORT TASK of a command not yet received: complete');
  assert.equal(await tmf(a, 2, 1), 0, 'ABORT TASK SET');
  assert.equal(await tmf(a, 4, 1), 0, 'CLEAR TASK SET');
  assert.equal(await tmf(a, 5, 1), 0, 'LOGICAL UNIT RESET');
  // The other nexus sees the reset as a unit attention (29h) on its next command.
  other.send(other.scsiBhs(Buffer.from([0, 0, 0, 0, 0, 0]), { lun: 1 }));
  const rsp = await other.recv(15_000);
  assert.ok(rsp !== null && rsp.bhs[3] === 0x02, 'CHECK CONDITION after the reset');
  const sense = rsp.data.subarray(2);
  assert.equal(sense[2]! & 0x0f, 0x06, 'UNIT ATTENTION');
  assert.equal(sense[12], 0x29, 'POWER ON, RESET, OR BUS DEVICE RESET OCCURRED');
  assert.equal(await tmf(a, 6, 0), 0, 'TARGET WARM RESET');
  assert.equal(await tmf(a, 3, 1), 5, 'CLEAR ACA: not supported');
  assert.equal(await tmf(a, 8, 1), 4, 'TASK REASSIGN at ErrorRecoveryLevel 0: reassignment not supported');
  assert.equal(await tmf(a, 7, 0), 0, 'TARGET COLD RESET');
  assert.equal(await untilClosed(a), 0);
  assert.ok(a.closed, 'a cold reset ends the session');
  await untilClosed(other);
  assert.ok(other.closed, 'and every other session of the target (RFC 7143 11.5.1)');
  await d.stop();
});

test('target state offline: logins are refused with a target error, ready admits them again', async () => {
  const d = await start();
  await d.tgtadmOk('--mode', 'target', '--op', 'update', '--tid', '1', '--name', 'state', '--value', 'offline');
  assert.match(await d.tgtadmOk('--mode', 'target', '--op', 'show'), /\n {8}State: offline\n/);
  const a = await connect(d);
  await assert.rejects(a.login(IQN, `${INIT}-offline`), (e: unknown) => e instanceof LoginError && e.status >> 8 === 0x03);
  await d.tgtadmOk('--mode', 'target', '--op', 'update', '--tid', '1', '--name', 'state', '--value', 'ready');
  const b = await connect(d);
  await b.login(IQN, `${INIT}-online`);
  assert.equal(await tur(b), 0);
  await d.stop();
});
