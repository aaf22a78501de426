// tgtadm: the management client, a drop-in for tgt's usr/tgtadm.c (tgt-compat.md A3, §1.3). No import.meta here: tsconfig.cli.json also compiles this file to CommonJS, which scripts/pack-build.mjs bundles into lib/tgtadm.bundle.js for bin/tgtadm.cjs.
//
// It turns argv into one tgtadm_req (tgtadm-args.ts), sends it over the unix socket
// $TGT_IPC_SOCKET|/var/run/tgtd/socket + ".<control port>", and prints the answer as-is.
// Exit codes: 0, 22 (daemon error or bad arguments), 1 (unknown mode/op), 107 (no daemon).
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

/** Connects; resolves the socket or the errno code string of the failure. */
function connect(path: string): Promise<net.Socket | string> {
  return new Promise((resolve) => {
    const s = net.connect(path);
    s.once('connect', () => {
      s.removeAllListeners('error');
      resolve(s);
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'EIO'));
  });
}

/** Reads until `want` bytes or EOF (like recv(MSG_WAITALL) / read loops). */
function readAll(sock: net.Socket, want: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let have = 0;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      sock.removeListener('data', onData);
      sock.pause();
      const all = Buffer.concat(chunks);
      if (all.length > want) sock.unshift(all.subarray(want));
      resolve(all.subarray(0, Math.min(want, all.length)));
    };
    const onData = (d: Buffer): void => {
      chunks.push(d);
      have += d.length;
      if (have >= want) finish();
    };
    if (want === 0) {
      finish();
      return;
    }
    sock.on('data', onData);
    sock.once('end', finish);
    sock.once('close', finish);
    sock.once('error', finish);
    sock.resume();
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
  const sock = await connect(path);
  // tgtadm ignores the connect error and its write() then fails with ENOTCONN.
  if (typeof sock === 'string') return notConnected();
  sock.on('error', () => undefined);
  try {
    const wire = ipc.encodeRequest(req);
    sock.write(wire);
    if (plan.debug) io.stderr(`ipc_mgmt_req 348: sent to tgtd ${wire.length}\n`);
    const hdr = await readAll(sock, ipc.RSP_HDR_LEN);
    if (hdr.length === 0) {
      io.stderr('tgtadm: tgtd closed the socket\n');
      return 0;
    }
    if (hdr.length !== ipc.RSP_HDR_LEN) {
      io.stderr('tgtadm: a partial response\n');
      return 0;
    }
    const rsp = ipc.decodeResponseHeader(hdr);
    if (rsp.err !== 0) {
      io.stderr(`tgtadm: ${tgtadmStrerror(rsp.err)}\n`);
      return EINVAL;
    }
    if (req.mode === ipc.MODE_SYSTEM && req.op === ipc.OP_DELETE) {
      // Wait for the daemon to be gone: tgtadm polls every 100 ms until connect() is refused.
      // (A missing socket file also counts as gone here, where tgtadm would spin forever.)
      for (;;) {
        const probe = await connect(path);
        if (probe === 'ECONNREFUSED' || probe === 'ENOENT') break;
        if (typeof probe !== 'string') probe.destroy();
        await sleep(100);
      }
    }
    const len = (rsp.len - ipc.RSP_HDR_LEN) | 0;
    if (len <= 0) {
      if (json) io.stdout(showJson(req.mode, ''));
      return 0;
    }
    const body = await readAll(sock, len);
    // fputs: the text up to its NUL, only when the whole body arrived.
    if (body.length === len) io.stdout(json ? showJson(req.mode, ipc.decodePayload(body)) : ipc.decodePayload(body));
    return 0;
  } finally {
    sock.destroy();
  }
}

/** Entry point used by bin/tgtadm, bin/tgtadm.cjs and `node dist/src/cli/tgtadm.js`. */
export async function main(): Promise<void> {
  const argv = [process.argv[1] ?? 'tgtadm', ...process.argv.slice(2)];
  const code = await runTgtadm(argv, {
    env: process.env,
    stdout: (s) => process.stdout.write(s),
    stderr: (s) => process.stderr.write(s),
  });
  process.exitCode = code;
}
