// Per-LU command latency histograms (Prometheus histogram: _bucket{le=...}, _sum, _count), counted on the data path.
//
// Recording is a handful of number operations: the bounds are a precomputed Float64Array in
// milliseconds (the unit of performance.now()), the counts a Float64Array (exact integers up to
// 2^53, never wraps), scanned from the smallest bound because storage latencies sit at the low
// end. Nothing is allocated per command. Buckets span 50 µs (a page-cache hit over loopback) to
// 10 s (an initiator's abort timeout territory).

/** Upper bounds of the buckets in seconds, as written in `le` (ascending; +Inf is implicit). */
export const LATENCY_BOUNDS_SECONDS: readonly number[] = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

const BOUNDS_MS = Float64Array.from(LATENCY_BOUNDS_SECONDS, (s) => s * 1000);

/** Which counter a finished command's media I/O went to (Cmd.ioKind). */
export const IoKind = { None: 0, Read: 1, Write: 2 } as const;

export class LatencyHistogram {
  /** Per bucket (not cumulative); the last entry is the +Inf bucket. */
  readonly counts = new Float64Array(BOUNDS_MS.length + 1);
  /** Sum of the recorded durations, milliseconds. */
  sumMs = 0;

  record(ms: number): void {
    let i = 0;
    const n = BOUNDS_MS.length;
    while (i < n && ms > BOUNDS_MS[i]!) i++;
    this.counts[i] = this.counts[i]! + 1;
    this.sumMs += ms;
  }
}

/** A LU's read and write histograms (LogicalUnit.latency, present while tgtd serves metrics). */
export class IoLatency {
  readonly read = new LatencyHistogram();
  readonly write = new LatencyHistogram();

  /** `kind` is an IoKind; None records nothing. */
  record(kind: number, ms: number): void {
    if (kind === IoKind.Read) this.read.record(ms);
    else if (kind === IoKind.Write) this.write.record(ms);
  }
}
