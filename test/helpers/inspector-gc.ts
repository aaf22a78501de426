// Forces a full garbage collection in a daemon started with `--inspect=127.0.0.1:0`, through the V8 inspector protocol over a minimal WebSocket client (RFC 6455).
//
// Leak tests need it: V8 frees a large Buffer only at a major GC, and an idle daemon may not run
// one for a long time, so "RSS did not come back" cannot tell a leak from garbage not yet
// collected. HeapProfiler.collectGarbage is the inspector's documented way to run a full GC.

import { randomBytes } from 'node:crypto';
import net from 'node:net';

/** NODE_OPTIONS for TestDaemon.start({ env }) that open the inspector on a free loopback port. */
export const INSPECT_ENV = { NODE_OPTIONS: '--inspect=127.0.0.1:0' } as const;

/** The inspector's WebSocket URL that node printed on the daemon's stderr, or null. */
export function inspectorUrl(stderr: string): string | null {
  const m = /Debugger listening on (ws:\/\/127\.0\.0\.1:\d+\/[0-9a-f-]+)/.exec(stderr);
  return m === null ? null : m[1]!;
}

/** A masked client text frame (RFC 6455 5.2: FIN + opcode 1, MASK bit, 7/16/64-bit length, masking key). */
function textFrame(text: string): Buffer {
  const payload = Buffer.from(text, 'utf8');
  const n = payload.length;
  const head = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const f = Buffer.alloc(head + 4 + n);
  f[0] = 0x81;
  if (n < 126) f[1] = 0x80 | n;
  else if (n < 65536) {
    f[1] = 0x80 | 126;
    f.writeUInt16BE(n, 2);
  } else {
    f[1] = 0x80 | 127;
    f.writeBigUInt64BE(BigInt(n), 2);
  }
  const mask = randomBytes(4);
  mask.copy(f, head);
  for (let i = 0; i < n; i++) f[head + 4 + i] = payload[i]! ^ mask[i & 3]!;
  return f;
}

/** Unmasked server frames in `buf` -> [payloads of complete text frames, bytes consumed]. */
function serverFrames(buf: Buffer): [string[], number] {
  const out: string[] = [];
  let pos = 0;
  for (;;) {
    if (buf.length - pos < 2) break;
    const op = buf[pos]! & 0x0f;
    let len = buf[pos + 1]! & 0x7f;
    let hdr = 2;
    if (len === 126) {
      if (buf.length - pos < 4) break;
      len = buf.readUInt16BE(pos + 2);
      hdr = 4;
    } else if (len === 127) {
      if (buf.length - pos < 10) break;
      len = Number(buf.readBigUInt64BE(pos + 2));
      hdr = 10;
    }
    if (buf.length - pos < hdr + len) break;
    if (op === 0x1) out.push(buf.subarray(pos + hdr, pos + hdr + len).toString('utf8'));
    pos += hdr + len;
  }
  return [out, pos];
}

/** Sends one inspector protocol command to the inspected process; resolves with its result. */
export function inspectorCall(wsUrl: string, method: string, params: Record<string, unknown> = {},
  timeoutMs = 30_000): Promise<Record<string, unknown>> {
  const u = new URL(wsUrl);
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(u.port), u.hostname);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`inspector at ${wsUrl}: no answer to ${method} in ${timeoutMs} ms`));
    }, timeoutMs);
    const fail = (e: Error): void => {
      clearTimeout(timer);
      sock.destroy();
      reject(e);
    };
    let buf = Buffer.alloc(0);
    let upgraded = false;
    sock.on('error', fail);
    sock.on('connect', () => {
      const key = randomBytes(16).toString('base64');
      sock.write(`GET ${u.pathname} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    });
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (!upgraded) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const status = buf.subarray(0, buf.indexOf('\r\n')).toString('latin1');
        if (!/^HTTP\/1\.1 101 /.test(status)) return fail(new Error(`inspector refused the WebSocket: ${status}`));
        upgraded = true;
        buf = buf.subarray(end + 4);
        sock.write(textFrame(JSON.stringify({ id: 1, method, params })));
      }
      const [msgs, used] = serverFrames(buf);
      buf = buf.subarray(used);
      for (const m of msgs) {
        const j = JSON.parse(m) as { id?: number; error?: { message: string }; result?: Record<string, unknown> };
        if (j.id !== 1) continue;
        clearTimeout(timer);
        sock.end();
        if (j.error) reject(new Error(`${method}: ${j.error.message}`));
        else resolve(j.result ?? {});
        return;
      }
    });
  });
}

/** Runs HeapProfiler.collectGarbage in the inspected process; resolves when it answered. */
export async function collectGarbage(wsUrl: string, timeoutMs = 30_000): Promise<void> {
  await inspectorCall(wsUrl, 'HeapProfiler.collectGarbage', {}, timeoutMs);
}

/**
 * The inspected process's memory held by JavaScript (V8 heap used plus the memory of Buffers and
 * other external objects), in bytes: unlike RSS it does not keep the steps of malloc's arenas,
 * so a leak test can count what the process still references.
 */
export async function jsMemoryBytes(wsUrl: string): Promise<number> {
  const r = await inspectorCall(wsUrl, 'Runtime.evaluate', {
    expression: '(() => { const m = process.memoryUsage(); return m.heapUsed + m.external; })()',
    returnByValue: true,
  });
  const v = (r['result'] as { value?: unknown } | undefined)?.value;
  if (typeof v !== 'number') throw new Error(`Runtime.evaluate of process.memoryUsage(): ${JSON.stringify(r)}`);
  return v;
}
