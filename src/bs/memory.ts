// "memory" backing store: RAM-backed, sparse LUs (an stgt addition; no tgt counterpart).
//
// Size from `--bsopts size=64M` or from a path that is a size (`-b 64M`). Space is allocated in
// 1 MiB chunks on first write, unwritten ranges read as zeros, and unmap frees whole chunks (and
// zeroes partial ones, freeing a chunk that is then all zeros), so a thin demo LUN costs only what
// was written. The chunks are its allocation map (contract 2.1 `allocation`): GET LBA STATUS reports
// from it and a thin memory LU offers SANITIZE BLOCK ERASE.
import { BS_API_VERSION, type AllocationRun, type BackingDevice, type BackingStore, type BackingStoreModule, type IoError } from './api.js';
import { bsoptValue, parseSize } from './size.js';

export const CHUNK_SIZE = 1 << 20;
/** Chunks one allocation run spans at most (4 GiB). */
const RUN_CHUNKS = 4096;
/** What an unmapped chunk holds, to see whether a partial unmap left a chunk all zeros. */
let zeroChunk: Buffer | null = null;

export class MemoryDevice implements BackingDevice {
  private readonly chunks = new Map<number, Buffer>();
  constructor(readonly size: number) {}

  /** Bytes of RAM held (for tests and show). */
  get allocated(): number {
    return this.chunks.size * CHUNK_SIZE;
  }

  private outOfRange(offset: number, length: number): IoError {
    if (offset < 0 || length < 0 || offset + length > this.size) {
      const e: NodeJS.ErrnoException = new Error('I/O beyond the end of the memory LU');
      e.code = 'EIO';
      return e;
    }
    return null;
  }

  /** Calls `fn` for each chunk-sized piece of [offset, offset + length): chunk index, offset in it, length, bytes before it. */
  private static spans(offset: number, length: number, fn: (idx: number, within: number, n: number, done: number) => void): void {
    let done = 0;
    while (done < length) {
      const pos = offset + done;
      const idx = Math.floor(pos / CHUNK_SIZE);
      const within = pos - idx * CHUNK_SIZE;
      const n = Math.min(CHUNK_SIZE - within, length - done);
      fn(idx, within, n, done);
      done += n;
    }
  }

  read(offset: number, into: Buffer, cb: (err: IoError) => void): void {
    const bad = this.outOfRange(offset, into.length);
    if (bad) return cb(bad);
    MemoryDevice.spans(offset, into.length, (idx, within, n, done) => {
      const chunk = this.chunks.get(idx);
      if (chunk === undefined) into.fill(0, done, done + n);
      else chunk.copy(into, done, within, within + n);
    });
    cb(null);
  }

  write(offset: number, data: readonly Buffer[], cb: (err: IoError) => void): void {
    let total = 0;
    for (const b of data) total += b.length;
    const bad = this.outOfRange(offset, total);
    if (bad) return cb(bad);
    let pos = offset;
    for (const b of data) {
      MemoryDevice.spans(pos, b.length, (idx, within, n, done) => {
        let chunk = this.chunks.get(idx);
        if (chunk === undefined) {
          chunk = Buffer.alloc(CHUNK_SIZE);
          this.chunks.set(idx, chunk);
        }
        b.copy(chunk, within, done, done + n);
      });
      pos += b.length;
    }
    cb(null);
  }

  flush(cb: (err: IoError) => void): void {
    cb(null);
  }

  unmap(offset: number, length: number, cb: (err: IoError) => void): void {
    const bad = this.outOfRange(offset, length);
    if (bad) return cb(bad);
    MemoryDevice.spans(offset, length, (idx, within, n) => {
      const chunk = this.chunks.get(idx);
      if (chunk === undefined) return;
      if (n === CHUNK_SIZE) return void this.chunks.delete(idx);
      chunk.fill(0, within, within + n);
      // A chunk whose every byte is now zero is freed: the last chunk of an LU whose size is not a
      // multiple of the chunk, or a chunk unmapped piecewise, reads the same and is deallocated.
      zeroChunk ??= Buffer.alloc(CHUNK_SIZE);
      if (chunk.equals(zeroChunk)) this.chunks.delete(idx);
    });
    cb(null);
  }

  /**
   * Contract 2.1: a chunk present is allocated, an absent one a hole. A run ends at the length asked
   * or after RUN_CHUNKS chunks (a shorter run is allowed), so one call stays short on a huge LU.
   */
  allocation(offset: number, length: number, cb: (err: IoError, run?: AllocationRun) => void): void {
    const bad = this.outOfRange(offset, length);
    if (bad || length < 1) return cb(bad ?? new Error('allocation of an empty range'));
    const end = offset + length;
    const allocated = this.chunks.has(Math.floor(offset / CHUNK_SIZE));
    let next = (Math.floor(offset / CHUNK_SIZE) + 1) * CHUNK_SIZE;
    for (let n = 1; next < end && n < RUN_CHUNKS && this.chunks.has(next / CHUNK_SIZE) === allocated; n++) next += CHUNK_SIZE;
    cb(null, { allocated, length: Math.min(next, end) - offset });
  }

  close(cb: (err: IoError) => void): void {
    this.chunks.clear();
    cb(null);
  }
}

/** The LU size from bsopts `size=` (preferred) or a path that parses as a size. */
export function memorySize(path: string, bsopts: string): number | null {
  const opt = bsoptValue(bsopts, 'size');
  if (opt !== null) return parseSize(opt);
  return parseSize(path);
}

const store: BackingStore = {
  open(opts, cb) {
    const size = memorySize(opts.path, opts.bsopts);
    if (size === null || size <= 0 || size % opts.blockSize !== 0) {
      cb(new Error(`memory backing store needs a size (bsopts size=64M or -b 64M), multiple of ${opts.blockSize}`));
      return;
    }
    cb(null, new MemoryDevice(size));
  },
};

const memoryModule: BackingStoreModule = {
  kind: 'bs',
  apiVersion: BS_API_VERSION,
  name: 'memory',
  pathOptional: true,
  init: () => store,
};

export default memoryModule;
