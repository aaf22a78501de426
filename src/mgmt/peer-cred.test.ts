// Tests for the SO_PEERCRED reader (unix(7)): real socket pair in this process, so the peer is ourselves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPeerCredReader, peerAllowed } from './peer-cred.js';

test('peerAllowed wants both uid and gid', () => {
  assert.equal(peerAllowed({ pid: 1, uid: 0, gid: 0 }, { uid: 0, gid: 0 }), true);
  assert.equal(peerAllowed({ pid: 1, uid: 65534, gid: 0 }, { uid: 0, gid: 0 }), false);
  assert.equal(peerAllowed({ pid: 1, uid: 0, gid: 65534 }, { uid: 0, gid: 0 }), false);
});

test('reads our own pid/uid/gid from an accepted unix socket', async () => {
  // koffi is a required dependency: a reader that cannot load is a broken install, not a skip.
  const reader = await loadPeerCredReader();
  assert.ok(reader !== null, 'SO_PEERCRED reader (koffi) did not load');
  const dir = mkdtempSync(join(tmpdir(), 'h7pc-'));
  const path = join(dir, 'sock');
  const seen = new Promise<ReturnType<typeof reader>>((resolve) => {
    const srv = net.createServer((s) => {
      resolve(reader(s));
      s.destroy();
      srv.close();
    });
    srv.listen(path, () => net.connect(path).on('error', () => undefined));
  });
  try {
    assert.deepEqual(await seen, { pid: process.pid, uid: process.getuid!(), gid: process.getgid!() });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
