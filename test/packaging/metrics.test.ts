// `tgtd --metrics ADDR:PORT` (issue 14 item 3): scraped during a libiscsi workload, the counters move, and the text passes a strict exposition-format parser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { closeSync, ftruncateSync, openSync, readFileSync } from 'node:fs';
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

async function scrape(port: number): Promise<Map<string, Family>> {
  const r = await get(port, '/metrics');
  assert.equal(r.status, 200);
  assert.equal(r.type, 'text/plain; version=0.0.4; charset=utf-8');
  return parsePrometheusText(r.body);
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
    const a = await scrape(mport);
    assert.equal(valueOf(a, 'stgt_lu_read_commands_total', lu), 0);
    assert.equal(valueOf(a, 'stgt_lu_size_bytes', lu), 16 * 1024 * 1024);
    assert.equal(valueOf(a, 'stgt_target_sessions', { tid: '1' }), 0);
    assert.equal(valueOf(a, 'stgt_module_state', { kind: 'lld', name: 'iscsi', state: 'ready' }), 1);
    assert.equal(valueOf(a, 'stgt_module_state', { kind: 'bs', name: 'aio', state: 'ready' }), 1);
    assert.ok(valueOf(a, 'process_resident_memory_bytes') > 0);

    // A held session (counted in the gauge) with exact I/O, then libiscsi's iscsi-perf (reads) and qemu-io (writes).
    const s = await ScsiClient.login(d.iscsiPort, IQN, 'iqn.2026-12.org.stgt.test:host');
    try {
      await s.clearUa(1);
      for (let i = 0; i < 4; i++) assert.equal((await s.write16(1, i * 16, Buffer.alloc(8192, i + 1))).status, 0);
      assert.equal((await s.read16(1, 0, 16)).status, 0);
      const b = await scrape(mport);
      assert.equal(valueOf(b, 'stgt_target_sessions', { tid: '1', lld: 'iscsi' }), 1);
      assert.equal(valueOf(b, 'stgt_lld_sessions', { lld: 'iscsi' }), 1);
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
    const c = await scrape(mport);
    assert.ok(valueOf(c, 'stgt_lu_read_commands_total', lu) > 1, 'iscsi-perf reads counted');
    assert.ok(valueOf(c, 'stgt_lu_read_bytes_total', lu) > 8192);
    assert.ok(valueOf(c, 'stgt_lu_write_bytes_total', lu) >= 4 * 8192 + 1024 * 1024, 'qemu-io writes counted');
    // The held session's nexus is gone: its counts stay in the totals (counters never go down).
    assert.ok(valueOf(c, 'stgt_lu_write_commands_total', lu) > 4);
    // CHECK CONDITIONs, as tgt's errs counts them: each new nexus's power-on UNIT ATTENTION at least.
    assert.ok(valueOf(c, 'stgt_lu_errors_total', lu) >= 2);
    assert.equal(valueOf(c, 'stgt_lu_queue_depth', lu), 0);
    assert.ok(valueOf(c, 'process_cpu_seconds_total') >= valueOf(a, 'process_cpu_seconds_total'));
    // Every metric the Grafana dashboard queries is one tgtd serves.
    const dash = readFileSync(join(repoRoot(), 'contrib', 'grafana', 'stgt-dashboard.json'), 'utf8');
    const used = new Set(dash.match(/\b(?:stgt|process|nodejs)_[a-z_]+/g) ?? []);
    assert.ok(used.size >= 8);
    for (const name of used) assert.ok(c.has(name), `the dashboard queries ${name}, which tgtd does not serve`);
  } finally {
    await d.stop();
  }
});
