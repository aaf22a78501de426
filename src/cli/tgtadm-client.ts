// tgtadm: the management client, a drop-in for tgt's usr/tgtadm.c (tgt-compat.md A3, §1.3). scripts/pack-build.mjs also compiles it to CommonJS and bundles it into lib/tgtadm.bundle.js for bin/tgtadm.cjs.
//
// It turns argv into one tgtadm_req (tgtadm-args.ts), sends it over the unix socket
// $TGT_IPC_SOCKET|/var/run/tgtd/socket + ".<control port>", and prints the answer as-is.
// Exit codes: 0, 22 (daemon error or bad arguments), 1 (unknown mode/op), 107 (no daemon).
import fs from 'node:fs';
import { builtin } from '../native/builtin.js';
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

/**
 * node:net, loaded when first needed: a call that takes the pipe fast path (below) never loads it
 * (with the stream modules it brings, ~5 ms of CPU here).
 */
function net(): typeof import('node:net') {
  return builtin<typeof import('node:net')>('node:net');
}

/** Connects and closes again; resolves 'connected' or the errno code string of the failure (the `system delete` probe). */
function probe(path: string): Promise<string> {
  return new Promise((resolve) => {
    const s = net().connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'EIO'));
  });
}

/**
 * Collects one answer as tgtadm's recv(MSG_WAITALL) of the header, then of the `len - 8` bytes it
 * announces: `add` takes each read (from a buffer the caller reuses) and says whether the answer
 * is complete; `answer` gives the bytes up to that length, or all there are at EOF. An error
 * answer's body is not waited for.
 */
class AnswerCollector {
  private readonly chunks: Buffer[] = [];
  private have = 0;
  private want = -1; // the answer's length, once its header is in

  add(n: number, buf: Buffer): boolean {
    this.chunks.push(Buffer.from(buf.subarray(0, n)));
    this.have += n;
    if (this.want < 0 && this.have >= ipc.RSP_HDR_LEN) {
      const rsp = ipc.decodeResponseHeader(this.all().subarray(0, ipc.RSP_HDR_LEN));
      const body = (rsp.len - ipc.RSP_HDR_LEN) | 0;
      this.want = ipc.RSP_HDR_LEN + (rsp.err === 0 && body > 0 ? body : 0);
    }
    return this.want >= 0 && this.have >= this.want;
  }

  answer(): Buffer {
    const all = this.all();
    return this.want >= 0 && all.length > this.want ? all.subarray(0, this.want) : all;
  }

  private all(): Buffer {
    return this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
  }
}

/**
 * One request through net: connects, sends `wire`, and resolves the answer (AnswerCollector) or
 * the errno code string of a failed connect. The socket's `onread` buffer takes the data without
 * the Readable stream's buffering.
 */
function netExchange(path: string, wire: Buffer, onSent: () => void): Promise<Buffer | string> {
  return new Promise((resolve) => {
    const answer = new AnswerCollector();
    let connected = false;
    let settled = false;
    const finish = (): void => {
      if (settled) return;
      settled = true;
      // Closed on the next turn of the loop: main() exits before, without it (net's destroy sets
      // up process.stderr, which costs start-up CPU for nothing).
      setImmediate(() => sock.destroy());
      resolve(answer.answer());
    };
    const sock = net().connect({
      path,
      onread: {
        buffer: Buffer.allocUnsafe(64 * 1024), // reused for every read: AnswerCollector copies
        callback: (n: number, buf: Buffer): boolean => {
          if (!settled && answer.add(n, buf)) finish();
          return !settled;
        },
      },
    });
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

/** What the pipe fast path uses of libuv's stream bindings (see pipeBindings). */
interface PipeBindings {
  Pipe: new (type: number) => PipeHandle;
  PipeConnectWrap: new () => { oncomplete?: (status: number) => void; address?: string };
  WriteWrap: new () => { handle?: unknown; oncomplete?: () => void; async?: boolean };
  socketType: number;
  state: Int32Array;
  kReadBytesOrError: number;
}
interface PipeHandle {
  connect(req: object, path: string): number;
  writeBuffer(req: object, data: Buffer): number;
  useUserBuffer(buf: Buffer): void;
  readStart(): number;
  readStop(): number;
  close(): void;
  onread: ((ab?: ArrayBuffer) => void) | null;
}

/**
 * The fast path: the objects net.Socket itself is built on (libuv's pipe handle and stream
 * requests, `process.binding('pipe_wrap')` and `('stream_wrap')`), without node:net, the stream
 * modules and a Socket's set-up: ~10 ms less CPU per call (BENCHMARKS.md "Start-up"). These are
 * Node's internals and process.binding is deprecated (DEP0111, documentation only), so the path is
 * taken only on the Node major it was verified on (20) and when every piece has the expected
 * shape; anything else is undefined and the call goes through net. STGT_TGTADM_IPC=net forces net.
 */
export function pipeBindings(env: Readonly<Record<string, string | undefined>>): PipeBindings | undefined {
  if (env['STGT_TGTADM_IPC'] === 'net' || process.versions.node.split('.')[0] !== '20') return undefined;
  const binding = (process as unknown as { binding?: (name: string) => Record<string, unknown> }).binding;
  if (typeof binding !== 'function') return undefined;
  const quiet = process.noDeprecation;
  process.noDeprecation = true; // --pending-deprecation would print DEP0111 on stderr: tgtadm's output is tgt's
  try {
    const pw = binding.call(process, 'pipe_wrap');
    const sw = binding.call(process, 'stream_wrap');
    const Pipe = pw['Pipe'] as PipeBindings['Pipe'] | undefined;
    const constants = pw['constants'] as { SOCKET?: unknown } | undefined;
    const state = sw['streamBaseState'];
    const k = sw['kReadBytesOrError'];
    if (typeof Pipe !== 'function' || typeof pw['PipeConnectWrap'] !== 'function' || typeof sw['WriteWrap'] !== 'function') return undefined;
    if (typeof constants?.SOCKET !== 'number' || !(state instanceof Int32Array) || typeof k !== 'number') return undefined;
    for (const m of ['connect', 'writeBuffer', 'useUserBuffer', 'readStart', 'readStop', 'close']) {
      if (typeof (Pipe.prototype as Record<string, unknown>)[m] !== 'function') return undefined;
    }
    return {
      Pipe,
      PipeConnectWrap: pw['PipeConnectWrap'] as PipeBindings['PipeConnectWrap'],
      WriteWrap: sw['WriteWrap'] as PipeBindings['WriteWrap'],
      socketType: constants.SOCKET,
      state,
      kReadBytesOrError: k,
    };
  } catch {
    return undefined;
  } finally {
    process.noDeprecation = quiet;
  }
}

/**
 * One request through the pipe bindings; resolves as netExchange does, or 'unavailable' when the
 * connect did not succeed (nothing was sent, so the caller can try net, which then gives the
 * errno of a missing or refusing daemon).
 */
function pipeExchange(b: PipeBindings, path: string, wire: Buffer, onSent: () => void): Promise<Buffer | 'unavailable'> {
  return new Promise((resolve) => {
    const answer = new AnswerCollector();
    let settled = false;
    let pipe: PipeHandle;
    const finish = (): void => {
      if (settled) return;
      settled = true;
      pipe.readStop();
      pipe.close();
      resolve(answer.answer());
    };
    try {
      pipe = new b.Pipe(b.socketType);
      const req = new b.PipeConnectWrap();
      req.address = path;
      req.oncomplete = (status: number): void => {
        if (status < 0) {
          pipe.close();
          resolve('unavailable');
          return;
        }
        let sent = false;
        try {
          const w = new b.WriteWrap();
          w.handle = pipe;
          w.oncomplete = () => {}; // a write the kernel did not take at once completed: nothing to do
          w.async = false;
          const werr = pipe.writeBuffer(w, wire);
          sent = true;
          onSent();
          if (werr < 0) {
            finish(); // as net: a failed write after the connect ends the call with what arrived (nothing)
            return;
          }
          const buf = Buffer.allocUnsafe(64 * 1024);
          pipe.useUserBuffer(buf); // each read lands in buf: AnswerCollector copies
          pipe.onread = (): void => {
            const n = b.state[b.kReadBytesOrError]!;
            if (settled) return;
            if (n < 0 || answer.add(n, buf)) finish(); // n < 0: EOF or an error
          };
          if (pipe.readStart() < 0) finish();
        } catch {
          // Bindings not as verified: before the request went out, net can still make the call.
          if (sent) finish();
          else {
            settled = true;
            pipe.close();
            resolve('unavailable');
          }
        }
      };
      if (pipe.connect(req, path) < 0) {
        pipe.close();
        resolve('unavailable');
      }
    } catch {
      settled = true;
      resolve('unavailable');
    }
  });
}

/**
 * How long a call waits for room in the daemon's listen queue. tgt's tgtadm blocks in connect()
 * while the queue is full; a non-blocking connect fails at once with EAGAIN instead, so it is
 * tried again every 10 ms, up to this long, before the call reports the daemon not connected.
 */
const QUEUE_FULL_WAIT_MS = 30_000;

/** One request: the pipe fast path where it applies and connects, else net; a full listen queue is waited out. */
async function exchange(env: Readonly<Record<string, string | undefined>>, path: string, wire: Buffer, onSent: () => void): Promise<Buffer | string> {
  const b = pipeBindings(env);
  const deadline = Date.now() + QUEUE_FULL_WAIT_MS;
  for (;;) {
    if (b !== undefined) {
      const r = await pipeExchange(b, path, wire, onSent);
      if (r !== 'unavailable') return r;
    }
    const r = await netExchange(path, wire, onSent);
    if (r !== 'EAGAIN' || Date.now() >= deadline) return r;
    await sleep(10);
  }
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
  const answer = await exchange(io.env, path, wire, () => {
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
