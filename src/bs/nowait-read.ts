// Reads served from the page cache on the calling thread: preadv2(2) with RWF_NOWAIT, through koffi.
//
// fs.read goes through libuv's thread pool: a queue, a thread wake-up and a completion back to the
// loop for every read, which costs more than the read itself when the data is cached (and, on a
// loaded or virtual machine, the woken thread can preempt the event loop). With RWF_NOWAIT the
// kernel copies what is in the page cache and returns at once; it never waits for a disk (it
// answers EAGAIN or a short count instead), so the event loop is not blocked on I/O. The caller
// reads whatever is missing through the thread pool as before.
const RWF_NOWAIT = 0x08;

export interface NoWaitReader {
  /** Bytes read into `into` (0..into.length), or -errno (EAGAIN: not cached; EOPNOTSUPP/EINVAL: never on this fd). */
  read(fd: number, into: Buffer, offset: number): number;
}

interface Koffi {
  load(lib: string): { func(sig: string): (...args: unknown[]) => number };
  address(value: unknown): bigint;
  errno(): number;
}

/** Binds preadv2 through koffi; null where koffi or preadv2 (glibc >= 2.26) is missing. */
export async function loadNoWaitReader(): Promise<NoWaitReader | null> {
  try {
    const spec = 'koffi'; // a variable: only a daemon that serves rdwr LUNs loads it here
    const k = ((await import(spec)) as { default: Koffi }).default;
    const preadv2 = k.load('libc.so.6').func('long preadv2(int fd, void *iov, int iovcnt, int64_t offset, int flags)');
    // One iovec, reused: { iov_base, iov_len } as two native-endian 64-bit words.
    const iov = Buffer.alloc(16);
    return {
      read(fd, into, offset) {
        if (into.length === 0) return 0;
        iov.writeBigUInt64LE(k.address(into), 0);
        // iov_len as two 32-bit halves: no BigInt per call on the data path.
        iov.writeUInt32LE(into.length >>> 0, 8);
        iov.writeUInt32LE(Math.floor(into.length / 0x100000000), 12);
        const n = preadv2(fd, iov, 1, offset, RWF_NOWAIT);
        return n >= 0 ? n : -k.errno();
      },
    };
  } catch {
    return null;
  }
}
