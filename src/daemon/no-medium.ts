// A disk LU created without a backing path (`--mode lu --op new` with no -b): no medium, offline (tgt sbc.c, tgt-compat.md A3).
//
// tgt accepts a disk, cd or tape LU without a path and shows it as removable, offline, size 0,
// "Backing store path: None". Its device answers every I/O with an error, so the SCSI layer
// never reads a medium that is not there.

import type { BackingDevice, IoError } from '../bs/api.js';
import { LogicalUnit } from '../scsi/logical-unit.js';

function noMedium(): Error {
  return new Error('no medium');
}

/** The device of an empty drive: size 0, every access fails. */
export function noMediumDevice(): BackingDevice {
  return {
    size: 0,
    read(_offset: number, _into: Buffer, cb: (err: IoError) => void): void {
      queueMicrotask(() => cb(noMedium()));
    },
    write(_offset: number, _data: readonly Buffer[], cb: (err: IoError) => void): void {
      queueMicrotask(() => cb(noMedium()));
    },
    flush(cb: (err: IoError) => void): void {
      queueMicrotask(() => cb(null));
    },
    close(cb: (err: IoError) => void): void {
      queueMicrotask(() => cb(null));
    },
  };
}

export function noMediumLogicalUnit(
  tid: number,
  lun: number,
  deviceType: string,
  bsName: string,
  oflags: { sync: boolean; direct: boolean },
  blockSize: number,
): LogicalUnit {
  const lu = new LogicalUnit({ tid, lun, deviceType, dev: noMediumDevice(), bsName, path: null, oflags, blockSize });
  lu.online = false;
  lu.removable = true;
  return lu;
}
