// Fault rules of the stgt-bs-faulty store: parsing `--bsopts` and matching I/O ranges against them.
//
// tgtadm sends --bsopts inside a comma-separated payload, so rules use ';' between options and
// '+' between ranges: "read_error=100-199+4096;write_error=8-15;errno=EIO;delay_ms=5".
// Ranges are in logical blocks of the LU (--blocksize, 512 by default), both ends included.

/** errno values the store can inject, with the numbers Linux uses (asm-generic/errno-base.h, errno.h). */
export const ERRNOS = { EIO: 5, ENOSPC: 28, EROFS: 30, ENOMEM: 12, ETIMEDOUT: 110, ECONNRESET: 104 };

/**
 * @typedef {{ first: number, last: number }} BlockRange
 * @typedef {{ readError: BlockRange[], writeError: BlockRange[], flushError: boolean,
 *             errno: keyof typeof ERRNOS, delayMs: number }} Rules
 */

/** @param {string} text @returns {BlockRange[]} */
function parseRanges(key, text) {
  return text.split('+').filter((s) => s !== '').map((part) => {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (m === null) throw new Error(`faulty: ${key}: bad block range '${part}' (expected N or N-M)`);
    const first = Number(m[1]);
    const last = m[2] === undefined ? first : Number(m[2]);
    if (last < first) throw new Error(`faulty: ${key}: range ${part} ends before it starts`);
    return { first, last };
  });
}

/** Parses the bsopts string; throws with a message naming the bad option. @returns {Rules} */
export function parseRules(bsopts) {
  /** @type {Rules} */
  const r = { readError: [], writeError: [], flushError: false, errno: 'EIO', delayMs: 0 };
  for (const opt of bsopts.split(';')) {
    if (opt.trim() === '') continue;
    const eq = opt.indexOf('=');
    const key = (eq < 0 ? opt : opt.slice(0, eq)).trim();
    const value = eq < 0 ? '' : opt.slice(eq + 1).trim();
    switch (key) {
      case 'read_error':
        r.readError.push(...parseRanges(key, value));
        break;
      case 'write_error':
        r.writeError.push(...parseRanges(key, value));
        break;
      case 'flush_error':
        if (value !== 'yes' && value !== 'no') throw new Error(`faulty: flush_error=${value}: expected yes or no`);
        r.flushError = value === 'yes';
        break;
      case 'errno':
        if (!Object.prototype.hasOwnProperty.call(ERRNOS, value)) {
          throw new Error(`faulty: errno=${value}: one of ${Object.keys(ERRNOS).join(', ')}`);
        }
        r.errno = /** @type {keyof typeof ERRNOS} */ (value);
        break;
      case 'delay_ms':
        if (!/^\d+$/.test(value) || Number(value) > 60000) throw new Error(`faulty: delay_ms=${value}: 0..60000`);
        r.delayMs = Number(value);
        break;
      default:
        throw new Error(`faulty: unknown option '${key}'`);
    }
  }
  return r;
}

/** Whether the byte range [offset, offset+length) touches any of the block ranges. */
export function hits(ranges, offset, length, blockSize) {
  if (ranges.length === 0 || length === 0) return false;
  const first = Math.floor(offset / blockSize);
  const last = Math.floor((offset + length - 1) / blockSize);
  for (const g of ranges) if (g.first <= last && first <= g.last) return true;
  return false;
}

/** An Error shaped like a failed system call, which is what stgt maps to sense data. */
export function ioError(name, what) {
  /** @type {NodeJS.ErrnoException} */
  const e = new Error(`${name}: injected ${what} error`);
  e.code = name;
  e.errno = -ERRNOS[name];
  e.syscall = what;
  return e;
}
