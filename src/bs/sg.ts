// The "sg" and "bsg" backing stores (tgt's bs_sg.c): SCSI passthrough to a host device with SG_IO, sg v3 headers on /dev/sgN, v4 on /dev/bsg/H:C:T:L.
//
// A passthrough LU (`--device-type pt`) sends every command here (BackingDevice.passthrough). The
// ioctl blocks until the device answers, so each device has a worker thread (sg-worker.ts) that
// runs its ioctls through koffi, one at a time, while the event loop goes on; the main thread
// only packs headers (sg-io.ts) with the addresses of the command's own buffers, which the kernel
// reads Data-Out from and writes Data-In and sense into. Commands of one LU run in arrival order.
//
// Why not the sg driver's write()/read() interface that tgt uses: bsg lost it (Linux 5.x), so it
// would serve one of the two, and Node cannot poll a character device's fd without an addon. Why
// not the libuv pool (koffi's async calls): a command may take minutes (a tape REWIND), and it
// would hold a pool thread every file-backed LU needs.
//
// koffi is imported with the first device, so a daemon without passthrough LUs never maps it.
import { open as fsOpen, close as fsClose, constants as fsConstants, stat as fsStat, readFile } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { BackingDevice, BackingStore, BackingStoreModule, BsContext, BsOpenOptions, IoError, PassthroughRequest, PassthroughResult } from './api.js';
import {
  SCSI_GENERIC_MAJOR, SENSE_MAX, SG_GET_VERSION_NUM, SG_IO, SG_MIN_VERSION, SG_RESERVED_SIZE, SG_SET_RESERVED_SIZE, SG_V3_SIZE, SG_V4_SIZE,
  majorMinor, packV3, packV4, unpackV3, unpackV4,
} from './sg-io.js';
import type { SgRequest } from './sg-io.js';
import type { IoctlReply, IoctlRequest } from './sg-worker.js';

/** Which SG_IO header a device takes. */
export type SgKind = 'sg' | 'bsg';

/** tgt's time limits: 30 s a command, 14000 s on a tape drive (rewinds and spacing take long). */
export const SG_TIMEOUT_MS = 30_000;
export const SG_TAPE_TIMEOUT_MS = 14_000_000;

/** What the store uses of koffi: a buffer's address, for the SG_IO header's pointers. */
export interface Koffi {
  address(value: unknown): bigint;
}

function errnoError(errno: number, what: string): NodeJS.ErrnoException {
  const name = Object.entries(osConstants.errno).find(([, v]) => v === errno)?.[0] ?? 'EIO';
  const e: NodeJS.ErrnoException = new Error(`${what}: ${name}`);
  e.code = name;
  e.errno = errno;
  return e;
}

function ioError(code: string, msg: string): NodeJS.ErrnoException {
  const e: NodeJS.ErrnoException = new Error(msg);
  e.code = code;
  return e;
}

/**
 * What `path` is, as tgt's chk_sg_device decides: a character device with the sg major is an sg
 * node; one under /dev/bsg whose major is the one /sys/class/bsg/<name>/dev gives is a bsg node.
 * Calls back null for anything else (with the reason).
 */
export function classifySgPath(path: string, cb: (kind: SgKind | null, why: string) => void, sysfs = '/sys/class/bsg'): void {
  fsStat(path, (err, st) => {
    if (err) return cb(null, `stat() failed: ${err.code ?? err.message}`);
    if (!st.isCharacterDevice()) return cb(null, `Not a character device: ${path}`);
    const { major } = majorMinor(st.rdev);
    if (major === SCSI_GENERIC_MAJOR) return cb('sg', '');
    if (!path.startsWith('/dev/bsg/')) return cb(null, `Not recognized ${path} as an SG device`);
    readFile(`${sysfs}/${path.slice('/dev/bsg/'.length)}/dev`, 'utf8', (e2, text) => {
      const m = e2 ? null : /^(\d+):/.exec(text);
      if (m === null || Number(m[1]) !== major) return cb(null, `Not recognized ${path} as an SG device`);
      cb('bsg', '');
    });
  });
}

/** What SgDevice uses of its worker thread (a node:worker_threads Worker; a fake in unit tests). */
export interface IoctlWorker {
  on(event: 'message', fn: (rep: IoctlReply) => void): unknown;
  on(event: 'error', fn: (e: Error) => void): unknown;
  on(event: 'exit', fn: () => void): unknown;
  postMessage(msg: IoctlRequest): void;
  terminate(): Promise<number>;
  unref(): void;
}

interface Pending {
  req: PassthroughRequest;
  cb: (err: IoError, res?: PassthroughResult) => void;
}

/** One opened sg/bsg device: its fd, its worker, the commands waiting for it. */
export class SgDevice implements BackingDevice {
  readonly size = 0;
  private readonly queue: Pending[] = [];
  private busy = false;
  private closing: ((err: IoError) => void) | null = null;
  private nextId = 1;
  private current: { id: number; done: (rep: IoctlReply) => void } | null = null;
  private broken: NodeJS.ErrnoException | null = null;
  /** Per-command time limit (tape drives get tgt's longer one after the INQUIRY at open). */
  timeoutMs = SG_TIMEOUT_MS;
  // The header, CDB and sense buffers of the one command in flight (never moved: allocUnsafeSlow).
  private readonly hdr: Buffer;
  private readonly cdbBuf = Buffer.allocUnsafeSlow(260);
  private readonly senseBuf = Buffer.allocUnsafeSlow(SENSE_MAX);

  constructor(
    private readonly fd: number,
    readonly kind: SgKind,
    private readonly worker: IoctlWorker,
    private readonly koffi: Koffi,
  ) {
    this.hdr = Buffer.allocUnsafeSlow(kind === 'sg' ? SG_V3_SIZE : SG_V4_SIZE);
    worker.on('message', (rep: IoctlReply) => {
      const cur = this.current;
      if (cur === null || cur.id !== rep.id) return;
      this.current = null;
      cur.done(rep);
    });
    worker.on('error', (e) => this.fail(ioError('EIO', `sg worker: ${e.message}`)));
    worker.on('exit', () => this.fail(ioError('EIO', 'sg worker exited')));
    worker.unref();
  }

  /** The worker is gone: what is in flight and queued fails, later commands fail at once. */
  private fail(e: NodeJS.ErrnoException): void {
    if (this.broken !== null) return;
    this.broken = e;
    const cur = this.current;
    this.current = null;
    if (cur !== null) cur.done({ id: cur.id, rc: -1, errno: osConstants.errno.EIO, arg: new Uint8Array(0) });
  }

  /** Runs ioctl `req` with argument bytes `arg` in the worker; `done` gets the reply. */
  ioctl(req: number, arg: Uint8Array, done: (rep: IoctlReply) => void): void {
    const id = this.nextId++;
    if (this.broken !== null) return done({ id, rc: -1, errno: osConstants.errno.EIO, arg });
    this.current = { id, done };
    const msg: IoctlRequest = { id, fd: this.fd, req, arg };
    this.worker.postMessage(msg);
  }

  read(_offset: number, _into: Buffer, cb: (err: IoError) => void): void {
    cb(ioError('EOPNOTSUPP', 'a passthrough device has no block interface'));
  }

  write(_offset: number, _data: readonly Buffer[], cb: (err: IoError) => void): void {
    cb(ioError('EOPNOTSUPP', 'a passthrough device has no block interface'));
  }

  flush(cb: (err: IoError) => void): void {
    cb(null);
  }

  passthrough(req: PassthroughRequest, cb: (err: IoError, res?: PassthroughResult) => void): void {
    if (this.closing !== null) return cb(ioError('EBADF', 'device closing'));
    this.queue.push({ req, cb });
    if (!this.busy) this.next();
  }

  private next(): void {
    const p = this.queue.shift();
    if (p === undefined) {
      this.busy = false;
      const closing = this.closing;
      if (closing !== null) this.finishClose(closing);
      return;
    }
    this.busy = true;
    this.run(p.req, (err, res) => {
      try {
        p.cb(err, res);
      } finally {
        this.next();
      }
    });
  }

  private run(req: PassthroughRequest, cb: (err: IoError, res?: PassthroughResult) => void): void {
    if (req.cdb.length > this.cdbBuf.length) return cb(ioError('EINVAL', 'CDB too long'));
    req.cdb.copy(this.cdbBuf);
    const addr = (b: Buffer | null): bigint => (b === null || b.length === 0 ? 0n : this.koffi.address(b));
    const r: SgRequest = {
      cdbLen: req.cdb.length,
      dataOutLen: req.dataOut?.length ?? 0,
      dataInLen: req.dataIn?.length ?? 0,
      senseLen: SENSE_MAX,
      timeoutMs: this.timeoutMs,
      cdbAddr: this.koffi.address(this.cdbBuf),
      dataOutAddr: addr(req.dataOut),
      dataInAddr: addr(req.dataIn),
      senseAddr: this.koffi.address(this.senseBuf),
    };
    if (this.kind === 'sg') {
      if (!packV3(this.hdr, r)) return cb(ioError('EINVAL', 'sg v3 moves data one way only (bidirectional command)'));
    } else packV4(this.hdr, r);
    // The buffers stay referenced by `req` (held by the caller until cb) while the kernel uses them.
    this.ioctl(SG_IO, new Uint8Array(this.hdr), (rep) => {
      if (rep.rc < 0) return cb(errnoError(rep.errno, 'SG_IO'));
      const h = Buffer.from(rep.arg.buffer, rep.arg.byteOffset, rep.arg.byteLength);
      cb(null, this.kind === 'sg' ? unpackV3(h, r, this.senseBuf) : unpackV4(h, r, this.senseBuf));
    });
  }

  close(cb: (err: IoError) => void): void {
    if (this.closing !== null) return cb(null);
    this.closing = cb;
    if (!this.busy) this.finishClose(cb);
  }

  private finishClose(cb: (err: IoError) => void): void {
    this.broken ??= ioError('EBADF', 'device closed');
    void this.worker.terminate().finally(() => fsClose(this.fd, (err) => cb(err ?? null)));
  }
}

/** An int argument of an ioctl, as bytes. */
function intArg(v: number): Uint8Array {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v, 0);
  return new Uint8Array(b);
}

/** tgt's init_sg_device: sg v3 or later, a 512 KiB reserved buffer, and the longer time limit for a tape. */
function initDevice(dev: SgDevice, cb: (err: NodeJS.ErrnoException | null) => void): void {
  dev.ioctl(SG_GET_VERSION_NUM, intArg(0), (v) => {
    const version = v.rc < 0 ? -1 : Buffer.from(v.arg).readInt32LE(0);
    if (version < SG_MIN_VERSION) return cb(v.rc < 0 ? errnoError(v.errno, 'SG_GET_VERSION_NUM') : ioError('EINVAL', 'sg driver prior to 3.x'));
    dev.ioctl(SG_SET_RESERVED_SIZE, intArg(SG_RESERVED_SIZE), (s) => {
      if (s.rc < 0) return cb(errnoError(s.errno, 'SG_SET_RESERVED_SIZE'));
      const inq = Buffer.alloc(36);
      const cdb = Buffer.from([0x12, 0, 0, 0, inq.length, 0]); // INQUIRY, standard data
      dev.passthrough({ cdb, dataOut: null, dataIn: inq }, (err, res) => {
        // SSC: a sequential-access device (peripheral type 01h) gets the tape time limit
        if (!err && res?.outcome === 'done' && res.status === 0 && (inq[0]! & 0x1f) === 0x01) dev.timeoutMs = SG_TAPE_TIMEOUT_MS;
        cb(null);
      });
    });
  });
}

/** The store of one kind: it opens only nodes of that kind. */
function makeStore(kind: SgKind, ctx: BsContext): BackingStore {
  let koffi: Koffi | null = null;
  return {
    open(opts: BsOpenOptions, cb: (err: Error | null, dev?: BackingDevice) => void): void {
      classifySgPath(opts.path, (found, why) => {
        if (found === null) {
          ctx.log('error', why);
          return cb(new Error(why));
        }
        if (found !== kind) {
          const msg = `${opts.path} is a ${found} device: use --bstype ${found}`;
          ctx.log('error', msg);
          return cb(new Error(msg));
        }
        const withKoffi = (k: Koffi): void => {
          fsOpen(opts.path, fsConstants.O_RDWR, (err, fd) => {
            if (err) {
              ctx.log('error', `Could not open ${opts.path}, ${err.message}`);
              return cb(err);
            }
            const worker = new Worker(new URL('./sg-worker.js', import.meta.url));
            const dev = new SgDevice(fd, kind, worker, k);
            initDevice(dev, (e) => {
              if (e === null) return cb(null, dev);
              ctx.log('error', `Failed to initialize sg device ${opts.path}: ${e.message}`);
              dev.close(() => cb(e));
            });
          });
        };
        if (koffi !== null) return withKoffi(koffi);
        const spec = 'koffi'; // a variable: only a daemon with a passthrough LU loads it
        import(spec).then(
          (m: { default: Koffi }) => withKoffi((koffi = m.default)),
          (e: Error) => {
            ctx.log('error', `${kind}: koffi is not available: ${e.message}`);
            cb(e);
          },
        );
      });
    },
  };
}

/** The module of kind `kind` (sg.ts exports sg's, bsg.ts bsg's). */
export function sgModule(kind: SgKind): BackingStoreModule {
  return {
    kind: 'bs',
    apiVersion: 2,
    name: kind,
    oflagsSupported: { sync: false, direct: false },
    passthrough: true,
    init: (ctx) => makeStore(kind, ctx),
  };
}

export default sgModule('sg');
