// SdNotifier against a real AF_UNIX datagram socket (what systemd listens on), through libsystemd's sd_notify(3).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import koffi from 'koffi';
import { SdNotifier } from './sd-notify.js';

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const MSG_DONTWAIT = 0x40;

/** A receiving socket bound at a path, as systemd's notify socket is (libc through koffi: Node has none). */
function receiver(dir: string): { path: string; recv(): string | null; close(): void } {
  const libc = koffi.load('libc.so.6');
  const socket = libc.func('int socket(int, int, int)');
  const bind = libc.func('int bind(int, const void *, uint32_t)');
  const recv = libc.func('intptr_t recv(int, _Out_ void *, size_t, int)');
  const close = libc.func('int close(int)');
  const where = path.join(dir, 'notify');
  // struct sockaddr_un: sa_family_t sun_family; char sun_path[108]
  const addr = Buffer.alloc(110);
  addr.writeUInt16LE(AF_UNIX, 0);
  addr.write(where, 2);
  const fd = socket(AF_UNIX, SOCK_DGRAM, 0) as number;
  assert.ok(fd >= 0, 'socket(AF_UNIX, SOCK_DGRAM)');
  assert.equal(bind(fd, addr, addr.length), 0, 'bind');
  return {
    path: where,
    recv() {
      const buf = Buffer.alloc(4096);
      const n = recv(fd, buf, buf.length, MSG_DONTWAIT) as number;
      return n < 0 ? null : buf.subarray(0, n).toString();
    },
    close() {
      close(fd);
    },
  };
}

test('without NOTIFY_SOCKET nothing is loaded or sent', async () => {
  let loads = 0;
  const n = new SdNotifier({}, () => assert.fail('no warning expected'), async () => {
    loads++;
    return () => 1;
  });
  assert.equal(n.enabled, false);
  assert.equal(await n.notify('READY=1'), false);
  assert.equal(loads, 0);
});

test('READY=1 and STOPPING=1 arrive on the notify socket as sent', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stgt-sdnotify-'));
  const rx = receiver(dir);
  const saved = process.env['NOTIFY_SOCKET'];
  // sd_notify reads the C environment: process.env writes through to it.
  process.env['NOTIFY_SOCKET'] = rx.path;
  try {
    const warnings: string[] = [];
    const n = new SdNotifier(process.env, (m) => warnings.push(m));
    assert.equal(await n.notify('READY=1\nSTATUS=ready'), true);
    assert.equal(rx.recv(), 'READY=1\nSTATUS=ready');
    assert.equal(await n.notify('STOPPING=1'), true);
    assert.equal(rx.recv(), 'STOPPING=1');
    assert.equal(rx.recv(), null);
    assert.deepEqual(warnings, []);
    // NOTIFY_SOCKET stays set for the later messages (unset_environment 0).
    assert.equal(process.env['NOTIFY_SOCKET'], rx.path);
  } finally {
    if (saved === undefined) delete process.env['NOTIFY_SOCKET'];
    else process.env['NOTIFY_SOCKET'] = saved;
    rx.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a socket that does not exist: false and one warning, the daemon goes on', async () => {
  const saved = process.env['NOTIFY_SOCKET'];
  process.env['NOTIFY_SOCKET'] = path.join(os.tmpdir(), `stgt-no-such-socket-${process.pid}`);
  try {
    const warnings: string[] = [];
    const n = new SdNotifier(process.env, (m) => warnings.push(m));
    assert.equal(await n.notify('READY=1'), false);
    assert.equal(await n.notify('STOPPING=1'), false);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /cannot notify systemd .*errno 2/);
  } finally {
    if (saved === undefined) delete process.env['NOTIFY_SOCKET'];
    else process.env['NOTIFY_SOCKET'] = saved;
  }
});

test('libsystemd or koffi missing: false and one warning with the reason', async () => {
  const warnings: string[] = [];
  const n = new SdNotifier({ NOTIFY_SOCKET: '/run/systemd/notify' }, (m) => warnings.push(m), async () => {
    throw new Error('libsystemd.so.0: cannot open shared object file');
  });
  assert.equal(await n.notify('READY=1'), false);
  assert.equal(await n.notify('STOPPING=1'), false);
  assert.deepEqual(warnings, ['cannot notify systemd (/run/systemd/notify): libsystemd.so.0: cannot open shared object file']);
});
