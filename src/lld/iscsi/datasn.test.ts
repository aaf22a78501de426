// RFC 7143 7.8/7.9: a Data-Out with an out-of-order DataSN is discarded; the connection stays up (TCP framer, fake socket).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeTcpConnection } from './testing/fake-socket.js';
import { loggedIn, seq, assertBhs } from '../../iscsi/testing/contract-fixture.js';
import { tmfResponseBhs, TOp } from '../../iscsi/testing/target-pdu.js';

// The four cases of libiscsi's test_iscsi_datasn_invalid.c: two PDUs with DataSN 0, one with 27,
// one with 0xffffffff, and DataSN 1 then 0. None may reach the disk, none may close the connection.
const CASES: [string, number, number[]][] = [
  ['DataSN 0 twice', 2, [0, 0]],
  ['DataSN 27', 1, [27]],
  ['DataSN 0xffffffff', 1, [0xffffffff]],
  ['DataSN 1 then 0', 2, [1, 0]],
];

for (const [name, blocks, sns] of CASES) {
  test(`write with ${name}: the bad Data-Out is dropped, nothing is written, the session goes on`, async () => {
    const r = loggedIn(makeTcpConnection);
    const st = r.ini.expStatSN;
    const w = r.ini.write(0, blocks);
    assert.equal(r.ini.take()[0]!.opcode, TOp.R2T);
    sns.forEach((sn, i) => r.ini.dataOut({ itt: w, ttt: 1, lba: 0, offset: 512 * i, length: 512, dataSN: sn, final: i === sns.length - 1 }));
    // Any answer now would be a Reject of a later PDU of the broken sequence, never a response.
    const early = r.ini.take();
    assert.ok(!early.some((p) => p.itt === w && p.opcode !== TOp.Reject), 'no response to the broken write');
    assert.equal(r.wire.conn.state, 'ffp', 'the connection stays up');
    assert.equal(r.host.dev.writes, 0, 'nothing reached the disk');
    // The initiator recovers with ABORT TASK (RFC 7143 7.8: no recovery R2T at ErrorRecoveryLevel 0).
    const statSN = st + early.filter((p) => p.opcode === TOp.Reject).length;
    const itt = r.ini.tmf(1, { refTaskTag: w, refCmdSN: r.ini.cmdSN - 1 });
    await r.ini.waitFor((p) => p.itt === itt, 'TMF Response');
    assertBhs(r.ini.take()[0], tmfResponseBhs({ ...seq(r, statSN), itt, response: 0 }), 'ABORT TASK of the stuck write');
    // The same connection still serves commands, and a correct write works.
    const ok = r.ini.write(0, 1);
    const r2t = r.ini.take()[0]!;
    assert.equal(r2t.opcode, TOp.R2T);
    r.ini.dataOut({ itt: ok, ttt: r2t.ttt, lba: 0, offset: 0, length: 512, dataSN: 0, final: true });
    const out = await r.ini.status(ok);
    assert.equal(out.at(-1)!.status, 0);
    assert.equal(r.host.dev.writes, 1);
  });
}
