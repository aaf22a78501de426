// "null" backing store: reads return zeros, writes are discarded (tgt usr/bs_null.c behaviour; tgt-compat.md A6).
//
// Like tgt, every LU on it is 1 TiB (NULL_BS_DEV_SIZE = 1 << 40) whatever the path says; it is
// what tgt uses for the LUN 0 controller and for benchmarking the target without storage.
import { BS_API_VERSION, type BackingDevice, type BackingStore, type BackingStoreModule, type IoError } from './api.js';

export const NULL_DEVICE_SIZE = 2 ** 40;

class NullDevice implements BackingDevice {
  readonly size = NULL_DEVICE_SIZE;
  read(_offset: number, into: Buffer, cb: (err: IoError) => void): void {
    into.fill(0);
    cb(null);
  }
  write(_offset: number, _data: readonly Buffer[], cb: (err: IoError) => void): void {
    cb(null);
  }
  flush(cb: (err: IoError) => void): void {
    cb(null);
  }
  unmap(_offset: number, _length: number, cb: (err: IoError) => void): void {
    cb(null);
  }
  close(cb: (err: IoError) => void): void {
    cb(null);
  }
}

const store: BackingStore = {
  open(_opts, cb) {
    cb(null, new NullDevice());
  },
};

const nullModule: BackingStoreModule = {
  kind: 'bs',
  apiVersion: BS_API_VERSION,
  name: 'null',
  pathOptional: true,
  init: () => store,
};

export default nullModule;
