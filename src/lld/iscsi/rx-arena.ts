// Receive memory of a connection read with net.Socket's `onread` (docs/multicore.md): where reads that must outlive their callback land, copies of what must, and the reuse of arenas whose write data is done.
//
// A connection reads into the loop's shared buffer when nothing it receives needs to outlive the
// read callback, and into its own arena when it expects write data (zero copy); what a shared
// read leaves behind (a partial PDU, write data the engine keeps) is copied into the arena.
// The arena only moves forward: bytes handed out (a read's landing space once committed, a copy)
// are never handed out again while someone may hold a view of them.
//
// Reuse (issue 10, large writes): a fresh 128 KiB ArrayBuffer per 128 KiB of write data made V8
// run a full mark-compact every ~128 MB written (~13 ms each; with the scavenges ~175 µs of the
// loop's time per MB of 64 KiB writes). So an exhausted full-size arena is reused once nothing can
// refer to it: every command whose data lies in it has pinned it (`pin`) and unpinned it after
// finishing with `dataOutTransient` set (only the store's write saw the data, and let go of it at
// its callback), and the framer holds no view of it (`framerHolds`, asked at that moment). A pin
// that is never released (an aborted command, parameter data a handler may keep) only means the
// arena is never reused: the GC frees it as before.

/** Largest arena (two of Node's 64 KiB reads); only arenas of this size are reused. */
export const ARENA_SIZE = 128 * 1024;
/**
 * First arena after a release: a connection that only copies out a partial header now and then
 * holds 16 KiB, not 128; each new arena doubles up to ARENA_SIZE while the connection keeps busy.
 */
const FIRST_ARENA = 16 * 1024;
/** Exhausted arenas kept for reuse (2 MiB: the 1 MiB writes of a connection at QD8 cycle ~64 arenas; an idle connection drops them, sweepIdle). */
const SPARE_MAX = 16;
/** Exhausted arenas followed for their last unpin (beyond: the oldest is left to the GC, never reused). */
const PINNED_MAX = 256;

/** One arena's memory and who may still hold views of it. */
export class ArenaSlot {
  /** Commands holding views of it (see RxArena.pin). */
  pins = 0;
  /** No longer the arena handed out from. */
  retired = false;
  /** A command may have kept a view of it (unpinned without dataOutTransient): never reused. */
  kept = false;
  constructor(readonly buf: Buffer) {}
}

export class RxArena {
  private cur: ArenaSlot | null = null;
  private used = 0;
  private nextSize = FIRST_ARENA;
  /** Retired full-size arenas with pins, waiting for their last unpin. */
  private readonly pinned: ArenaSlot[] = [];
  /** Free full-size buffers to hand out instead of allocating. */
  private readonly spare: Buffer[] = [];
  /** Reused arenas so far (tests, BENCHMARKS). */
  reused = 0;

  /** `framerHolds(ab)`: the connection still holds a view into `ab` (a partial PDU, a header). */
  constructor(private readonly framerHolds: (ab: ArrayBufferLike) => boolean = () => true) {}

  /** The unused rest of the arena, at least `min` bytes (a new arena when less is left). Not committed. */
  space(min: number): Buffer {
    const c = this.cur;
    if (c === null || c.buf.length - this.used < min) return this.fresh(min).subarray(0);
    return c.buf.subarray(this.used);
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

  /** The reusable arena `view` lies in (the current one or one waiting for its last unpin), or null. */
  slotOf(view: Buffer): ArenaSlot | null {
    const ab = view.buffer;
    const c = this.cur;
    if (c !== null && c.buf.buffer === ab) return c.buf.length === ARENA_SIZE ? c : null;
    for (const p of this.pinned) if (p.buf.buffer === ab) return p;
    return null;
  }

  /** A command keeps views of `slot` (from slotOf): it is not reused before the matching unpin. */
  pin(slot: ArenaSlot): void {
    slot.pins++;
  }

  /**
   * A command that pinned `slot` is done. `transient`: it kept no view of its data
   * (dataOutTransient); otherwise the slot is never reused.
   */
  unpin(slot: ArenaSlot, transient: boolean): void {
    if (slot.pins <= 0) return;
    slot.pins--;
    if (!transient) slot.kept = true;
    if (!slot.retired || (slot.pins > 0 && !slot.kept)) return;
    const i = this.pinned.indexOf(slot);
    if (i < 0) return; // released with the connection, or dropped: left to the GC
    this.pinned.splice(i, 1);
    if (!slot.kept) this.reclaim(slot);
  }

  /** Forget the arena and what waits for reuse (an idle or closed connection holds no receive memory); views stay valid. */
  release(): void {
    this.cur = null;
    this.used = 0;
    this.nextSize = FIRST_ARENA;
    this.pinned.length = 0;
    this.spare.length = 0;
  }

  private fresh(min: number): Buffer {
    const old = this.cur;
    if (old !== null) {
      old.retired = true;
      if (old.buf.length === ARENA_SIZE && !old.kept) {
        if (old.pins === 0) this.reclaim(old);
        else if (this.pinned.push(old) > PINNED_MAX) this.pinned.shift();
      }
    }
    const size = Math.max(this.nextSize, min);
    let buf: Buffer | undefined;
    if (size === ARENA_SIZE) {
      // A spare the framer took a view of since it was reclaimed cannot be: check again.
      while ((buf = this.spare.pop()) !== undefined && this.framerHolds(buf.buffer));
      if (buf !== undefined) this.reused++;
    }
    buf ??= Buffer.allocUnsafeSlow(size);
    this.cur = new ArenaSlot(buf);
    this.nextSize = Math.min(this.nextSize * 2, ARENA_SIZE);
    this.used = 0;
    return buf;
  }

  /** An exhausted arena nothing pinned: a spare, unless the framer still holds a view of it. */
  private reclaim(slot: ArenaSlot): void {
    if (this.spare.length >= SPARE_MAX || this.framerHolds(slot.buf.buffer)) return;
    this.spare.push(slot.buf);
  }
}
