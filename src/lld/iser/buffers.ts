// The iser LLD's registered memory: per-connection control slots (RDMA receives and Sends) and the shared data pool (RDMA READ/WRITE targets), iser.md E3/E5.
//
// Control slots hold one iSER header + BHS + AHS + data segment each; a connection registers its
// own set when it is accepted. The data pool is one registration (tgt's pool_sz_mb) cut into
// chunks of buf_sz_kb; a command takes a contiguous run of chunks, so one scatter/gather entry
// covers it and the backing store reads and writes it in place. A command that finds no run free
// waits for one (FIFO): it is never failed for lack of memory.

import type { PoolHandle, RdmaEndpoint, RegisteredPool } from './rdma-provider-api.js';
import { ISER_RECV_DATA_LIMIT } from '../../iscsi/negotiate.js';

/** Room before the data segment in a control slot: iSER header (28) + BHS (48) + AHS (up to 256). */
export const CONTROL_HEADROOM = 28 + 48 + 256;
/** Data segment room of a control slot: login and text PDUs up to what login declared we receive. */
export const CONTROL_DATA = ISER_RECV_DATA_LIMIT;
export const CONTROL_SLOT = CONTROL_HEADROOM + CONTROL_DATA;

/** A connection's receive and send slots in one registration. */
export class ControlSlots {
  readonly pool: RegisteredPool;
  private readonly freeSends: number[] = [];

  constructor(private readonly ep: RdmaEndpoint, readonly recvCount: number, readonly sendCount: number) {
    this.pool = ep.registerPool((recvCount + sendCount) * CONTROL_SLOT);
    for (let i = sendCount - 1; i >= 0; i--) this.freeSends.push(i);
  }

  recvOffset(i: number): number {
    return i * CONTROL_SLOT;
  }

  recvView(i: number, length: number): Buffer {
    const o = this.recvOffset(i);
    return this.pool.buffer.subarray(o, o + length);
  }

  sendOffset(i: number): number {
    return (this.recvCount + i) * CONTROL_SLOT;
  }

  sendView(i: number): Buffer {
    const o = this.sendOffset(i);
    return this.pool.buffer.subarray(o, o + CONTROL_SLOT);
  }

  /** A free send slot, or -1 when every one is posted. */
  takeSend(): number {
    return this.freeSends.pop() ?? -1;
  }

  giveSend(i: number): void {
    this.freeSends.push(i);
  }

  get sendsFree(): number {
    return this.freeSends.length;
  }

  release(): void {
    this.ep.deregisterPool(this.pool.pool);
  }
}

/** A run of data chunks handed to one command. */
export interface DataRun {
  first: number;
  count: number;
  /** Offset of the run in the pool registration, and a view of it (length = the command's bytes). */
  offset: number;
  view: Buffer;
}

/** The shared data pool: chunks of `chunkSize` bytes, first-fit contiguous runs, FIFO waiters. */
export class DataPool {
  readonly pool: RegisteredPool;
  readonly chunkCount: number;
  private readonly used: Uint8Array;
  private usedCount = 0;
  private readonly waiters: { count: number; grant: (run: DataRun) => void; length: number }[] = [];

  constructor(private readonly ep: RdmaEndpoint, bytes: number, readonly chunkSize: number) {
    this.chunkCount = Math.max(1, Math.floor(bytes / chunkSize));
    this.pool = ep.registerPool(this.chunkCount * chunkSize);
    this.used = new Uint8Array(this.chunkCount);
  }

  get handle(): PoolHandle {
    return this.pool.pool;
  }

  /** Largest command the pool can ever hold. */
  get capacity(): number {
    return this.chunkCount * this.chunkSize;
  }

  get chunksInUse(): number {
    return this.usedCount;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  /**
   * A run for `length` bytes now (grant is called synchronously) or when enough is freed, in
   * arrival order. Returns a cancel function for a waiter that goes away (abort, close).
   */
  take(length: number, grant: (run: DataRun) => void): () => void {
    const count = Math.max(1, Math.ceil(length / this.chunkSize));
    if (this.waiters.length === 0) {
      const run = this.find(count, length);
      if (run !== null) {
        grant(run);
        return noop;
      }
    }
    const w = { count, grant, length };
    this.waiters.push(w);
    return () => {
      const i = this.waiters.indexOf(w);
      if (i >= 0) this.waiters.splice(i, 1);
    };
  }

  give(run: DataRun): void {
    for (let i = run.first; i < run.first + run.count; i++) {
      if (this.used[i] === 1) this.usedCount--;
      this.used[i] = 0;
    }
    while (this.waiters.length > 0) {
      const w = this.waiters[0]!;
      const r = this.find(w.count, w.length);
      if (r === null) break;
      this.waiters.shift();
      w.grant(r);
    }
  }

  private find(count: number, length: number): DataRun | null {
    let start = 0;
    let len = 0;
    for (let i = 0; i < this.chunkCount; i++) {
      if (this.used[i] === 1) {
        len = 0;
        start = i + 1;
        continue;
      }
      if (++len === count) {
        for (let j = start; j <= i; j++) this.used[j] = 1;
        this.usedCount += count;
        const offset = start * this.chunkSize;
        return { first: start, count, offset, view: this.pool.buffer.subarray(offset, offset + length) };
      }
    }
    return null;
  }

  release(): void {
    this.waiters.length = 0;
    this.ep.deregisterPool(this.pool.pool);
  }
}

function noop(): void {}
