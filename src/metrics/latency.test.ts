// Tests for the latency histograms (latency.ts): bucket edges (le is inclusive), the +Inf bucket, sums, read/write split.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IoKind, IoLatency, LATENCY_BOUNDS_SECONDS, LatencyHistogram } from './latency.js';
import { Exposition } from './exposition.js';
import { parsePrometheusText, valueOf } from './testing/prom-parse.js';

test('a duration lands in the first bucket whose bound is not below it', () => {
  const h = new LatencyHistogram();
  h.record(0); // 0 s: first bucket
  h.record(0.05); // exactly 50 µs: le="5e-05" is inclusive
  h.record(0.0501); // just above: next bucket
  h.record(10_000); // 10 s: last finite bucket
  h.record(10_001); // above every bound: +Inf
  const n = LATENCY_BOUNDS_SECONDS.length;
  assert.equal(h.counts.length, n + 1);
  assert.deepEqual([h.counts[0], h.counts[1], h.counts[n - 1], h.counts[n]], [2, 1, 1, 1]);
  assert.equal(h.counts.reduce((a, b) => a + b, 0), 5);
  assert.ok(Math.abs(h.sumMs - (0.05 + 0.0501 + 20_001)) < 1e-9);
});

test('IoLatency splits reads and writes and ignores other commands; the exposition is cumulative', () => {
  const l = new IoLatency();
  l.record(IoKind.Read, 0.2);
  l.record(IoKind.Read, 3);
  l.record(IoKind.Write, 0.7);
  l.record(IoKind.None, 1);
  assert.equal(l.read.counts.reduce((a, b) => a + b, 0), 2);
  assert.equal(l.write.counts.reduce((a, b) => a + b, 0), 1);
  const e = new Exposition().family('x_seconds', 'histogram', 'h');
  e.histogram('x_seconds', { op: 'read' }, LATENCY_BOUNDS_SECONDS, l.read.counts, l.read.sumMs / 1000);
  const f = parsePrometheusText(e.text());
  assert.equal(valueOf(f, 'x_seconds', { le: '0.00025' }, 'x_seconds_bucket'), 1);
  assert.equal(valueOf(f, 'x_seconds', { le: '0.005' }, 'x_seconds_bucket'), 2);
  assert.equal(valueOf(f, 'x_seconds', {}, 'x_seconds_count'), 2);
  assert.ok(Math.abs(valueOf(f, 'x_seconds', {}, 'x_seconds_sum') - 0.0032) < 1e-12);
});
