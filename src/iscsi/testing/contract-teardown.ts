// Connection contract, teardown and session life (RFC 7143 6.3.5 reinstatement, 11.14 Logout with tasks, 11.5.1 abort, discovery).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { until, type MakeConnection } from './capture-connection.js';
import { assertBhs, assertTornDown, loggedIn, secondConnection, seq, TWO_CONNECTIONS, testIf } from './contract-fixture.js';
import { TEST_TARGET } from './host.js';
import { TestInitiator } from './initiator.js';
import { logoutResponseBhs, rejectBhs, textResponseBhs, tmfResponseBhs, TOp } from './target-pdu.js';

const TUR = [0, 0, 0, 0, 0, 0];

export function teardownContract(make: MakeConnection, dataPdus = true): void {
  describe('teardown and session life', () => {
    test('close while a read is in the backing store: nothing is sent afterwards, the late completion is ignored', async () => {
      const r = loggedIn(make);
      const itt = r.ini.read(0, 8);
      assert.equal(r.host.ioInFlight, 1, 'the read is in the backing store');
      assert.doesNotThrow(() => r.wire.conn.close('peer closed'));
      const n = r.wire.sent.length;
      await until(() => r.host.ioInFlight === 0, 'the read to complete');
      assert.equal(r.wire.sent.length, n, 'no PDU after the close');
      assert.ok(!r.wire.sent.some((p) => p.itt === itt));
      assertTornDown(r, 'close with a read in flight');
    });

    // Written with R2T/Data-In PDUs: run where the transport moves data with them.
    testIf(dataPdus)('logout of the session while a write waits for Data-Out and a read runs', async () => {
      const r = loggedIn(make);
      const st = r.ini.expStatSN;
      r.ini.write(0, 8);
      const rd = r.ini.read(8, 8);
      assert.equal(r.ini.take()[0]!.opcode, TOp.R2T);
      const itt = r.ini.logout(0);
      assertBhs(r.ini.take()[0], logoutResponseBhs({ ...seq(r, st), itt, response: 0, time2Wait: 2, time2Retain: 20 }), 'Logout Response');
      await until(() => r.host.ioInFlight === 0, 'the read to complete');
      assert.ok(!r.wire.sent.some((p) => p.itt === rd), 'no Data-In after the logout');
      assertTornDown(r, 'logout with tasks');
      assert.equal(r.host.dev.writes, 0);
    });

    test('ABORT TASK of a command held in a CmdSN gap: it never runs, and its CmdSN still counts', async () => {
      const r = loggedIn(make);
      let st = r.ini.expStatSN;
      const exp = r.ini.cmdSN;
      const held = r.ini.read(0, 1, { cmdSN: exp + 1 });
      const tmf = r.ini.tmf(1, { refTaskTag: held, refCmdSN: exp + 1 });
      assertBhs(r.ini.take()[0], tmfResponseBhs({ ...seq(r, st++, exp), itt: tmf, response: 0 }), 'TMF Response');
      const fill = r.ini.command({ cdb: TUR, edtl: 0, cmdSN: exp });
      const out = r.ini.take();
      assert.deepEqual(out.map((p) => p.itt), [fill]);
      assert.equal(r.ini.session.expCmdSN, exp + 2, 'the aborted command consumed its CmdSN');
      assert.equal(r.host.ioInFlight, 0, 'the aborted read never reached the backing store');
      r.ini.cmdSN = exp + 2;
      const next = r.ini.read(0, 1);
      const done = await r.ini.status(next);
      assert.deepEqual(done.map((p) => p.itt), [next]);
      assert.equal(done[0]!.statSN, st + 1);
    });

    test('a discovery session: SendTargets answers, SCSI commands are rejected, logout ends it', () => {
      const r = loggedIn(make, { discovery: true });
      assert.equal(r.ini.session.discovery, true);
      let st = r.ini.expStatSN;
      const itt = r.ini.text([['SendTargets', 'All']]);
      const out = r.ini.take();
      assertBhs(out[0], textResponseBhs({ ...seq(r, st++), itt, final: true, length: out[0]!.data.length }), 'Text Response');
      assert.ok(out[0]!.data.toString().includes(`TargetName=${TEST_TARGET}\0`));
      r.ini.command({ cdb: TUR, edtl: 0, immediate: true });
      assertBhs(r.ini.take()[0], rejectBhs({ ...seq(r, st++), reason: 0x04 }), 'SCSI command in discovery');
      r.ini.logout(0);
      assert.equal(r.ini.take()[0]!.opcode, TOp.LogoutResponse);
      assertTornDown(r, 'discovery logout');
    });

    test('session reinstatement: a new login with the same ISID closes the old session', () => {
      const r = loggedIn(make);
      const old = r.ini.session;
      const w2 = make(r.host);
      new TestInitiator(r.host, w2).login();
      assert.equal(r.wire.conn.state, 'closed');
      assert.equal(r.wire.closes, 1);
      assert.deepEqual(r.host.closedSessions, [old]);
      assert.equal(r.host.sessions.sessions.size, 1);
      assert.notEqual(w2.conn.session, old);
      assert.equal(w2.conn.state, 'ffp');
      assert.deepEqual(r.host.problems(), []);
    });

    test('connection reinstatement: a login with the same TSIH and CID replaces the connection, the session lives on', () => {
      const r = loggedIn(make, { cid: 4 });
      const s = r.ini.session;
      const w2 = make(r.host);
      new TestInitiator(r.host, w2).login({ tsih: s.tsih, cid: 4 });
      assert.equal(r.wire.conn.state, 'closed');
      assert.equal(w2.conn.session, s);
      assert.equal(s.connections.get(4), w2.conn);
      assert.deepEqual([...r.host.sessions.sessions.values()], [s]);
      assert.deepEqual(r.host.closedSessions, []);
      assert.deepEqual(r.host.problems(), []);
    });

    test('two connections: Logout reason 0 on one closes both and the session', () => {
      const r = loggedIn(make, TWO_CONNECTIONS);
      const b = secondConnection(r, make);
      r.ini.logout(0, { immediate: true });
      assert.equal(r.ini.take()[0]!.opcode, TOp.LogoutResponse);
      assert.equal(b.wire.conn.state, 'closed');
      assert.equal(b.wire.closes, 1);
      assert.equal(b.ini.take().length, 0, 'nothing sent on the other connection');
      assert.equal(r.wire.conn.state, 'closed');
      assert.equal(r.host.sessions.sessions.size, 0);
      assert.equal(r.host.closedSessions.length, 1);
      assert.deepEqual(r.host.problems(), []);
    });

    test('two connections: Logout reason 1 of its own CID closes that one; the session lives on the other', async () => {
      const r = loggedIn(make, TWO_CONNECTIONS);
      const b = secondConnection(r, make);
      const s = r.ini.session;
      r.ini.logout(1, { immediate: true });
      assert.equal(r.ini.take()[0]!.opcode, TOp.LogoutResponse);
      assert.equal(r.wire.conn.state, 'closed');
      assert.equal(r.wire.closes, 1);
      assert.deepEqual([...s.connections.keys()], [1]);
      assert.deepEqual([...r.host.sessions.sessions.values()], [s]);
      b.ini.cmdSN = s.expCmdSN;
      const rd = b.ini.read(0, 1);
      assert.equal((await b.ini.status(rd)).at(-1)!.status, 0, 'the other connection still works');
      b.wire.conn.close('peer closed');
      assert.equal(r.host.sessions.sessions.size, 0, 'the session ends with its last connection');
      assert.deepEqual(r.host.problems(), []);
    });
  });
}
