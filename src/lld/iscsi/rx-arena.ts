// Receive memory of a connection read with net.Socket's `onread` (docs/multicore.md): where reads that must outlive their callback land, and copies of what must.
//
// A connection reads into the loop's shared buffer when nothing it receives needs to outlive the
// read callback, and into its own arena when it expects write data (zero copy); what a shared
// read leaves behind (a partial PDU, write data the engine keeps) is copied into the arena.
// The arena only moves forward: bytes handed out (a read's landing space once committed, a copy)
// are never handed out again, so views of them stay valid for as long as someone holds them; an
// exhausted arena is dropped and collected once no view of it is left.

/** Largest arena (two of Node's 64 KiB reads). */
export const ARENA_SIZE = 128 * 1024;
/**
 * First arena after a release: a connection that only copies out a partial header now and then
 * holds 16 KiB, not 128; each new arena doubles up to ARENA_SIZE while the connection keeps busy.
 */
const FIRST_ARENA = 16 * 1024;

export class RxArena {
  private buf: Buffer | null = null;
  private used = 0;
  private nextSize = FIRST_ARENA;

  /** The unused rest of the arena, at least `min` bytes (a new arena when less is left). Not committed. */
  space(min: number): Buffer {
    let b = this.buf;
    if (b === null || b.length - this.used < min) {
      b = this.buf = Buffer.allocUnsafeSlow(Math.max(this.nextSize, min));
      this.nextSize = Math.min(this.nextSize * 2, ARENA_SIZE);
      this.used = 0;
    }
    return b.subarray(this.used);
  }

  /** The first `n` bytes of the last `space()` are taken (a read landed there). */
  commit(n: number): void {
    this.used += n;
  }

  /** A copy of `src` in the arena. */
  copy(src: Buffer): Buffer {
    const dst = this.space(src.length).subarray(0, src.length);
    src.copy(dst);
    this.used += src.length;
    return dst;
  }

  /** One copy of the `len` bytes of `pieces`, contiguous in the arena. */
  join(pieces: readonly Buffer[], len: number): Buffer {
    const dst = this.space(len).subarray(0, len);
    let o = 0;
    for (const p of pieces) o += p.copy(dst, o);
    this.used += len;
    return dst;
  }

  /** Forget the arena (an idle connection holds no receive memory); views of it stay valid. */
  release(): void {
    this.buf = null;
    this.used = 0;
    this.nextSize = FIRST_ARENA;
  }
}
