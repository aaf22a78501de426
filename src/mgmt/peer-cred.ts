// Management peer check: SO_PEERCRED on the accepted unix socket (socket(7), unix(7) "SO_PEERCRED"; tgt mgmt.c mgmt_event_handler).
//
// tgtd answers only a peer with its own uid and gid; anyone else's connection is closed without an
// answer. Node exposes no SO_PEERCRED, so getsockopt(2) goes through koffi on the fd libuv holds
// (`socket._handle.fd`). koffi is a required dependency; if it cannot load, the IPC server
// refuses every management connection rather than serve unchecked ones.

import type net from 'node:net';

/** SOL_SOCKET and SO_PEERCRED on Linux (asm-generic/socket.h). */
const SOL_SOCKET = 1;
const SO_PEERCRED = 17;
/** struct ucred { pid_t pid; uid_t uid; gid_t gid; }: three 32-bit fields. */
const UCRED_SIZE = 12;
const OFF_PID = 0;
const OFF_UID = 4;
const OFF_GID = 8;

export interface PeerCred {
  pid: number;
  uid: number;
  gid: number;
}

/** Reads a connected unix socket's peer credentials. */
export type PeerCredReader = (sock: net.Socket) => PeerCred | null;

type GetSockOpt = (fd: number, level: number, name: number, val: Buffer, len: Buffer) => number;

/** Binds getsockopt(2) through koffi; null when koffi cannot load it (then nobody is served). */
export async function loadPeerCredReader(): Promise<PeerCredReader | null> {
  let getsockopt: GetSockOpt;
  try {
    const spec = 'koffi'; // imported lazily: only the daemon's management server needs it
    const k = (await import(spec)).default as { load(l: string): { func(s: string): unknown } };
    getsockopt = k.load('libc.so.6').func('int getsockopt(int, int, int, _Out_ uint8_t *, _Inout_ uint32_t *)') as GetSockOpt;
  } catch {
    return null;
  }
  // One pair of buffers per reader (per server), reused: one request per connection, synchronous call.
  const val = Buffer.alloc(UCRED_SIZE);
  const len = Buffer.alloc(4);
  return (sock: net.Socket): PeerCred | null => {
    const fd = (sock as unknown as { _handle?: { fd?: number } })._handle?.fd;
    if (typeof fd !== 'number' || fd < 0) return null;
    len.writeUInt32LE(UCRED_SIZE, 0);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, val, len) !== 0 || len.readUInt32LE(0) < UCRED_SIZE) return null;
    return { pid: val.readInt32LE(OFF_PID), uid: val.readUInt32LE(OFF_UID), gid: val.readUInt32LE(OFF_GID) };
  };
}

/** tgt's rule: the peer must run with the daemon's uid and gid. */
export function peerAllowed(peer: PeerCred, self: { uid: number; gid: number }): boolean {
  return peer.uid === self.uid && peer.gid === self.gid;
}
