// Backing-store contract version 1 seen through version 2 (api.ts): older third-party stores keep loading.
//
// A v1 device allocates its own read buffer (`read(offset, length, cb(err, data))`); the adapter
// copies that into the caller's buffer, which costs one copy per read and nothing else. Every
// other method of v1 is already v2's.
import type { BackingDevice, BackingStore, BsOpenOptions, IoError } from './api.js';

/** The v1 read, the only method whose shape changed. */
export interface V1BackingDevice extends Omit<BackingDevice, 'read'> {
  read(offset: number, length: number, cb: (err: IoError, data?: Buffer) => void): void;
}

function shortRead(got: number, want: number): NodeJS.ErrnoException {
  const e: NodeJS.ErrnoException = new Error(`backing store returned ${got} of ${want} bytes`);
  e.code = 'EIO';
  return e;
}

/** A v2 device over a v1 one. A read that returns too few bytes fails with EIO (never stale data). */
export function adaptV1Device(dev: V1BackingDevice): BackingDevice {
  return {
    get size() {
      return dev.size;
    },
    read(offset: number, into: Buffer, cb: (err: IoError) => void): void {
      dev.read(offset, into.length, (err, data) => {
        if (err) return cb(err);
        if (data === undefined || data.length < into.length) return cb(shortRead(data?.length ?? 0, into.length));
        data.copy(into, 0, 0, into.length);
        cb(null);
      });
    },
    write: (offset, data, cb) => dev.write(offset, data, cb),
    flush: (cb) => dev.flush(cb),
    unmap: dev.unmap === undefined ? undefined : (offset, length, cb) => dev.unmap!(offset, length, cb),
    resize: dev.resize === undefined ? undefined : () => dev.resize!(),
    close: (cb) => dev.close(cb),
  };
}

/** A v2 store over what a v1 module's init returned: its devices are adapted as they open. */
export function adaptV1Store(store: unknown): BackingStore {
  const s = store as { open(o: BsOpenOptions, cb: (err: Error | null, dev?: V1BackingDevice) => void): void; exit?(): void | Promise<void> };
  return {
    open(opts, cb) {
      s.open(opts, (err, dev) => cb(err, err || dev === undefined ? undefined : adaptV1Device(dev)));
    },
    exit: s.exit === undefined ? undefined : () => s.exit!(),
  };
}
