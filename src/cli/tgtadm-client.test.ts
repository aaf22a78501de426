// tgtadm's two ways to the daemon (tgtadm-client.ts): the pipe fast path and node:net give the same
// bytes, exit codes and messages for every shape of answer, against a unix-socket server in-process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeBindings, runTgtadm } from './tgtadm-client.js';
import * as ipc from '../mgmt/ipc.js';
import { TGTADM_NO_TARGET } from '../mgmt/errors.js';

type Reply = (sock: net.Socket, req: Buffer) => void;

/** A management socket at `<dir>/socket.<port>` that answers each request with `reply`; collects the requests. */
async function fakeDaemon(dir: string, port: number, reply: Reply): Promise<{ requests: Buffer[]; close: () => Promise<void> }> {
  const requests: Buffer[] = [];
  const server = net.createServer((sock) => {
    let got = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length < ipc.REQ_HDR_LEN) return;
      const len = ipc.decodeRequestHeader(got).len;
      if (got.length < len) return;
      requests.push(got);
      reply(sock, got);
    });
    sock.on('error', () => {});
  });
  await new Promise<void>((res) => server.listen(join(dir, `socket.${port}`), res));
  return { requests, close: () => new Promise<void>((res) => server.close(() => res())) };
}

async function call(dir: string, args: string[], path: 'pipe' | 'net'): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const env: Record<string, string> = { TGT_IPC_SOCKET: join(dir, 'socket') };
  if (path === 'net') env['STGT_TGTADM_IPC'] = 'net';
  const code = await runTgtadm(['tgtadm', ...args], { env, stdout: (s) => (out += s), stderr: (s) => (err += s) });
  return { code, out, err };
}

const SHOW = ['-C', '7', '--mode', 'target', '--op', 'show'];
const TEXT = 'Target 1: iqn.2026-12.org.stgt:t\n    System information:\n        Driver: iscsi\n'.repeat(500); // > one 64 KiB read

const replies: Array<[string, Reply, { code: number; out: string; err: string }]> = [
  ['a whole answer in one write', (s) => s.end(ipc.encodeResponse(0, TEXT)), { code: 0, out: TEXT, err: '' }],
  ['an answer in pieces: header, then the body in three writes', (s) => {
    const r = ipc.encodeResponse(0, TEXT);
    const cuts = [0, 8, 1000, 70_000, r.length];
    let i = 0;
    const next = (): void => {
      if (i === cuts.length - 1) return void s.end();
      s.write(r.subarray(cuts[i]!, cuts[i + 1]!), () => setImmediate(next));
      i++;
    };
    next();
  }, { code: 0, out: TEXT, err: '' }],
  ['an answer the daemon does not close after (the length decides)', (s) => s.write(ipc.encodeResponse(0, 'short\n')), { code: 0, out: 'short\n', err: '' }],
  ['an error answer', (s) => s.end(ipc.encodeResponse(TGTADM_NO_TARGET, '')), { code: 22, out: '', err: 'tgtadm: can\'t find the target\n' }],
  ['a close without an answer', (s) => s.end(), { code: 0, out: '', err: 'tgtadm: tgtd closed the socket\n' }],
  ['half a header, then a close', (s) => s.end(Buffer.from([0, 0, 0])), { code: 0, out: '', err: 'tgtadm: a partial response\n' }],
];

test('the pipe fast path is there on the Node major it was verified on', () => {
  const b = pipeBindings({});
  if (process.versions.node.startsWith('20.')) assert.ok(b !== undefined, 'pipe bindings not found on Node 20: tgtadm would always take net');
  assert.equal(pipeBindings({ STGT_TGTADM_IPC: 'net' }), undefined);
});

for (const [name, reply, want] of replies) {
  test(`tgtadm, pipe path and net path: ${name}`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stgt-adm-'));
    const d = await fakeDaemon(dir, 7, reply);
    try {
      const viaPipe = await call(dir, SHOW, 'pipe');
      const viaNet = await call(dir, SHOW, 'net');
      assert.deepEqual(viaPipe, want);
      assert.deepEqual(viaNet, want);
      assert.equal(d.requests.length, 2);
      assert.deepEqual(d.requests[0], d.requests[1]);
      assert.equal(d.requests[0]!.length, ipc.REQ_HDR_LEN);
    } finally {
      await d.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('tgtadm with no daemon: 107 and tgt\'s message, on both paths', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'stgt-adm-'));
  try {
    const want = { code: 107, out: '', err: 'tgtadm: failed to send request hdr to tgt daemon, Transport endpoint is not connected\n' };
    assert.deepEqual(await call(dir, SHOW, 'pipe'), want);
    assert.deepEqual(await call(dir, SHOW, 'net'), want);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tgtadm waits for room in a full listen queue (tgt\'s blocking connect) instead of failing with EAGAIN', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'stgt-adm-'));
  const sock = join(dir, 'socket.7');
  // A daemon in another process: backlog 1, its loop busy for 400 ms from the moment it says so, then it answers.
  const { spawn } = await import('node:child_process');
  const answer = ipc.encodeResponse(0, 'busy daemon\n').toString('hex');
  const child = spawn(process.execPath, ['-e', `
    const net = require('node:net');
    const srv = net.createServer((s) => { s.once('data', () => s.end(Buffer.from('${answer}', 'hex'))); });
    srv.listen({ path: ${JSON.stringify(sock)}, backlog: 1 }, () => {
      // stdout to a pipe is written synchronously on Linux: the line is out before the loop blocks.
      process.stdout.write('busy\\n');
      const t = Date.now(); while (Date.now() - t < 400) {}
    });`], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((res) => child.stdout.once('data', () => res())); // its loop is now busy
    const calls = await Promise.all([...Array(12).keys()].map((i) => call(dir, SHOW, i % 2 === 0 ? 'pipe' : 'net')));
    for (const c of calls) assert.deepEqual(c, { code: 0, out: 'busy daemon\n', err: '' });
  } finally {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
