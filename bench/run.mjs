#!/usr/bin/env node
// Side-by-side benchmark of stgt's tgtd and Debian's tgtd over iSCSI/TCP on 127.0.0.1 (libiscsi iscsi-perf, qemu-img bench).
//
// Both daemons get the same setup: one target, LUN 1 on its own 1 GiB sparse file (rdwr) in the
// same temporary directory, bound to ALL. The same clients then run against each, case by case,
// alternating which daemon goes first, for several rounds; the table reports the median of each
// case (the machine is shared and noisy, so single runs mean little) and the stgt/tgt ratio.
//
// Usage: node bench/run.mjs [--rounds 3] [--secs 5] [--scale 1] [--smoke] [--no-iperf] [--dist <dir>] [--only stgt|tgt]
//                           [--cases perf|qemu|all] [--env K=V ...] [--json] [--metrics] [--stgt-args "ARGS"] [--vs-args "ARGS"]
// --dist selects the compiled stgt tree (default: the repository's dist/); --env passes variables to
// stgt's tgtd only (e.g. --env UV_THREADPOOL_SIZE=2). --metrics compares stgt with itself instead of
// tgt: the second column is a stgt tgtd started with `--metrics 127.0.0.1:PORT` and scraped once a
// second during the runs (issue 14: metrics must cost nothing on the data path). Never part of `npm test`.

import { spawn, spawnSync } from 'node:child_process';
import { cpuSeconds as cpuOf, freePort, median, runFor, sleep, startDaemon, stopProcess } from './lib.mjs';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const IQN = 'iqn.2026-01.org.stgt.bench:lun';
const INITIATOR = 'iqn.2026-01.org.stgt.bench:client';
const LUN_SIZE = 1 << 30;

function parseArgs(argv) {
  const o = { rounds: 3, secs: 5, scale: 1, dist: resolve(HERE, '..', 'dist'), only: null, cases: 'all', env: {}, json: false, iperf: true, metrics: false, stgtArgs: [], vsArgs: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => argv[++i];
    if (a === '--rounds') o.rounds = Number(v());
    else if (a === '--secs') o.secs = Number(v());
    else if (a === '--dist') o.dist = resolve(v());
    else if (a === '--only') o.only = v();
    else if (a === '--cases') o.cases = v();
    else if (a === '--scale') o.scale = Number(v());
    else if (a === '--no-iperf') o.iperf = false;
    else if (a === '--json') o.json = true;
    else if (a === '--metrics') o.metrics = true;
    else if (a === '--stgt-args') o.stgtArgs = v().split(' ').filter(Boolean);
    else if (a === '--vs-args') o.vsArgs = v().split(' ').filter(Boolean);
    else if (a === '--smoke') Object.assign(o, { rounds: 1, secs: 2, scale: 0.01 });
    else if (a === '--env') {
      const [k, ...rest] = v().split('=');
      o.env[k] = rest.join('=');
    } else {
      console.error(`unknown option ${a}`);
      process.exit(2);
    }
  }
  return o;
}

/** One daemon of `kind` with target 1 (IQN): LUN 1 on its own 1 GiB sparse file (rdwr), LUN 2 on the null store. */
async function startBenchDaemon(kind, dir, opts, started) {
  // --metrics: the "tgt" column is stgt with --metrics, scraped every second.
  const withMetrics = opts.metrics && kind === 'tgt';
  const metricsPort = withMetrics ? await freePort() : 0;
  // --vs-args: the "tgt" column is stgt with these arguments (e.g. --workers 2) instead of tgt.
  const vs = opts.vsArgs !== null && kind === 'tgt';
  const args = withMetrics ? ['--metrics', `127.0.0.1:${metricsPort}`] : vs ? opts.vsArgs : kind === 'stgt' ? opts.stgtArgs : [];
  const d = await startDaemon(withMetrics || vs ? 'stgt' : kind, dir, {
    dist: opts.dist, env: opts.env, iqn: IQN, started, name: withMetrics ? 'stgt-metrics' : vs ? 'stgt-vs' : kind,
    args, extraTargets: opts.extraTargets,
    // LUN 2: the null store (reads zeros, discards writes; 1 TiB in both): the protocol's cost alone.
    luns: [{ lun: 1, size: LUN_SIZE }, { lun: 2, bstype: 'null' }],
  });
  if (vs) d.kind = 'tgt';
  if (withMetrics) {
    d.kind = 'tgt';
    d.scrapes = 0;
    d.scraper = setInterval(() => {
      fetch(`http://127.0.0.1:${metricsPort}/metrics`).then((r) => r.text()).then((t) => {
        if (t.includes('stgt_lu_read_commands_total')) d.scrapes++;
      }, () => undefined);
    }, 1000);
  }
  d.url = `iscsi://127.0.0.1:${d.port}/${IQN}/1`;
  d.targetUrls = [d.url, ...Array.from({ length: opts.extraTargets }, (_, i) => `iscsi://127.0.0.1:${d.port}/${IQN}-t${i + 2}/1`)];
  d.nullUrl = `iscsi://127.0.0.1:${d.port}/${IQN}/2`;
  return d;
}

async function stopDaemon(d) {
  if (d.scraper !== undefined) clearInterval(d.scraper);
  await stopProcess(d.proc, 5000);
}

/** iscsi-perf: the last "iops average N" it printed (the whole run's average). */
async function iscsiPerf(d, url, { qd, random, blocks, initiator }, secs) {
  const args = ['-i', initiator, '-m', String(qd), '-b', String(blocks)];
  if (random) args.push('-r');
  const r = await runFor('iscsi-perf', [...args, url], secs);
  const all = [...r.out.matchAll(/iops average (\d+)/g)];
  if (all.length === 0) throw new Error(`iscsi-perf against ${d.kind}: ${r.out.slice(-400)}`);
  return Number(all[all.length - 1][1]);
}

/** qemu-img bench: MB/s (requests of 64 KiB and more) or IOPS of `count` requests of `size` bytes at queue depth `qd`. */
async function qemuBench(d, url, { write, size, qd, count, step, offset }) {
  const args = ['bench', '-f', 'raw', '-t', 'none', '-c', String(count), '-d', String(qd), '-s', String(size)];
  if (write) args.push('-w');
  if (step) args.push('-S', String(step));
  if (offset) args.push('-o', String(offset));
  const r = await runFor('qemu-img', [...args, url], 0);
  const m = /Run completed in ([\d.]+) seconds/.exec(r.out);
  if (r.code !== 0 || !m) throw new Error(`qemu-img bench against ${d.kind}: ${r.out.slice(-400)}`);
  const secs = Number(m[1]);
  return size >= 65536 ? (count * size) / secs / 1e6 : count / secs;
}

/**
 * Every case, by key. `count` cases (qemu-img bench) run a fixed number of requests, scaled by
 * --scale (the smoke mode's 0.01); the others run for --secs. `lun` 2 is the null store (protocol
 * cost alone). `sessions` > 1 runs that many clients at once, each its own session, and sums them.
 */
const CASES = [
  { key: 'r4k-seq-qd1', name: '4k seq read QD1 (IOPS)', unit: 'µs/IO', perf: { qd: 1, random: false } },
  { key: 'r4k-seq-qd32', name: '4k seq read QD32 (IOPS)', unit: 'µs/IO', perf: { qd: 32, random: false } },
  { key: 'r4k-rand-qd1', name: '4k rand read QD1 (IOPS)', unit: 'µs/IO', perf: { qd: 1, random: true } },
  { key: 'r4k-rand-qd32', name: '4k rand read QD32 (IOPS)', unit: 'µs/IO', perf: { qd: 32, random: true } },
  { key: 'w4k-seq-qd32', name: '4k seq write QD32 (IOPS)', unit: 'µs/IO', qemu: { write: true, size: 4096, qd: 32, count: 100000 } },
  { key: 'w4k-seq-qd1', name: '4k seq write QD1 (IOPS)', unit: 'µs/IO', qemu: { write: true, size: 4096, qd: 1, count: 20000 } },
  // qemu-img bench has no random mode: a step of 4 MiB + 4 KiB scatters consecutive writes over the LUN.
  { key: 'w4k-rand-qd1', name: '4k scattered write QD1 (IOPS)', unit: 'µs/IO', qemu: { write: true, size: 4096, qd: 1, count: 20000, step: 4198400 } },
  { key: 'r1m-qd8', name: '1M seq read QD8 (MB/s)', unit: 'µs/MB', qemu: { write: false, size: 1 << 20, qd: 8, count: 1024 } },
  { key: 'w1m-qd8', name: '1M seq write QD8 (MB/s)', unit: 'µs/MB', qemu: { write: true, size: 1 << 20, qd: 8, count: 1024 } },
  { key: 'w64k-qd16', name: '64k seq write QD16 (MB/s)', unit: 'µs/MB', qemu: { write: true, size: 65536, qd: 16, count: 8192 } },
  { key: 'null-r4k-qd32', name: 'null store: 4k rand read QD32 (IOPS)', unit: 'µs/IO', lun: 2, perf: { qd: 32, random: true } },
  { key: 'null-r4k-qd1', name: 'null store: 4k rand read QD1 (IOPS)', unit: 'µs/IO', lun: 2, perf: { qd: 1, random: true } },
  { key: 'null-w4k-qd32', name: 'null store: 4k write QD32 (IOPS)', unit: 'µs/IO', lun: 2, qemu: { write: true, size: 4096, qd: 32, count: 100000 } },
  { key: 'null-w4k-qd1', name: 'null store: 4k write QD1 (IOPS)', unit: 'µs/IO', lun: 2, qemu: { write: true, size: 4096, qd: 1, count: 20000 } },
  // The protocol's cost of large writes alone (no page-cache copy): what limits w1m-qd8 and w64k-qd16.
  { key: 'null-w64k-qd16', name: 'null store: 64k write QD16 (MB/s)', unit: 'µs/MB', lun: 2, qemu: { write: true, size: 65536, qd: 16, count: 8192 } },
  { key: 'null-w1m-qd8', name: 'null store: 1M write QD8 (MB/s)', unit: 'µs/MB', lun: 2, qemu: { write: true, size: 1 << 20, qd: 8, count: 1024 } },
  { key: 's4-r4k-qd32', name: '4 sessions: 4k rand read QD32 each (IOPS, sum)', unit: 'µs/IO', sessions: 4, perf: { qd: 32, random: true } },
  { key: 's4-w4k-qd32', name: '4 sessions: 4k seq write QD32 each (IOPS, sum)', unit: 'µs/IO', sessions: 4, qemu: { write: true, size: 4096, qd: 32, count: 25000 } },
  // The s4 cases with one target per session (4 targets sharing LUN 1's file): what tgtd --workers spreads.
  { key: 's4t-r4k-qd32', name: '4 targets, 1 session each: 4k rand read QD32 (IOPS, sum)', unit: 'µs/IO', sessions: 4, targets: 4, perf: { qd: 32, random: true } },
  { key: 's4t-w4k-qd32', name: '4 targets, 1 session each: 4k seq write QD32 (IOPS, sum)', unit: 'µs/IO', sessions: 4, targets: 4, qemu: { write: true, size: 4096, qd: 32, count: 25000 } },
];

/** Groups for --cases: perf (iscsi-perf), qemu (qemu-img bench), all, or a comma list of keys. */
function buildCases(which, scale) {
  let list;
  if (which === 'all') list = CASES;
  else if (which === 'perf') list = CASES.filter((c) => c.perf && !c.lun && !c.sessions);
  else if (which === 'qemu') list = CASES.filter((c) => c.qemu && !c.lun && !c.sessions);
  else if (which === 'null') list = CASES.filter((c) => c.lun === 2);
  else {
    const keys = which.split(',');
    for (const k of keys) if (!CASES.some((c) => c.key === k)) throw new Error(`unknown case ${k} (known: ${CASES.map((c) => c.key).join(', ')})`);
    list = CASES.filter((c) => keys.includes(c.key));
  }
  return list.map((c) => ({
    ...c,
    run: async (d, secs) => {
      const one = (i) => {
        const url = c.lun === 2 ? d.nullUrl : c.targets ? d.targetUrls[i % c.targets] : d.url;
        if (c.perf) return iscsiPerf(d, url, { ...c.perf, blocks: 8, initiator: `${INITIATOR}${i}` }, secs);
        const count = Math.max(c.qemu.qd, Math.round(c.qemu.count * scale));
        // Each concurrent client writes its own quarter (its own offset) of the LUN.
        const offset = c.sessions ? i * (LUN_SIZE / c.sessions) : 0;
        return qemuBench(d, url, { ...c.qemu, count, offset });
      };
      const n = c.sessions ?? 1;
      const v = await Promise.all(Array.from({ length: n }, (_, i) => one(i)));
      return v.reduce((a, b) => a + b, 0);
    },
  }));
}

/** utime + stime of a daemon process, all threads (/proc/<pid>/stat fields 14 and 15, in clock ticks). */
function cpuSeconds(d) {
  return cpuOf(d.proc.pid);
}

/** The 1-minute load average (other people's jobs on a shared machine). */
function loadavg() {
  return readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
}

/**
 * The loopback ceiling: iperf3, one TCP stream over 127.0.0.1 for `secs`, in GB/s of received data
 * (null where iperf3 is not installed).
 */
async function iperf3(secs) {
  if (spawnSync('iperf3', ['--version']).status !== 0) return null;
  const port = await freePort();
  const server = spawn('iperf3', ['-s', '-1', '-B', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  try {
    for (let i = 0; i < 50; i++) {
      const r = await runFor('iperf3', ['-c', '127.0.0.1', '-p', String(port), '-t', String(Math.max(1, secs)), '-J'], 0);
      let bps;
      try {
        bps = JSON.parse(r.out).end?.sum_received?.bits_per_second;
      } catch {
        /* not JSON: no result */
      }
      if (r.code === 0 && typeof bps === 'number') return bps / 8e9;
      await sleep(200); // the server is not listening yet
    }
    return null;
  } finally {
    await stopProcess(server, 1000);
  }
}

/** Every run's figure, then how many failed (their reasons are on stderr). */
function runsText(runs, failures) {
  const t = runs.map(fmt).join(' ');
  return failures.length === 0 ? t : `${t}${t === '' ? '' : ' '}(${failures.length} failed)`;
}

function fmt(x) {
  if (!Number.isFinite(x)) return '-';
  return x >= 100 ? String(Math.round(x)) : x.toFixed(1);
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const dir = mkdtempSync(join(tmpdir(), 'stgt-bench-'));
  const kinds = o.only ? [o.only] : ['stgt', 'tgt'];
  const daemons = [];
  const cases = buildCases(o.cases, o.scale);
  /** results[case][kind] = number[] */
  const results = cases.map(() => ({ stgt: [], tgt: [] }));
  const costs = cases.map(() => ({ stgt: [], tgt: [] }));
  /** failed[case][kind] = why each failed run failed (a client error must not lose the whole table). */
  const failed = cases.map(() => ({ stgt: [], tgt: [] }));
  // An interrupted bench (Ctrl-C, timeout) must not leave daemons behind.
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, () => {
      for (const d of daemons) d.proc.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      process.exit(130);
    });
  }
  const load0 = loadavg();
  let ceiling = null;
  try {
    if (o.iperf) ceiling = await iperf3(o.secs);
    o.extraTargets = Math.max(0, ...cases.map((c) => (c.targets ?? 1) - 1));
    for (const k of kinds) await startBenchDaemon(k, dir, o, daemons);
    for (let round = 0; round < o.rounds; round++) {
      for (let ci = 0; ci < cases.length; ci++) {
        // Alternate which daemon goes first so drift in machine load hits both alike.
        const order = (round + ci) % 2 === 0 ? daemons : [...daemons].reverse();
        for (const d of order) {
          const c0 = cpuSeconds(d);
          const w0 = performance.now();
          let v;
          try {
            v = await cases[ci].run(d, o.secs);
          } catch (e) {
            const why = (e instanceof Error ? e.message : String(e)).replace(/\s+/g, ' ').slice(0, 300);
            failed[ci][d.kind].push(why);
            process.stderr.write(`round ${round + 1} ${cases[ci].name} ${d.kind}: FAILED: ${why}\n`);
            continue;
          }
          const wall = (performance.now() - w0) / 1000;
          // Daemon CPU (all threads) per unit of work: robust to a noisy machine, unlike throughput.
          const cost = ((cpuSeconds(d) - c0) / (v * wall)) * 1e6;
          results[ci][d.kind].push(v);
          costs[ci][d.kind].push(cost);
          process.stderr.write(`round ${round + 1} ${cases[ci].name} ${d.kind}: ${fmt(v)} (cpu ${cost.toFixed(1)} ${cases[ci].unit})\n`);
        }
      }
    }
  } finally {
    for (const d of daemons) await stopDaemon(d);
    rmSync(dir, { recursive: true, force: true });
  }
  const load1 = loadavg();
  const rows = cases.map((c, i) => {
    const s = median(results[i].stgt);
    const t = median(results[i].tgt);
    return {
      key: c.key, case: c.name, stgt: s, tgt: t, ratio: s / t, stgtRuns: results[i].stgt, tgtRuns: results[i].tgt,
      unit: c.unit, stgtCpu: median(costs[i].stgt), tgtCpu: median(costs[i].tgt),
      stgtFailed: failed[i].stgt, tgtFailed: failed[i].tgt,
    };
  });
  if (o.json) {
    console.log(JSON.stringify({ load: [load0, load1], iperf3GBps: ceiling, rows }, null, 2));
    return;
  }
  const other = o.metrics ? 'stgt --metrics' : o.vsArgs !== null ? `stgt ${o.vsArgs.join(' ')}` : 'tgt';
  const head = ['case', 'stgt', other, `stgt/${other}`, 'stgt runs', `${other} runs`, 'daemon CPU stgt', `daemon CPU ${other}`];
  const body = rows.map((r) => [
    r.case, fmt(r.stgt), fmt(r.tgt), Number.isFinite(r.ratio) ? r.ratio.toFixed(2) : '-',
    runsText(r.stgtRuns, r.stgtFailed), runsText(r.tgtRuns, r.tgtFailed),
    Number.isFinite(r.stgtCpu) ? `${r.stgtCpu.toFixed(1)} ${r.unit}` : '-',
    Number.isFinite(r.tgtCpu) ? `${r.tgtCpu.toFixed(1)} ${r.unit}` : '-',
  ]);
  console.log(`medians of ${o.rounds} interleaved rounds (${o.secs} s per iscsi-perf run); load average ${load0} at the start, ${load1} at the end`);
  if (ceiling !== null) console.log(`ceiling: iperf3 over 127.0.0.1, one stream, ${ceiling.toFixed(2)} GB/s`);
  const scraped = daemons.find((d) => d.scrapes !== undefined);
  if (scraped !== undefined) console.log(`stgt --metrics: scraped ${scraped.scrapes} times (once a second) during the runs`);
  console.log(`| ${head.join(' | ')} |`);
  console.log(`|${head.map(() => '---').join('|')}|`);
  for (const b of body) console.log(`| ${b.join(' | ')} |`);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
