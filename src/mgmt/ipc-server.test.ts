// Tests for the management IPC server: socket path, lock, one request/answer, and our tgtadm against it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IpcServer } from './ipc-server.js';
import * as ipc from './ipc.js';
import { runTgtadm } from '../cli/tgtadm.js';

test('serves tgtadm requests and refuses a second server', async () => {
  const dir = fs.mkdtempSync(join(tmpdir(), 'stgt-ipc-'));
  const env = { TGT_IPC_SOCKET: join(dir, 'socket') };
  const seen: ipc.IpcRequest[] = [];
  let server: IpcServer | null = null;
  server = await IpcServer.start({
    controlPort: 9,
    env,
    handler: (req, reply) => {
      seen.push(req);
      if (req.mode === ipc.MODE_TARGET && req.op === ipc.OP_DELETE) reply(4, '');
      else if (req.mode === ipc.MODE_SYSTEM && req.op === ipc.OP_DELETE) {
        reply(0, '');
        void server!.close();
      } else reply(0, 'Portal: 127.0.0.1:3260,1\n');
    },
  });
  try {
    assert.equal(server.path, join(dir, 'socket.9'));
    assert.ok(fs.existsSync(join(dir, 'socket.9.lock')));
    await assert.rejects(IpcServer.start({ controlPort: 9, env, handler: () => undefined }), /another tgtd is using/);

    const out: string[] = [];
    const err: string[] = [];
    const io = { env, stdout: (s: string) => void out.push(s), stderr: (s: string) => void err.push(s) };
    assert.equal(await runTgtadm(['tgtadm', '-C', '9', '--mode', 'portal', '--op', 'show'], io), 0);
    assert.deepEqual(out, ['Portal: 127.0.0.1:3260,1\n']);
    assert.equal(await runTgtadm(['tgtadm', '-C', '9', '--mode', 'target', '--op', 'delete', '--tid', '3'], io), 22);
    assert.deepEqual(err, ["tgtadm: can't find the target\n"]);
    assert.equal(seen[1]!.tid, 3);
    // system delete: the client waits until the socket refuses connections
    assert.equal(await runTgtadm(['tgtadm', '-C', '9', '--mode', 'sys', '--op', 'delete'], io), 0);
    assert.ok(fs.existsSync(server.path), 'socket file is left for ECONNREFUSED');
    assert.equal(await runTgtadm(['tgtadm', '-C', '9', '--mode', 'sys', '--op', 'show'], io), 107);
    // the stale socket is replaced by the next daemon
    server = await IpcServer.start({ controlPort: 9, env, handler: (_r, reply) => reply(0, 'ok\n') });
    out.length = 0;
    assert.equal(await runTgtadm(['tgtadm', '-C', '9', '--mode', 'sys', '--op', 'show'], io), 0);
    assert.deepEqual(out, ['ok\n']);
  } finally {
    await server?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('without a working SO_PEERCRED check every management connection is refused unanswered', async () => {
  const dir = fs.mkdtempSync(join(tmpdir(), 'stgt-ipc-'));
  const env = { TGT_IPC_SOCKET: join(dir, 'socket') };
  const logs: string[] = [];
  let handled = 0;
  const server = await IpcServer.start({
    controlPort: 11,
    env,
    peerCredReader: null,
    log: (level, msg) => void logs.push(`${level}: ${msg}`),
    handler: (_req, reply) => {
      handled++;
      reply(0, 'should never be sent\n');
    },
  });
  try {
    const out: string[] = [];
    const err: string[] = [];
    const io = { env, stdout: (x: string) => void out.push(x), stderr: (x: string) => void err.push(x) };
    // tgtadm, like tgt's, reports a socket closed without an answer on stderr (its exit status then
    // depends on whether its write or its read sees the close first).
    await runTgtadm(['tgtadm', '-C', '11', '--mode', 'target', '--op', 'show'], io);
    assert.deepEqual(out, []);
    assert.match(err.join(''), /tgtd closed the socket|Transport endpoint|partial response/);
    assert.equal(handled, 0);
    assert.ok(logs.some((l) => /^error: SO_PEERCRED cannot be read/.test(l)), logs.join('\n'));
    assert.ok(logs.some((l) => /management peer credentials unavailable: refused/.test(l)), logs.join('\n'));
  } finally {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a client that half-closes after its request still gets the answer of a handler that answers later', async () => {
  const dir = fs.mkdtempSync(join(tmpdir(), 'stgt-ipc-'));
  const env = { TGT_IPC_SOCKET: join(dir, 'socket') };
  // Like `lu new` opening its backing file: the answer comes after the client's EOF has arrived.
  const server = await IpcServer.start({
    controlPort: 13,
    env,
    peerCredReader: () => ({ pid: process.pid, uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 }),
    handler: (_req, reply) => void setTimeout(() => reply(0, 'late\n'), 50),
  });
  try {
    const req = ipc.emptyRequest();
    Object.assign(req, { mode: ipc.MODE_TARGET, op: ipc.OP_SHOW, payload: 'x=1' });
    const got = await new Promise<Buffer>((resolve) => {
      const chunks: Buffer[] = [];
      const s = net.connect(server.path, () => s.end(ipc.encodeRequest(req)));
      s.on('data', (c: Buffer) => chunks.push(c));
      s.on('error', () => undefined);
      s.on('close', () => resolve(Buffer.concat(chunks)));
    });
    assert.deepEqual(got, ipc.encodeResponse(0, 'late\n'));
    // A client that half-closes before its request is complete is closed unanswered.
    const partial = await new Promise<Buffer>((resolve) => {
      const chunks: Buffer[] = [];
      const s = net.connect(server.path, () => s.end(ipc.encodeRequest(req).subarray(0, 60)));
      s.on('data', (c: Buffer) => chunks.push(c));
      s.on('error', () => undefined);
      s.on('close', () => resolve(Buffer.concat(chunks)));
    });
    assert.equal(partial.length, 0);
  } finally {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
