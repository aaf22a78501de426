// The management socket never takes tgtd down: random and mutated tgtadm requests (tgt's 120-byte
// header + key=value payload) get an error answer or a closed socket, and tgtd keeps serving.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { TestDaemon } from '../helpers/daemon.js';
import { rng } from '../helpers/fixtures.js';
import { emptyRequest, encodeRequest } from '../../src/mgmt/ipc.js';

const daemons: TestDaemon[] = [];
after(() => daemons.forEach((d) => d.kill()));


/** Send raw bytes to the socket; resolves with what came back before the server closed (or 2 s). */
function exchange(path: string, bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const s = net.connect(path, () => s.end(bytes));
    const done = (): void => resolve(Buffer.concat(chunks));
    const t = setTimeout(() => {
      s.destroy();
      done();
    }, 2000);
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('close', () => {
      clearTimeout(t);
      done();
    });
    s.on('error', () => undefined);
  });
}

test('random and mutated management requests never crash tgtd', { timeout: 180_000 }, async () => {
  const d = await TestDaemon.start();
  daemons.push(d);
  await d.addTarget(1, 'iqn.2026-11.org.stgt.test:mgmtfuzz');
  const path = `${d.socketBase}.${d.controlPort}`;
  const r = rng(0xc0ffee);
  const byte = (): number => Math.floor(r() * 256);
  let answered = 0;
  for (let i = 0; i < 300; i++) {
    let bytes: Buffer;
    if (i % 3 === 0) {
      // Pure noise of random length.
      bytes = Buffer.alloc(Math.floor(r() * 400));
      for (let j = 0; j < bytes.length; j++) bytes[j] = byte();
    } else {
      // A well-formed header with random mode/op/ids and a mutated payload.
      const req = emptyRequest();
      req.mode = Math.floor(r() * 10) - 1;
      req.op = Math.floor(r() * 15) - 1;
      // Stopping the daemon or unloading its modules is legitimate, not a crash: keep those out.
      if (req.mode === 0 && (req.op === 1 || req.op >= 9)) req.op = 2;
      if (req.mode === 4 && req.op === 8) req.op = 2;
      req.lld = ['', 'iscsi', 'iser', 'nosuch', 'x'.repeat(80)][Math.floor(r() * 5)]!;
      req.tid = Math.floor(r() * 4) - 1;
      req.lun = BigInt(Math.floor(r() * 4));
      req.sid = BigInt(Math.floor(r() * 3));
      req.deviceType = Math.floor(r() * 3);
      req.force = Math.floor(r() * 2);
      const payloads = [
        '', 'targetname=iqn.x:y', 'path=/nonexistent,bstype=rdwr', 'initiator-address=ALL', 'user=a,password=b',
        'bstype=nosuch', 'name=value', 'targetOps MaxRecvDataSegmentLength=abc,', 'portal=[::1',
        'portal=999.1.1.1:99999', 'State=bogus', 'debug=maybe', 'user=', '=,=,=', 'mode_page=8:0:18:x',
      ];
      req.payload = payloads[Math.floor(r() * payloads.length)]!;
      bytes = encodeRequest(req);
      if (i % 5 === 0) bytes.writeUInt32LE(Math.floor(r() * 0xffffffff), 72); // lying length field
      if (i % 7 === 0) bytes = bytes.subarray(0, Math.floor(r() * bytes.length)); // truncated
    }
    const rsp = await exchange(path, bytes);
    if (rsp.length >= 8) answered++;
  }
  assert.ok(answered > 100, `only ${answered} requests were answered`);
  // Still alive, still the same configuration (the fuzz may have added things; target 1 is there).
  const show = await d.tgtadmOk('--mode', 'target', '--op', 'show');
  assert.match(show, /Target 1: iqn\.2026-11\.org\.stgt\.test:mgmtfuzz/);
  assert.doesNotMatch(d.stderr, /uncaught/);
  // Clean up whatever the fuzz created so tgtd can be stopped normally.
  for (const tid of [...show.matchAll(/^Target (\d+):/gm)].map((m) => m[1]!)) {
    await d.tgtadm('--mode', 'target', '--op', 'delete', '--force', '--tid', tid);
  }
  await d.stop();
});
