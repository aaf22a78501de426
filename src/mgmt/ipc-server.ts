// Management IPC server: tgt's unix socket /var/run/tgtd/socket.N with its lock file (tgt usr/mgmt.c ipc_init; tgt-compat.md A1, §1.3).
//
// One request per connection: a 120-byte tgtadm_req, then len-120 payload bytes; one response,
// then the connection is closed. `socket.N.lock` is locked with lockf() for the daemon's life (via
// koffi, the same POSIX lock tgtd takes, so stgt and tgt exclude each other); without koffi, and
// within one process where POSIX locks do not exclude, a live socket is detected by connecting.
// Something must stay at the socket path on close: stock tgtadm's `--op delete --mode system`
// polls until connect() says ECONNREFUSED and would spin forever on ENOENT. libuv unlinks a
// listening pipe's path when it closes, so close() leaves an empty regular file there instead
// (connect() to a non-socket path fails with ECONNREFUSED); the next start removes it as stale.
import fs from 'node:fs';
import net from 'node:net';
import { dirname } from 'node:path';
import * as ipc from './ipc.js';
import { TGTADM_UNKNOWN_ERR } from './errors.js';
import { loadPeerCredReader, peerAllowed, type PeerCredReader } from './peer-cred.js';

export type IpcReply = (err: number, text: string) => void;
export type IpcHandler = (req: ipc.IpcRequest, reply: IpcReply) => void;

export interface IpcServerOptions {
  controlPort: number;
  handler: IpcHandler;
  /** Environment for TGT_IPC_SOCKET (default process.env). */
  env?: Readonly<Record<string, string | undefined>>;
  log?: (level: 'debug' | 'info' | 'warn' | 'error', msg: string) => void;
  /** Tests only: the SO_PEERCRED reader to use (null: as if it could not be loaded). */
  peerCredReader?: PeerCredReader | null;
}

const TGT_IPC_DIR = '/var/run/tgtd';
const F_TLOCK = 2;

/** Takes lockf(F_TLOCK) on fd: true locked, false held by another process, null when koffi is absent. */
async function tryLockf(fd: number): Promise<boolean | null> {
  try {
    const spec = 'koffi';
    const k = (await import(spec)).default as { load(l: string): { func(s: string): (...a: unknown[]) => number } };
    const lockf = k.load('libc.so.6').func('int lockf(int, int, int64_t)');
    return lockf(fd, F_TLOCK, 1) === 0;
  } catch {
    return null;
  }
}

function probe(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export class IpcServer {
  private constructor(
    readonly path: string,
    readonly lockPath: string,
    private readonly server: net.Server,
    private readonly lockFd: number,
  ) {}

  static async start(opts: IpcServerOptions): Promise<IpcServer> {
    const env = opts.env ?? process.env;
    let base = env['TGT_IPC_SOCKET'];
    if (base === undefined) {
      base = `${TGT_IPC_DIR}/socket`;
      fs.mkdirSync(TGT_IPC_DIR, { recursive: true, mode: 0o755 });
    } else {
      fs.mkdirSync(dirname(base), { recursive: true });
    }
    const path = `${base}.${opts.controlPort}`;
    const lockPath = `${path}.lock`;
    if (Buffer.byteLength(path) > 107) throw new Error(`management path too long: ${path}`);
    const lockFd = fs.openSync(lockPath, fs.constants.O_WRONLY | fs.constants.O_CREAT, 0o644);
    try {
      const locked = await tryLockf(lockFd);
      if (locked === false || (await probe(path))) throw new Error(`another tgtd is using ${lockPath}`);
      // Nobody holds the lock: a socket file left here is stale.
      try {
        fs.unlinkSync(path);
      } catch {
        // absent
      }
      const peerCred = opts.peerCredReader !== undefined ? opts.peerCredReader : await loadPeerCredReader();
      if (peerCred === null) {
        opts.log?.('error', 'SO_PEERCRED cannot be read (koffi failed to load): every management request will be refused');
      }
      // allowHalfOpen: a client may shut down its sending side once its request is out (tgt only
      // reads the request and then writes the answer); net's default would end our side at that
      // EOF, before a handler that answers later (opening a backing file) could reply.
      const server = net.createServer({ allowHalfOpen: true }, (sock) => {
        if (!checkPeer(sock, peerCred, opts)) return;
        serveConnection(sock, opts);
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        // Backlog 511 (net's default), not tgt's 32: tgt's C tgtadm blocks in connect() while the
        // queue is full, but a Node client's connect is non-blocking and fails at once with EAGAIN
        // (tgtadm would print "not connected"), so many concurrent calls while the loop is busy
        // must find room in the queue.
        server.listen({ path, backlog: 511 }, () => {
          server.removeListener('error', reject);
          resolve();
        });
      });
      server.on('error', (e) => opts.log?.('error', `management socket: ${e.message}`));
      // tgtd only serves its own uid/gid (SO_PEERCRED); the socket mode gives the same for other users.
      fs.chmodSync(path, 0o600);
      return new IpcServer(path, lockPath, server, lockFd);
    } catch (e) {
      fs.closeSync(lockFd);
      throw e;
    }
  }

  /** Stops listening and releases the lock; a placeholder stays at the path (see the header comment). */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => fs.close(this.lockFd, () => resolve()));
      // The listening handle is closed (and its path unlinked) synchronously; fill the gap at once.
      try {
        fs.closeSync(fs.openSync(this.path, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600));
      } catch {
        // a socket or file is already there
      }
    });
  }
}

/** SO_PEERCRED: a peer with another uid/gid is closed unanswered, as tgtd does. */
function checkPeer(sock: net.Socket, reader: PeerCredReader | null, opts: IpcServerOptions): boolean {
  // No check, no service: an unchecked socket would take orders from anyone who can reach it.
  const peer = reader === null ? null : reader(sock);
  const self = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
  if (peer !== null && peerAllowed(peer, self)) return true;
  opts.log?.('warn', peer === null ? 'management peer credentials unavailable: refused'
    : `management request from uid ${peer.uid} gid ${peer.gid} (pid ${peer.pid}) refused`);
  sock.on('error', () => undefined);
  sock.destroy();
  return false;
}

/** Reads one request, hands it to the handler, writes the one answer and closes. */
function serveConnection(sock: net.Socket, opts: IpcServerOptions): void {
  let buf = Buffer.alloc(0);
  let req: ipc.IpcRequest | null = null;
  let answered = false;
  sock.on('error', () => undefined);
  // EOF before the request was complete: nothing will be answered.
  sock.on('end', () => {
    if (!answered) sock.destroy();
  });
  sock.on('data', (chunk) => {
    if (answered) return;
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    if (req === null) {
      if (buf.length < ipc.REQ_HDR_LEN) return;
      req = ipc.decodeRequestHeader(buf);
      // A length below the header or a payload over 8 KiB is dropped like tgtd does.
      if (req.len < ipc.REQ_HDR_LEN || req.len - ipc.REQ_HDR_LEN > ipc.MAX_MGT_BUFSIZE) {
        opts.log?.('warn', `management request length ${req.len} refused`);
        answered = true;
        sock.destroy();
        return;
      }
    }
    if (buf.length < req.len) return;
    req.payload = ipc.decodePayload(buf.subarray(ipc.REQ_HDR_LEN, req.len));
    answered = true;
    sock.pause();
    let replied = false;
    const reply: IpcReply = (err, text) => {
      if (replied) return;
      replied = true;
      sock.end(ipc.encodeResponse(err, text));
    };
    try {
      opts.handler(req, reply);
    } catch (e) {
      opts.log?.('error', `management handler failed: ${e instanceof Error ? e.message : String(e)}`);
      reply(TGTADM_UNKNOWN_ERR, '');
    }
  });
}
