// Small shared test fixtures: a deterministic PRNG for generated corpora, sparse disk files, and the hash of a file range.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** xorshift32: a deterministic PRNG in [0, 1) so that a failing generated case can be replayed. */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

/** A new temporary directory holding a sparse file `lun1.img` of `bytes`. Remove `work` when done. */
export function sparseDisk(prefix: string, bytes: number): { work: string; disk: string } {
  const work = mkdtempSync(join(tmpdir(), prefix));
  const disk = join(work, 'lun1.img');
  writeFileSync(disk, '');
  truncateSync(disk, bytes);
  return { work, disk };
}

/** sha256 (hex) of `bytes` bytes of `file` from `offset`; fails the test if the file is shorter. */
export function fileRangeSha(file: string, offset: number, bytes: number): string {
  const fd = openSync(file, 'r');
  try {
    const b = Buffer.alloc(bytes);
    assert.equal(readSync(fd, b, 0, bytes, offset), bytes, `${file}: short read at ${offset}`);
    return createHash('sha256').update(b).digest('hex');
  } finally {
    closeSync(fd);
  }
}
