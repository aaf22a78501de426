// Tests for the Prometheus text writer (exposition.ts), checked by the strict parser (testing/prom-parse.ts), and of the parser's refusals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Exposition } from './exposition.js';
import { parsePrometheusText, valueOf } from './testing/prom-parse.js';

test('families, escaping, histogram: the strict parser reads back what was written', () => {
  const e = new Exposition();
  e.family('stgt_x_total', 'counter', 'A help with \\ and\nnewline.')
    .sample('stgt_x_total', { target: 'iqn.a"b\\c\nd', lun: 1 }, 5)
    .sample('stgt_x_total', { target: 'other', lun: 2 }, 0);
  e.family('stgt_g', 'gauge', 'g').sample('stgt_g', {}, NaN);
  e.family('stgt_lat_seconds', 'histogram', 'h').histogram('stgt_lat_seconds', { lun: 1 }, [0.001, 0.01], [3, 1, 2], 0.5);
  const text = e.text();
  assert.match(text, /^# HELP stgt_x_total A help with \\\\ and\\nnewline\.\n# TYPE stgt_x_total counter\n/);
  assert.match(text, /\nstgt_x_total\{target="iqn\.a\\"b\\\\c\\nd",lun="1"\} 5\n/);
  const f = parsePrometheusText(text);
  assert.equal(f.get('stgt_x_total')!.help, 'A help with \\ and\nnewline.');
  assert.equal(valueOf(f, 'stgt_x_total', { target: 'iqn.a"b\\c\nd' }), 5);
  assert.ok(Number.isNaN(valueOf(f, 'stgt_g')));
  assert.equal(valueOf(f, 'stgt_lat_seconds', { le: '0.01' }, 'stgt_lat_seconds_bucket'), 4);
  assert.equal(valueOf(f, 'stgt_lat_seconds', { le: '+Inf' }, 'stgt_lat_seconds_bucket'), 6);
  assert.equal(valueOf(f, 'stgt_lat_seconds', {}, 'stgt_lat_seconds_count'), 6);
});

test('the writer refuses bad names and a family written twice', () => {
  assert.throws(() => new Exposition().family('1bad', 'gauge', 'x'), /bad metric name/);
  assert.throws(() => new Exposition().family('ok', 'gauge', 'x').sample('ok', { 'bad-label': 1 }, 1), /bad label name/);
  assert.throws(() => new Exposition().family('ok', 'gauge', 'x').sample('ok', { __reserved: 1 }, 1), /bad label name/);
  assert.throws(() => new Exposition().family('ok', 'gauge', 'x').family('ok', 'gauge', 'x'), /twice/);
});

test('the parser refuses what the format does not allow', () => {
  const bad: [string, RegExp][] = [
    ['a 1', /line feed/],
    ['# TYPE a counter\na -1\n', /counter a is -1/],
    ['# TYPE a gauge\na{x="1"} 1\na{x="1"} 2\n', /duplicate series/],
    ['a 1\nb 1\na 2\n', /not together/],
    ['a{x="\\q"} 1\n', /bad escape/],
    ['a{x="1"}1\n', /expected ' value/],
    ['a one\n', /bad value/],
    ['# TYPE a counter\n# TYPE a counter\na 1\n', /second TYPE/],
    ['a 1\n# TYPE a gauge\n', /declared after its samples/],
    ['# TYPE a histogram\na_bucket{le="1"} 2\na_bucket{le="+Inf"} 1\na_count 1\na_sum 0\n', /not cumulative/],
    ['# TYPE a histogram\na_bucket{le="1"} 1\na_count 1\na_sum 0\n', /no \+Inf bucket/],
  ];
  for (const [text, why] of bad) assert.throws(() => parsePrometheusText(text), why, JSON.stringify(text));
});
