// Connection contract, login phase through receivePdu (RFC 7143 6.3 / 11.12-11.13): only Login PDUs, failures close.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { MakeConnection } from './capture-connection.js';
import { TestConnectionHost } from './host.js';
import { ISID } from './initiator.js';
import * as B from './pdus.js';
import { TOp } from './target-pdu.js';

export function loginContract(make: MakeConnection): void {
  describe('login phase', () => {
    test('a PDU other than Login before full feature phase closes the connection, unanswered', () => {
      const host = new TestConnectionHost();
      const wire = make(host);
      wire.receive(B.nopOut({ itt: 1, cmdSN: 1, expStatSN: 0, immediate: true }));
      assert.equal(wire.conn.state, 'closed');
      assert.equal(wire.closes, 1);
      assert.equal(wire.sent.length, 0);
      assert.equal(host.sessions.sessions.size, 0);
    });

    test('a login to an unknown target is answered 0x0203 (not found), with StatSN from ExpStatSN, then closed', () => {
      const host = new TestConnectionHost();
      const wire = make(host);
      wire.receive(B.loginRequest({
        transit: true, csg: 0, nsg: 1, isid: ISID, itt: 0x77, cmdSN: 5, expStatSN: 0x1234,
        keys: [['InitiatorName', 'iqn.2024-01.test:x'], ['TargetName', 'iqn.2024-01.test:nope'], ['AuthMethod', 'None']],
      }));
      assert.equal(wire.sent.length, 1);
      const p = wire.sent[0]!;
      assert.equal(p.opcode, TOp.LoginResponse);
      assert.equal(p.loginStatus, 0x0203);
      assert.equal(p.itt, 0x77);
      assert.equal(p.statSN, 0x1234);
      assert.equal(p.expCmdSN, 5);
      assert.ok(p.bhs.subarray(8, 14).equals(ISID), 'ISID echoed');
      assert.equal(wire.conn.state, 'closed');
      assert.equal(wire.closes, 1);
      assert.equal(host.sessions.sessions.size, 0);
    });
  });
}
