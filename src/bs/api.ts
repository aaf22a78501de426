// Backing-store module contract, version 2 (the fixed, versioned API third parties write against).
//
// A backing store is a plain object exported as the module's default export:
//   export default { kind: 'bs', apiVersion: 2, name: 'foo', init(ctx) { return store } }
// `init` runs when the module is loaded (tgtd start, or `tgtadm --mode system --op bsload`);
// it returns a BackingStore, whose `open` is called once per logical unit.
// Callbacks, not promises, on the I/O path: one promise per command costs 2.4x on small I/O.
//
// Version 2 (this one): the caller owns every buffer. `read` fills a buffer it is given, so a
// transport can hand the store its registered RDMA memory or a pooled buffer and the data is never
// copied between the store and the wire. Version 1 (`read(offset, length, cb(err, data))`, the
// store allocating) still loads: the registry wraps its devices (`adaptV1Device`, one copy per read).

export const BS_API_VERSION = 2;
/**
 * Minor version of the contract: optional members added to version 2 without breaking a store
 * (docs/writing-a-backing-store.md section 5 lists them). 2.1: `BackingDevice.allocation`.
 * A module still declares only `apiVersion`; the minor says which optional members this daemon uses.
 */
export const BS_API_MINOR = 1;
/** Oldest contract version tgtd still loads (through the adapter in adapt-v1.ts). */
export const BS_API_VERSION_MIN = 1;

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
  /**
   * Called by a store that notices by itself that the device's size changed (an RBD image resized
   * by `rbd resize` elsewhere), after `resize()` already returns the new size. The daemon then
   * raises the unit attention CAPACITY DATA HAS CHANGED (ASC 2Ah ASCQ 09h). Absent: nobody is told.
   */
  sizeChanged?: () => void;
}

/** One opened backing device of one LU. Offsets and lengths are bytes, multiples of the block size. */
export interface BackingDevice {
  /** Size in bytes (fixed at open; `resize` may change it later). */
  readonly size: number;
  /** True when the device can only be read (an RBD snapshot): its LU starts write-protected (readonly=1). */
  readonly readOnly?: boolean;
  /**
   * Read `into.length` bytes at `offset` into `into` (holes read as zeros). `into` is the caller's:
   * it may be registered RDMA memory or a pooled buffer; the store writes only inside it, does not
   * keep it after the callback and calls back exactly once. On error its contents are undefined.
   */
  read(offset: number, into: Buffer, cb: (err: IoError) => void): void;
  /** Write the concatenation of `data` at `offset`. The buffers belong to the caller: not kept after the callback. */
  write(offset: number, data: readonly Buffer[], cb: (err: IoError) => void): void;
  /** Make everything written so far durable (SYNCHRONIZE CACHE, FUA). */
  flush(cb: (err: IoError) => void): void;
  /** Deallocate a range so it reads back as zeros (UNMAP, WRITE SAME with UNMAP). Absent: not thin-capable. */
  unmap?(offset: number, length: number, cb: (err: IoError) => void): void;
  /**
   * Contract 2.1. The allocation state of the byte at `offset` and how far from there it lasts,
   * within `length` bytes (`length` >= 1, inside the device): a file's SEEK_DATA / SEEK_HOLE. What
   * `unmap` deallocated is a hole (allocated: false). GET LBA STATUS reports from it, and SANITIZE
   * BLOCK ERASE is offered only by a thin LU whose device has it (afterwards every block must be
   * reported deallocated). Absent: GET LBA STATUS reads the blocks and calls zero blocks deallocated.
   * Calls back once, possibly synchronously.
   */
  allocation?(offset: number, length: number, cb: (err: IoError, run?: AllocationRun) => void): void;
  /**
   * State that every opener of the same device must see, for a device several gateways export at
   * once (an RBD image: its image metadata). Absent: the device is this daemon's alone.
   */
  readonly shared?: SharedState;
  /** Re-read the size (e.g. after the file grew). */
  resize?(): number;
  /**
   * Runs one whole SCSI command on the device behind the store (the sg and bsg stores: SG_IO), for
   * LUs of the passthrough device type, which send every command here. Calls back once; `err` when
   * the command could not be run at all (EINVAL: a request the interface cannot express).
   */
  passthrough?(req: PassthroughRequest, cb: (err: IoError, res?: PassthroughResult) => void): void;
  close(cb: (err: IoError) => void): void;
}

/** What BackingDevice.allocation says of the bytes from an offset. */
export interface AllocationRun {
  /** The bytes hold data (mapped); false: a hole, deallocated, reading as zeros. */
  readonly allocated: boolean;
  /** How many bytes from the offset are in that state: at least 1, at most the length asked. */
  readonly length: number;
}

/** One SCSI command for BackingDevice.passthrough; the buffers are the caller's until the callback. */
export interface PassthroughRequest {
  /** The CDB, exactly its length (SPC-4 4.2.5.1). */
  readonly cdb: Buffer;
  /** Data-Out for the device (null: none). */
  readonly dataOut: Buffer | null;
  /** Where Data-In goes, as long as the initiator expects (null: none). */
  readonly dataIn: Buffer | null;
}

/** How a passthrough command ended. */
export interface PassthroughResult {
  /**
   * 'done': the device answered (status, sense, counts below); 'timeout': it did not within the
   * store's time limit (the host aborted it); 'busy': the host asks for a retry (bus busy, reset,
   * requeue); 'failed': the host could not deliver it (device gone, transport error).
   */
  readonly outcome: 'done' | 'timeout' | 'busy' | 'failed';
  /** SAM status byte from the device. */
  readonly status: number;
  /** The sense data the device returned (a view, empty for none). */
  readonly sense: Buffer;
  /** Bytes of Data-In the device transferred. */
  readonly dataInLength: number;
  /** Bytes of Data-Out the device took. */
  readonly dataOutLength: number;
}

/** Small named values kept with a device and shared by everyone who opens it (several gateways). */
export interface SharedState {
  /** The value of `key` as last read or written (read at open and after every change notice), or null. */
  get(key: string): string | null;
  /**
   * Stores `value` (null removes the key) if `key` is still as this opener last read or wrote it,
   * and calls back when it is durable and the other openers are told. If another opener changed it
   * since, nothing is written: the new value is read first (onChange runs for it), then cb gets
   * 'stale' and the caller decides again from get(). Two openers' sets on one value never both win.
   */
  set(key: string, value: string | null, cb: (err: IoError | 'stale') => void): void;
  /** `fn(key)` runs on the loop thread when another opener changed `key` (get already returns the new value). */
  onChange(fn: (key: string) => void): void;
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
  /**
   * True for a store whose devices pass whole commands through (BackingDevice.passthrough): only
   * passthrough LUs (`--device-type pt`) use it, and they use only such stores (tgt's sg and bsg).
   */
  passthrough?: boolean;
  init(ctx: BsContext): BackingStore | Promise<BackingStore>;
}
