// stgt-bs-faulty: a third-party stgt backing store (contract: stgt docs/writing-a-backing-store.md, bs API version 2).
//
// It serves a regular file like stgt's rdwr store and fails reads, writes or flushes that touch
// chosen block ranges, optionally after a delay: a way to see how an initiator, a filesystem or a
// multipath setup copes with a failing disk. It imports nothing from stgt; the contract constants
// are copied here, as the contract document asks.
//
//   tgtadm --mode system --op bsload --bstype /path/to/stgt-bs-faulty/index.js   (or: --bstype stgt-bs-faulty)
//   tgtadm --mode logicalunit --op new --tid 1 --lun 1 -b /srv/disk.img --bstype faulty \
//          --bsopts "read_error=2048-2055;errno=EIO;delay_ms=2"
// @ts-check
import fs from 'node:fs';
import { hits, ioError, parseRules } from './rules.js';

// Types only (erased at run time): with stgt installed, `tsc --checkJs` checks this store against
// the contract stgt's package exports (`stgt/bs-api`, lib/bs/api.d.ts).
/** @typedef {import('stgt/bs-api').BackingStoreModule} BackingStoreModule */
/** @typedef {import('stgt/bs-api').BackingStore} BackingStore */
/** @typedef {import('stgt/bs-api').BackingDevice} BackingDevice */
/** @typedef {import('stgt/bs-api').BsContext} BsContext */

/** The stgt backing-store API version this module implements (src/bs/api.ts BS_API_VERSION). */
const BS_API_VERSION = 2;
/** Shown in tgtd's log at init: after `bsunload` + `bsload` the newest code runs, and this says which. */
export const VERSION = '2.0.0';

/** @implements {BackingDevice} */
class FaultyDevice {
  /** @param {number} fd @param {number} size @param {number} blockSize @param {import('./rules.js').Rules} rules */
  constructor(fd, size, blockSize, rules) {
    this.fd = fd;
    this.size = size;
    this.blockSize = blockSize;
    this.rules = rules;
  }

  /** Runs `fn` now, or after the configured delay. */
  later(fn) {
    if (this.rules.delayMs > 0) setTimeout(fn, this.rules.delayMs);
    else fn();
  }

  /** Contract v2: fill the caller's buffer `into` (it may be registered RDMA memory); keep no reference to it. */
  read(offset, into, cb) {
    const length = into.length;
    this.later(() => {
      if (hits(this.rules.readError, offset, length, this.blockSize)) return cb(ioError(this.rules.errno, 'read'));
      const step = (done) => {
        if (done === length) return cb(null);
        fs.read(this.fd, into, done, length - done, offset + done, (err, n) => {
          if (err) return cb(err);
          // Past the end of a shorter file: the rest reads as zeros, as from a hole.
          if (n === 0) {
            into.fill(0, done);
            return cb(null);
          }
          step(done + n);
        });
      };
      step(0);
    });
  }

  write(offset, data, cb) {
    this.later(() => {
      let length = 0;
      for (const b of data) length += b.length;
      if (hits(this.rules.writeError, offset, length, this.blockSize)) return cb(ioError(this.rules.errno, 'write'));
      const step = (bufs, pos) => {
        if (bufs.length === 0) return cb(null);
        fs.writev(this.fd, bufs, pos, (err, n) => {
          if (err) return cb(err);
          // Short write: continue with what is left.
          let skip = n;
          const rest = [];
          for (const b of bufs) {
            if (skip >= b.length) skip -= b.length;
            else {
              rest.push(skip > 0 ? b.subarray(skip) : b);
              skip = 0;
            }
          }
          step(rest, pos + n);
        });
      };
      step(data.slice(), offset);
    });
  }

  flush(cb) {
    this.later(() => {
      if (this.rules.flushError) return cb(ioError(this.rules.errno, 'fdatasync'));
      fs.fdatasync(this.fd, (err) => cb(err ?? null));
    });
  }

  resize() {
    const st = fs.fstatSync(this.fd);
    this.size = st.size - (st.size % this.blockSize);
    return this.size;
  }

  close(cb) {
    fs.close(this.fd, (err) => cb(err ?? null));
  }
}

/** @param {BsContext} ctx @returns {BackingStore} */
function init(ctx) {
  ctx.log('info', `stgt-bs-faulty ${VERSION} ready`);
  return {
    open(opts, cb) {
      let rules;
      try {
        rules = parseRules(opts.bsopts);
      } catch (e) {
        return cb(e);
      }
      if (opts.path === '') return cb(new Error('faulty: a backing file is needed (-b PATH)'));
      let flags = opts.readonly ? fs.constants.O_RDONLY : fs.constants.O_RDWR;
      if (opts.oflags.sync) flags |= fs.constants.O_SYNC;
      fs.open(opts.path, flags, (err, fd) => {
        if (err) return cb(err);
        fs.fstat(fd, (err2, st) => {
          if (err2) {
            fs.close(fd, () => cb(err2));
            return;
          }
          const size = st.size - (st.size % opts.blockSize);
          ctx.log('info', `${opts.path}: ${size} bytes, ${rules.readError.length + rules.writeError.length} fault range(s)`);
          cb(null, new FaultyDevice(fd, size, opts.blockSize, rules));
        });
      });
    },
    exit() {
      ctx.log('info', `stgt-bs-faulty ${VERSION} unloaded`);
    },
  };
}

/** @type {BackingStoreModule} */
export default {
  kind: 'bs',
  apiVersion: BS_API_VERSION,
  name: 'faulty',
  oflagsSupported: { sync: true, direct: false },
  init,
};
