// The benchmark's smoke mode (bench/run.mjs --smoke): every case against stgt's tgtd and Debian's, one tiny round, so the bench keeps working. Speed is not asserted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { haveDebianTgt } from '../compat/daemons.js';
import { distRoot, repoRoot, run } from '../helpers/daemon.js';

const skip = haveDebianTgt ? false : 'Debian tgt (apt install tgt) is not installed';

interface Row {
  key: string;
  stgt: number;
  tgt: number;
  stgtRuns: number[];
  tgtRuns: number[];
  stgtCpu: number;
  stgtFailed: string[];
  tgtFailed: string[];
}

test('bench/run.mjs --smoke: every case runs against both daemons and yields a figure', { skip, timeout: 300_000 }, async () => {
  const r = await run(process.execPath, [join(repoRoot(), 'bench', 'run.mjs'), '--smoke', '--no-iperf', '--json', '--dist', distRoot()], {
    timeoutMs: 280_000,
  });
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { load: string[]; rows: Row[] };
  const keys = out.rows.map((x) => x.key);
  for (const k of ['r4k-rand-qd32', 'w4k-seq-qd32', 'w4k-seq-qd1', 'w4k-rand-qd1', 'r1m-qd8', 'w1m-qd8', 'w64k-qd16', 'null-r4k-qd32', 'null-w4k-qd1', 's4-r4k-qd32']) {
    assert.ok(keys.includes(k), `case ${k} ran`);
  }
  for (const row of out.rows) {
    // One run per daemon, each a positive figure; a failed client run is recorded with its reason
    // (the bench goes on with the other cases), and here it fails the test.
    assert.deepEqual([...row.stgtFailed, ...row.tgtFailed], [], row.key);
    assert.equal(row.stgtRuns.length, 1, row.key);
    assert.equal(row.tgtRuns.length, 1, row.key);
    assert.ok(row.stgt > 0 && row.tgt > 0, `${row.key}: ${row.stgt} / ${row.tgt}`);
  }
  assert.equal(out.load.length, 2);
});

interface SessionsRow {
  kind: string;
  sessions: number;
  loginsPerSec: number;
  kibPerSession: number;
  busyIops: number;
  busyIopsWithIdle: number;
  lostSessions: number;
}

test('bench/sessions.mjs --smoke: idle sessions log in to both daemons, stay up, and the busy session runs', { skip, timeout: 200_000 }, async () => {
  const r = await run(process.execPath, [join(repoRoot(), 'bench', 'sessions.mjs'), '--smoke', '--json', '--dist', distRoot()], {
    timeoutMs: 180_000,
  });
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { rows: SessionsRow[] };
  assert.deepEqual(out.rows.map((x) => x.kind), ['stgt', 'tgt']);
  for (const row of out.rows) {
    assert.equal(row.sessions, 20);
    assert.equal(row.lostSessions, 0, `${row.kind}: idle sessions closed`);
    assert.ok(row.loginsPerSec > 0 && row.busyIops > 0 && row.busyIopsWithIdle > 0, JSON.stringify(row));
    assert.ok(Number.isFinite(row.kibPerSession), JSON.stringify(row));
  }
});
