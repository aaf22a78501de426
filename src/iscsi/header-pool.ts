// 48-byte BHS buffers carved from a slab: one allocation per 1365 PDUs instead of one per PDU.
//
// A header handed to a socket write must stay untouched until written, so slices are never
// reused: a slab is dropped (and garbage collected once its writes are done) when exhausted.

const SLAB = 64 * 1024;
const BHS = 48;

export class HeaderPool {
  private slab = Buffer.allocUnsafe(SLAB);
  private offset = 0;

  get(): Buffer {
    if (this.offset + BHS > SLAB) {
      this.slab = Buffer.allocUnsafe(SLAB);
      this.offset = 0;
    }
    const b = this.slab.subarray(this.offset, this.offset + BHS);
    this.offset += BHS;
    return b;
  }
}
