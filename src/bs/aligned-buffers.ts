// Page-aligned, reused buffers for O_DIRECT transfers (the kernel refuses memory that is not aligned to the device's logical block).
//
// JS cannot ask for aligned memory, but koffi can tell a buffer's address: each buffer is allocated
// one page larger than needed and used from its first page boundary on. Buffers are kept per size
// (whole pages) for the next transfer of that size, a few of each.
const PAGE = 4096;
/** Buffers kept per size for reuse. */
const KEEP_PER_SIZE = 8;
/** Transfers larger than this get a buffer of their own, not kept. */
const KEEP_MAX = 1 << 20;

interface Koffi {
  address(value: unknown): bigint;
}

export class AlignedBuffers {
  private readonly free = new Map<number, Buffer[]>();
  /** Buffers allocated so far (reuse keeps this small). */
  allocated = 0;

  constructor(private readonly address: (b: Buffer) => bigint) {}

  /** A page-aligned buffer of at least `len` bytes (its length: `len` rounded up to whole pages). */
  get(len: number): Buffer {
    const size = Math.ceil(len / PAGE) * PAGE;
    const b = this.free.get(size)?.pop();
    if (b !== undefined) return b;
    this.allocated++;
    const raw = Buffer.allocUnsafeSlow(size + PAGE);
    const off = (PAGE - Number(this.address(raw) % BigInt(PAGE))) % PAGE;
    return raw.subarray(off, off + size);
  }

  /** `b` (from get) is free again. */
  put(b: Buffer): void {
    if (b.length > KEEP_MAX) return;
    let list = this.free.get(b.length);
    if (list === undefined) this.free.set(b.length, (list = []));
    if (list.length < KEEP_PER_SIZE) list.push(b);
  }
}

/** Aligned buffers through koffi's address(); null where koffi is missing. */
export async function loadAlignedBuffers(): Promise<AlignedBuffers | null> {
  try {
    const spec = 'koffi'; // a variable: only a daemon with an O_DIRECT LUN loads it here
    const k = ((await import(spec)) as { default: Koffi }).default;
    return new AlignedBuffers((b) => k.address(b));
  } catch {
    return null;
  }
}
