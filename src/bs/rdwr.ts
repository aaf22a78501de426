// "rdwr" backing store: regular files and block devices through pread/pwritev (tgt usr/bs_rdwr.c behaviour; tgt-compat.md A6).
//
// Callback fs calls only (no promise per I/O). --bsoflags sync -> O_SYNC, direct -> O_DIRECT.
// O_DIRECT needs aligned memory, which JS cannot request: direct transfers go through page-aligned
// pooled buffers (aligned-buffers.ts, one copy to or from the command's buffers). When the kernel
// still refuses a direct transfer with EINVAL (an offset or length the device cannot take
// directly, or no koffi to align with), that one transfer is redone through a second, buffered
// O_SYNC fd, so the data is still durable when the callback runs, just not cache-bypassing.
// UNMAP punches a hole with fallocate(PUNCH_HOLE|KEEP_SIZE) via koffi (optional, loaded on first
// use); without koffi, or where the filesystem cannot punch holes, it writes zeros instead.
// A regular file's allocation map (GET LBA STATUS, SANITIZE BLOCK ERASE: contract 2.1
// `allocation`) is lseek(SEEK_DATA / SEEK_HOLE) via koffi; without koffi the device has none.
// Reads up to NOWAIT_MAX bytes first try the page cache on the event loop's thread
// (nowait-read.ts); what is not cached is read through the thread pool.
// Buffered writes up to INLINE_WRITE_MAX bytes are written on the event loop's thread too
// (pwritev: a copy into the page cache, ~6 µs for 4 KiB here, against ~60 µs for a thread-pool
// round trip on a loaded machine). pwritev2(RWF_NOWAIT) would say when such a write would block,
// but ext4 answers it with EOPNOTSUPP for buffered writes, so an InlineWriteGuard watches instead:
// INLINE_SLOW_WRITES inline writes slower than INLINE_SLOW_MS within INLINE_WINDOW of them (the
// kernel throttling dirty pages, journal waits) send the device's writes back to the pool for
// INLINE_BACKOFF_MS. One slow write alone is not enough: on a loaded machine the loop's thread is
// sometimes preempted inside a write, which says nothing about the kernel. O_SYNC and O_DIRECT LUNs
// always write through the pool (each write waits for the device).
import fs from 'node:fs';
import { loadNoWaitReader, type NoWaitReader } from './nowait-read.js';
import { loadAlignedBuffers, type AlignedBuffers } from './aligned-buffers.js';
import { BS_API_VERSION, type AllocationRun, type BackingDevice, type BackingStore, type BackingStoreModule, type BsContext, type BsOpenOptions, type IoError } from './api.js';

const SEEK_DATA = 3;
const SEEK_HOLE = 4;
const ENXIO = 6;
const FALLOC_FL_KEEP_SIZE = 0x01;
const FALLOC_FL_PUNCH_HOLE = 0x02;
const ZERO_CHUNK = 1 << 20;
/** Largest read copied from the page cache on the event loop's thread (larger ones use the pool). */
export const NOWAIT_MAX = 128 * 1024;
const EAGAIN = 11;
/** Largest buffered write done on the event loop's thread (larger ones use the pool, where copies of several run in parallel). */
export const INLINE_WRITE_MAX = 128 * 1024;
/** An inline write that took longer than this waited for the kernel or lost the CPU. */
export const INLINE_SLOW_MS = 2;
/** This many slow ones within INLINE_WINDOW inline writes: the kernel makes writes wait. */
export const INLINE_SLOW_WRITES = 3;
export const INLINE_WINDOW = 64;
/** How long a device writes through the pool then. */
export const INLINE_BACKOFF_MS = 1000;

/**
 * Whether a device's next small write may run on the event loop's thread: yes, unless
 * INLINE_SLOW_WRITES of the last INLINE_WINDOW inline writes were slow within the last
 * INLINE_BACKOFF_MS (`now` is injectable for tests).
 */
export class InlineWriteGuard {
  /** Inline writes that were slow. */
  slowWrites = 0;
  /** Back-offs to the pool so far. */
  backoffs = 0;
  private until = 0;
  private inWindow = 0;
  private slowInWindow = 0;
  constructor(private readonly now: () => number = () => performance.now()) {}

  /** Start time of an inline write, or -1 when this write must go to the pool. */
  begin(): number {
    const t = this.now();
    return t >= this.until ? t : -1;
  }

  /** The inline write that began at `t0` is done. */
  end(t0: number): void {
    const t = this.now();
    if (t - t0 > INLINE_SLOW_MS) {
      this.slowWrites++;
      if (++this.slowInWindow >= INLINE_SLOW_WRITES) {
        this.backoffs++;
        this.until = t + INLINE_BACKOFF_MS;
        this.inWindow = this.slowInWindow = 0;
        return;
      }
    }
    if (++this.inWindow >= INLINE_WINDOW) this.inWindow = this.slowInWindow = 0;
  }
}

type Fallocate = (fd: number, mode: number, offset: number, len: number, cb: (err: IoError) => void) => void;

/** Lazily binds libc fallocate through koffi; null when koffi is not installed. */
function loadFallocate(): Promise<Fallocate | null> {
  const spec = 'koffi'; // a variable, so tsc and bundlers do not require the optional package
  return import(spec).then(
    (ns: { default: KoffiLike }) => {
      const k = ns.default;
      const fn = k.load('libc.so.6').func('int fallocate(int, int, int64_t, int64_t)');
      return (fd, mode, offset, len, cb) => {
        fn.async(fd, mode, offset, len, (err: unknown, rc: number) => {
          if (err) return cb(err as NodeJS.ErrnoException);
          if (rc !== 0) {
            const e: NodeJS.ErrnoException = new Error(`fallocate failed, errno ${k.errno()}`);
            e.errno = k.errno();
            return cb(e);
          }
          cb(null);
        });
      };
    },
    () => null,
  );
}

interface KoffiLike {
  load(lib: string): { func(sig: string): { async(...args: unknown[]): void } };
  errno(): number;
}

/** lseek(2): the new offset, or -errno. */
export type Seek = (fd: number, offset: number, whence: number) => number;

/**
 * Binds libc lseek through koffi (Node has no lseek); null when koffi is not installed. Called on
 * the loop's thread: SEEK_DATA / SEEK_HOLE read the file's extent map, no data, and only GET LBA
 * STATUS and SANITIZE ask.
 */
export async function loadSeek(): Promise<Seek | null> {
  try {
    const spec = 'koffi'; // a variable, so tsc and bundlers do not require the optional package
    const k = ((await import(spec)) as { default: { load(lib: string): { func(sig: string): (...a: unknown[]) => number | bigint }; errno(): number } }).default;
    const lseek = k.load('libc.so.6').func('int64_t lseek(int fd, int64_t offset, int whence)');
    return (fd, offset, whence) => {
      const r = Number(lseek(fd, offset, whence));
      return r >= 0 ? r : -k.errno();
    };
  } catch {
    return null;
  }
}

/**
 * The allocation run at `offset` of the file `fd` within `length` bytes, from SEEK_DATA /
 * SEEK_HOLE. ENXIO from SEEK_DATA: no data at or after `offset` (a hole up to the end).
 */
export function allocationRun(seek: Seek, fd: number, offset: number, length: number): AllocationRun | NodeJS.ErrnoException {
  const end = offset + length;
  const data = seek(fd, offset, SEEK_DATA);
  if (data === -ENXIO) return { allocated: false, length };
  if (data < 0) return seekError(-data);
  if (data > offset) return { allocated: false, length: Math.min(data, end) - offset };
  const hole = seek(fd, offset, SEEK_HOLE);
  if (hole < 0) return seekError(-hole);
  return { allocated: true, length: Math.max(1, Math.min(hole, end) - offset) };
}

function seekError(errno: number): NodeJS.ErrnoException {
  const e: NodeJS.ErrnoException = new Error(`lseek failed, errno ${errno}`);
  e.errno = errno;
  e.code = 'EIO';
  return e;
}

/** Size of a block device from sysfs (512-byte sectors), by its major:minor. */
function blockDeviceSize(rdev: number): number {
  const major = Math.floor(rdev / 256) & 0xfff;
  const minor = (rdev & 0xff) | ((Math.floor(rdev / 4096) & 0xfff00));
  const sectors = fs.readFileSync(`/sys/dev/block/${major}:${minor}/size`, 'utf8');
  return Number(sectors.trim()) * 512;
}

export class RdwrDevice implements BackingDevice {
  size: number;
  /** Buffered O_SYNC fd used when O_DIRECT refuses a transfer (-1: not opened yet). */
  private fallbackFd = -1;
  private fallocate: Promise<Fallocate | null> | null = null;
  /** A read past the end of the (truncated) file was logged already. */
  private warnedEof = false;
  /** Small writes on the loop's thread (buffered LUNs only; see InlineWriteGuard). */
  readonly inlineWrites: InlineWriteGuard | null;
  /** Transfers the O_DIRECT fd refused and the buffered O_SYNC fd did. */
  directFallbacks = 0;
  /** Contract 2.1 allocation map: regular files, when lseek is bound (a block device has none: its unmap writes zeros). */
  readonly allocation?: (offset: number, length: number, cb: (err: IoError, run?: AllocationRun) => void) => void;

  constructor(
    private readonly fd: number,
    private readonly path: string,
    private readonly opts: BsOpenOptions,
    size: number,
    private readonly isBlock: boolean,
    private readonly log: BsContext['log'] = () => undefined,
    private nowait: NoWaitReader | null = null,
    /** Page-aligned buffers for an O_DIRECT fd (null: buffered, or no way to align). */
    private readonly aligned: AlignedBuffers | null = null,
    seek: Seek | null = null,
  ) {
    this.size = size;
    this.inlineWrites = opts.oflags.sync || opts.oflags.direct ? null : new InlineWriteGuard();
    if (seek !== null && !isBlock) {
      this.allocation = (offset, length, cb) => {
        const r = allocationRun(seek, this.fd, offset, length);
        if (r instanceof Error) cb(r);
        else cb(null, r);
      };
    }
  }

  private altFd(): number {
    if (this.fallbackFd < 0) {
      const c = fs.constants;
      this.fallbackFd = fs.openSync(this.path, (this.opts.readonly ? c.O_RDONLY : c.O_RDWR) | c.O_SYNC);
    }
    return this.fallbackFd;
  }

  read(offset: number, into: Buffer, cb: (err: IoError) => void): void {
    if (this.aligned !== null) return this.readAligned(offset, into, cb);
    // Straight into the caller's buffer (registered RDMA memory, a pooled buffer): the kernel
    // fills all of it or the read fails. Cached data first, without a thread hop.
    if (this.nowait !== null && into.length <= NOWAIT_MAX) {
      const n = this.nowait.read(this.fd, into, offset);
      if (n === into.length) return cb(null);
      if (n > 0) return this.readInto(this.fd, into, n, offset, cb);
      // Not cached, or the end of the file (0: the pool's read says which); anything but EAGAIN
      // (O_DIRECT refusing this memory, a kernel without RWF_NOWAIT) means never on this fd.
      if (n < 0 && n !== -EAGAIN) this.nowait = null;
    }
    this.readInto(this.fd, into, 0, offset, cb);
  }

  /** O_DIRECT: into an aligned buffer, then copied to the command's. */
  private readAligned(offset: number, into: Buffer, cb: (err: IoError) => void): void {
    const a = this.aligned!;
    const b = a.get(into.length);
    const view = b.length === into.length ? b : b.subarray(0, into.length);
    this.readInto(this.fd, view, 0, offset, (err) => {
      if (!err) view.copy(into);
      a.put(b);
      cb(err);
    });
  }

  /**
   * End of file inside the LU: the file shrank after the LU was created (the LU's size is the
   * file's size at open, rounded down to whole blocks, so nothing else gets here). The blocks
   * there are lost; answering zeros would let a filesystem on the initiator trust zeroed metadata,
   * so the read fails (MEDIUM ERROR, as tgt answers a short pread) and the log says why, once.
   */
  private pastEof(offset: number, cb: (err: IoError) => void): void {
    let now = -1;
    try {
      now = fs.fstatSync(this.fd).size;
    } catch {
      /* the error below says enough */
    }
    if (!this.warnedEof) {
      this.warnedEof = true;
      this.log('warn', `${this.path}: read at byte ${offset} is past the end of the file (${now} bytes now, ` +
        `${this.size} when the LU was created): the file was truncated; such reads fail with MEDIUM ERROR`);
    }
    const e: NodeJS.ErrnoException = new Error(`${this.path}: read past the end of the file (truncated to ${now} bytes?)`);
    e.code = 'EIO';
    cb(e);
  }

  private readInto(fd: number, buf: Buffer, done: number, offset: number, cb: (err: IoError) => void): void {
    if (done >= buf.length) return cb(null);
    fs.read(fd, buf, done, buf.length - done, offset + done, (err, n) => {
      if (err) {
        if (err.code === 'EINVAL' && this.opts.oflags.direct && fd === this.fd) {
          this.directFallbacks++;
          return this.readInto(this.altFd(), buf, done, offset, cb);
        }
        return cb(err);
      }
      if (n === 0) return this.pastEof(offset + done, cb);
      this.readInto(fd, buf, done + n, offset, cb);
    });
  }

  write(offset: number, data: readonly Buffer[], cb: (err: IoError) => void): void {
    if (this.aligned !== null) return this.writeAligned(offset, data, cb);
    const g = this.inlineWrites;
    if (g !== null) {
      let len = 0;
      for (let i = 0; i < data.length; i++) len += data[i]!.length;
      const t0 = len <= INLINE_WRITE_MAX ? g.begin() : -1;
      if (t0 >= 0) {
        let n: number;
        try {
          n = fs.writevSync(this.fd, data as Buffer[], offset);
        } catch {
          // Whatever failed (ENOSPC, EIO), the pool's write says it the usual way.
          g.end(t0);
          return this.writeFrom(this.fd, data as Buffer[], offset, cb);
        }
        g.end(t0);
        if (n === len) return cb(null);
        return this.writeRest(this.fd, data as Buffer[], n, offset, cb);
      }
    }
    this.writeFrom(this.fd, data as Buffer[], offset, cb);
  }

  /** O_DIRECT: the pieces copied into one aligned buffer, written from it. */
  private writeAligned(offset: number, data: readonly Buffer[], cb: (err: IoError) => void): void {
    const a = this.aligned!;
    let len = 0;
    for (let i = 0; i < data.length; i++) len += data[i]!.length;
    const b = a.get(len);
    const view = b.length === len ? b : b.subarray(0, len);
    let o = 0;
    for (let i = 0; i < data.length; i++) o += data[i]!.copy(view, o);
    this.writeFrom(this.fd, [view], offset, (err) => {
      a.put(b);
      cb(err);
    });
  }

  private writeFrom(fd: number, data: Buffer[], offset: number, cb: (err: IoError) => void): void {
    fs.writev(fd, data, offset, (err, n) => {
      if (err) {
        if (err.code === 'EINVAL' && this.opts.oflags.direct && fd === this.fd) {
          this.directFallbacks++;
          return this.writeFrom(this.altFd(), data, offset, cb);
        }
        return cb(err);
      }
      this.writeRest(fd, data, n, offset, cb);
    });
  }

  /** `n` bytes of `data` at `offset` are written: the rest through the pool (short writes). */
  private writeRest(fd: number, data: Buffer[], n: number, offset: number, cb: (err: IoError) => void): void {
    let skip = n;
    let i = 0;
    while (i < data.length && skip >= data[i]!.length) skip -= data[i++]!.length;
    if (i >= data.length) return cb(null);
    const rest = data.slice(i);
    rest[0] = rest[0]!.subarray(skip);
    this.writeFrom(fd, rest, offset + n, cb);
  }

  flush(cb: (err: IoError) => void): void {
    fs.fdatasync(this.fd, (err) => cb(err));
  }

  unmap(offset: number, length: number, cb: (err: IoError) => void): void {
    if (this.isBlock) return this.writeZeros(offset, length, cb);
    this.fallocate ??= loadFallocate();
    this.fallocate.then(
      (fa) => {
        if (fa === null) return this.writeZeros(offset, length, cb);
        fa(this.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length, (err) => {
          if (err) return this.writeZeros(offset, length, cb); // e.g. EOPNOTSUPP on this filesystem
          cb(null);
        });
      },
      () => this.writeZeros(offset, length, cb),
    );
  }

  private writeZeros(offset: number, length: number, cb: (err: IoError) => void): void {
    if (length <= 0) return cb(null);
    const n = Math.min(length, ZERO_CHUNK);
    this.write(offset, [Buffer.alloc(n)], (err) => {
      if (err) return cb(err);
      this.writeZeros(offset + n, length - n, cb);
    });
  }

  resize(): number {
    const st = fs.fstatSync(this.fd);
    this.size = st.isBlockDevice() ? blockDeviceSize(st.rdev) : st.size;
    return this.size;
  }

  close(cb: (err: IoError) => void): void {
    if (this.fallbackFd >= 0) fs.close(this.fallbackFd, () => undefined);
    // Leave nothing that was acknowledged only in the page cache: a LUN removed or a daemon
    // stopped before a power loss still has its data on stable storage.
    fs.fdatasync(this.fd, () => fs.close(this.fd, (err) => cb(err)));
  }
}

function openDevice(
  ctx: BsContext, nowait: NoWaitReader | null, aligned: AlignedBuffers | null, seek: Seek | null, opts: BsOpenOptions,
  cb: (err: Error | null, dev?: BackingDevice) => void,
): void {
  if (opts.path.length === 0) return cb(new Error('rdwr needs a backing-store path'));
  const c = fs.constants;
  let flags = opts.readonly ? c.O_RDONLY : c.O_RDWR;
  if (opts.oflags.sync) flags |= c.O_SYNC;
  if (opts.oflags.direct) flags |= c.O_DIRECT;
  fs.open(opts.path, flags, (err, fd) => {
    if (err) return cb(err);
    fs.fstat(fd, (serr, st) => {
      if (serr) {
        fs.close(fd, () => undefined);
        return cb(serr);
      }
      let size: number;
      try {
        if (st.isBlockDevice()) size = blockDeviceSize(st.rdev);
        else if (st.isFile()) size = st.size;
        else throw new Error(`${opts.path} is neither a regular file nor a block device`);
      } catch (e) {
        fs.close(fd, () => undefined);
        return cb(e as Error);
      }
      const dev = new RdwrDevice(
        fd, opts.path, opts, size, st.isBlockDevice(), (level, msg) => ctx.log(level, msg), nowait,
        opts.oflags.direct ? aligned : null, seek,
      );
      cb(null, dev);
    });
  });
}

const rdwrModule: BackingStoreModule = {
  kind: 'bs',
  apiVersion: BS_API_VERSION,
  name: 'rdwr',
  oflagsSupported: { sync: true, direct: true },
  init: async (ctx): Promise<BackingStore> => {
    const nowait = await loadNoWaitReader();
    if (nowait === null) ctx.log('info', 'preadv2(RWF_NOWAIT) unavailable: every read goes through the thread pool');
    // Shared by the store's O_DIRECT LUNs (one event loop: no locking).
    const aligned = await loadAlignedBuffers();
    const seek = await loadSeek();
    if (seek === null) ctx.log('info', 'lseek(SEEK_DATA) unavailable: GET LBA STATUS reads blocks, SANITIZE BLOCK ERASE is not offered');
    return { open: (opts, cb) => openDevice(ctx, nowait, aligned, seek, opts, cb) };
  },
};

export default rdwrModule;
