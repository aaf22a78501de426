// `tgtd --metrics ADDR:PORT` (issue 14 item 3): scraped during a libiscsi workload, the counters move, and the text passes a strict exposition-format parser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { closeSync, ftruncateSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, iscsiUrl, repoRoot, run, TestDaemon } from '../helpers/daemon.js';
import { ScsiClient } from '../helpers/scsi-client.js';
import { parsePrometheusText, valueOf, type Family } from '../../src/metrics/testing/prom-parse.js';

const IQN = 'iqn.2026-12.org.stgt.test:metrics';

function get(port: number, path: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((res, rej) => {
    http.get({ host: '127.0.0.1', port, path }, (r) => {
      let body = '';
      r.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => res({ status: r.statusCode ?? 0, type: String(r.headers['content-type']), body }));
    }).on('error', rej);
  });
}

/** One scrape, read by the strict parser and by Prometheus's own promtool (Debian's prometheus package; .ci/run installs it). */
async function scrape(port: number, dir: string): Promise<Map<string, Family>> {
  const r = await get(port, '/metrics');
  assert.equal(r.status, 200);
  assert.equal(r.type, 'text/plain; version=0.0.4; charset=utf-8');
  const f = parsePrometheusText(r.body);
  const file = join(dir, 'scrape.txt');
  writeFileSync(file, r.body);
  // `promtool check metrics` parses the text and lints it (names, units, HELP): exit 0 and no output.
  const pt = await run('sh', ['-c', 'promtool check metrics < "$0"', file], { timeoutMs: 30_000 });
  assert.equal(pt.code, 0, `promtool check metrics: ${pt.stdout}${pt.stderr}`);
  assert.equal(pt.stdout + pt.stderr, '');
  return f;
}

/** Bucket counts, _count and _sum of one latency series agree, and the count is `n`. */
function checkHistogram(f: Map<string, Family>, labels: Record<string, string>, n: number): void {
  const name = 'stgt_lu_io_duration_seconds';
  assert.equal(valueOf(f, name, labels, `${name}_count`), n, `${labels.op} histogram count`);
  assert.equal(valueOf(f, name, { ...labels, le: '+Inf' }, `${name}_bucket`), n);
  assert.equal(valueOf(f, name, { ...labels, le: '10' }, `${name}_bucket`), n, 'every command took less than 10 s');
  const sum = valueOf(f, name, labels, `${name}_sum`);
  assert.ok(n === 0 ? sum === 0 : sum > 0 && sum < n * 10, `sum ${sum}`);
}

test('metrics: off by default; with --metrics the LU counters, sessions and module states move with a libiscsi workload', { timeout: 120_000 }, async () => {
  const plain = await TestDaemon.start();
  try {
    assert.doesNotMatch(plain.stderr, /metrics/);
  } finally {
    await plain.stop();
  }
  const bad = await TestDaemon.start({ args: ['--metrics', 'nonsense'], readyLog: /./ }).catch((e: Error) => e);
  assert.ok(bad instanceof Error && /invalid --metrics value 'nonsense'/.test(bad.message), String(bad));

  const mport = await freePort();
  const d = await TestDaemon.start({ args: ['--metrics', `127.0.0.1:${mport}`] });
  try {
    const img = join(d.dir, 'disk.img');
    const fd = openSync(img, 'w');
    ftruncateSync(fd, 16 * 1024 * 1024);
    closeSync(fd);
    await d.addTarget(1, IQN);
    await d.addLun(1, 1, img);
    const lu = { tid: '1', target: IQN, lun: '1' };

    assert.equal((await get(mport, '/nope')).status, 404);
    const a = await scrape(mport, d.dir);
    assert.equal(valueOf(a, 'stgt_lu_read_commands_total', lu), 0);
    assert.equal(valueOf(a, 'stgt_lu_size_bytes', lu), 16 * 1024 * 1024);
    assert.equal(valueOf(a, 'stgt_target_sessions', { tid: '1' }), 0);
    assert.equal(valueOf(a, 'stgt_module_state', { kind: 'lld', module: 'iscsi', state: 'ready' }), 1);
    assert.equal(valueOf(a, 'stgt_module_state', { kind: 'bs', module: 'aio', state: 'ready' }), 1);
    assert.equal(valueOf(a, 'stgt_module_state', { kind: 'bs', module: 'aio', state: 'error' }), 0);
    checkHistogram(a, { ...lu, op: 'read' }, 0);
    checkHistogram(a, { ...lu, op: 'write' }, 0);
    assert.equal(valueOf(a, 'stgt_login_successes_total', { lld: 'iscsi' }), 0);
    assert.equal(valueOf(a, 'stgt_login_failures_total', { lld: 'iscsi', reason: 'target_not_found' }), 0);
    assert.equal(valueOf(a, 'stgt_target_connections', { tid: '1', lld: 'iscsi' }), 0);
    assert.ok(valueOf(a, 'process_open_fds') > 0);
    assert.ok(Math.abs(valueOf(a, 'process_start_time_seconds') - Date.now() / 1000) < 300);

    // A login to a target that does not exist: counted by its reason, and not as a success.
    const lost = await ScsiClient.login(d.iscsiPort, `${IQN}-missing`, 'iqn.2026-12.org.stgt.test:host').catch((e: Error) => e);
    assert.ok(lost instanceof Error, 'the login to a missing target fails');
    assert.ok(valueOf(a, 'process_resident_memory_bytes') > 0);

    // A held session (counted in the gauge) with exact I/O, then libiscsi's iscsi-perf (reads) and qemu-io (writes).
    const s = await ScsiClient.login(d.iscsiPort, IQN, 'iqn.2026-12.org.stgt.test:host');
    try {
      await s.clearUa(1);
      for (let i = 0; i < 4; i++) assert.equal((await s.write16(1, i * 16, Buffer.alloc(8192, i + 1))).status, 0);
      assert.equal((await s.read16(1, 0, 16)).status, 0);
      const b = await scrape(mport, d.dir);
      assert.equal(valueOf(b, 'stgt_target_sessions', { tid: '1', lld: 'iscsi' }), 1);
      assert.equal(valueOf(b, 'stgt_lld_sessions', { lld: 'iscsi' }), 1);
      assert.equal(valueOf(b, 'stgt_target_connections', { tid: '1', lld: 'iscsi' }), 1);
      assert.equal(valueOf(b, 'stgt_lld_connections', { lld: 'iscsi' }), 1);
      assert.equal(valueOf(b, 'stgt_login_successes_total', { lld: 'iscsi' }), 1);
      assert.equal(valueOf(b, 'stgt_login_failures_total', { lld: 'iscsi', reason: 'target_not_found' }), 1);
      assert.equal(valueOf(b, 'stgt_login_failures_total', { lld: 'iscsi', reason: 'authentication_failure' }), 0);
      checkHistogram(b, { ...lu, op: 'read' }, 1);
      checkHistogram(b, { ...lu, op: 'write' }, 4);
      assert.equal(valueOf(b, 'stgt_lu_write_commands_total', lu), 4);
      assert.equal(valueOf(b, 'stgt_lu_write_bytes_total', lu), 4 * 8192);
      assert.equal(valueOf(b, 'stgt_lu_read_commands_total', lu), 1);
      assert.equal(valueOf(b, 'stgt_lu_read_bytes_total', lu), 8192);
      assert.equal(valueOf(b, 'stgt_lu_errors_total', lu), 1, 'the power-on UNIT ATTENTION clearUa took');
    } finally {
      s.close();
    }
    const perf = await run('iscsi-perf', ['-t', '2', '-m', '8', '-b', '8', iscsiUrl(d.iscsiPort, IQN, 1)], { timeoutMs: 60_000 });
    assert.ok(perf.code === 0 || /iops/i.test(perf.stdout + perf.stderr), perf.stdout + perf.stderr);
    const qio = await run('qemu-io', ['-f', 'raw', '-c', 'write -P 0x5a 0 1M', iscsiUrl(d.iscsiPort, IQN, 1)], { timeoutMs: 60_000 });
    assert.equal(qio.code, 0, qio.stdout + qio.stderr);
    const c = await scrape(mport, d.dir);
    assert.ok(valueOf(c, 'stgt_lu_read_commands_total', lu) > 1, 'iscsi-perf reads counted');
    assert.ok(valueOf(c, 'stgt_lu_read_bytes_total', lu) > 8192);
    assert.ok(valueOf(c, 'stgt_lu_write_bytes_total', lu) >= 4 * 8192 + 1024 * 1024, 'qemu-io writes counted');
    // The held session's nexus is gone: its counts stay in the totals (counters never go down).
    assert.ok(valueOf(c, 'stgt_lu_write_commands_total', lu) > 4);
    // CHECK CONDITIONs, as tgt's errs counts them: each new nexus's power-on UNIT ATTENTION at least.
    assert.ok(valueOf(c, 'stgt_lu_errors_total', lu) >= 2);
    assert.equal(valueOf(c, 'stgt_lu_queue_depth', lu), 0);
    assert.equal(valueOf(c, 'stgt_target_connections', { tid: '1' }), 0);
    assert.ok(valueOf(c, 'stgt_login_successes_total', { lld: 'iscsi' }) >= 3, 'iscsi-perf and qemu-io logged in');
    // Plain READs and WRITEs only: each completed one is in its histogram, and counters and histograms moved together.
    checkHistogram(c, { ...lu, op: 'read' }, valueOf(c, 'stgt_lu_read_commands_total', lu));
    checkHistogram(c, { ...lu, op: 'write' }, valueOf(c, 'stgt_lu_write_commands_total', lu));
    assert.ok(valueOf(c, 'process_cpu_seconds_total') >= valueOf(a, 'process_cpu_seconds_total'));
    // Every metric the Grafana dashboard queries is one tgtd serves.
    const dash = readFileSync(join(repoRoot(), 'contrib', 'grafana', 'stgt-dashboard.json'), 'utf8');
    const used = new Set(dash.match(/\b(?:stgt|process|nodejs)_[a-z_]+/g) ?? []);
    assert.ok(used.size >= 8);
    for (const name of used) {
      const family = c.has(name) ? name : name.replace(/_(bucket|sum|count)$/, '');
      assert.ok(c.has(family), `the dashboard queries ${name}, which tgtd does not serve`);
    }
  } finally {
    await d.stop();
  }
});
