// The iscsi LLD's own accept loop (native/io, interface v1): finding and loading the addon, and listening as net.Server does (docs/multicore.md).
//
// Only the iscsi LLD's driver calls `loadIoAddon`, inside its init, so a daemon that never loads
// the iscsi LLD never maps the addon. Without it (not built, STGT_NATIVE_IO=0, or a load failure)
// the driver listens with net.Server exactly as before; the two paths give the same sessions.
import dns from 'node:dns/promises';
import { createRequire } from 'node:module';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getSystemErrorMap } from 'node:util';
import { checkAddon, findAddon } from '../../native/find-addon.js';
import type { ReadWatchCtor } from './handoff.js';

/** The addon interface this LLD speaks (native/io/src/listener.cc kAddonVersion). */
export const IO_ADDON_VERSION = 1;

export const IO_ADDON_RELATIVE = join('native', 'io', 'build', 'Release', 'stgt_io.node');

/** net.Server's default backlog (libuv's 511). */
const BACKLOG = 511;

export type AcceptHandler = (fd: number, peerAddress: string, peerPort: number, localAddress: string, localPort: number) => void;

/** One listening socket of the addon. */
export interface AddonListener {
  /** 0, or -errno (socket, bind or listen failed; nothing stays open). */
  listen(address: string, port: number, v6only: boolean, backlog: number): number;
  /** The bound port (the real one when 0 was asked for). */
  readonly port: number;
  /** The listening descriptor, -1 once closed. */
  readonly fd: number;
  /** Stops accepting and closes the socket; `done` runs once, when libuv has let go of it. */
  close(done: () => void): void;
}

export interface IoAddon {
  addonVersion: number;
  /** `onError(-errno)`: accept4 failed (EMFILE and the like: the addon stops watching for 100 ms). */
  Listener: new (onAccept: AcceptHandler, onError: (errno: number) => void) => AddonListener;
  /** A readable watch with recv(MSG_PEEK) on one socket (src/peek.cc; tgtd --workers needs it, the default path does not). */
  ReadWatch?: ReadWatchCtor;
}

/** $STGT_IO_ADDON, else native/io/build/Release/stgt_io.node in the nearest ancestor of `fromDir` holding one. */
export function findIoAddon(fromDir: string, env: Readonly<Record<string, string | undefined>> = process.env): string | null {
  return findAddon(IO_ADDON_RELATIVE, 'STGT_IO_ADDON', fromDir, env);
}

/** '' when `o` is an addon of this interface version, else why not. */
export function checkIoAddon(o: unknown): string {
  return checkAddon(o, 'io', IO_ADDON_VERSION, 'this LLD', ['Listener']);
}

/**
 * The addon, or null with the reason it is not used: STGT_NATIVE_IO=0 turns it off; not built, or
 * not loadable, falls back to net.Server.
 */
export function loadIoAddon(
  env: Readonly<Record<string, string | undefined>> = process.env,
  path: string | null = findIoAddon(dirname(fileURLToPath(import.meta.url)), env),
  requireAddon: (p: string) => unknown = createRequire(import.meta.url),
): { addon: IoAddon | null; reason: string } {
  if (env['STGT_NATIVE_IO'] === '0') return { addon: null, reason: 'STGT_NATIVE_IO=0' };
  if (path === null) return { addon: null, reason: 'io addon not built (npm run build:native)' };
  let mod: unknown;
  try {
    mod = requireAddon(path);
  } catch (e) {
    return { addon: null, reason: `cannot load io addon ${path}: ${e instanceof Error ? e.message : String(e)}` };
  }
  const why = checkIoAddon(mod);
  return why === '' ? { addon: mod as IoAddon, reason: '' } : { addon: null, reason: why };
}

/**
 * The error net.Server emits for a failed listen (lib/net.js: UVExceptionWithHostPort with syscall
 * 'listen' for socket, bind and listen failures alike), so that a portal error reads the same on
 * both paths: "listen EADDRINUSE: address already in use 127.0.0.1:3260".
 */
export function listenError(errno: number, address: string, port: number): NodeJS.ErrnoException {
  const [code, text] = getSystemErrorMap().get(errno) ?? ['UNKNOWN', 'unknown error'];
  const where = port > 0 ? ` ${address}:${port}` : address !== '' ? ` ${address}` : '';
  const e = new Error(`listen ${code}: ${text}${where}`) as NodeJS.ErrnoException & { address?: string; port?: number };
  e.code = code;
  e.errno = errno;
  e.syscall = 'listen';
  e.address = address;
  e.port = port;
  return e;
}

/**
 * Listens on host:port as `net.Server.listen({ host, port, ipv6Only })` does: a name is resolved
 * with dns.lookup (its first address, as net does), SO_REUSEADDR, IPV6_V6ONLY as asked, backlog 511.
 * Throws net's error on failure.
 */
export async function listenNative(
  addon: IoAddon, host: string, port: number, ipv6Only: boolean, onAccept: AcceptHandler, onError: (errno: number) => void,
): Promise<AddonListener> {
  const address = net.isIP(host) !== 0 ? host : (await dns.lookup(host)).address;
  const l = new addon.Listener(onAccept, onError);
  const r = l.listen(address, port, ipv6Only, BACKLOG);
  if (r !== 0) throw listenError(r, address, port);
  return l;
}

/** Closes a listener; resolves when the socket is closed. */
export function closeNative(l: AddonListener): Promise<void> {
  return new Promise<void>((resolve) => l.close(resolve));
}
