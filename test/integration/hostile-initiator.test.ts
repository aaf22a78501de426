// Robustness (design.md §4, issue 9): 200,000+ hostile PDUs from the project's hostile initiator leave tgtd alive, leak-free and deletable.
//
// Fixed seed, so a failure replays with `npm run fuzz -- --pdus 220000 --seed 0x9e3779b9`. After
// every round: tgtd alive, no uncaught/TypeError/RangeError in its stderr, no I_T nexus once the
// round's connections are gone, RSS bounded, a clean session reads back what it wrote. At the
// end both targets are deleted without --force and tgtd stops with status 0.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import type { TestDaemon } from '../helpers/daemon.js';
import { runHostileInitiator } from '../fuzz/hostile-initiator.js';
import { finishHostileDaemon, startHostileDaemon } from '../fuzz/hostile-daemon.js';

const SEED = 0x9e3779b9;
const PDUS = 220_000;

let daemon: TestDaemon | null = null;
after(() => daemon?.kill());

test(`hostile initiator: ${PDUS} PDUs (seed 0x${SEED.toString(16)}) never crash, leak or wedge tgtd`, { timeout: 600_000 }, async () => {
  const started = await startHostileDaemon();
  daemon = started.daemon;
  const res = await runHostileInitiator(started.target, { seed: SEED, pdus: PDUS, roundPdus: 20_000, slots: 6 });
  const teardown = await finishHostileDaemon(started.daemon);
  const s = res.stats;
  console.log(
    `hostile initiator: seed 0x${SEED.toString(16)}, ${s.rounds} rounds, ${s.pdus} PDUs, ${s.connections} connections, ` +
    `${s.logins} logins, ${s.targetClosed} closed by the target, ${s.syncs} sync pings answered, ${s.stalls} stalled, ` +
    `${(s.elapsedMs / 1000).toFixed(1)} s, ` +
    `tgtd RSS per round ${s.rssMiB.join(' ')} MiB; answers: ${res.answers.summary()}`,
  );
  assert.deepEqual(res.failures, [], res.failures.join('\n\n'));
  assert.deepEqual(teardown, [], teardown.join('\n\n'));
  assert.ok(s.pdus >= 200_000, `only ${s.pdus} PDUs were sent`);
  assert.ok(s.rounds >= 10);
});
