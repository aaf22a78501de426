// Connection contract, non-command PDUs and teardown (RFC 7143 11.10 Text, 11.14 Logout, 11.18 NOP-Out, 11.5 TMF, 3.2.2.1).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { MakeConnection } from './capture-connection.js';
import { assertBhs, assertTornDown, loggedIn, secondConnection, seq, TWO_CONNECTIONS, type Rig, testIf } from './contract-fixture.js';
import { TEST_TARGET } from './host.js';
import * as B from './pdus.js';
import { until } from './capture-connection.js';
import { logoutResponseBhs, nopInBhs, rejectBhs, textResponseBhs, tmfResponseBhs, TOp } from './target-pdu.js';

/** The three non-command requests that carry a CmdSN, sent non-immediate with a given CmdSN. */
const NON_COMMAND: Record<string, (r: Rig, cmdSN: number) => void> = {
  'NOP-Out': (r, cmdSN) => void r.ini.nop({ cmdSN }),
  Text: (r, cmdSN) => void r.ini.text([['SendTargets', 'All']], { cmdSN }),
  // CID 7 does not exist, so the Logout itself closes nothing.
  Logout: (r, cmdSN) => void r.ini.logout(1, { cid: 7, cmdSN }),
  // TASK REASSIGN is answered at once (not supported at ERL 0) and touches no task.
  'Task Management': (r, cmdSN) => void r.ini.tmf(8, { immediate: false, cmdSN }),
};

export function sessionContract(make: MakeConnection, dataPdus = true): void {
  describe('NOP-Out, Text, Logout, task management, teardown', () => {
    test('NOP-Out: the NOP-In echoes ITT, LUN and data; an answer to a target ping gets no reply', () => {
      const r = loggedIn(make);
      const st = r.ini.expStatSN;
      const itt = r.ini.nop({ immediate: true, lun: 1, data: Buffer.from('hello') });
      const out = r.ini.take();
      assertBhs(out[0], nopInBhs({ ...seq(r, st), itt, lun: 1, length: 5 }), 'NOP-In');
      assert.equal(out[0]!.data.toString(), 'hello');
      r.ini.nop({ itt: 0xffffffff, ttt: 5, immediate: true });
      assert.equal(r.ini.take().length, 0);
    });

    test('Text: SendTargets=All in a normal session names the target', () => {
      const r = loggedIn(make);
      const st = r.ini.expStatSN;
      const itt = r.ini.text([['SendTargets', 'All']]);
      const out = r.ini.take();
      assert.equal(out.length, 1);
      assertBhs(out[0], textResponseBhs({ ...seq(r, st), itt, final: true, length: out[0]!.data.length }), 'Text Response');
      assert.ok(out[0]!.data.toString().startsWith(`TargetName=${TEST_TARGET}\0`));
    });

    for (const [kind, send] of Object.entries(NON_COMMAND)) {
      for (const where of ['ahead of ExpCmdSN (a gap)', 'beyond MaxCmdSN'] as const) {
        test(`${kind} with its CmdSN ${where}, then the connection closes: no throw, the session is gone`, () => {
          const r = loggedIn(make);
          const exp = r.ini.cmdSN;
          send(r, where === 'beyond MaxCmdSN' ? exp + r.host.depth : exp + 1);
          r.ini.take();
          assert.doesNotThrow(() => r.wire.conn.close('peer closed'));
          assertTornDown(r, `${kind} ${where}`);
        });
      }
    }

    test('NOP-Out, Text, Logout and TMF requests outside the CmdSN window are silently ignored', () => {
      const answered: Record<string, string[]> = {};
      for (const [kind, send] of Object.entries(NON_COMMAND)) {
        const r = loggedIn(make);
        send(r, r.ini.cmdSN + r.host.depth);
        send(r, r.ini.cmdSN - 1);
        answered[kind] = r.ini.take().map((p) => `op 0x${p.opcode.toString(16)}`);
      }
      assert.deepEqual(answered, Object.fromEntries(Object.keys(NON_COMMAND).map((k) => [k, []])));
    });

    test('Logout reason 0 closes the session: response, Time2Wait/Time2Retain, then teardown', () => {
      const r = loggedIn(make);
      const st = r.ini.expStatSN;
      const itt = r.ini.logout(0);
      const out = r.ini.take();
      assert.equal(out.length, 1);
      assertBhs(out[0], logoutResponseBhs({ ...seq(r, st), itt, response: 0, time2Wait: 2, time2Retain: 20 }), 'Logout Response');
      assertTornDown(r, 'logout of the session');
    });

    test('Logout reason 1 of its own CID (immediate: the window does not move) closes the connection and its session', () => {
      const r = loggedIn(make, { cid: 3 });
      const st = r.ini.expStatSN;
      const itt = r.ini.logout(1, { immediate: true });
      assertBhs(r.ini.take()[0], logoutResponseBhs({ ...seq(r, st), itt, response: 0, time2Wait: 2, time2Retain: 20 }), 'Logout Response');
      assertTornDown(r, 'logout of the connection');
    });

    test('Logout: unknown CID (1), recovery not supported (2), reserved reason (Reject); the connection stays', () => {
      const r = loggedIn(make, { cid: 3 });
      let st = r.ini.expStatSN;
      const cases: [number, number, number][] = [[1, 9, 1], [2, 3, 2], [2, 9, 1]];
      for (const [reason, cid, response] of cases) {
        const itt = r.ini.logout(reason, { cid });
        const out = r.ini.take();
        assertBhs(out[0], logoutResponseBhs({ ...seq(r, st++), itt, response, time2Wait: 2, time2Retain: 20 }), `reason ${reason} cid ${cid}`);
      }
      r.ini.logout(5, { immediate: true });
      assertBhs(r.ini.take()[0], rejectBhs({ ...seq(r, st++), reason: 0x09 }), 'reserved reason');
      assert.equal(r.wire.conn.state, 'ffp');
      assert.equal(r.wire.closes, 0);
      assert.equal(r.host.sessions.sessions.size, 1);
    });

    test('Logout reason 1 naming another connection of the session closes that one only', () => {
      const r = loggedIn(make, TWO_CONNECTIONS);
      const { wire: w2 } = secondConnection(r, make);
      assert.equal(w2.conn.session, r.wire.conn.session);
      assert.equal(r.ini.session.connections.size, 2);
      const st = r.ini.expStatSN;
      const itt = r.ini.logout(1, { cid: 1, immediate: true });
      assertBhs(r.ini.take()[0], logoutResponseBhs({ ...seq(r, st), itt, response: 0, time2Wait: 2, time2Retain: 20 }), 'Logout Response');
      assert.equal(w2.conn.state, 'closed');
      assert.equal(w2.closes, 1);
      assert.equal(r.wire.conn.state, 'ffp');
      assert.deepEqual([...r.ini.session.connections.keys()], [0]);
      assert.equal(r.host.sessions.sessions.size, 1);
      r.ini.logout(0);
      assert.equal(r.host.sessions.sessions.size, 0);
      assert.deepEqual(r.host.problems(), []);
    });

    // Written with R2T/Data-In PDUs: run where the transport moves data with them.
    testIf(dataPdus)('TMF ABORT TASK of a write waiting for Data-Out: Function complete, no SCSI Response, later Data-Out rejected', async () => {
      const r = loggedIn(make);
      const st = r.ini.expStatSN;
      const w = r.ini.write(0, 8);
      assert.equal(r.ini.take()[0]!.opcode, TOp.R2T);
      const itt = r.ini.tmf(1, { refTaskTag: w, refCmdSN: r.ini.cmdSN - 1 });
      assertBhs(r.ini.take()[0], tmfResponseBhs({ ...seq(r, st), itt, response: 0 }), 'TMF Response');
      r.ini.dataOut({ itt: w, ttt: 1, lba: 0, offset: 0, length: 512, dataSN: 0, final: false });
      assertBhs(r.ini.take()[0], rejectBhs({ ...seq(r, st + 1), reason: 0x09 }), 'Data-Out of an aborted task');
      const t = r.ini.read(0, 1);
      const out = await r.ini.status(t);
      assert.ok(!out.some((p) => p.itt === w), 'no response for the aborted write');
      assert.equal(r.host.dev.writes, 0);
    });

    test('TMF: ABORT TASK of an unknown task (1, or 0 when its CmdSN is still to come), TASK REASSIGN (4), LUN RESET (0)', async () => {
      const r = loggedIn(make);
      let st = r.ini.expStatSN;
      const expect = async (itt: number, response: number, what: string): Promise<void> => {
        await r.ini.waitFor((p) => p.itt === itt, what);
        assertBhs(r.ini.take()[0], tmfResponseBhs({ ...seq(r, st++), itt, response }), what);
      };
      r.ini.nop(); // move ExpCmdSN so that a CmdSN below it exists
      st++;
      r.ini.take();
      await expect(r.ini.tmf(1, { refTaskTag: 0x5555, refCmdSN: r.ini.cmdSN - 1 }), 1, 'done before: does not exist');
      await expect(r.ini.tmf(1, { refTaskTag: 0x5556, refCmdSN: r.ini.cmdSN }), 0, 'not yet received: complete');
      await expect(r.ini.tmf(8, { refTaskTag: 0x5557 }), 4, 'task reassign');
      await expect(r.ini.tmf(5), 0, 'logical unit reset');
    });

    test('TMF ABORT TASK of a read in the backing store: Function complete, and the read is never answered', async () => {
      const r = loggedIn(make);
      const st = r.ini.expStatSN;
      const rd = r.ini.read(0, 8);
      assert.equal(r.host.ioInFlight, 1);
      const itt = r.ini.tmf(1, { refTaskTag: rd, refCmdSN: r.ini.cmdSN - 1 });
      await r.ini.waitFor((p) => p.itt === itt, 'TMF Response');
      await until(() => r.host.ioInFlight === 0, 'the read to finish');
      const out = r.ini.take();
      assert.deepEqual(out.map((p) => p.itt), [itt], 'only the TMF Response');
      assertBhs(out[0], tmfResponseBhs({ ...seq(r, st), itt, response: 0 }), 'TMF Response');
      const next = r.ini.read(0, 1);
      assert.equal((await r.ini.status(next))[0]!.statSN, st + 1, 'the session goes on');
    });

    test('TMF TARGET COLD RESET: Function complete, then the session is closed', async () => {
      const r = loggedIn(make);
      const st = r.ini.expStatSN;
      const itt = r.ini.tmf(7, { lun: 0 });
      await until(() => r.wire.conn.state === 'closed', 'the session to close');
      assertBhs(r.ini.take()[0], tmfResponseBhs({ ...seq(r, st), itt, response: 0 }), 'TMF Response before the close');
      assertTornDown(r, 'cold reset');
    });

    test('a Login PDU in full feature phase is rejected; an unknown opcode too; the connection stays', () => {
      const r = loggedIn(make);
      const st = r.ini.expStatSN;
      r.ini.send(B.loginRequest({ transit: true, csg: 1, nsg: 3, isid: Buffer.alloc(6), itt: 9, cmdSN: r.ini.cmdSN, expStatSN: st, keys: [] }));
      assertBhs(r.ini.take()[0], rejectBhs({ ...seq(r, st), reason: 0x04 }), 'Login in FFP');
      const odd = B.nopOut({ itt: 10, cmdSN: r.ini.cmdSN, expStatSN: st, immediate: true });
      odd.bhs[0] = 0x40 | 0x1c; // a vendor-specific initiator opcode
      r.ini.send(odd);
      assertBhs(r.ini.take()[0], rejectBhs({ ...seq(r, st + 1), reason: 0x05 }), 'unknown opcode');
      assert.equal(r.wire.conn.state, 'ffp');
    });
  });
}
