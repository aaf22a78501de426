// Unit tests: SPC-4 5.13 a registration is of an I_T nexus, initiator port AND target port (ALL_TG_PT, READ FULL STATUS, SPEC_I_PT, REGISTER AND MOVE, PREEMPT AND ABORT).
//
// The target has two target ports: ALUA group 1 (127.0.0.1) and group 2 (127.0.0.2), relative
// target port identifiers 1 and 2 (alua.ts). Initiator ports P and Q each log in through both.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Status, TaskAttr } from './api.js';
import type { ItNexus, ScsiTask } from './api.js';
import { cdb10, makeTask, rig, senseOf } from './testing/harness.js';
import type { Rig } from './testing/harness.js';
import { EA, INVALID_PARAM, K1, K2, WE, fullStatus, keys, moveParam, out, param, prOutCdb, reservation } from './testing/pr.js';
import { transportId } from './transport-id.js';

const NAME_P = 'iqn.2024-01.test:p';
const NAME_Q = 'iqn.2024-01.test:q';
const NAME_R = 'iqn.2024-01.test:r';
const P = `${NAME_P},i,0x400000000001`;
const Q = `${NAME_Q},i,0x400000000002`;

function via(id: number, name: string, port: string, group: 1 | 2): ItNexus {
  return { id, initiatorName: name, initiatorPort: port, localAddress: `127.0.0.${group}`, localPort: 3260 };
}

interface Ports {
  r: Rig;
  /** P through target port 1 and 2, Q through 1 and 2. */
  p1: ItNexus;
  p2: ItNexus;
  q1: ItNexus;
  q2: ItNexus;
  /** Adds a nexus and clears its unit attentions on LU 1. */
  login(n: ItNexus): Promise<void>;
}

async function twoPorts(): Promise<Ports> {
  const r = rig({ dev: { async: true } });
  assert.equal(r.target.assignAluaPortal(2, '127.0.0.2'), null);
  await r.clearUa(); // i1 (keys, reservation) reads through port 1
  const login = async (n: ItNexus): Promise<void> => {
    r.target.addNexus(n);
    while ((await r.run([0, 0, 0, 0, 0, 0], { n })).status !== Status.Good) { /* unit attentions */ }
  };
  const ports: Ports = { r, p1: via(11, NAME_P, P, 1), p2: via(12, NAME_P, P, 2), q1: via(13, NAME_Q, Q, 1), q2: via(14, NAME_Q, Q, 2), login };
  for (const n of [ports.p1, ports.p2, ports.q1, ports.q2]) await login(n);
  assert.equal(r.target.portGroupOf(ports.p2).id, 2);
  return ports;
}

const write = (r: Rig, n: ItNexus): Promise<ScsiTask> => r.run(cdb10(0x2a, 0, 1), { n, dataOut: Buffer.alloc(512, n.id) });

test('ALL_TG_PT=0 registers only the I_T nexus of the receiving target port; READ FULL STATUS reports each one\'s relative port', async () => {
  const { r, p1, p2 } = await twoPorts();
  assert.equal((await out(r, p1, 0, param(0n, K1))).status, Status.Good);
  assert.deepEqual(await keys(r), [K1]);
  // P through port 2 is another I_T nexus, not registered: REGISTER with key 0 works there
  assert.equal((await out(r, p2, 0, param(0n, K2))).status, Status.Good);
  assert.deepEqual(await keys(r), [K1, K2]);
  assert.deepEqual((await fullStatus(r, p1)).map((d) => [d.key, d.allTgPt, d.relPort, d.port]), [[K1, false, 1, P], [K2, false, 2, P]]);
  // Write Exclusive by P through port 1: the same initiator port through port 2 is a registrant, not the holder
  assert.equal((await out(r, p1, 1, param(K1, 0n), WE)).status, Status.Good);
  assert.equal((await write(r, p2)).status, Status.ReservationConflict);
  assert.equal((await write(r, p1)).status, Status.Good);
  assert.equal((await r.run(cdb10(0x28, 0, 1), { n: p2 })).status, Status.Good, 'WE: reads allowed');
  const fs = await fullStatus(r, p2);
  assert.deepEqual(fs.map((d) => [d.holder, d.type]), [[true, WE], [false, 0]]);
  // port 2's nexus unregisters: port 1's registration and the reservation stay
  assert.equal((await out(r, p2, 0, param(K2, 0n))).status, Status.Good);
  assert.deepEqual(await keys(r), [K1]);
  assert.deepEqual(await reservation(r), [K1, WE]);
});

test('ALL_TG_PT=1 registers the initiator port through every target port: one registration, holder through either port', async () => {
  const { r, p1, p2, q1 } = await twoPorts();
  assert.equal((await out(r, p1, 0, param(0n, K1, 0x04))).status, Status.Good);
  // through port 2 P is registered already (with K1): a REGISTER with key 0 is a conflict
  assert.equal((await out(r, p2, 0, param(0n, K2))).status, Status.ReservationConflict);
  assert.equal((await out(r, p2, 1, param(K1, 0n), EA)).status, Status.Good);
  assert.equal((await write(r, p1)).status, Status.Good, 'the holder through the other port');
  assert.equal((await write(r, p2)).status, Status.Good);
  assert.equal((await r.run(cdb10(0x28, 0, 1), { n: q1 })).status, Status.ReservationConflict, 'EA excludes others');
  assert.deepEqual((await fullStatus(r, q1)).map((d) => [d.key, d.allTgPt, d.holder, d.type, d.relPort, d.port]), [[K1, true, true, EA, 0, P]]);
  // unregistering through either port removes it for all
  assert.equal((await out(r, p1, 0, param(K1, 0n))).status, Status.Good);
  assert.deepEqual(await keys(r), []);
  assert.equal(await reservation(r), null);
});

test('REGISTER AND MOVE moves to the I_T nexus of the named initiator port and RELATIVE TARGET PORT IDENTIFIER', async () => {
  const { r, p1, q1, q2 } = await twoPorts();
  assert.equal((await out(r, p1, 0, param(0n, K1))).status, Status.Good);
  assert.equal((await out(r, p1, 1, param(K1, 0n), WE)).status, Status.Good);
  const toQ = transportId(Q);
  assert.deepEqual(senseOf(await out(r, p1, 7, moveParam(K1, K2, toQ, { relPort: 3 }))), INVALID_PARAM, 'no target port 3');
  assert.deepEqual(senseOf(await out(r, p1, 7, moveParam(K1, K2, transportId(P), { relPort: 1 }))), INVALID_PARAM, 'its own I_T nexus');
  assert.equal((await out(r, p1, 7, moveParam(K1, K2, toQ, { relPort: 2 }))).status, Status.Good);
  assert.equal((await write(r, q2)).status, Status.Good, 'Q through port 2 holds it');
  assert.equal((await write(r, q1)).status, Status.ReservationConflict, 'Q through port 1 is not registered');
  assert.equal((await write(r, p1)).status, Status.ReservationConflict);
  const fs = await fullStatus(r, q1);
  assert.deepEqual(fs.map((d) => [d.key, d.holder, d.relPort, d.port]), [[K1, false, 1, P], [K2, true, 2, Q]]);
  // the same initiator port through another target port is another I_T nexus: a move there is allowed
  assert.equal((await out(r, q2, 7, moveParam(K2, K2, toQ, { relPort: 1, unreg: true }))).status, Status.Good);
  assert.equal((await write(r, q1)).status, Status.Good);
  assert.equal((await write(r, q2)).status, Status.ReservationConflict, 'unregistered by UNREG');
  assert.deepEqual((await fullStatus(r, q1)).map((d) => [d.holder, d.relPort, d.port]), [[false, 1, P], [true, 1, Q]]);
});

test('SPEC_I_PT registers the named ports (with ISID) and initiators (without) through the receiving target port only', async () => {
  const { r, p2, q1, q2, login } = await twoPorts();
  const r1 = via(15, NAME_R, `${NAME_R},i,0x400000000003`, 1);
  const r2 = via(16, NAME_R, `${NAME_R},i,0x400000000004`, 2); // another ISID of R
  await login(r1);
  await login(r2);
  assert.equal((await out(r, p2, 0, param(0n, K1, 0x08, [transportId(Q), transportId(NAME_R)]))).status, Status.Good);
  assert.deepEqual(await keys(r), [K1, K1, K1]);
  assert.deepEqual((await fullStatus(r, p2)).map((d) => [d.relPort, d.port]), [[2, P], [2, Q], [2, NAME_R]]);
  // Q through port 2 and any port of R through port 2 are registered; through port 1 they are not
  assert.equal((await out(r, q2, 0, param(K1, K1))).status, Status.Good);
  assert.equal((await out(r, r2, 0, param(K1, K1))).status, Status.Good);
  assert.equal((await out(r, q1, 0, param(K1, K1))).status, Status.ReservationConflict);
  assert.equal((await out(r, r1, 0, param(K1, K1))).status, Status.ReservationConflict);
  assert.equal((await out(r, q1, 0, param(0n, K2))).status, Status.Good, 'Q registers through port 1 by itself');
  assert.deepEqual(await keys(r), [K1, K1, K1, K2]);
  // Q's port is now registered through port 1: naming it through port 1 again fails the whole list
  const p1 = via(11, NAME_P, P, 1);
  assert.equal((await out(r, p1, 0, param(0n, K2, 0x08, [transportId(Q)]))).status, Status.CheckCondition);
  assert.deepEqual(await keys(r), [K1, K1, K1, K2]);
});

test('PREEMPT AND ABORT aborts the tasks and raises REGISTRATIONS PREEMPTED only on the preempted I_T nexus, not the same port through another target port', async () => {
  const { r, p1, q1, q2 } = await twoPorts();
  assert.equal((await out(r, q1, 0, param(0n, K2))).status, Status.Good);
  assert.equal((await out(r, p1, 0, param(0n, K1))).status, Status.Good);
  assert.equal((await out(r, p1, 1, param(K1, 0n), WE)).status, Status.Good);
  // one read in the backing store from Q through each port
  const t1 = makeTask(q1, 1, cdb10(0x28, 8, 1), { tag: 60 });
  const t2 = makeTask(q2, 1, cdb10(0x28, 8, 1), { tag: 61 });
  const d1 = new Promise<ScsiTask>((res) => r.target.execute(t1, res));
  const d2 = new Promise<ScsiTask>((res) => r.target.execute(t2, res));
  const pa = await r.run(prOutCdb(5, WE, 24), { n: p1, dataOut: param(K1, K2), attr: TaskAttr.HeadOfQueue });
  assert.equal(pa.status, Status.Good);
  assert.equal((await d1).aborted, true, "the preempted nexus's read is aborted");
  const r2 = await d2;
  assert.equal(r2.aborted, false, 'the same initiator port through port 2 keeps its task');
  assert.equal(r2.status, Status.Good);
  assert.deepEqual(await keys(r), [K1]);
  assert.deepEqual(senseOf(await r.run([0, 0, 0, 0, 0, 0], { n: q1 })), [0x06, 0x2a, 0x05]);
  assert.equal((await r.run([0, 0, 0, 0, 0, 0], { n: q2 })).status, Status.Good, 'no unit attention through port 2');
});
