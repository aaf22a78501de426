// Connection contract, command numbering (RFC 7143 3.2.2.1 CmdSN window and immediate delivery, serial arithmetic across 2^32).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { MakeConnection } from './capture-connection.js';
import { assertBhs, loggedIn, secondConnection, seq, TWO_CONNECTIONS, type Rig, testIf } from './contract-fixture.js';
import { nopInBhs, rejectBhs, scsiResponseBhs, TOp } from './target-pdu.js';

/** TEST UNIT READY: no data and no backing-store I/O, so an accepted one is answered in the same turn. */
const TUR = [0, 0, 0, 0, 0, 0];
/** The session's first CmdSN: near 2^32 so that every test crosses the wrap. */
const START = 0xfffffffe;
const DEPTH = 4;

function sn(n: number): number {
  return n >>> 0;
}

function tur(r: Rig, cmdSN: number, immediate = false): number {
  return r.ini.command({ cdb: TUR, edtl: 0, lun: 1, cmdSN: sn(cmdSN), immediate });
}

/** Expected sequence fields with the window [exp, exp + DEPTH - 1]. */
function win(statSN: number, exp: number): { statSN: number; expCmdSN: number; maxCmdSN: number } {
  return { statSN: sn(statSN), expCmdSN: sn(exp), maxCmdSN: sn(exp + DEPTH - 1) };
}

export function cmdSNContract(make: MakeConnection, dataPdus = true): void {
  describe('CmdSN window', () => {
    const open = (): Rig => loggedIn(make, { cmdSN: START }, { depth: DEPTH });

    test('the login sets the window: ExpCmdSN = login CmdSN, MaxCmdSN = ExpCmdSN + MaxQueueCmd - 1', () => {
      const r = open();
      const st = r.ini.expStatSN;
      const itt = r.ini.nop({ immediate: true });
      const out = r.ini.take();
      assertBhs(out[0], nopInBhs({ ...win(st, START), itt }), 'NOP-In');
      const itt2 = r.ini.nop({ cmdSN: START });
      assertBhs(r.ini.take()[0], nopInBhs({ ...win(st + 1, START + 1), itt: itt2 }), 'a non-immediate NOP-Out consumes its CmdSN');
    });

    test('out of the window (below ExpCmdSN, above MaxCmdSN) is silently dropped', () => {
      const r = open();
      const st = r.ini.expStatSN;
      const below = tur(r, START - 1);
      const above = tur(r, START + DEPTH);
      const far = tur(r, START + 0x80000000);
      assert.equal(r.ini.take().length, 0, 'no response, no Reject');
      const got: number[] = [];
      for (let i = 0; i < DEPTH; i++) {
        const itt = tur(r, START + i);
        const out = r.ini.take();
        assert.equal(out.length, 1);
        assertBhs(out[0], scsiResponseBhs({ ...win(st + i, START + i + 1), itt, status: 0 }), `TUR at CmdSN +${i}`);
        got.push(out[0]!.itt);
      }
      assert.ok(![below, above, far].some((t) => got.includes(t)), 'the dropped commands never ran');
      assert.equal(r.wire.conn.state, 'ffp');
    });

    test('a gap holds later commands until it is filled; then they run in CmdSN order', () => {
      const r = open();
      const st = r.ini.expStatSN;
      const c3 = tur(r, START + 3); // MaxCmdSN itself is in the window
      const c1 = tur(r, START + 1);
      assert.equal(r.ini.take().length, 0, 'held');
      const ping = r.ini.nop({ immediate: true, cmdSN: START });
      assertBhs(r.ini.take()[0], nopInBhs({ ...win(st, START), itt: ping }), 'the window has not moved');
      const c0 = tur(r, START);
      const out = r.ini.take();
      assert.deepEqual(out.map((p) => p.itt), [c0, c1], 'CmdSN +0 then the held +1; +3 still waits for +2');
      // TUR completes in the same turn: c0 answers before c1 is released from the gap.
      assertBhs(out[0], scsiResponseBhs({ ...win(st + 1, START + 1), itt: c0, status: 0 }), 'response to +0');
      assertBhs(out[1], scsiResponseBhs({ ...win(st + 2, START + 2), itt: c1, status: 0 }), 'response to +1');
      const c2 = tur(r, START + 2);
      const out2 = r.ini.take();
      assert.deepEqual(out2.map((p) => p.itt), [c2, c3]);
      assertBhs(out2[1], scsiResponseBhs({ ...win(st + 4, START + 4), itt: c3, status: 0 }), 'response to +3');
    });

    test('a duplicate CmdSN inside the window is dropped', () => {
      const r = open();
      const first = tur(r, START + 1);
      const dup = tur(r, START + 1);
      const c0 = tur(r, START);
      const out = r.ini.take();
      assert.deepEqual(out.map((p) => p.itt), [c0, first], 'the duplicate never runs');
      assert.ok(!out.some((p) => p.itt === dup));
    });

    test('immediate commands run at once, even behind a gap, and do not move the window', () => {
      const r = open();
      const st = r.ini.expStatSN;
      const held = tur(r, START + 1);
      const imm = tur(r, START, true);
      const out = r.ini.take();
      assert.equal(out.length, 1);
      assertBhs(out[0], scsiResponseBhs({ ...win(st, START), itt: imm, status: 0 }), 'immediate TUR');
      const c0 = tur(r, START);
      assert.deepEqual(r.ini.take().map((p) => p.itt), [c0, held]);
    });

    // Written with R2T/Data-In PDUs: run where the transport moves data with them.
    testIf(dataPdus)('reads across a filled gap complete in CmdSN order with the window of their completion', async () => {
      const r = open();
      const st = r.ini.expStatSN;
      const b = r.ini.read(8, 1, { cmdSN: sn(START + 1) });
      const a = r.ini.read(0, 1, { cmdSN: START });
      await r.ini.waitFor((p) => p.itt === b, 'second read');
      const out = r.ini.take().filter((p) => p.opcode === TOp.DataIn);
      assert.deepEqual(out.map((p) => p.itt), [a, b]);
      assert.deepEqual(out.map((p) => p.statSN), [sn(st), sn(st + 1)]);
      for (const p of out) assert.equal(p.expCmdSN, sn(START + 2));
    });

    test('MaxQueueCmd 1: the window is ExpCmdSN alone; the next CmdSN is dropped, not held', () => {
      const r = loggedIn(make, { cmdSN: 7 }, { depth: 1 });
      const st = r.ini.expStatSN;
      const ahead = tur(r, 8);
      assert.equal(r.ini.take().length, 0);
      const c7 = tur(r, 7);
      assertBhs(r.ini.take()[0], scsiResponseBhs({ statSN: st, expCmdSN: 8, maxCmdSN: 8, itt: c7, status: 0 }), 'window of one');
      const c8 = tur(r, 8);
      assert.deepEqual(r.ini.take().map((p) => p.itt), [c8], 'the early one was never kept');
      assert.notEqual(ahead, c8);
    });

    test('StatSN starts at the ExpStatSN of the login and wraps at 2^32', () => {
      const r = loggedIn(make, { expStatSN: 0xfffffffe });
      assert.equal(r.ini.expStatSN, 0, 'the final Login Response had StatSN 0xffffffff');
      const a = tur(r, r.ini.cmdSN);
      r.ini.cmdSN++;
      assertBhs(r.ini.take()[0], scsiResponseBhs({ ...seq(r, 0), itt: a, status: 0 }), 'StatSN 0 after the wrap');
      const b = tur(r, r.ini.cmdSN);
      r.ini.cmdSN++;
      assertBhs(r.ini.take()[0], scsiResponseBhs({ ...seq(r, 1), itt: b, status: 0 }), 'StatSN 1');
    });

    // Written with R2T/Data-In PDUs: run where the transport moves data with them.
    testIf(dataPdus)('an ITT still in use is rejected with Task in progress, and its CmdSN is consumed', () => {
      const r = loggedIn(make);
      const st = r.ini.expStatSN;
      const w = r.ini.write(0, 8);
      assert.equal(r.ini.take()[0]!.opcode, TOp.R2T);
      r.ini.read(0, 1, { itt: w });
      const out = r.ini.take();
      assertBhs(out[0], rejectBhs({ ...seq(r, st), reason: 0x07 }), 'Reject (task in progress)');
      assert.ok(out[0]!.data.equals(r.ini.last!.bhs));
      assert.ok(r.wire.conn.tasks.has(w), 'the first command is untouched');
    });

    test('two connections of one session: a command on one waits for the lower CmdSN sent on the other', async () => {
      const r = loggedIn(make, { ...TWO_CONNECTIONS, cmdSN: 100 });
      const { ini: ini2 } = secondConnection(r, make);
      const onA = tur(r, 101);
      assert.equal(r.ini.take().length, 0, 'CmdSN 101 waits for 100');
      const onB = ini2.command({ cdb: TUR, edtl: 0, cmdSN: 100 });
      assert.deepEqual(ini2.take().map((p) => p.itt), [onB]);
      // Released by a PDU of the other connection: its own transport may send it at the end of the turn (TCP does).
      await r.ini.waitFor((p) => p.itt === onA, 'the released command');
      const a = r.ini.take();
      assert.deepEqual(a.map((p) => p.itt), [onA], 'released on its own connection');
      assert.equal(a[0]!.expCmdSN, 102);
    });

    test('a SCSI Command with the reserved ITT 0xffffffff is rejected, not run', () => {
      const r = loggedIn(make);
      const st = r.ini.expStatSN;
      r.ini.command({ cdb: TUR, edtl: 0, itt: 0xffffffff });
      assertBhs(r.ini.take()[0], rejectBhs({ ...seq(r, st), reason: 0x04 }), 'Reject (protocol error)');
    });
  });
}
