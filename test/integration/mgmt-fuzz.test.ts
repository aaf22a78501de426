// The management socket never takes tgtd down: 20,000 seeded random, mutated, lying, truncated, split and abandoned tgtadm requests over concurrent and half-open connections (test/fuzz/mgmt-fuzz.ts).

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestDaemon } from '../helpers/daemon.js';
import { runMgmtFuzz } from '../fuzz/mgmt-fuzz.js';

const daemons: TestDaemon[] = [];
after(() => daemons.forEach((d) => d.kill()));

const REQUESTS = Number(process.env['STGT_MGMT_FUZZ_REQUESTS'] ?? 20_000);
const SEED = Number(process.env['STGT_MGMT_FUZZ_SEED'] ?? 0xc0ffee);

test(`${REQUESTS} random and mutated management requests: every due answer well-formed, tgtd up, state deletable`, { timeout: 240_000 }, async () => {
  const d = await TestDaemon.start();
  daemons.push(d);
  await d.addTarget(1, 'iqn.2026-11.org.stgt.test:mgmtfuzz');
  const { stats, failures } = await runMgmtFuzz(d, { seed: SEED, requests: REQUESTS });
  console.log(`# mgmt fuzz: ${JSON.stringify(stats)}`);
  assert.deepEqual(failures, []);
  assert.equal(stats.requests, REQUESTS);
  assert.ok(stats.mustAnswer > REQUESTS / 3, `only ${stats.mustAnswer} requests were complete`);
  assert.ok(stats.targetsLeft > 1, 'the fuzz made no target: its requests are not reaching the handlers');
  await d.stop();
});
