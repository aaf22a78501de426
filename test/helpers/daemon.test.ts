// laneSlice: the port range of one test lane (STGT_TEST_LANE=<i>/<n>, scripts/run-tests.mjs) is its own
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort, laneSlice } from './daemon.js';

test('laneSlice: n lanes get n disjoint equal slices of the range; no or a bad STGT_TEST_LANE gets all of it', () => {
  assert.deepEqual(laneSlice(100, 199, {}), [100, 199]);
  assert.deepEqual(laneSlice(100, 199, { STGT_TEST_LANE: '0/1' }), [100, 199]);
  assert.deepEqual(laneSlice(100, 199, { STGT_TEST_LANE: '0/2' }), [100, 149]);
  assert.deepEqual(laneSlice(100, 199, { STGT_TEST_LANE: '1/2' }), [150, 199]);
  assert.deepEqual(laneSlice(0, 124, { STGT_TEST_LANE: '1/2' }), [62, 123]);
  assert.deepEqual(laneSlice(100, 199, { STGT_TEST_LANE: '2/2' }), [100, 199]);
  assert.deepEqual(laneSlice(100, 199, { STGT_TEST_LANE: 'x' }), [100, 199]);
});

test('freePort stays inside this lane\'s slice and never hands out a port twice', async () => {
  const saved = process.env.STGT_TEST_LANE;
  process.env.STGT_TEST_LANE = '1/2';
  try {
    const lo = Number((await import('node:fs')).readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    const [first, last] = laneSlice(Math.max(1024, lo - 1 - 12_000), lo - 1);
    const seen = new Set<number>();
    for (let i = 0; i < 20; i++) {
      const p = await freePort();
      assert.ok(p >= first && p <= last, `${p} outside ${first}..${last}`);
      assert.ok(!seen.has(p));
      seen.add(p);
    }
  } finally {
    if (saved === undefined) delete process.env.STGT_TEST_LANE;
    else process.env.STGT_TEST_LANE = saved;
  }
});
