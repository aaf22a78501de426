// stgt's login timeout against the real daemon: a connection that never finishes its login is closed (`--iscsi login_timeout=S`); one that logs in is not.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { TestDaemon, waitFor } from '../helpers/daemon.js';
import { MiniInitiator } from '../helpers/mini-initiator.js';

const IQN = 'iqn.2026-11.org.stgt.test:login-timeout';
const daemons: TestDaemon[] = [];
after(() => daemons.forEach((d) => d.kill()));

/** A raw TCP connection that reports when the target closed it. */
function rawConnect(port: number): Promise<{ sock: net.Socket; closed: () => boolean }> {
  return new Promise((resolve, reject) => {
    let closed = false;
    const sock = net.connect(port, '127.0.0.1', () => resolve({ sock, closed: () => closed }));
    sock.on('error', () => undefined);
    sock.on('close', () => (closed = true));
    sock.once('error', reject);
  });
}

test('connections that never log in are closed after login_timeout; logged-in sessions stay', async () => {
  // 5 s, not 1: the patient initiator's own login has to finish within the timeout too, and a
  // loaded machine can take over a second for its round trips.
  const d = await TestDaemon.start({ args: ['--iscsi', 'login_timeout=5'] });
  daemons.push(d);
  await d.addTarget(1, IQN);
  const silent = await rawConnect(d.iscsiPort);
  const half = await rawConnect(d.iscsiPort);
  half.sock.write(Buffer.alloc(20, 0x43)); // half a Login BHS, never finished
  const m = await MiniInitiator.connect(d.iscsiPort);
  try {
    await m.login(IQN, 'iqn.2026-11.org.stgt.test:patient');
    await waitFor(() => silent.closed() && half.closed(), 20_000, 'the target closing connections that never log in');
    // The logged-in session outlived the timeout: TEST UNIT READY is still answered.
    m.send(m.scsiBhs(Buffer.from([0, 0, 0, 0, 0, 0]), { lun: 0 }));
    const r = await m.recv(15_000);
    assert.ok(r !== null && (r.bhs[0]! & 0x3f) === 0x21, 'SCSI Response after the login timeout');
    assert.match(await d.tgtadmOk('--mode', 'target', '--op', 'show'), /I_T nexus: \d+/);
  } finally {
    m.close();
    silent.sock.destroy();
    half.sock.destroy();
  }
  await d.stop();
});
