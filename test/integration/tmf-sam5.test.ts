// Integration: SAM-5 task management through iSCSI with raw PDUs: RFC 7144's QUERY TASK, QUERY TASK SET, I_T NEXUS RESET, QUERY ASYNCHRONOUS EVENT, and which session sees which unit attention.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestDaemon } from '../helpers/daemon.js';
import { MiniInitiator } from '../helpers/mini-initiator.js';

const IQN = 'iqn.2026-11.org.stgt.test:tmf';
const INIT = 'iqn.2026-11.org.stgt.test:tmf-initiator';
const daemons: TestDaemon[] = [];
const conns: MiniInitiator[] = [];
after(() => {
  conns.forEach((c) => c.close());
  daemons.forEach((d) => d.kill());
});

/** RFC 7143 11.6.1 / RFC 7144 Response codes. */
const COMPLETE = 0;
const SUCCEEDED = 7;
const NO_LUN = 2;

/** TEST UNIT READY on LUN 1: [status] for GOOD, [status, key, asc, ascq] for a CHECK CONDITION. */
async function tur(m: MiniInitiator): Promise<number[]> {
  m.send(m.scsiBhs(Buffer.from([0, 0, 0, 0, 0, 0]), { lun: 1 }));
  for (;;) {
    const r = await m.recv(15_000);
    assert.ok(r !== null, 'a SCSI Response');
    if ((r.bhs[0]! & 0x3f) !== 0x21) continue;
    if (r.bhs[3] !== 0x02) return [r.bhs[3]!];
    const s = r.data.subarray(2);
    return [r.bhs[3]!, s[2]! & 0x0f, s[12]!, s[13]!];
  }
}

async function drained(m: MiniInitiator): Promise<void> {
  while ((await tur(m))[0] !== 0) { /* unit attentions */ }
}

test('RFC 7144 task management functions and their SAM-5 effects per session', { timeout: 120_000 }, async () => {
  const d = await TestDaemon.start();
  daemons.push(d);
  await d.addTarget(1, IQN);
  await d.tgtadmOk('--mode', 'logicalunit', '--op', 'new', '--tid', '1', '--lun', '1', '-b', '16M', '--bstype', 'memory');
  const a = await MiniInitiator.connect(d.iscsiPort);
  const b = await MiniInitiator.connect(d.iscsiPort);
  conns.push(a, b);
  await a.login(IQN, `${INIT}-a`);
  await b.login(IQN, `${INIT}-b`);
  // QUERY ASYNCHRONOUS EVENT sees the login's unit attention without clearing it. RFC 7144: the
  // response's bytes 8..10 are SAM-5's ADDITIONAL RESPONSE INFORMATION: UADE DEPTH (5:4, 01b: one
  // condition) | SENSE KEY, ASC, ASCQ
  const qae = await a.tmfResponse(12, 1);
  assert.ok(qae !== null);
  assert.equal(qae[2], SUCCEEDED, 'POWER ON unit attention pending');
  assert.deepEqual([...qae.subarray(8, 11)], [0x16, 0x29, 0x00], 'UADE DEPTH 01b, UNIT ATTENTION, 29h/00h');
  assert.deepEqual([...qae.subarray(11, 16)], [0, 0, 0, 0, 0], 'the rest of bytes 8..15 reserved');
  assert.deepEqual(await tur(a), [0x02, 0x06, 0x29, 0x00], 'still there for the next command');
  await drained(a);
  await drained(b);
  const none = await a.tmfResponse(12, 1);
  assert.equal(none?.[2], COMPLETE, 'nothing pending');
  assert.deepEqual([...none!.subarray(8, 11)], [0, 0, 0], 'FUNCTION COMPLETE: no additional response information');
  assert.equal(await a.tmf(12, 5), NO_LUN);
  // A WRITE whose data has not come yet (no immediate data; InitialR2T=No, so the target waits for
  // unsolicited Data-Out) is a task of session a: QUERY TASK and QUERY TASK SET find it
  const write = Buffer.from([0x2a, 0, 0, 0, 0, 0, 0, 0, 8, 0]);
  const bhs = a.scsiBhs(write, { lun: 1, write: true, edtl: 4096 });
  const itt = bhs.readUInt32BE(16);
  a.send(bhs);
  assert.equal(await a.tmf(9, 1, itt), SUCCEEDED, 'QUERY TASK: the write is there');
  assert.equal(await a.tmf(10, 1), SUCCEEDED, 'QUERY TASK SET');
  assert.equal(await b.tmf(10, 1), COMPLETE, "session b has no task");
  assert.equal(await a.tmf(1, 1, itt, a.cmdSN - 1), COMPLETE, 'ABORT TASK');
  assert.equal(await a.tmf(9, 1, itt), COMPLETE, 'QUERY TASK: gone');
  assert.equal(await a.tmf(10, 1), COMPLETE);
  assert.deepEqual(await tur(a), [0], 'ABORT TASK raises no unit attention');
  // I_T NEXUS RESET: session a alone gets I_T NEXUS LOSS OCCURRED; the session goes on
  assert.equal(await a.tmf(11, 0), COMPLETE, 'I_T NEXUS RESET');
  assert.deepEqual([...(await a.tmfResponse(12, 1))!.subarray(2, 11)], [SUCCEEDED, 0, 0, 0, 0, 0, 0x16, 0x29, 0x07], 'I_T NEXUS LOSS OCCURRED pending');
  assert.deepEqual(await tur(a), [0x02, 0x06, 0x29, 0x07]);
  assert.deepEqual(await tur(b), [0], 'the other session sees nothing');
  // LOGICAL UNIT RESET: every session, the requester's included, gets BUS DEVICE RESET FUNCTION OCCURRED
  assert.equal(await b.tmf(5, 1), COMPLETE);
  assert.deepEqual(await tur(a), [0x02, 0x06, 0x29, 0x03]);
  assert.deepEqual(await tur(b), [0x02, 0x06, 0x29, 0x03]);
  await d.stop();
});
