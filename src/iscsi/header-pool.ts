// 48-byte BHS buffers carved from a slab: one allocation per many PDUs instead of one per PDU.
//
// A header handed to a socket write must stay untouched until written, so slices are never
// reused: a slab is dropped (and garbage collected once its writes are done) when exhausted.
// Slabs start small and double up to 64 KiB, so a connection that never gets past its login (or
// an idle one among thousands) holds a few hundred bytes, not 64 KiB.

const FIRST_SLAB = 16 * 48;
const MAX_SLAB = 64 * 1024;
const BHS = 48;

export class HeaderPool {
  private slab: Buffer | null = null;
  private offset = 0;

  get(): Buffer {
    let slab = this.slab;
    if (slab === null || this.offset + BHS > slab.length) {
      const size = slab === null ? FIRST_SLAB : Math.min(slab.length * 2, MAX_SLAB);
      slab = this.slab = Buffer.allocUnsafe(size);
      this.offset = 0;
    }
    const b = slab.subarray(this.offset, this.offset + BHS);
    this.offset += BHS;
    return b;
  }
}
