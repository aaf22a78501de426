// Tests for the session's CmdSN ordering and teardown (RFC 7143 3.2.2.1, 6.3.5): nothing of a closed connection or session is kept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IscsiSession, type SessionConnection } from './session.js';
import { SessionTable } from './session-table.js';
import type { ItNexus, ScsiTargetPort } from '../scsi/api.js';

function fakeConn(cid: number, onClose: (c: SessionConnection) => void = () => {}): SessionConnection & { closed: string[] } {
  const c = {
    cid,
    closed: [] as string[],
    deliver: () => {},
    close(reason: string) {
      c.closed.push(reason);
      onClose(c);
    },
  };
  return c;
}

function session(): IscsiSession {
  return new IscsiSession(1, Buffer.alloc(6), 'iqn.i', null, null, 'iqn.t', 10, 8, false);
}

test('a non-command PDU ahead of the window is queued with its connection and dropped with it', () => {
  const s = session();
  const a = fakeConn(1);
  const b = fakeConn(2);
  s.connections.set(1, a);
  s.connections.set(2, b);
  assert.equal(s.advance(12, a), true); // NOP-Out/Text/TMF with a CmdSN gap before it
  assert.equal(s.advance(13, b), true);
  assert.equal(s.waiting, 2);
  s.dropConnection(a); // used to throw: the queued placeholder had conn null
  assert.equal(s.waiting, 1);
  assert.equal(s.connections.has(1), false);
  assert.equal(s.expCmdSN, 10);
  s.advance(10, b);
  s.advance(11, b);
  // 12 went with its connection: the window waits for it again (the initiator must resend).
  assert.equal(s.expCmdSN, 12);
});

test('out-of-window CmdSNs are refused and never queued', () => {
  const s = session();
  const a = fakeConn(1);
  assert.equal(s.advance(18, a), false); // MaxCmdSN = 10 + 8 - 1 = 17
  assert.equal(s.advance(9, a), false);
  assert.equal(s.waiting, 0);
  assert.equal(s.advance(17, a), true);
  assert.equal(s.waiting, 1);
});

test('dropConnection goes by identity, whatever CID the connection reports now', () => {
  const s = session();
  const a = fakeConn(1);
  s.connections.set(1, a);
  (a as { cid: number }).cid = 7; // a later login PDU said something else
  assert.equal(s.hasConnection(a), true);
  s.dropConnection(a);
  assert.equal(s.connections.size, 0);
});

function fakeTarget(): ScsiTargetPort & { nexuses: Set<number> } {
  const nexuses = new Set<number>();
  return {
    tid: 1,
    nexuses,
    addNexus: (n: ItNexus) => void nexuses.add(n.id),
    removeNexus: (n: ItNexus) => void nexuses.delete(n.id),
  } as unknown as ScsiTargetPort & { nexuses: Set<number> };
}

test('a session closes completely even when one of its connections throws while closing', () => {
  const errors: string[] = [];
  const table = new SessionTable((m) => errors.push(m));
  const target = fakeTarget();
  const closedSessions: IscsiSession[] = [];
  const bad = fakeConn(1, () => {
    throw new TypeError('boom');
  });
  const good = fakeConn(2);
  const b = table.bind(
    {
      discovery: false, initiatorName: 'iqn.i', initiatorAlias: null, isid: Buffer.alloc(6), tsih: 0, cid: 1,
      target, targetName: 'iqn.t', cmdSN: 1, maxConnections: 2, queueDepth: 8, conn: bad, portalGroupTag: 1,
    },
    (x) => closedSessions.push(x),
  );
  assert.ok('session' in b);
  const s = b.session;
  s.connections.set(2, good);
  s.advance(3, good);
  assert.equal(target.nexuses.size, 1);
  table.close(s, 'target deleted', (x) => closedSessions.push(x));
  assert.equal(table.sessions.size, 0);
  assert.equal(target.nexuses.size, 0);
  assert.deepEqual(good.closed, ['target deleted']);
  assert.equal(s.connections.size, 0);
  assert.equal(s.waiting, 0);
  assert.equal(closedSessions.length, 1);
  assert.match(errors.join('\n'), /connection 1: close: TypeError: boom/);
});

test('the last connection going ends the session; a replaced connection does not', () => {
  const table = new SessionTable();
  const target = fakeTarget();
  const first = fakeConn(1);
  const req = {
    discovery: false, initiatorName: 'iqn.i', initiatorAlias: null, isid: Buffer.alloc(6), tsih: 0, cid: 1,
    target, targetName: 'iqn.t', cmdSN: 1, maxConnections: 1, queueDepth: 8, conn: first, portalGroupTag: 1,
  };
  const b = table.bind(req, () => {});
  assert.ok('session' in b);
  // Connection reinstatement: same CID on the same session replaces the old connection.
  const second = fakeConn(1, (c) => table.connectionGone(b.session, c, () => {}));
  const first2 = fakeConn(1);
  const r = table.bind({ ...req, tsih: b.session.tsih, conn: second }, () => {});
  assert.ok('session' in r);
  assert.equal(table.sessions.size, 1);
  const r2 = table.bind({ ...req, tsih: b.session.tsih, conn: first2 }, () => {});
  assert.ok('session' in r2);
  assert.deepEqual(second.closed, ['connection reinstatement']);
  assert.equal(table.sessions.size, 1, 'the replaced connection leaving must not end the session');
  table.connectionGone(b.session, first2, () => {});
  assert.equal(table.sessions.size, 0);
  assert.equal(target.nexuses.size, 0);
});

test('session reinstatement closes only the session of the same initiator port and target, among many', () => {
  const table = new SessionTable();
  const target = fakeTarget();
  const isid = (i: number) => Buffer.from([0x80, 0, 0, 0, i >> 8, i & 0xff]);
  const req = (i: number, name = 'iqn.i', targetName = 'iqn.t') => ({
    discovery: false, initiatorName: name, initiatorAlias: null, isid: isid(i), tsih: 0, cid: 1,
    target, targetName, cmdSN: 1, maxConnections: 1, queueDepth: 8, conn: fakeConn(1), portalGroupTag: 1,
  });
  const firsts = [];
  for (let i = 0; i < 100; i++) firsts.push(req(i));
  for (const r of firsts) assert.ok('session' in table.bind(r, () => {}));
  // Same ISID, another initiator name or another target: a different I_T nexus, nothing closes.
  const other = [req(7, 'iqn.other'), req(7, 'iqn.i', 'iqn.t2'), { ...req(7), discovery: true, targetName: null }];
  for (const r of other) assert.ok('session' in table.bind(r, () => {}));
  assert.equal(table.sessions.size, 103);
  const closed: IscsiSession[] = [];
  const again = table.bind(req(7), (x) => closed.push(x));
  assert.ok('session' in again);
  assert.equal(closed.length, 1);
  assert.deepEqual(firsts[7]!.conn.closed, ['session reinstatement']);
  for (const r of [...firsts.filter((_, i) => i !== 7), ...other]) assert.deepEqual(r.conn.closed, []);
  assert.equal(table.sessions.size, 103);
  // Once it has ended (logout), the next login with that port reinstates nothing.
  table.close(again.session, 'logout', () => {});
  const fresh = req(7);
  const closed2: IscsiSession[] = [];
  assert.ok('session' in table.bind(fresh, (x) => closed2.push(x)));
  assert.equal(closed2.length, 0);
  // And a reinstatement of that one still finds it.
  const last = req(7);
  assert.ok('session' in table.bind(last, () => {}));
  assert.deepEqual(fresh.conn.closed, ['session reinstatement']);
});

test('the portal group is part of the session identity: same ISID via two groups = two sessions; a TSIH of one group refused via the other', () => {
  const table = new SessionTable();
  const target = fakeTarget();
  const req = (tpgt: number, tsih = 0, cid = 1) => ({
    discovery: false, initiatorName: 'iqn.i', initiatorAlias: null, isid: Buffer.from([0x80, 1, 2, 3, 0, 0]), tsih, cid,
    target, targetName: 'iqn.t', cmdSN: 1, maxConnections: 2, queueDepth: 8, conn: fakeConn(cid), portalGroupTag: tpgt,
  });
  const g1 = req(1);
  const g2 = req(2);
  const b1 = table.bind(g1, () => {});
  const b2 = table.bind(g2, () => {});
  assert.ok('session' in b1 && 'session' in b2);
  assert.notEqual(b1.session.tsih, b2.session.tsih);
  assert.deepEqual([g1.conn.closed, g2.conn.closed], [[], []], 'a login through group 2 reinstates nothing of group 1');
  assert.deepEqual([b1.session.portalGroupTag, b2.session.portalGroupTag], [1, 2]);
  assert.equal(target.nexuses.size, 2);
  // Adding a connection to group 1's session through a portal of group 2: Can't include in session (0208h).
  const cross = req(2, b1.session.tsih, 2);
  assert.deepEqual(table.bind(cross, () => {}), { statusClass: 0x02, statusDetail: 0x08 });
  assert.equal(b1.session.connections.size, 1);
  // Through its own group it joins.
  const join = req(1, b1.session.tsih, 2);
  const j = table.bind(join, () => {});
  assert.ok('session' in j && j.session === b1.session);
  assert.equal(b1.session.connections.size, 2);
  // Same ISID through the same group again: session reinstatement closes that group's session only.
  const again = req(2);
  const closed: IscsiSession[] = [];
  const b3 = table.bind(again, (x) => closed.push(x));
  assert.ok('session' in b3);
  assert.deepEqual(closed, [b2.session]);
  assert.deepEqual(g2.conn.closed, ['session reinstatement']);
  assert.deepEqual([g1.conn.closed, join.conn.closed], [[], []]);
  // Closing group 1's session leaves group 2's index entry alone: a group 2 login still reinstates b3.
  table.close(b1.session, 'logout', () => {});
  const last = req(2);
  assert.ok('session' in table.bind(last, () => {}));
  assert.deepEqual(again.conn.closed, ['session reinstatement']);
});

test('in-order non-command CmdSNs advance the window at once; behind a gap they keep their slot', () => {
  const s = session(); // ExpCmdSN 10
  const a = fakeConn(1);
  const ran: number[] = [];
  const cmd = (cmdSN: number) => ({ cmdSN, conn: a, run: () => ran.push(cmdSN) });
  assert.equal(s.advance(10, a), true);
  assert.equal(s.expCmdSN, 11);
  assert.equal(s.waiting, 0);
  assert.equal(s.order(cmd(13)), true); // a command ahead of a gap
  assert.equal(s.advance(12, a), true); // a NOP-Out ahead of the same gap
  assert.equal(s.waiting, 2);
  assert.equal(s.advance(11, a), true); // fills the gap: 12 (placeholder) and 13 (command) follow
  assert.deepEqual(ran, [13]);
  assert.equal(s.expCmdSN, 14);
  assert.equal(s.waiting, 0);
  assert.equal(s.advance(14, a), true);
  assert.equal(s.expCmdSN, 15);
});
