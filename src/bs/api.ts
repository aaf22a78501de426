// Backing-store module contract, version 1 (the fixed, versioned API third parties write against).
//
// A backing store is a plain object exported as the module's default export:
//   export default { kind: 'bs', apiVersion: 1, name: 'foo', init(ctx) { return store } }
// `init` runs when the module is loaded (tgtd start, or `tgtadm --mode system --op bsload`);
// it returns a BackingStore, whose `open` is called once per logical unit.
// Callbacks, not promises, on the I/O path: one promise per command costs 2.4x on small I/O.

export const BS_API_VERSION = 1;

/** errno-style failure of one I/O; the SCSI layer maps it to sense data (Cmd.ioFail: reads -> MEDIUM ERROR; writes: ENOSPC -> SPACE ALLOCATION FAILED, EROFS -> WRITE PROTECTED, else MEDIUM ERROR). */
export type IoError = NodeJS.ErrnoException | null;

export interface BsOpenOptions {
  /** Backing store path as given with `-b/--backing-store` (may be empty for stores that need none). */
  path: string;
  /** `-S/--bsopts` string as given, unparsed (e.g. "conf=/etc/ceph.conf;id=admin"). */
  bsopts: string;
  /** `-f/--bsoflags`: O_SYNC and/or O_DIRECT requested. */
  oflags: { sync: boolean; direct: boolean };
  /** Logical block size of the LU in bytes (512 unless `--blocksize`). */
  blockSize: number;
  /** Open read-only (the LU is `readonly=1`). */
  readonly: boolean;
}

/** One opened backing device of one LU. Offsets and lengths are bytes, multiples of the block size. */
export interface BackingDevice {
  /** Size in bytes (fixed at open; `resize` may change it later). */
  readonly size: number;
  /** Read `length` bytes at `offset`; the callback gets a Buffer of exactly `length` bytes (zero-filled holes). */
  read(offset: number, length: number, cb: (err: IoError, data?: Buffer) => void): void;
  /** Write the concatenation of `data` at `offset`. The buffers belong to the caller after the callback. */
  write(offset: number, data: readonly Buffer[], cb: (err: IoError) => void): void;
  /** Make everything written so far durable (SYNCHRONIZE CACHE, FUA). */
  flush(cb: (err: IoError) => void): void;
  /** Deallocate a range so it reads back as zeros (UNMAP, WRITE SAME with UNMAP). Absent: not thin-capable. */
  unmap?(offset: number, length: number, cb: (err: IoError) => void): void;
  /** Re-read the size (e.g. after the file grew). */
  resize?(): number;
  close(cb: (err: IoError) => void): void;
}

export interface BsContext {
  /** Logs a line to tgtd's log (stderr / journal). */
  log(level: 'debug' | 'info' | 'warn' | 'error', msg: string): void;
}

export interface BackingStore {
  open(opts: BsOpenOptions, cb: (err: Error | null, dev?: BackingDevice) => void): void;
  /** Called on unload (bsunload, shutdown), after every device is closed. */
  exit?(): void | Promise<void>;
}

export interface BackingStoreModule {
  kind: 'bs';
  apiVersion: number;
  name: string;
  /** Which `--bsoflags` this store honours; shown by `--mode system --op show` as "(bsoflags sync:direct)". */
  oflagsSupported?: { sync: boolean; direct: boolean };
  /** True when LUs on this store have no path (null, memory size-only). */
  pathOptional?: boolean;
  init(ctx: BsContext): BackingStore | Promise<BackingStore>;
}
