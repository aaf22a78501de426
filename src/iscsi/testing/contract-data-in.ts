// Connection contract, read path (RFC 7143 11.7 Data-In, 11.7.4 phase collapse, 11.4.5 residuals, 11.4 SCSI Response): byte-exact.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { MakeConnection } from './capture-connection.js';
import { assertBhs, disk, loggedIn, seq, type Rig } from './contract-fixture.js';
import { rw10 } from './pdus.js';
import { dataInBhs, scsiResponseBhs, TOp, type TargetPdu } from './target-pdu.js';

/** Fills the disk with a recognisable pattern so every Data-In payload can be checked. */
function fill(r: Rig): void {
  const d = r.host.dev.data;
  for (let i = 0; i < d.length; i++) d[i] = (i * 31 + (i >>> 8)) & 0xff;
}

/**
 * The Data-In PDUs of one read, expected from the negotiated limits: segments of at most `seg`
 * bytes, F at each MaxBurstLength boundary and at the end, DataSN 0.. per command, S (phase
 * collapse) on the last one with `last` status fields.
 */
function assertDataIn(
  r: Rig, pdus: readonly TargetPdu[], itt: number, st: number, lba: number, sizes: number[], finals: number[],
  last: { underflow?: boolean; overflow?: boolean; residual?: number } = {},
): void {
  assert.equal(pdus.length, sizes.length, `${sizes.length} Data-In PDUs`);
  let offset = 0;
  sizes.forEach((n, i) => {
    const p = pdus[i]!;
    const isLast = i === sizes.length - 1;
    const expected = dataInBhs({
      ...seq(r, st), itt, final: isLast || finals.includes(i), dataSN: i, offset, length: n,
      ...(isLast ? { status: 0, ...last } : {}),
    });
    assertBhs(p, expected, `Data-In ${i}`);
    assert.ok(p.data.equals(disk(r, lba * 512 + offset, n)), `Data-In ${i} payload`);
    offset += n;
  });
}

export function dataInContract(make: MakeConnection): void {
  describe('Data-In', () => {
    test('segments of the initiator MaxRecvDataSegmentLength, F at each MaxBurstLength, status in the last PDU', async () => {
      const r = loggedIn(make, { keys: { MaxRecvDataSegmentLength: '4096', MaxBurstLength: '8192', FirstBurstLength: '4096' } });
      assert.equal(r.wire.conn.params.maxSendSegment, 4096);
      fill(r);
      const st = r.ini.expStatSN;
      const itt = r.ini.read(10, 64); // 32768 bytes
      const out = await r.ini.status(itt);
      assertDataIn(r, out, itt, st, 10, Array(8).fill(4096), [1, 3, 5, 7]);
      assert.ok(out.every((p) => p.opcode === TOp.DataIn), 'no SCSI Response after a collapsed status');
    });

    test('a segment size that does not divide MaxBurstLength: each burst ends short with F', async () => {
      const r = loggedIn(make, { keys: { MaxRecvDataSegmentLength: '3000', MaxBurstLength: '8192', FirstBurstLength: '4096' } });
      fill(r);
      const st = r.ini.expStatSN;
      const itt = r.ini.read(0, 40); // 20480 = 8192 + 8192 + 4096
      const out = await r.ini.status(itt);
      assertDataIn(r, out, itt, st, 0, [3000, 3000, 2192, 3000, 3000, 2192, 3000, 1096], [2, 5]);
    });

    test('residuals in the collapsed status: underflow (EDTL above the CDB) and overflow (clipped at EDTL)', async () => {
      const r = loggedIn(make);
      fill(r);
      let st = r.ini.expStatSN;
      let itt = r.ini.read(4, 8, { edtl: 8192 }); // 4096 read, 8192 expected
      let out = await r.ini.status(itt);
      assertDataIn(r, out, itt, st, 4, [4096], [], { underflow: true, residual: 4096 });
      st = r.ini.expStatSN;
      itt = r.ini.read(4, 16, { edtl: 4096 }); // 8192 wanted, 4096 expected
      out = await r.ini.status(itt);
      assertDataIn(r, out, itt, st, 4, [4096], [], { overflow: true, residual: 4096 });
    });

    test('a read that moves no data gets a SCSI Response; ExpDataSN counts no Data-In', async () => {
      const r = loggedIn(make);
      const st = r.ini.expStatSN;
      const itt = r.ini.read(0, 0, { edtl: 0 });
      const out = await r.ini.status(itt);
      assert.equal(out.length, 1);
      assertBhs(out[0], scsiResponseBhs({ ...seq(r, st), itt, status: 0 }), 'SCSI Response');
    });

    test('CHECK CONDITION: no Data-In, sense in the SCSI Response data segment with SenseLength', async () => {
      const r = loggedIn(make, {}, { blocks: 64 });
      const st = r.ini.expStatSN;
      const itt = r.ini.command({ cdb: rw10(0x28, 64, 1), read: true, edtl: 512 }); // LBA out of range
      const out = await r.ini.status(itt);
      assert.equal(out.length, 1, 'only the SCSI Response');
      const p = out[0]!;
      const senseLength = p.data.readUInt16BE(0);
      assert.equal(p.data.length, senseLength + 2);
      assertBhs(p, scsiResponseBhs({ ...seq(r, st), itt, status: 0x02, underflow: true, residual: 512, senseLength }), 'SCSI Response');
      const sense = p.data.subarray(2);
      const [key, asc] = (sense[0]! & 0x7f) === 0x72 ? [sense[1]!, sense[2]!] : [sense[2]! & 0x0f, sense[12]!];
      assert.deepEqual([key, asc], [0x05, 0x21], 'ILLEGAL REQUEST, LBA OUT OF RANGE');
    });

    test('StatSN advances once per status; ExpCmdSN/MaxCmdSN follow each command', async () => {
      const r = loggedIn(make);
      fill(r);
      const st = r.ini.expStatSN;
      const a = r.ini.read(0, 1);
      const outA = await r.ini.status(a);
      assertDataIn(r, outA, a, st, 0, [512], []);
      const b = r.ini.read(1, 1);
      const outB = await r.ini.status(b);
      assertDataIn(r, outB, b, st + 1, 1, [512], []);
      assert.equal(r.ini.expStatSN, st + 2);
    });
  });
}
