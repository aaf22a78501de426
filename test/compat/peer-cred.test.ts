// SO_PEERCRED on the management socket: a tgtadm of another uid is refused, by stgt as by tgt (tgt-compat.md A1; unix(7)).
//
// The daemons' private directories and sockets are opened up (0755/0666) for the test, so that
// only the credential check stands between user "nobody" (65534) and the daemon.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync } from 'node:fs';
import { haveDebianTgt, runClient, startDaemon, type CompatDaemon } from './daemons.js';

const NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
const canSwitch = process.getuid?.() === 0 && existsSync('/usr/bin/setpriv');
const skip = !haveDebianTgt ? 'Debian tgt is not installed' : !canSwitch ? 'needs root and setpriv' : false;

async function asNobody(d: CompatDaemon): Promise<{ code: number | null; stderr: string; stdout: string }> {
  chmodSync(d.dir, 0o755);
  chmodSync(`${d.socketBase}.${d.controlPort}`, 0o666);
  return runClient('debian', d, ['--mode', 'target', '--op', 'show'], { wrap: NOBODY });
}

test('a tgtadm of another uid is refused like tgtd refuses it', { skip, timeout: 60_000 }, async () => {
  const deb = await startDaemon('debian');
  const ours = await startDaemon('stgt');
  try {
    const want = await asNobody(deb);
    const got = await asNobody(ours);
    // tgtd closes the connection without an answer. Whether tgtadm then dies of SIGPIPE on its
    // write or reads ECONNRESET (exit 104) depends on who is faster, for tgt's daemon as for ours:
    // both must refuse, print nothing on stdout and never answer.
    for (const r of [want, got]) {
      assert.ok(r.code !== 0, JSON.stringify(r));
      assert.equal(r.stdout, '');
    }
    assert.match(ours.log(), /management request from uid 65534 gid 65534 \(pid \d+\) refused/);
    // The owner (root) still gets answers.
    const root = await runClient('debian', ours, ['--mode', 'target', '--op', 'show']);
    assert.equal(root.code, 0);
  } finally {
    await deb.stop();
    await ours.stop();
  }
});
