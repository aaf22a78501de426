// In-memory BackingDevice for the SCSI engine's unit tests (src/bs/api.ts contract), with fault injection.
import type { AllocationRun, BackingDevice, IoError } from '../../bs/api.js';

export interface MemoryDeviceOptions {
  /** Complete callbacks on a later tick (like a real store) instead of synchronously. */
  async?: boolean;
  /** Provide `unmap` (thin-capable). Default true. */
  thin?: boolean;
  /**
   * Provide `allocation` (contract 2.1) with this allocation unit in bytes, as a filesystem block:
   * a write allocates every unit it touches, an unmap frees only the units it covers whole (the
   * rest of the range is zeroed). Absent: no allocation map.
   */
  allocationUnit?: number;
  /** With allocationUnit: unmap only zeroes (a filesystem that cannot punch holes). */
  unmapZeroesOnly?: boolean;
}

function errno(code: string): NodeJS.ErrnoException {
  const e: NodeJS.ErrnoException = new Error(code);
  e.code = code;
  return e;
}

export class MemoryDevice implements BackingDevice {
  data: Buffer;
  size: number;
  /** Set to 'EIO' / 'ENOSPC' to make the next I/Os fail. */
  failWith: string | null = null;
  flushes = 0;
  writes = 0;
  unmaps = 0;
  readonly unmap?: (offset: number, length: number, cb: (err: IoError) => void) => void;
  readonly allocation?: (offset: number, length: number, cb: (err: IoError, run?: AllocationRun) => void) => void;
  /** With allocationUnit: 1 per allocated unit. */
  allocated: Uint8Array | null = null;
  private readonly unit: number;
  private readonly async: boolean;

  constructor(size: number, opts: MemoryDeviceOptions = {}) {
    this.data = Buffer.alloc(size);
    this.size = size;
    this.async = opts.async ?? false;
    const unit = opts.allocationUnit ?? 0;
    this.unit = unit;
    if (unit > 0) this.allocated = new Uint8Array(Math.ceil(size / unit));
    if (opts.thin ?? true) {
      this.unmap = (offset, length, cb) => {
        this.unmaps++;
        const err = this.check(offset, length);
        if (!err) {
          this.data.fill(0, offset, offset + length);
          if (this.allocated !== null && opts.unmapZeroesOnly !== true) this.allocated.fill(0, Math.ceil(offset / unit), Math.floor((offset + length) / unit));
        }
        this.later(() => cb(err));
      };
    }
    if (unit > 0) {
      this.allocation = (offset, length, cb) => {
        const err = this.check(offset, length);
        const map = this.allocated!;
        let n = 0;
        if (!err) {
          const state = map[Math.floor(offset / unit)];
          let u = Math.floor(offset / unit);
          while (u < map.length && map[u] === state && u * unit < offset + length) u++;
          n = Math.min(u * unit, offset + length) - offset;
          this.later(() => cb(null, { allocated: state === 1, length: n }));
        } else this.later(() => cb(err));
      };
    }
  }

  private later(fn: () => void): void {
    if (this.async) setImmediate(fn);
    else fn();
  }

  private check(offset: number, length: number): IoError {
    if (this.failWith) return errno(this.failWith);
    if (offset < 0 || offset + length > this.size) return errno('EINVAL');
    return null;
  }

  read(offset: number, into: Buffer, cb: (err: IoError) => void): void {
    const err = this.check(offset, into.length);
    // Filled when the read completes, as a real store's data arrives.
    this.later(() => {
      if (!err) this.data.copy(into, 0, offset, offset + into.length);
      cb(err);
    });
  }

  write(offset: number, data: readonly Buffer[], cb: (err: IoError) => void): void {
    let len = 0;
    for (const b of data) len += b.length;
    const err = this.check(offset, len);
    if (!err) {
      this.writes++;
      if (this.allocated !== null && len > 0) this.allocated.fill(1, Math.floor(offset / this.unit), Math.ceil((offset + len) / this.unit));
      let o = offset;
      for (const b of data) {
        b.copy(this.data, o);
        o += b.length;
      }
    }
    this.later(() => cb(err));
  }

  flush(cb: (err: IoError) => void): void {
    this.flushes++;
    const err = this.failWith ? errno(this.failWith) : null;
    this.later(() => cb(err));
  }

  resize(): number {
    return this.size;
  }

  /** Test helper: change the size as if the file grew. */
  grow(size: number): void {
    const d = Buffer.alloc(size);
    this.data.copy(d, 0, 0, Math.min(size, this.data.length));
    this.data = d;
    this.size = size;
  }

  close(cb: (err: IoError) => void): void {
    this.later(() => cb(null));
  }
}
