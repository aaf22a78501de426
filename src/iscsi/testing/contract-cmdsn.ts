// Connection contract, command numbering (RFC 7143 3.2.2.1 CmdSN window, 4.2.2.1 immediate delivery, serial arithmetic across 2^32).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { MakeConnection } from './capture-connection.js';
import { assertBhs, loggedIn, type Rig } from './contract-fixture.js';
import { nopInBhs, scsiResponseBhs, TOp } from './target-pdu.js';

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

export function cmdSNContract(make: MakeConnection): void {
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

    test('reads across a filled gap complete in CmdSN order with the window of their completion', async () => {
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
  });
}
