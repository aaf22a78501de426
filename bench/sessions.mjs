#!/usr/bin/env node
// Session-count benchmark (issue 10 item 6): many logged-in idle sessions against stgt's tgtd and Debian's, RSS per session, login rate, a busy session's latency.
//
// For each daemon and each session count, a fresh daemon (target 1, LUN 1 on a 1 GiB sparse file)
// gets: one warm-up login/logout; a busy session's 4 KiB random-read rate at QD1 (iscsi-perf -m 1
// -r, --secs) with no other session; its RSS (VmRSS); then N raw-PDU logins (test/helpers'
// MiniInitiator from the compiled tree, each its own ISID, --concurrency at a time), the login
// rate; the sessions stay idle for --hold seconds; RSS again (per idle session = growth / N); the
// same busy session's rate with the N idle ones present; every idle session must still be up.
// RLIMIT_NOFILE is raised (prlimit) for this process and the daemon.
//
// Usage: node bench/sessions.mjs [--sessions 1000,10000] [--hold 60] [--secs 5] [--concurrency 64]
//                                [--only stgt|tgt] [--dist <dir>] [--json] [--smoke]
// --smoke: 20 sessions, 1 s hold, 2 s busy runs (test/bench/smoke.test.ts). Never asserts speed.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { runFor, sleep, startDaemon, stopProcess } from './lib.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const IQN = 'iqn.2026-01.org.stgt.bench:sessions';
const INITIATOR = 'iqn.2026-01.org.stgt.bench:idle';

function parseArgs(argv) {
  const o = { sessions: [1000, 10000], hold: 60, secs: 5, concurrency: 64, only: null, dist: resolve(HERE, '..', 'dist'), json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => argv[++i];
    if (a === '--sessions') o.sessions = v().split(',').map(Number);
    else if (a === '--hold') o.hold = Number(v());
    else if (a === '--secs') o.secs = Number(v());
    else if (a === '--concurrency') o.concurrency = Number(v());
    else if (a === '--only') o.only = v();
    else if (a === '--dist') o.dist = resolve(v());
    else if (a === '--json') o.json = true;
    else if (a === '--smoke') Object.assign(o, { sessions: [20], hold: 1, secs: 2 });
    else {
      console.error(`unknown option ${a}`);
      process.exit(2);
    }
  }
  return o;
}

/** Raises RLIMIT_NOFILE of `pid` (soft and hard; root may raise the hard limit). */
function raiseNoFile(pid, n) {
  const r = spawnSync('prlimit', ['--pid', String(pid), `--nofile=${n}:${n}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`prlimit --nofile=${n} for ${pid}: ${r.stderr}`);
}

/** Resident set size of a process in KiB (/proc/<pid>/status VmRSS). */
function rssKiB(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

/** A busy session: 4 KiB random reads at QD1 for `secs` (IOPS; the mean latency is 1e6 / IOPS µs). */
async function busyRate(d, secs) {
  const url = `iscsi://127.0.0.1:${d.port}/${IQN}/1`;
  const r = await runFor('iscsi-perf', ['-i', `${INITIATOR}-busy`, '-m', '1', '-b', '8', '-r', url], secs);
  const all = [...r.out.matchAll(/iops average (\d+)/g)];
  if (all.length === 0) throw new Error(`iscsi-perf against ${d.kind}: ${r.out.slice(-400)}`);
  return Number(all[all.length - 1][1]);
}

/** Logs in `n` sessions, `concurrency` at a time; each has its own ISID. */
async function loginAll(MiniInitiator, d, n, concurrency) {
  const out = [];
  let next = 0;
  const one = async () => {
    for (;;) {
      const i = next++;
      if (i >= n) return;
      const m = await MiniInitiator.connect(d.port);
      // ISID: type 0x80 (random) with the session's index, so no two sessions reinstate each other.
      m.isid = Buffer.from([0x80, 0x00, (i >>> 24) & 0xff, (i >>> 16) & 0xff, (i >>> 8) & 0xff, i & 0xff]);
      await m.login(IQN, INITIATOR);
      out.push(m);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, one));
  return out;
}

async function measure(kind, n, o, dir, MiniInitiator) {
  const started = [];
  try {
    const d = await startDaemon(kind, dir, { dist: o.dist, iqn: IQN, luns: [{ lun: 1, size: 1 << 30 }], started });
    raiseNoFile(d.proc.pid, n + 1024);
    // Warm-up: the first login's code and structures are not per session.
    const w = await loginAll(MiniInitiator, d, 1, 1);
    w[0].close();
    // The busy session first, so what its I/O path allocates is in the baseline too.
    const busy0 = await busyRate(d, o.secs);
    await sleep(500);
    const rss0 = rssKiB(d.proc.pid);
    const t0 = performance.now();
    const idle = await loginAll(MiniInitiator, d, n, o.concurrency);
    const loginSecs = (performance.now() - t0) / 1000;
    const rssLoggedIn = rssKiB(d.proc.pid);
    await sleep(o.hold * 1000);
    const rssHeld = rssKiB(d.proc.pid);
    const busyN = await busyRate(d, o.secs);
    const lost = idle.filter((m) => m.closed).length;
    for (const m of idle) m.close();
    return {
      kind, sessions: n, loginsPerSec: n / loginSecs, rssBaseKiB: rss0, rssLoggedInKiB: rssLoggedIn, rssHeldKiB: rssHeld,
      kibPerSession: (rssHeld - rss0) / n, busyIops: busy0, busyIopsWithIdle: busyN, lostSessions: lost,
    };
  } finally {
    for (const d of started) await stopProcess(d.proc, 5000);
  }
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const max = Math.max(...o.sessions);
  raiseNoFile(process.pid, max + 1024);
  const { MiniInitiator } = await import(pathToFileURL(join(o.dist, 'test', 'helpers', 'mini-initiator.js')).href);
  const dir = mkdtempSync(join(tmpdir(), 'stgt-sessions-'));
  const kinds = o.only ? [o.only] : ['stgt', 'tgt'];
  const rows = [];
  try {
    for (const n of o.sessions) {
      for (const kind of kinds) {
        const r = await measure(kind, n, o, dir, MiniInitiator);
        process.stderr.write(`${kind} ${n} sessions: ${r.kibPerSession.toFixed(1)} KiB each, ${r.loginsPerSec.toFixed(0)} logins/s, busy ${r.busyIops} -> ${r.busyIopsWithIdle} IOPS, lost ${r.lostSessions}\n`);
        rows.push(r);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
  if (o.json) {
    console.log(JSON.stringify({ load, hold: o.hold, rows }, null, 2));
    return;
  }
  console.log(`idle sessions held ${o.hold} s; busy session: iscsi-perf -m 1 -r, ${o.secs} s; load average ${load} at the end`);
  console.log('| daemon | sessions | logins/s | RSS before | RSS logged in | RSS after hold | per idle session | busy QD1 IOPS alone | with the idle ones | sessions lost |');
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.kind} | ${r.sessions} | ${r.loginsPerSec.toFixed(0)} | ${(r.rssBaseKiB / 1024).toFixed(1)} MiB | ${(r.rssLoggedInKiB / 1024).toFixed(1)} MiB | ${(r.rssHeldKiB / 1024).toFixed(1)} MiB | ${r.kibPerSession.toFixed(1)} KiB | ${r.busyIops} | ${r.busyIopsWithIdle} | ${r.lostSessions} |`);
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.stack : e);
  process.exitCode = 1;
});
