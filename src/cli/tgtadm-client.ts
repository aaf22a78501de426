// tgtadm: the management client, a drop-in for tgt's usr/tgtadm.c (tgt-compat.md A3, §1.3). scripts/pack-build.mjs also compiles it to CommonJS and bundles it into lib/tgtadm.bundle.js for bin/tgtadm.cjs.
//
// It turns argv into one tgtadm_req (tgtadm-args.ts), sends it over the unix socket
// $TGT_IPC_SOCKET|/var/run/tgtd/socket + ".<control port>", and prints the answer as-is.
// Exit codes: 0, 22 (daemon error or bad arguments), 1 (unknown mode/op), 107 (no daemon).
import fs from 'node:fs';
import net from 'node:net';
import { planTgtadm } from './tgtadm-args.js';
import * as ipc from '../mgmt/ipc.js';
import { tgtadmStrerror } from '../mgmt/errors.js';
import { showJson } from './tgtadm-json.js';

const ENOTCONN = 107;
const EINVAL = 22;
/** sizeof(sockaddr_un.sun_path) - 1 */
const MAX_SUN_PATH = 107;

export interface TgtadmIo {
  env: Readonly<Record<string, string | undefined>>;
  stdout(s: string): void;
  stderr(s: string): void;
}

export function ipcSocketPath(env: Readonly<Record<string, string | undefined>>, controlPort: number): string {
  return `${env['TGT_IPC_SOCKET'] ?? '/var/run/tgtd/socket'}.${controlPort}`;
}

/** Connects and closes again; resolves 'connected' or the errno code string of the failure (the `system delete` probe). */
function probe(path: string): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'EIO'));
  });
}

/**
 * One request: connects, sends `wire`, and collects the answer (like tgtadm's recv(MSG_WAITALL) of
 * the header, then of the `len - 8` bytes it announces): resolves the bytes received up to that
 * length or EOF, or the errno code string of a failed connect. An error answer's body is not
 * waited for. The socket's `onread` buffer takes the data without the Readable stream's
 * buffering (one call costs less start-up CPU: BENCHMARKS.md "Start-up").
 */
function exchange(path: string, wire: Buffer, onSent: () => void): Promise<Buffer | string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let have = 0;
    let want = -1; // the answer's length, once its header is in
    let connected = false;
    let settled = false;
    const finish = (): void => {
      if (settled) return;
      settled = true;
      // Closed on the next turn of the loop: main() exits before, without it (net's destroy sets
      // up process.stderr, which costs start-up CPU for nothing).
      setImmediate(() => sock.destroy());
      const all = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      resolve(want >= 0 && all.length > want ? all.subarray(0, want) : all);
    };
    const onData = (n: number, buf: Buffer): boolean => {
      if (settled) return false;
      chunks.push(Buffer.from(buf.subarray(0, n))); // the buffer is reused for the next read
      have += n;
      if (want < 0 && have >= ipc.RSP_HDR_LEN) {
        const rsp = ipc.decodeResponseHeader((chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).subarray(0, ipc.RSP_HDR_LEN));
        const body = (rsp.len - ipc.RSP_HDR_LEN) | 0;
        want = ipc.RSP_HDR_LEN + (rsp.err === 0 && body > 0 ? body : 0);
      }
      if (want >= 0 && have >= want) finish();
      return true;
    };
    const sock = net.connect({ path, onread: { buffer: Buffer.allocUnsafe(64 * 1024), callback: onData } });
    sock.once('connect', () => {
      connected = true;
      sock.write(wire);
      onSent();
    });
    sock.on('error', (e: NodeJS.ErrnoException) => {
      if (connected) finish();
      else if (!settled) {
        settled = true;
        resolve(e.code ?? 'EIO');
      }
    });
    sock.once('end', finish);
    sock.once('close', finish);
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runs tgtadm with `argv` (argv[0] = program path as shown in getopt messages); returns the exit code. */
export async function runTgtadm(argv: readonly string[], io: TgtadmIo): Promise<number> {
  // stgt's --json (exactly that word: not offered to getopt, so no abbreviation of tgt's options changes).
  const json = argv.slice(1).includes('--json');
  if (json) argv = [argv[0]!, ...argv.slice(1).filter((a) => a !== '--json')];
  const plan = planTgtadm(argv, { env: io.env });
  if (plan.kind === 'exit') {
    if (plan.stdout) io.stdout(plan.stdout);
    if (plan.stderr) io.stderr(plan.stderr);
    return plan.code;
  }
  const { req, controlPort } = plan;
  if (json && req.op !== ipc.OP_SHOW) {
    io.stderr('tgtadm: --json is only for --op show\n');
    return EINVAL;
  }
  const path = ipcSocketPath(io.env, controlPort);
  const notConnected = (): number => {
    io.stderr('tgtadm: failed to send request hdr to tgt daemon, Transport endpoint is not connected\n');
    return ENOTCONN;
  };
  if (Buffer.byteLength(path) > MAX_SUN_PATH) {
    io.stderr(`tgtadm: management path too long: ${path}\n`);
    return notConnected();
  }
  const wire = ipc.encodeRequest(req);
  const answer = await exchange(path, wire, () => {
    if (plan.debug) io.stderr(`ipc_mgmt_req 348: sent to tgtd ${wire.length}\n`);
  });
  // tgtadm ignores the connect error and its write() then fails with ENOTCONN.
  if (typeof answer === 'string') return notConnected();
  if (answer.length === 0) {
    io.stderr('tgtadm: tgtd closed the socket\n');
    return 0;
  }
  if (answer.length < ipc.RSP_HDR_LEN) {
    io.stderr('tgtadm: a partial response\n');
    return 0;
  }
  const rsp = ipc.decodeResponseHeader(answer.subarray(0, ipc.RSP_HDR_LEN));
  if (rsp.err !== 0) {
    io.stderr(`tgtadm: ${tgtadmStrerror(rsp.err)}\n`);
    return EINVAL;
  }
  if (req.mode === ipc.MODE_SYSTEM && req.op === ipc.OP_DELETE) {
    // Wait for the daemon to be gone: tgtadm polls every 100 ms until connect() is refused.
    // (A missing socket file also counts as gone here, where tgtadm would spin forever.)
    for (;;) {
      const r = await probe(path);
      if (r === 'ECONNREFUSED' || r === 'ENOENT') break;
      await sleep(100);
    }
  }
  const len = (rsp.len - ipc.RSP_HDR_LEN) | 0;
  if (len <= 0) {
    if (json) io.stdout(showJson(req.mode, ''));
    return 0;
  }
  const body = answer.subarray(ipc.RSP_HDR_LEN);
  // fputs: the text up to its NUL, only when the whole body arrived.
  if (body.length === len) io.stdout(json ? showJson(req.mode, ipc.decodePayload(body)) : ipc.decodePayload(body));
  return 0;
}

/**
 * Writes `s` to descriptor 1 or 2 with write(2), as C's stdio does: setting up process.stdout (a
 * stream, a pipe or TTY handle) costs more start-up CPU than the one answer a call prints. If the
 * descriptor is non-blocking and full (EAGAIN), the rest goes to the stream, which queues it until
 * it drains before the exit. Other errors (EPIPE: the reader is gone) drop the output, as a write
 * to a closed pipe loses it.
 */
export function writeFd(fd: 1 | 2, s: string): 'written' | 'queued' {
  const buf = Buffer.from(s, 'utf8');
  let off = 0;
  try {
    while (off < buf.length) off += fs.writeSync(fd, buf, off);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') return 'written';
    (fd === 1 ? process.stdout : process.stderr).write(buf.subarray(off));
    return 'queued';
  }
  return 'written';
}

/** Entry point used by bin/tgtadm, bin/tgtadm.cjs and `node dist/src/cli/tgtadm.js`. */
export async function main(): Promise<void> {
  const argv = [process.argv[1] ?? 'tgtadm', ...process.argv.slice(2)];
  let queued = false;
  const code = await runTgtadm(argv, {
    env: process.env,
    stdout: (s) => void (queued = writeFd(1, s) === 'queued' || queued),
    stderr: (s) => void (queued = writeFd(2, s) === 'queued' || queued),
  });
  // Everything is written: exit now rather than after the loop closes the socket. Output queued
  // in a stream is left to drain first.
  if (queued) process.exitCode = code;
  else process.exit(code);
}
