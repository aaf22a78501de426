// "rbd" backing store: Ceph RBD images through librbd AIO (tgt's bs_rbd syntax, tgt-compat.md A6; issue 12).
//
// `--bstype rbd -b [pool/]image[@snap] --bsopts "conf=...;id=...;cluster=...;virsecretuuid=...;cephx_key=...;cache=none|librbd"`.
// The native addon (native/rbd) is required in init, so only a daemon that loads this store maps
// librbd; without it `bsload rbd` leaves `rbd: error` with the reason and nothing else changes.
//
// Data path: read/write/discard/flush queue rbd_aio_* on the loop thread (a read goes straight
// into the caller's buffer); librbd's threads post completions to one queue that wakes the loop
// once per batch; `deliver` runs the callbacks. Per I/O there is no promise, no closure and no
// threadpool hop: a slot in parallel arrays holds the callback, the buffers librbd uses until it
// is done, the expected byte count and the device. A write of several buffers (the Data-Out
// segments of one SCSI write) is gathered by the addon into one buffer for one rbd_aio_write:
// librbd would copy each piece into a fragment of its own (BENCHMARKS.md: -24% CPU per 1 MiB write).
// With STGT_RBD_SUBMIT_THREAD=1 (read once at init) the addon hands the librbd calls to one thread
// of its own instead (native/rbd/src/submit.cc): librbd's synchronous part of rbd_aio_* (about
// 29 us per 4 KiB read) leaves the loop thread. Off by default: it did not raise IOPS measurably on
// a shared two-core machine (BENCHMARKS.md).
//
// Client cache: off (rbd_cache=false over ceph.conf) unless `cache=librbd`, so one LU exported by
// several gateways has one coherent cache, i.e. none (README "rbd"; test/rbd/rbd-cache.test.ts).
// The LU keeps WCE=1 and SYNCHRONIZE CACHE still calls rbd_flush: with the cache off librbd
// answers it at once, and with cache=librbd it writes the cache back.
//
// Errors are errno codes (ETIMEDOUT, EROFS, ENOSPC...), which the SCSI layer turns into sense.
// A lost cluster must fail I/O rather than hang: unless ceph.conf says otherwise, librados is told
// to give up on an OSD or mon operation after 30 s (Ceph's own default is to wait forever), and
// the same client carries on when the cluster answers again.
// Zero-length requests are answered here and never reach librbd (a zero-length rbd_read asserts
// in librbd 16). A snapshot is opened read-only; writes and unmaps to it fail with EROFS (WRITE
// PROTECTED) without a round trip. The size follows the image: librbd's header watch reports a
// resize and the new size is fetched off the loop; `resize()` returns it and the daemon is told
// (BsOpenOptions.sizeChanged), so the LU raises CAPACITY DATA HAS CHANGED.
import { constants as osConstants } from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BS_API_VERSION, type AllocationRun, type BackingDevice, type BackingStore, type BackingStoreModule, type BsContext, type BsOpenOptions, type IoError } from './api.js';
import {
  findRbdAddon, KIND_IO_DONE, KIND_IMAGE_UPDATED, loadRbdAddon,
  type AddonCluster, type AddonContext, type AddonError, type AddonImage, type ConnectOptions, type RbdAddon,
} from './rbd-addon.js';
import { cephxKey, clusterKey, parseRbdOpts, parseRbdPath } from './rbd-options.js';
import { RbdSharedState } from './rbd-shared.js';

/** Client options applied where the configuration kept Ceph's own value: [option, Ceph's default, ours]. */
export const CLIENT_DEFAULTS: [string, string, string][] = [
  ['rados_osd_op_timeout', '0', '30'],
  ['rados_mon_op_timeout', '0', '30'],
  ['client_mount_timeout', '300', '30'],
];

const ERRNO_NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(osConstants.errno).map(([name, n]) => [n, name] as [number, string]),
);

/** An errno (positive) as the NodeJS.ErrnoException the SCSI layer reads `code` from. */
export function errnoError(errno: number, what: string): NodeJS.ErrnoException {
  const code = ERRNO_NAMES.get(errno) ?? 'EIO';
  const e: NodeJS.ErrnoException = new Error(`${what}: ${code} (errno ${errno})`);
  e.errno = errno;
  e.code = code;
  return e;
}

const EROFS = osConstants.errno.EROFS;
const EBADF = osConstants.errno.EBADF;
const EIO = osConstants.errno.EIO;

type IoCb = (err: IoError) => void;

/** Per-store completion dispatch: slot tables indexed by op id, plus the devices by token for header updates. */
class Dispatcher {
  readonly ctx: AddonContext;
  private readonly batch: Float64Array;
  private readonly stride: number;
  private readonly cbs: (IoCb | null)[] = [];
  /** What librbd reads from or writes into until the op completes (kept reachable here). */
  private readonly pins: unknown[] = [];
  /** Bytes a read must return (-1: any non-negative result is success). */
  private readonly expect: number[] = [];
  private readonly owners: (RbdDevice | null)[] = [];
  private readonly free: number[] = [];
  readonly devices = new Map<number, RbdDevice>();
  private nextToken = 1;
  /** JavaScript entries from the addon and completions they carried (logged when a device closes). */
  batches = 0;
  completions = 0;

  constructor(private readonly addon: RbdAddon, private readonly log: BsContext['log'], submitThread: boolean) {
    this.stride = addon.stride;
    this.batch = new Float64Array(addon.batch * addon.stride);
    this.ctx = addon.createContext((n) => this.deliver(n), this.batch, submitThread);
  }

  token(): number {
    return this.nextToken++;
  }

  slot(cb: IoCb, pin: unknown, expect: number, owner: RbdDevice): number {
    const id = this.free.length > 0 ? this.free.pop()! : this.cbs.length;
    this.cbs[id] = cb;
    this.pins[id] = pin;
    this.expect[id] = expect;
    this.owners[id] = owner;
    owner.inflight++;
    return id;
  }

  /** Frees a slot whose op librbd refused (no completion will come). */
  cancel(id: number): void {
    const owner = this.owners[id]!;
    this.clear(id);
    owner.inflight--;
  }

  private clear(id: number): void {
    this.cbs[id] = null;
    this.pins[id] = null;
    this.owners[id] = null;
    this.free.push(id);
  }

  private deliver(n: number): void {
    this.batches++;
    this.completions += n;
    const b = this.batch;
    const s = this.stride;
    for (let i = 0; i < n; i++) {
      const id = b[i * s]!;
      const r = b[i * s + 1]!;
      const kind = b[i * s + 2]!;
      if (kind === KIND_IMAGE_UPDATED) {
        this.devices.get(id)?.headerUpdated();
        continue;
      }
      if (kind !== KIND_IO_DONE) continue;
      const cb = this.cbs[id];
      const owner = this.owners[id];
      if (cb == null || owner == null) continue;
      const expect = this.expect[id]!;
      this.clear(id);
      let err: IoError = null;
      if (r < 0) err = errnoError(-r, `rbd ${owner.path}`);
      else if (expect >= 0 && r !== expect) err = errnoError(EIO, `rbd ${owner.path}: short read (${r} of ${expect} bytes)`);
      try {
        cb(err);
      } catch (e) {
        // A throwing callback is a bug above the store; the other completions of the batch still run.
        this.log('error', `completion callback threw: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
      }
      // Whatever completes may have changed the extents (a write or unmap acknowledged after an
      // allocation query began): the cached answer is stale from here on.
      owner.generation++;
      owner.inflight--;
      if (owner.inflight === 0) owner.drained();
    }
  }

  close(): void {
    this.addon.closeContext(this.ctx);
  }
}

/** Bytes one allocation query covers at most (64 objects of the default 4 MiB). */
export const EXTENT_WINDOW = 256 * 1024 * 1024;

/**
 * The allocation run at `offset`, up to `to`, from data extents [off, len, ...] in order (holes are
 * the gaps between them).
 */
export function runAt(ext: readonly number[], offset: number, to: number): AllocationRun {
  for (let i = 0; i + 1 < ext.length; i += 2) {
    const start = ext[i]!;
    const end = start + ext[i + 1]!;
    if (end <= offset) continue;
    if (start <= offset) return { allocated: true, length: Math.min(end, to) - offset };
    return { allocated: false, length: Math.min(start, to) - offset };
  }
  return { allocated: false, length: to - offset };
}

/** One rados client shared by the LUs that name the same cluster, id, conf and key. */
interface ClusterRef {
  key: string;
  refs: number;
  cluster: Promise<AddonCluster>;
}

export class RbdDevice implements BackingDevice {
  size: number;
  /** Data-path ops and control calls (size, metadata) librbd has not answered yet; close waits for them. */
  inflight = 0;
  /** The image metadata gateways share (absent for a snapshot or an addon build without metadata calls). */
  shared?: RbdSharedState;
  private closeCb: IoCb | null = null;
  private closed = false;
  private sizing = false;

  constructor(
    private readonly store: RbdStore,
    private readonly addon: RbdAddon,
    private readonly d: Dispatcher,
    private readonly image: AddonImage,
    private readonly clusterRef: ClusterRef,
    readonly token: number,
    /** The path as given (for messages). */
    readonly path: string,
    size: number,
    readonly readOnly: boolean,
    /** Flush after every write (--bsoflags sync). */
    private readonly syncWrites: boolean,
    private readonly log: BsContext['log'],
    /** The daemon's hook for a size librbd reported changed (BsOpenOptions.sizeChanged). */
    private readonly sizeChanged: (() => void) | undefined,
  ) {
    this.size = size;
    if (typeof addon.extents === 'function') this.allocation = (offset, length, cb) => this.allocationIn(offset, length, cb);
  }

  private gone(cb: IoCb): void {
    cb(errnoError(EBADF, `rbd ${this.path}: device closed`));
  }

  read(offset: number, into: Buffer, cb: IoCb): void {
    if (into.length === 0) return cb(null);
    if (this.closed) return this.gone(cb);
    const id = this.d.slot(cb, into, into.length, this);
    const r = this.addon.read(this.image, offset, into, id);
    if (r < 0) {
      this.d.cancel(id);
      cb(errnoError(-r, `rbd ${this.path}: read`));
    }
  }

  write(offset: number, data: readonly Buffer[], cb: IoCb): void {
    let total = 0;
    for (const b of data) total += b.length;
    if (total === 0) return cb(null);
    if (this.closed) return this.gone(cb);
    if (this.readOnly) return cb(errnoError(EROFS, `rbd ${this.path}: read-only (snapshot)`));
    const done = this.syncWrites ? (err: IoError): void => (err ? cb(err) : this.flush(cb)) : cb;
    // Zero-length pieces would only cost an iovec entry; drop them.
    const bufs = data.length === 1 ? data : data.filter((b) => b.length > 0);
    const id = this.d.slot(done, bufs, -1, this);
    const r = this.addon.write(this.image, offset, bufs, id);
    if (r < 0) {
      this.d.cancel(id);
      cb(errnoError(-r, `rbd ${this.path}: write`));
    }
  }

  flush(cb: IoCb): void {
    if (this.closed) return this.gone(cb);
    // Nothing is ever written through a read-only image.
    if (this.readOnly) return cb(null);
    const id = this.d.slot(cb, null, -1, this);
    const r = this.addon.flush(this.image, id);
    if (r < 0) {
      this.d.cancel(id);
      cb(errnoError(-r, `rbd ${this.path}: flush`));
    }
  }

  /** Deallocates (librbd write_zeroes: whole objects removed, partial ones zeroed), so the range reads back as zeros. Success is a byte count, not an error. */
  unmap(offset: number, length: number, cb: IoCb): void {
    if (length === 0) return cb(null);
    if (this.closed) return this.gone(cb);
    if (this.readOnly) return cb(errnoError(EROFS, `rbd ${this.path}: read-only (snapshot)`));
    const id = this.d.slot(cb, null, -1, this);
    const r = this.addon.discard(this.image, offset, length, id);
    if (r < 0) {
      this.d.cancel(id);
      cb(errnoError(-r, `rbd ${this.path}: discard`));
    }
  }

  /**
   * Contract 2.1 allocation map, from the image's data extents (addon `extents`, rbd_diff_iterate2):
   * GET LBA STATUS reports from it, and a thin rbd LU offers SANITIZE BLOCK ERASE. One query covers a
   * window of EXTENT_WINDOW bytes (a request per object without the object map); the answer is kept
   * for the next calls in that window until an op of the device completes.
   */
  readonly allocation?: (offset: number, length: number, cb: (err: IoError, run?: AllocationRun) => void) => void;
  /** Bumped by every completed op (Dispatcher.deliver): extents cached before it are stale. */
  generation = 0;
  private extentsCache: { gen: number; from: number; to: number; ext: number[] } | null = null;

  private allocationIn(offset: number, length: number, cb: (err: IoError, run?: AllocationRun) => void): void {
    const c = this.extentsCache;
    if (c !== null && c.gen === this.generation && offset >= c.from && offset < c.to) {
      return cb(null, runAt(c.ext, offset, Math.min(offset + length, c.to)));
    }
    if (this.closed) return this.gone(cb);
    const gen = this.generation;
    const to = Math.min(offset + Math.max(length, 1), offset + EXTENT_WINDOW, this.size);
    if (to <= offset) return cb(errnoError(EIO, `rbd ${this.path}: allocation beyond the end of the image`));
    this.control((done) => this.addon.extents!(this.image, offset, to - offset, (err, ext) => {
      done();
      if (err || ext === undefined) return cb(errnoError(err?.errno ?? EIO, `rbd ${this.path}: ${err?.message ?? 'no extents'}`));
      if (gen === this.generation) this.extentsCache = { gen, from: offset, to, ext };
      cb(null, runAt(ext, offset, to));
    }));
  }

  /** The image's size as librbd last reported it (kept current by the header watch). */
  resize(): number {
    return this.size;
  }

  /** False once close was called. */
  get open(): boolean {
    return !this.closed;
  }

  /** Runs a control call on the open image; the image is not closed before `done`. */
  control(start: (done: () => void) => void): void {
    this.inflight++;
    start(() => {
      if (--this.inflight === 0) this.drained();
    });
  }

  /** librbd saw a header update (resize, snapshot created, metadata set by another gateway...): re-read size and shared state off the loop. */
  headerUpdated(): void {
    if (this.closed) return;
    this.shared?.refresh();
    if (this.sizing) return;
    this.sizing = true;
    this.control((done) => this.addon.size(this.image, (err, bytes) => {
      done();
      this.sizing = false;
      if (err || bytes === undefined || this.closed) return;
      if (bytes !== this.size) {
        this.log('info', `${this.path}: image size changed from ${this.size} to ${bytes} bytes`);
        this.size = bytes;
        this.sizeChanged?.();
      }
    }));
  }

  /** Refuses new I/O, waits for what is in flight, closes the image, releases the cluster connection. */
  close(cb: IoCb): void {
    if (this.closed) return cb(null);
    this.closed = true;
    this.closeCb = cb;
    if (this.inflight === 0) this.drained();
  }

  /** The last in-flight op completed. */
  drained(): void {
    const cb = this.closeCb;
    if (cb === null) return;
    this.closeCb = null;
    this.d.devices.delete(this.token);
    const per = this.d.batches > 0 ? (this.d.completions / this.d.batches).toFixed(2) : '0';
    this.log('info', `${this.path}: closing; the store has delivered ${this.d.completions} completions in ${this.d.batches} batches (${per} per batch)`);
    this.addon.close(this.image, (err) => {
      this.store.releaseCluster(this.clusterRef);
      cb(err ? errnoError(err.errno ?? EIO, `rbd ${this.path}: ${err.message}`) : null);
    });
  }
}

export class RbdStore implements BackingStore {
  private readonly clusters = new Map<string, ClusterRef>();
  private readonly d: Dispatcher;

  constructor(private readonly addon: RbdAddon, private readonly ctx: BsContext, submitThread = false) {
    this.d = new Dispatcher(addon, (level, msg) => ctx.log(level, msg), submitThread && addon.submitThread === true);
  }

  open(opts: BsOpenOptions, cb: (err: Error | null, dev?: BackingDevice) => void): void {
    let path, o, key;
    try {
      path = parseRbdPath(opts.path);
      o = parseRbdOpts(opts.bsopts);
      key = cephxKey(o);
    } catch (e) {
      // tgtadm only says "invalid request": the reason goes to tgtd's log.
      this.ctx.log('error', `${opts.path}: ${(e as Error).message}`);
      return cb(e as Error);
    }
    for (const u of o.unknown) this.ctx.log('warn', `ignoring unknown option "${u}"`);
    if (o.cache === 'librbd' && opts.oflags.direct) {
      const e = new Error(`${opts.path}: conflicting cache=librbd and --bsoflags direct: give one`);
      this.ctx.log('error', e.message);
      return cb(e);
    }
    const readOnly = opts.readonly || path.snap !== '';
    const rbdCache = o.cache === 'librbd';
    const conn: ConnectOptions = {
      cluster: o.cluster,
      name: `client.${o.id === '' ? 'admin' : o.id}`,
      conf: o.conf,
      key,
      defaults: CLIENT_DEFAULTS,
      // No librbd client cache unless cache=librbd, whatever ceph.conf says: another gateway may
      // export the image as the same LU, and two caches behind two ports of one LU are not coherent
      // (a write acknowledged by one is not read through the other; without exclusive-lock a later
      // flush overwrites newer data). Without it, librbd answers a write once every replica has it.
      set: rbdCache ? [] : [['rbd_cache', 'false']],
    };
    const ref = this.acquireCluster(clusterKey(o, key, rbdCache), conn);
    const fail = (what: string, err: AddonError): void => {
      this.releaseCluster(ref);
      const e = new Error(`${opts.path}: ${what}: ${err.message}`);
      this.ctx.log('error', e.message);
      cb(e);
    };
    ref.cluster.then(
      (cluster) => {
        const token = this.d.token();
        this.addon.open(this.d.ctx, cluster, { pool: path.pool, image: path.image, snap: path.snap, readOnly, token }, (err, r) => {
          if (err || r === undefined) return fail('cannot open image', err ?? new Error('no image'));
          const dev = new RbdDevice(this, this.addon, this.d, r.image, ref, token, opts.path, r.size, readOnly, opts.oflags.sync,
            (level, msg) => this.ctx.log(level, msg), opts.sizeChanged);
          if (!readOnly) {
            const w = this.addon.watch(r.image);
            if (w < 0) this.ctx.log('warn', `${opts.path}: no header watch (${w}): size changes will not be seen`);
          }
          this.d.devices.set(token, dev);
          const ready = (): void => {
            this.ctx.log('info', `opened ${path.pool}/${path.image}${path.snap ? `@${path.snap}` : ''}: ${r.size} bytes, ` +
              `object size ${r.objectSize}${readOnly ? ', read-only' : ''}${dev.shared ? ', shared state' : ''}` +
              `${rbdCache ? ", librbd's client cache as configured (cache=librbd: serve this image through one gateway only)" : ', no client cache'}`);
            cb(null, dev);
          };
          const { metaList, metaSwap } = this.addon;
          if (readOnly || metaList === undefined || metaSwap === undefined) {
            if (!readOnly) this.ctx.log('warn', `${opts.path}: this rbd addon build has no shared state (rebuild: npm run build:native)`);
            return ready();
          }
          const shared = new RbdSharedState({ metaList: metaList.bind(this.addon), metaSwap: metaSwap.bind(this.addon) }, r.image,
            (start) => dev.control(start), () => dev.open, (err) => errnoError(err.errno ?? EIO, `rbd ${opts.path}: ${err.message}`),
            (msg) => this.ctx.log('warn', `${opts.path}: ${msg}`));
          shared.load((err) => {
            // Without its shared state a second gateway could not enforce the first one's reservations: refuse the LU.
            if (err !== null) {
              // close releases the cluster reference, as for any device.
              return dev.close(() => {
                const e = new Error(`${opts.path}: cannot read the image metadata: ${err.message}`);
                this.ctx.log('error', e.message);
                cb(e);
              });
            }
            dev.shared = shared;
            ready();
          });
        });
      },
      (err: AddonError) => fail('cannot connect to the cluster', err),
    );
  }

  private acquireCluster(key: string, conn: ConnectOptions): ClusterRef {
    let ref = this.clusters.get(key);
    if (ref === undefined) {
      const cluster = new Promise<AddonCluster>((resolve, reject) =>
        this.addon.connect(conn, (err, c) => (err || c === undefined ? reject(err ?? new Error('no cluster')) : resolve(c))));
      ref = { key, refs: 0, cluster };
      this.clusters.set(key, ref);
      // A failed connection is forgotten at once, so the next LU tries again.
      cluster.catch(() => {
        if (this.clusters.get(key) === ref) this.clusters.delete(key);
      });
    }
    ref.refs++;
    return ref;
  }

  releaseCluster(ref: ClusterRef): void {
    if (--ref.refs > 0) return;
    if (this.clusters.get(ref.key) === ref) this.clusters.delete(ref.key);
    ref.cluster.then(
      (c) => this.addon.shutdown(c, () => undefined),
      () => undefined,
    );
  }

  exit(): Promise<void> {
    // Devices are closed before exit; shut down what is left, then stop deliveries.
    const pending = [...this.clusters.values()].map((ref) =>
      ref.cluster.then((c) => new Promise<void>((res) => this.addon.shutdown(c, () => res())), () => undefined));
    this.clusters.clear();
    return Promise.all(pending).then(() => this.d.close());
  }
}

/** init with an injectable addon path/loader (tests); the module's init uses the built addon beside this package. */
export function initRbd(ctx: BsContext, addonPath: string | null = findRbdAddon(dirname(fileURLToPath(import.meta.url))),
  requireAddon?: (p: string) => unknown): RbdStore {
  const addon = loadRbdAddon(addonPath, requireAddon);
  const submitThread = process.env['STGT_RBD_SUBMIT_THREAD'] === '1';
  ctx.log('info', `librbd ${addon.librbdVersion}${submitThread && addon.submitThread === true ? ', submission thread' : ''}`);
  return new RbdStore(addon, ctx, submitThread);
}

const rbdModule: BackingStoreModule = {
  kind: 'bs',
  apiVersion: BS_API_VERSION,
  name: 'rbd',
  oflagsSupported: { sync: true, direct: true },
  init: (ctx) => initRbd(ctx),
};

export default rbdModule;
