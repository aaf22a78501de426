// Connection contract, write path (RFC 7143 11.7 Data-Out, 11.8 R2T, 13.10-13.17 InitialR2T/ImmediateData/bursts): byte-exact.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { MakeConnection } from './capture-connection.js';
import { assertBhs, disk, loggedIn, seq, type Rig } from './contract-fixture.js';
import { pattern } from './initiator.js';
import { rw10 } from './pdus.js';
import { r2tBhs, rejectBhs, scsiResponseBhs, TOp, type TargetPdu } from './target-pdu.js';

const BURSTS = { MaxBurstLength: '8192', FirstBurstLength: '4096' };

/** Checks one R2T byte for byte (its TTT is the target's choice: taken from the PDU, checked not reserved). */
function assertR2T(r: Rig, p: TargetPdu | undefined, st: number, itt: number, r2tSN: number, offset: number, length: number): void {
  assert.ok(p !== undefined && p.opcode === TOp.R2T, `R2T ${r2tSN}: got ${p}`);
  assert.notEqual(p.ttt, 0xffffffff, 'R2T TTT is not the reserved tag');
  assertBhs(p, r2tBhs({ ...seq(r, st), itt, ttt: p.ttt, lun: 1, r2tSN, offset, length }), `R2T ${r2tSN}`);
}

async function assertGood(r: Rig, itt: number, st: number, lba: number, bytes: number): Promise<void> {
  const out = await r.ini.status(itt);
  assert.equal(out.length, 1, 'one SCSI Response');
  assertBhs(out[0], scsiResponseBhs({ ...seq(r, st), itt, status: 0 }), 'SCSI Response');
  assert.ok(disk(r, lba * 512, bytes).equals(pattern(lba * 512, bytes)), 'data on the disk');
}

export function r2tContract(make: MakeConnection): void {
  describe('R2T and Data-Out', () => {
    test('InitialR2T=Yes, ImmediateData=Yes, MaxOutstandingR2T=1: R2Ts after the immediate data, one burst at a time', async () => {
      const r = loggedIn(make, { keys: BURSTS });
      const st = r.ini.expStatSN;
      const itt = r.ini.write(8, 40, { immediateData: 1024 }); // EDTL 20480
      let out = r.ini.take();
      assert.equal(out.length, 1);
      assertR2T(r, out[0], st, itt, 0, 1024, 8192);
      const ttts = [out[0]!.ttt];
      r.ini.answerR2T(out[0]!, 8, 4096);
      out = r.ini.take();
      assert.equal(out.length, 1, 'the next R2T once the sequence is complete');
      assertR2T(r, out[0], st, itt, 1, 9216, 8192);
      ttts.push(out[0]!.ttt);
      r.ini.answerR2T(out[0]!, 8, 8192);
      out = r.ini.take();
      assert.equal(out.length, 1);
      assertR2T(r, out[0], st, itt, 2, 17408, 3072);
      ttts.push(out[0]!.ttt);
      assert.equal(new Set(ttts).size, 3, 'each R2T has its own TTT');
      r.ini.answerR2T(out[0]!, 8, 1024);
      await assertGood(r, itt, st, 8, 20480);
    });

    test('InitialR2T=No: unsolicited data up to FirstBurstLength (DataSN from 0), R2Ts from FirstBurstLength', async () => {
      const r = loggedIn(make, { keys: { ...BURSTS, InitialR2T: 'No' }, target: { InitialR2T: 'No' } });
      assert.equal(r.wire.conn.params.initialR2T, false);
      let st = r.ini.expStatSN;
      let itt = r.ini.write(0, 40, { immediateData: 1024, final: false });
      let out = r.ini.take();
      assert.equal(out.length, 1);
      assertR2T(r, out[0], st, itt, 0, 4096, 8192);
      const r2t0 = out[0]!;
      r.ini.dataOut({ itt, lba: 0, offset: 1024, length: 2048, dataSN: 0, final: false });
      r.ini.dataOut({ itt, lba: 0, offset: 3072, length: 1024, dataSN: 1, final: true });
      assert.equal(r.ini.take().length, 0, 'unsolicited Data-Out is not answered');
      r.ini.answerR2T(r2t0, 0, 8192);
      out = r.ini.take();
      assertR2T(r, out[0], st, itt, 1, 12288, 8192);
      r.ini.answerR2T(out[0]!, 0, 4096);
      await assertGood(r, itt, st, 0, 20480);

      // EDTL within FirstBurstLength: no R2T at all.
      st = r.ini.expStatSN;
      itt = r.ini.write(100, 4, { final: false });
      assert.equal(r.ini.take().length, 0, 'no R2T');
      r.ini.dataOut({ itt, lba: 100, offset: 0, length: 2048, dataSN: 0, final: true });
      await assertGood(r, itt, st, 100, 2048);
    });

    test('InitialR2T=No: unsolicited data beyond FirstBurstLength is rejected', async () => {
      const r = loggedIn(make, { keys: { ...BURSTS, InitialR2T: 'No' }, target: { InitialR2T: 'No' } });
      const st = r.ini.expStatSN;
      const itt = r.ini.write(0, 16, { final: false });
      const out = r.ini.take();
      assertR2T(r, out[0], st, itt, 0, 4096, 4096);
      r.ini.dataOut({ itt, lba: 0, offset: 0, length: 4096, dataSN: 0, final: false });
      r.ini.dataOut({ itt, lba: 0, offset: 4096, length: 512, dataSN: 1, final: true });
      const rej = r.ini.take();
      assert.equal(rej.length, 1);
      assertBhs(rej[0], rejectBhs({ ...seq(r, st), reason: 0x04 }), 'Reject (protocol error)');
      assert.ok(rej[0]!.data.equals(r.ini.last!.bhs), 'the Reject carries the rejected BHS');
    });

    test('ImmediateData=No: a command with data is rejected and consumes its CmdSN; R2T from offset 0', async () => {
      const r = loggedIn(make, { keys: { ...BURSTS, ImmediateData: 'No' }, target: { ImmediateData: 'No' } });
      assert.equal(r.wire.conn.params.immediateData, false);
      const st = r.ini.expStatSN;
      r.ini.write(0, 8, { immediateData: 512 });
      const rej = r.ini.take();
      assert.equal(rej.length, 1);
      assertBhs(rej[0], rejectBhs({ ...seq(r, st), reason: 0x04 }), 'Reject');
      assert.ok(rej[0]!.data.equals(r.ini.last!.bhs));
      const itt = r.ini.write(0, 8);
      const out = r.ini.take();
      assertR2T(r, out[0], st + 1, itt, 0, 0, 4096);
      r.ini.answerR2T(out[0]!, 0, 4096);
      await assertGood(r, itt, st + 1, 0, 4096);
    });

    test('MaxOutstandingR2T=3: every R2T of the command at once, in offset order', async () => {
      const keys = { ...BURSTS, MaxOutstandingR2T: '3' };
      const r = loggedIn(make, { keys, target: { MaxOutstandingR2T: '3' } });
      assert.equal(r.wire.conn.params.maxOutstandingR2T, 3);
      const st = r.ini.expStatSN;
      const itt = r.ini.write(16, 48); // 24576 = 3 bursts
      const out = r.ini.take();
      assert.equal(out.length, 3);
      for (let i = 0; i < 3; i++) assertR2T(r, out[i], st, itt, i, i * 8192, 8192);
      assert.equal(new Set(out.map((p) => p.ttt)).size, 3, 'distinct TTTs');
      for (const p of out) r.ini.answerR2T(p, 16, 8192);
      await assertGood(r, itt, st, 16, 24576);
    });

    test('MaxOutstandingR2T=2: a new R2T each time a sequence completes', async () => {
      const r = loggedIn(make, { keys: { ...BURSTS, MaxOutstandingR2T: '2' }, target: { MaxOutstandingR2T: '2' } });
      const st = r.ini.expStatSN;
      const itt = r.ini.write(0, 80); // 40960 = 5 bursts
      const first = r.ini.take();
      assert.equal(first.length, 2);
      assertR2T(r, first[0], st, itt, 0, 0, 8192);
      assertR2T(r, first[1], st, itt, 1, 8192, 8192);
      const pending = [...first];
      for (let n = 2; n < 5; n++) {
        r.ini.answerR2T(pending.shift()!, 0, 4096);
        const out = r.ini.take();
        assert.equal(out.length, 1, `R2T ${n} after a sequence completed`);
        assertR2T(r, out[0], st, itt, n, n * 8192, 8192);
        pending.push(out[0]!);
      }
      r.ini.answerR2T(pending.shift()!, 0, 8192);
      assert.equal(r.ini.take().length, 0, 'nothing left to ask for');
      r.ini.answerR2T(pending.shift()!, 0, 8192);
      await assertGood(r, itt, st, 0, 40960);
    });

    test('Data-Out that was not asked for: unsolicited with InitialR2T=Yes, or an unknown TTT, is rejected', async () => {
      const r = loggedIn(make, { keys: BURSTS });
      const st = r.ini.expStatSN;
      const itt = r.ini.write(0, 16);
      const r2t = r.ini.take()[0]!;
      assertR2T(r, r2t, st, itt, 0, 0, 8192);
      r.ini.dataOut({ itt, lba: 0, offset: 0, length: 512, dataSN: 0, final: true });
      let rej = r.ini.take();
      assertBhs(rej[0], rejectBhs({ ...seq(r, st), reason: 0x04 }), 'unsolicited Data-Out');
      r.ini.dataOut({ itt, ttt: (r2t.ttt + 1000) >>> 0, lba: 0, offset: 0, length: 512, dataSN: 0, final: true });
      rej = r.ini.take();
      assertBhs(rej[0], rejectBhs({ ...seq(r, st + 1), reason: 0x04 }), 'unknown TTT');
      r.ini.dataOut({ itt: 0x7777, lba: 0, offset: 0, length: 512, dataSN: 0, final: true });
      rej = r.ini.take();
      assertBhs(rej[0], rejectBhs({ ...seq(r, st + 2), reason: 0x09 }), 'unknown ITT');
      r.ini.answerR2T(r2t, 0, 8192);
      const out = await r.ini.status(itt);
      assertBhs(out[0], scsiResponseBhs({ ...seq(r, st + 3), itt, status: 0 }), 'the write still completes');
    });

    test('immediate data beyond FirstBurstLength or beyond EDTL is rejected (the CmdSN is consumed)', () => {
      const r = loggedIn(make, { keys: BURSTS });
      const st = r.ini.expStatSN;
      r.ini.write(0, 16, { immediateData: 4608 }); // FirstBurstLength is 4096
      assertBhs(r.ini.take()[0], rejectBhs({ ...seq(r, st), reason: 0x04 }), 'above FirstBurstLength');
      r.ini.command({ cdb: rw10(0x2a, 0, 1), write: true, edtl: 512, data: pattern(0, 1024) });
      assertBhs(r.ini.take()[0], rejectBhs({ ...seq(r, st + 1), reason: 0x04 }), 'above EDTL');
      assert.equal(r.host.dev.writes, 0);
    });

    test('write residuals: EDTL above the CDB (U, the CDB length is written), EDTL below it (O)', async () => {
      const r = loggedIn(make);
      let st = r.ini.expStatSN;
      let itt = r.ini.command({ cdb: rw10(0x2a, 4, 1), write: true, edtl: 1024, data: pattern(4 * 512, 1024) });
      let out = await r.ini.status(itt);
      assertBhs(out[0], scsiResponseBhs({ ...seq(r, st), itt, status: 0, underflow: true, residual: 512 }), 'underflow');
      assert.ok(disk(r, 4 * 512, 512).equals(pattern(4 * 512, 512)));
      assert.ok(disk(r, 5 * 512, 512).equals(Buffer.alloc(512)), 'nothing written beyond the CDB');
      st = r.ini.expStatSN;
      itt = r.ini.command({ cdb: rw10(0x2a, 8, 2), write: true, edtl: 512, data: pattern(8 * 512, 512) });
      out = await r.ini.status(itt);
      assertBhs(out[0], scsiResponseBhs({ ...seq(r, st), itt, status: 0, overflow: true, residual: 512 }), 'overflow');
    });

    test('a write held in a CmdSN gap gets its R2T and its data, and runs once the gap fills', async () => {
      const r = loggedIn(make, { keys: BURSTS });
      const st = r.ini.expStatSN;
      const exp = r.ini.cmdSN;
      const itt = r.ini.write(0, 8, { cmdSN: exp + 1 });
      const r2t = r.ini.take()[0]!;
      assertBhs(r2t, r2tBhs({ ...seq(r, st, exp), itt, ttt: r2t.ttt, lun: 1, r2tSN: 0, offset: 0, length: 4096 }), 'R2T while held');
      r.ini.answerR2T(r2t, 0, 4096);
      assert.equal(r.ini.take().length, 0, 'all data in, still waiting for CmdSN ' + exp);
      assert.equal(r.host.dev.writes, 0);
      const tur = r.ini.command({ cdb: [0, 0, 0, 0, 0, 0], edtl: 0, cmdSN: exp });
      r.ini.cmdSN = exp + 2;
      await r.ini.waitFor((p) => p.itt === itt, 'the write');
      assert.deepEqual(r.ini.take().map((p) => p.itt), [tur, itt]);
      assert.ok(disk(r, 0, 4096).equals(pattern(0, 4096)));
    });

    test('Data-Out DataSN counts from 0 in each sequence; a PDU out of order is discarded, the connection stays (RFC 7143 7.8/7.9)', () => {
      for (const bad of ['gap in the R2T sequence', 'not restarted for the R2T sequence', 'gap in the unsolicited sequence'] as const) {
        const r = loggedIn(make, { keys: { ...BURSTS, InitialR2T: 'No' }, target: { InitialR2T: 'No' } });
        const st = r.ini.expStatSN;
        const itt = r.ini.write(0, 24, { final: false }); // 12288: 4096 unsolicited + one R2T
        const r2t = r.ini.take()[0]!;
        assertR2T(r, r2t, st, itt, 0, 4096, 8192);
        const t = r2t.ttt;
        if (bad === 'gap in the unsolicited sequence') {
          r.ini.dataOut({ itt, lba: 0, offset: 0, length: 2048, dataSN: 0, final: false });
          r.ini.dataOut({ itt, lba: 0, offset: 2048, length: 2048, dataSN: 2, final: true });
        } else {
          r.ini.dataOut({ itt, lba: 0, offset: 0, length: 2048, dataSN: 0, final: false });
          r.ini.dataOut({ itt, lba: 0, offset: 2048, length: 2048, dataSN: 1, final: true });
          if (bad === 'gap in the R2T sequence') {
            r.ini.dataOut({ itt, ttt: t, lba: 0, offset: 4096, length: 4096, dataSN: 0, final: false });
            r.ini.dataOut({ itt, ttt: t, lba: 0, offset: 8192, length: 4096, dataSN: 2, final: true });
          } else {
            r.ini.dataOut({ itt, ttt: t, lba: 0, offset: 4096, length: 4096, dataSN: 2, final: false });
          }
        }
        assert.equal(r.ini.take().length, 0, `${bad}: no response`);
        assert.equal(r.wire.conn.state, 'ffp', `${bad}: the connection stays`);
        assert.equal(r.host.dev.writes, 0, `${bad}: nothing written`);
      }
    });
  });
}
