// Test fixture shared by the connection contract files (contract-*.ts): setup per test and byte-exact BHS assertions.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MakeConnection, ConnectionUnderTest } from './capture-connection.js';
import { TestConnectionHost, type TestHostOptions } from './host.js';
import { TestInitiator, type LoginOptions } from './initiator.js';
import type { Seq, TargetPdu } from './target-pdu.js';

export interface Rig {
  host: TestConnectionHost;
  wire: ConnectionUnderTest;
  ini: TestInitiator;
}

/** A new host, a connection from `make`, logged in with `login` (target settings and keys). */
export function loggedIn(make: MakeConnection, login: LoginOptions = {}, hostOpts: TestHostOptions & { depth?: number } = {}): Rig {
  const host = new TestConnectionHost(hostOpts);
  if (hostOpts.depth !== undefined) host.depth = hostOpts.depth;
  const wire = make(host);
  const ini = new TestInitiator(host, wire);
  ini.login(login);
  return { host, wire, ini };
}

/** MaxConnections 2 for the leading login (pass as loggedIn's login options). */
export const TWO_CONNECTIONS: LoginOptions = { keys: { MaxConnections: '2' }, target: { MaxConnections: '2' } };

/** A second connection (CID `cid`) logged in to the session of `r` (which used TWO_CONNECTIONS). */
export function secondConnection(r: Rig, make: MakeConnection, cid = 1): { wire: ConnectionUnderTest; ini: TestInitiator } {
  const wire = make(r.host);
  const ini = new TestInitiator(r.host, wire);
  ini.login({ cid, tsih: r.ini.session.tsih, keys: { MaxConnections: '2' } });
  return { wire, ini };
}

/** Byte-exact comparison of a whole BHS, printed as hex so that a difference shows its offset. */
export function assertBhs(actual: TargetPdu | undefined, expected: Buffer, what: string): void {
  assert.ok(actual !== undefined, `${what}: no PDU`);
  assert.equal(actual.bhs.toString('hex'), expected.toString('hex'), what);
}

/** Sequence fields expected when no CmdSN gap is open: ExpCmdSN is the initiator's next CmdSN. */
export function seq(r: Rig, statSN: number, expCmdSN = r.ini.cmdSN): Seq {
  return { statSN: statSN >>> 0, expCmdSN: expCmdSN >>> 0, maxCmdSN: (expCmdSN + r.host.depth - 1) >>> 0 };
}

/** Opcodes of a PDU list, for order assertions. */
export function opcodes(pdus: readonly TargetPdu[]): number[] {
  return pdus.map((p) => p.opcode);
}

/** The disk bytes [offset, offset+len). */
export function disk(r: Rig, offset: number, len: number): Buffer {
  return r.host.dev.data.subarray(offset, offset + len);
}

/** After the connection closed: it is closed once, and its session has left the SessionTable. */
export function assertTornDown(r: Rig, what: string): void {
  assert.equal(r.wire.conn.state, 'closed', `${what}: connection state`);
  assert.equal(r.wire.closes, 1, `${what}: transport closed once`);
  assert.equal(r.host.sessions.sessions.size, 0, `${what}: session gone from the SessionTable`);
  assert.equal(r.host.closedSessions.length, 1, `${what}: sessionClosed called once`);
  assert.deepEqual(r.host.closedConnections, [r.wire.conn], `${what}: connectionClosed called`);
  assert.deepEqual(r.host.problems(), [], `${what}: nothing logged as an error`);
}

/** `test` when `cond` holds; otherwise the test is not registered (it does not apply to that transport). */
export function testIf(cond: boolean): (name: string, fn: () => unknown) => void {
  return cond ? (name, fn) => void test(name, fn as () => Promise<void>) : () => undefined;
}
