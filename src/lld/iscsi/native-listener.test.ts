// Tests of the iscsi LLD's own accept loop (native/io) against net.Server as the oracle: addresses, error texts, IPv6, no descriptor left behind.
//
// They need the built addon (npm run build:native); without it they are skipped, and the LLD
// falls back to net.Server (which the loader test below checks).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readdirSync } from 'node:fs';
import net from 'node:net';
import { once } from 'node:events';
import { closeNative, listenError, listenNative, loadIoAddon, type AcceptHandler, type IoAddon } from './native-listener.js';

const loaded = loadIoAddon({});
const addon: IoAddon | null = loaded.addon;
const skip = addon === null ? `io addon: ${loaded.reason}` : false;

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

function hasIPv6(): boolean {
  const r = spawnSync('sh', ['-c', 'test -e /proc/net/if_inet6 && grep -q "00000000000000000000000000000001" /proc/net/if_inet6']);
  return r.status === 0;
}

/** net.Server's error for listening on host:port (the oracle for the texts). */
async function serverError(host: string, port: number, ipv6Only = false): Promise<NodeJS.ErrnoException> {
  const s = net.createServer();
  s.listen({ host, port, ipv6Only });
  const [e] = (await once(s, 'error')) as [NodeJS.ErrnoException];
  return e;
}

test('loader: STGT_NATIVE_IO=0 and a missing build fall back to net.Server, saying why', () => {
  assert.deepEqual(loadIoAddon({ STGT_NATIVE_IO: '0' }), { addon: null, reason: 'STGT_NATIVE_IO=0' });
  const none = loadIoAddon({}, null);
  assert.equal(none.addon, null);
  assert.match(none.reason, /io addon not built \(npm run build:native\)/);
  const old = loadIoAddon({}, '/x.node', () => ({ addonVersion: 0, Listener: () => undefined }));
  assert.match(old.reason, /interface version 0, this LLD needs 1/);
  const broken = loadIoAddon({}, '/x.node', () => {
    throw new Error('undefined symbol: foo');
  });
  assert.match(broken.reason, /cannot load io addon \/x\.node: undefined symbol: foo/);
});

test('listenError words errors as net.Server does', async () => {
  const holder = net.createServer();
  await new Promise<void>((r) => holder.listen({ host: '127.0.0.1', port: 0 }, r));
  const port = (holder.address() as net.AddressInfo).port;
  const oracle = await serverError('127.0.0.1', port);
  const mine = listenError(oracle.errno!, '127.0.0.1', port);
  assert.equal(mine.message, oracle.message);
  assert.equal(mine.code, 'EADDRINUSE');
  assert.equal(mine.syscall, 'listen');
  holder.close();
});

test('accept loop: a connection comes with its descriptor and both addresses, and works as a net.Socket', { skip }, async () => {
  const got: Parameters<AcceptHandler>[] = [];
  const errors: number[] = [];
  const l = await listenNative(addon!, '127.0.0.1', 0, false, (...a) => got.push(a), (e) => errors.push(e));
  assert.ok(l.port > 0 && l.fd >= 0);
  const c = net.connect(l.port, '127.0.0.1');
  await once(c, 'connect');
  await waitUntil(() => got.length > 0, 'accepted');
  const [fd, peerAddress, peerPort, localAddress, localPort] = got[0]!;
  assert.deepEqual([peerAddress, peerPort, localAddress, localPort], ['127.0.0.1', c.localPort, '127.0.0.1', l.port]);
  const s = new net.Socket({ fd, readable: true, writable: true });
  assert.equal(s.remotePort, c.localPort, 'the descriptor is the accepted socket');
  c.write('ping');
  const [d] = (await once(s, 'data')) as [Buffer];
  assert.equal(d.toString(), 'ping');
  s.end('pong');
  const [back] = (await once(c, 'data')) as [Buffer];
  assert.equal(back.toString(), 'pong');
  c.destroy();
  s.destroy();
  await closeNative(l);
  assert.equal(l.fd, -1);
  assert.deepEqual(errors, []);
  // Closed: nobody listens there any more.
  const again = net.connect(l.port, '127.0.0.1');
  const [e] = (await once(again, 'error')) as [NodeJS.ErrnoException];
  assert.equal(e.code, 'ECONNREFUSED');
});

test('accept loop: listen errors read as net.Server\'s (EADDRINUSE, EADDRNOTAVAIL, a name that does not resolve)', { skip }, async () => {
  const holder = await listenNative(addon!, '127.0.0.1', 0, false, () => {}, () => {});
  const port = holder.port;
  for (const [host, p] of [['127.0.0.1', port], ['192.0.2.1', port]] as const) {
    const oracle = await serverError(host, p);
    await assert.rejects(listenNative(addon!, host, p, false, () => {}, () => {}), (e: NodeJS.ErrnoException) => {
      assert.equal(e.message, oracle.message);
      assert.equal(e.code, oracle.code);
      return true;
    });
  }
  const oracle = await serverError('no-such-host.invalid', port);
  await assert.rejects(listenNative(addon!, 'no-such-host.invalid', port, false, () => {}, () => {}), (e: NodeJS.ErrnoException) => {
    assert.equal(e.code, oracle.code);
    assert.equal(e.message, oracle.message);
    return true;
  });
  // Node's own server cannot take the port the addon holds either (SO_REUSEADDR does not share a listener).
  assert.equal((await serverError('127.0.0.1', port)).code, 'EADDRINUSE');
  await closeNative(holder);
});

test('accept loop: "::" with v6only leaves 0.0.0.0 of the same port free, as net.Server does', { skip: skip || (!hasIPv6() && 'no IPv6 loopback') }, async () => {
  const v4 = await listenNative(addon!, '0.0.0.0', 0, false, () => {}, () => {});
  const got: string[] = [];
  const v6 = await listenNative(addon!, '::', v4.port, true, (fd, peer) => {
    got.push(peer);
    new net.Socket({ fd }).destroy();
  }, () => {});
  const c = net.connect(v4.port, '::1');
  await once(c, 'connect');
  await waitUntil(() => got.length > 0, 'accepted');
  assert.deepEqual(got, ['::1']);
  c.destroy();
  // Without v6only "::" takes the IPv4 wildcard too: the same refusal as net.Server's.
  const oracle = await serverError('::', v4.port, false);
  await assert.rejects(listenNative(addon!, '::', v4.port, false, () => {}, () => {}), { message: oracle.message });
  await closeNative(v6);
  await closeNative(v4);
});

test('accept loop: listening, accepting and closing leave no descriptor behind', { skip }, async () => {
  const before = openFds();
  for (let round = 0; round < 5; round++) {
    const socks: net.Socket[] = [];
    const l = await listenNative(addon!, '127.0.0.1', 0, false, (fd) => socks.push(new net.Socket({ fd })), () => {});
    const clients = Array.from({ length: 10 }, () => net.connect(l.port, '127.0.0.1'));
    await Promise.all(clients.map((c) => once(c, 'connect')));
    await waitUntil(() => socks.length === clients.length, 'all accepted');
    await closeNative(l);
    for (const s of socks) s.destroy();
    for (const c of clients) c.destroy();
    await Promise.all([...socks, ...clients].map((s) => (s.closed ? null : once(s, 'close'))));
  }
  // A listener closed before it listened, and one whose listen failed, hold nothing either.
  await closeNative(new addon!.Listener(() => {}, () => {}));
  const busy = await listenNative(addon!, '127.0.0.1', 0, false, () => {}, () => {});
  await assert.rejects(listenNative(addon!, '127.0.0.1', busy.port, false, () => {}, () => {}));
  await closeNative(busy);
  assert.equal(openFds(), before);
});

test('accept loop: out of descriptors (EMFILE) it reports, backs off instead of spinning, and accepts once descriptors are free', { skip: skip || (process.getuid?.() !== 0 && 'needs root for prlimit') }, async () => {
  const errors: number[] = [];
  const socks: net.Socket[] = [];
  const l = await listenNative(addon!, '127.0.0.1', 0, false, (fd) => socks.push(new net.Socket({ fd })), (e) => errors.push(e));
  const saved = spawnSync('prlimit', [`--pid=${process.pid}`, '--nofile', '--raw', '--noheadings', '-o', 'SOFT,HARD']).stdout.toString().trim().split(/\s+/);
  const limit = (n: string): void => {
    const r = spawnSync('prlimit', [`--pid=${process.pid}`, `--nofile=${n}`]);
    assert.equal(r.status, 0, String(r.stderr));
  };
  limit(`${openFds() + 64}:${saved[1]}`);
  const dummies: number[] = [];
  try {
    const clients = Array.from({ length: 3 }, () => net.connect(l.port, '127.0.0.1'));
    // The clients connect on this turn's nextTick queue; then every free descriptor is taken,
    // before the loop polls the listener: its accept4 fails with EMFILE.
    await new Promise<void>((resolve) => process.nextTick(() => {
      for (;;) {
        try {
          dummies.push(openSync('/dev/null', 'r'));
        } catch {
          break;
        }
      }
      resolve();
    }));
    await Promise.all(clients.map((c) => (c.connecting ? once(c, 'connect') : null)));
    await waitUntil(() => errors.length >= 1, 'EMFILE reported');
    // Then the rate: one report per back-off period (100 ms), not one per loop turn. The window is a
    // measurement (reports counted over the time that really passed), so a slow machine only lowers it.
    const first = errors.length;
    const t0 = performance.now();
    while (performance.now() - t0 < 400) await new Promise((r) => setTimeout(r, 20));
    const elapsed = performance.now() - t0;
    const reports = errors.length - first;
    assert.ok(errors.every((e) => e === -24), `errors: ${errors.join(',')}`);
    assert.ok(reports <= Math.floor(elapsed / 100) + 2, `${reports} reports in ${elapsed.toFixed(0)} ms`);
    assert.equal(socks.length, 0);
    for (const fd of dummies.splice(0)) closeSync(fd);
    await waitUntil(() => socks.length === clients.length, 'the waiting connections are accepted');
    for (const s of [...socks, ...clients]) s.destroy();
  } finally {
    for (const fd of dummies) closeSync(fd);
    limit(`${saved[0]}:${saved[1]}`);
  }
  await closeNative(l);
});

async function waitUntil(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; !cond(); i++) {
    if (i > 500) assert.fail(`${what}: not reached`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
