// Seeded random choices for the fuzzers, on top of the project's one PRNG (test/helpers/fixtures.ts rng).
//
// Every connection of a hostile round gets its own stream (`fork`), so what a connection sends
// depends only on the seed and its place in the round, not on how the event loop interleaved it
// with the others: a failing seed replays the same PDUs.

import { rng } from '../helpers/fixtures.js';

export class Rand {
  private readonly next: () => number;

  constructor(readonly seed: number) {
    this.next = rng(seed);
  }

  /** A float in [0, 1). */
  float(): number {
    return this.next();
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  /** A uniformly random 32-bit unsigned integer. */
  u32(): number {
    return (this.int(0x10000) * 0x10000 + this.int(0x10000)) >>> 0;
  }

  byte(): number {
    return this.int(256);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }

  /** `n` random bytes. */
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }

  /** A new independent stream derived from this one (one per connection). */
  fork(): Rand {
    return new Rand(this.u32() || 1);
  }

  /** Index into `weights` chosen with probability proportional to its weight. */
  weighted(weights: readonly number[], total: number): number {
    let x = this.next() * total;
    for (let i = 0; i < weights.length; i++) {
      x -= weights[i]!;
      if (x < 0) return i;
    }
    return weights.length - 1;
  }
}
