// Buffers carved from slabs: one allocation per many PDU headers (48-byte BHS) or small read buffers instead of one each.
//
// A buffer handed to a socket write must stay untouched until written, so slices are never
// reused: a slab is dropped (and garbage collected once no slice of it is referenced) when
// exhausted. Slabs start small and double up to a maximum, so a connection that never gets past
// its login (or an idle one among thousands) holds a few hundred bytes, not the maximum.
// Contents are not zeroed (Buffer.allocUnsafe): whoever takes a slice fills all of it before
// anything reads it (a BHS writer, a backing store's read, which fills all or fails).

const BHS = 48;

export class Slab {
  private slab: Buffer | null = null;
  private offset = 0;

  constructor(
    private readonly firstSize: number,
    private readonly maxSize: number,
  ) {}

  /** `n` bytes (n <= maxSize) no other caller has had. */
  take(n: number): Buffer {
    let slab = this.slab;
    if (slab === null || this.offset + n > slab.length) {
      let size = slab === null ? this.firstSize : Math.min(slab.length * 2, this.maxSize);
      while (size < n && size < this.maxSize) size = Math.min(size * 2, this.maxSize);
      slab = this.slab = Buffer.allocUnsafe(size);
      this.offset = 0;
    }
    const b = slab.subarray(this.offset, this.offset + n);
    this.offset += n;
    return b;
  }
}

/** 48-byte BHS buffers for one connection's PDUs. */
export class HeaderPool extends Slab {
  constructor() {
    super(16 * BHS, 64 * 1024);
  }

  get(): Buffer {
    return this.take(BHS);
  }
}
