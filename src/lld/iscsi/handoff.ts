// Moving accepted connections between event loops for `tgtd --workers` (docs/multicore.md "Routing a new connection"): the services the daemon offers, and the main thread's wait for the first Login PDU.
//
// The main thread peeks (recv MSG_PEEK through native/io's ReadWatch) until the first PDU is whole,
// so the bytes stay in the socket and the worker reads the stream from its first byte: only the fd
// number crosses threads. A partial PDU is not spun on: the watch pauses and looks again a little
// later (level-triggered readiness would fire at once), up to the login timeout.
import { scanFirstLogin, type FirstLogin } from './first-login.js';

/** An accepted descriptor and its addresses, as the accept loop reports them. */
export interface HandedConnection {
  fd: number;
  peerAddress: string;
  peerPort: number;
  localAddress: string;
  localPort: number;
}

/**
 * What the daemon offers the iscsi LLD when it runs with workers (LldContext.services.handoff).
 * The main thread's driver has `route`; a worker's driver has `adopt` and listens on no portal.
 */
export interface ConnectionHandoff {
  /** Main thread: gives the connection to the worker owning `targetName`; false when none does (it stays here). */
  route?(targetName: string, conn: HandedConnection): boolean;
  /** Worker: the driver registers how it takes connections the main thread routed to it (null: it stops). */
  adopt?(take: ((conn: HandedConnection) => void) | null): void;
}

/** native/io's ReadWatch (src/peek.cc). */
export interface ReadWatch {
  start(): number;
  stop(): void;
  /** recv(MSG_PEEK | MSG_DONTWAIT): bytes, 0 at end of stream, or -errno. */
  peek(buf: Buffer): number;
  close(): void;
}
export type ReadWatchCtor = new (fd: number, onReadable: () => void) => ReadWatch;

/** How the wait for the first PDU ended. */
export type FirstPduOutcome = Exclude<FirstLogin, { kind: 'need' }> | { kind: 'closed'; why: string };

/** The first pause after a partial PDU, doubling up to RETRY_MAX_MS. */
const RETRY_FIRST_MS = 1;
const RETRY_MAX_MS = 32;
/** -EAGAIN on Linux: a spurious readiness. */
const EAGAIN = -11;

/** A wait for one connection's first PDU; `cancel()` ends it without calling back (the caller closes the fd). */
export interface FirstPduWait {
  cancel(): void;
}

/**
 * Watches `fd` until its first PDU is whole (or malformed, or the peer goes, or `timeoutMs` passes; 0: no limit)
 * and calls `done` once. `scratch` (first-login.ts FIRST_PDU_MAX bytes) is only used during the synchronous peek,
 * so one buffer serves every connection of a loop. Never closes `fd`.
 */
export function waitFirstPdu(
  Watch: ReadWatchCtor, fd: number, scratch: Buffer, timeoutMs: number, done: (o: FirstPduOutcome) => void,
): FirstPduWait {
  let finished = false;
  let retryMs = RETRY_FIRST_MS;
  let retry: NodeJS.Timeout | null = null;
  const finish = (o: FirstPduOutcome | null): void => {
    if (finished) return;
    finished = true;
    if (deadline !== null) clearTimeout(deadline);
    if (retry !== null) clearTimeout(retry);
    watch.close();
    if (o !== null) done(o);
  };
  const onReadable = (): void => {
    const n = watch.peek(scratch);
    if (n === EAGAIN) return;
    if (n <= 0) return finish({ kind: 'closed', why: n === 0 ? 'closed before its first PDU' : `recv: errno ${-n}` });
    const r = scanFirstLogin(scratch.subarray(0, n));
    if (r.kind !== 'need') return finish(r);
    // The rest is still on its way: look again later rather than at every readiness.
    watch.stop();
    retry = setTimeout(() => {
      retry = null;
      if (!finished && watch.start() !== 0) finish({ kind: 'closed', why: 'cannot watch the socket' });
    }, retryMs);
    retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
  };
  const watch = new Watch(fd, onReadable);
  // login_timeout=0 is "never" (as for the login itself: iscsi/connection.ts).
  const deadline = timeoutMs > 0 ? setTimeout(() => finish({ kind: 'closed', why: `no whole first PDU within ${timeoutMs} ms` }), timeoutMs) : null;
  if (watch.start() !== 0) finish({ kind: 'closed', why: 'cannot watch the socket' });
  return { cancel: () => finish(null) };
}
