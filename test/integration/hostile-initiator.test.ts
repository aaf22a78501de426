// Robustness (design.md §4, issue 9): 200,000+ hostile PDUs from the project's hostile initiator leave tgtd alive, leak-free and deletable.
//
// Fixed seed, so a failure replays with `npm run fuzz -- --pdus 220000 --seed 0x9e3779b9`. After
// every round: tgtd alive, no uncaught/TypeError/RangeError in its stderr, no I_T nexus once the
// round's connections are gone, RSS bounded, a clean session reads back what it wrote. At the
// end both targets are deleted without --force and tgtd stops with status 0.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import type { TestDaemon } from '../helpers/daemon.js';
import { MiniInitiator } from '../helpers/mini-initiator.js';
import { rssMiB, runHostileInitiator } from '../fuzz/hostile-initiator.js';
import { finishHostileDaemon, startHostileDaemon } from '../fuzz/hostile-daemon.js';

const SEED = 0x9e3779b9;
const PDUS = 220_000;

const daemons: TestDaemon[] = [];
after(() => daemons.forEach((d) => d.kill()));

test(`hostile initiator: ${PDUS} PDUs (seed 0x${SEED.toString(16)}) never crash, leak or wedge tgtd`, { timeout: 600_000 }, async () => {
  const started = await startHostileDaemon();
  daemons.push(started.daemon);
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

// Found by the fuzzer (F3): answers other than Data-In were written whatever the socket held, so
// an initiator that sends NOP-Outs with data and never reads made tgtd keep every echo; tgtd now
// stops reading a connection whose unsent answers pass the back-pressure bound.
test('a connection that stops reading cannot grow tgtd without bound (16,000 unread 8 KiB NOP-In echoes)', {
  timeout: 120_000,
}, async () => {
  const { daemon: d, target } = await startHostileDaemon();
  daemons.push(d);
  const m = await MiniInitiator.connect(target.port);
  await m.login(target.iqn, 'iqn.2026-11.org.stgt.fuzz:nonreader', { MaxRecvDataSegmentLength: '262144' });
  m.sock.removeAllListeners('data');
  m.sock.pause();
  const base = rssMiB(d.pid);
  let peak = base;
  const ping = Buffer.alloc(48 + 8192);
  ping[0] = 0x40; // NOP-Out, immediate
  ping[1] = 0x80;
  ping.writeUIntBE(8192, 5, 3); // DataSegmentLength
  ping.writeUInt32BE(0xffffffff, 20); // TTT
  let pushedBack = false;
  for (let i = 0; i < 16_000 && !pushedBack; i++) {
    const b = Buffer.from(ping);
    b.writeUInt32BE(i + 1, 16); // ITT
    b.writeUInt32BE(m.cmdSN, 24);
    if (!m.sock.write(b)) {
      // tgtd stopped reading (what a bounded target does) if nothing drains within 3 s.
      pushedBack = !(await new Promise<boolean>((res) => {
        const t = setTimeout(() => res(false), 3000);
        m.sock.once('drain', () => {
          clearTimeout(t);
          res(true);
        });
      }));
    }
    if (i % 500 === 0) peak = Math.max(peak, rssMiB(d.pid));
  }
  peak = Math.max(peak, rssMiB(d.pid));
  m.close();
  await d.stop();
  assert.ok(peak - base < 64, `tgtd RSS went from ${base} to ${peak} MiB for answers nobody read`);
});
