// In-memory BackingDevice for the SCSI engine's unit tests (src/bs/api.ts contract), with fault injection.
import type { BackingDevice, IoError } from '../../bs/api.js';

export interface MemoryDeviceOptions {
  /** Complete callbacks on a later tick (like a real store) instead of synchronously. */
  async?: boolean;
  /** Provide `unmap` (thin-capable). Default true. */
  thin?: boolean;
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
  private readonly async: boolean;

  constructor(size: number, opts: MemoryDeviceOptions = {}) {
    this.data = Buffer.alloc(size);
    this.size = size;
    this.async = opts.async ?? false;
    if (opts.thin ?? true) {
      this.unmap = (offset, length, cb) => {
        this.unmaps++;
        const err = this.check(offset, length);
        if (!err) this.data.fill(0, offset, offset + length);
        this.later(() => cb(err));
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
