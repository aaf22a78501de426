// The RFC 7143 connection contract (iscsi/testing/contract.ts) run over the TCP framer and a fake socket.
import { connectionContract } from '../../iscsi/testing/contract.js';
import { makeTcpConnection, TcpUnderTest } from './testing/fake-socket.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loggedIn } from '../../iscsi/testing/contract-fixture.js';
import { until } from '../../iscsi/testing/capture-connection.js';
import { MAX_QUEUED_READ_BYTES } from '../../iscsi/connection.js';

connectionContract(makeTcpConnection, { name: 'connection contract (TCP framer over a fake socket)' });

// TCP-only: past the back-pressure bound of unsent answers the connection stops reading the socket.

test('TCP: unsent answers past MAX_QUEUED_READ_BYTES pause reading until the socket drains', async () => {
  const r = loggedIn((host) => new TcpUnderTest(host));
  const wire = r.wire as TcpUnderTest;
  wire.setBacklog(MAX_QUEUED_READ_BYTES + 1);
  r.ini.nop({ data: Buffer.alloc(100, 1) }); // answered: the echo is queued on a socket that is already full
  await until(() => wire.sock.paused, 'reading paused');
  wire.setBacklog(0); // the initiator caught up: 'drain'
  await until(() => !wire.sock.paused, 'reading resumed');
  assert.equal(wire.conn.isClosed, false);
});
