#!/usr/bin/env node
// Start-up costs (issue 14 item 5): one `tgtadm --mode target --op show` call and tgtd's time to ready, stgt against `node -e 0` and Debian's tgt.
//
//   node bench/startup.mjs [--runs 30] [--ready-runs 15] [--prefix DIR]
//
// The checkout's bin/tgtadm (ES modules from dist/) is measured; with --prefix DIR also the tgtadm of
// an `npm install -g --prefix DIR stgt-*.tgz` (bin/tgtadm.cjs: one CommonJS bundle, lib/tgtadm.bundle.js, with a V8 code cache), and
// the installed tgtd (bin/tgtd.cjs: CommonJS from lib/cjs/) beside the checkout's (ES modules from dist/).
// Runs are interleaved (a, b, c, a, b, c, ...) so load drifts hit every command alike; medians of
// wall time, and for tgtd also its CPU time to ready (user+sys of all its threads, from
// /proc/PID/task/*/schedstat, read when it is ready). tgtd "ready": stgt's logs "tgtd ready"
// (after every --lld/--bstype load, the socket listening); tgt's has its management socket accepting.
// For tgtadm's CPU time use bench/cputime.py (wait4's rusage).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TGTADM, freePort, median, sleep, stopProcess } from './lib.mjs';

const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : dflt;
};
const runs = Number(opt('--runs', '30'));
const readyRuns = Number(opt('--ready-runs', String(Math.min(runs, 15))));
const prefix = opt('--prefix', undefined);
const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const checkoutTgtd = [process.execPath, join(repo, 'bin', 'tgtd')];
const stgtTgtd = prefix !== undefined ? [join(prefix, 'bin', 'tgtd')] : checkoutTgtd;
const dir = mkdtempSync(join(tmpdir(), 'stgt-startup-'));
const sock = join(dir, 'socket');
const env = { ...process.env, TGT_IPC_SOCKET: sock };

const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;

function timeCall(cmd) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd[0], cmd.slice(1), { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const t = ms(t0);
  if (r.status !== 0) throw new Error(`${cmd.join(' ')} exited ${r.status}: ${r.stderr}`);
  return t;
}

const canConnect = (path) => new Promise((res) => {
  const s = connect(path);
  s.once('connect', () => { s.destroy(); res(true); });
  s.once('error', () => res(false));
});

/** CPU time (ms) of every thread of process `pid` so far (schedstat: ns on the CPU). */
function cpuMs(pid) {
  let ns = 0;
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
    } catch { /* the thread ended */ }
  }
  return ns / 1e6;
}

/** Starts a daemon (`cmd` or Debian's), returns { wall, cpu } ms until ready, stops it. */
async function timeReady(cmd, control) {
  const port = await freePort();
  const stgt = cmd !== null;
  const argv = [...(cmd ?? ['/usr/sbin/tgtd']), '-f', '-C', String(control), '--iscsi', `portal=127.0.0.1:${port}`];
  const t0 = process.hrtime.bigint();
  const p = spawn(argv[0], argv.slice(1), { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  let t = -1;
  let cpu = -1;
  const ready = () => {
    cpu = cpuMs(p.pid);
    t = ms(t0);
  };
  await new Promise((res, rej) => {
    p.on('exit', (c) => rej(new Error(`${argv.join(' ')} exited ${c}: ${log}`)));
    if (stgt) {
      p.stderr.setEncoding('utf8').on('data', (d) => {
        log += d;
        if (t < 0 && /tgtd ready/.test(log)) { ready(); res(); }
      });
    } else {
      p.stderr.setEncoding('utf8').on('data', (d) => (log += d));
      const poll = async () => {
        while (!(await canConnect(`${sock}.${control}`))) await sleep(1);
        ready();
        res();
      };
      void poll();
    }
  });
  p.removeAllListeners('exit');
  await stopProcess(p, 5000);
  return { wall: t, cpu };
}

try {
  // A daemon for the tgtadm calls (stgt's own; both clients speak to it).
  const control = 100 + (process.pid % 800);
  const port = await freePort();
  const d = spawn(stgtTgtd[0], [...stgtTgtd.slice(1), '-f', '-C', String(control), '--iscsi', `portal=127.0.0.1:${port}`, '--demo'],
    { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let dlog = '';
  d.stderr.setEncoding('utf8').on('data', (s) => (dlog += s));
  while (!/tgtd ready/.test(dlog)) await sleep(10);
  const show = ['-C', String(control), '--mode', 'target', '--op', 'show'];
  const cmds = {
    'node -e 0': [process.execPath, '-e', '0'],
    'stgt tgtadm (checkout)': [process.execPath, join(repo, 'bin', 'tgtadm'), ...show],
    ...(prefix !== undefined ? { 'stgt tgtadm (installed)': [join(prefix, 'bin', 'tgtadm'), ...show] } : {}),
    'tgt tgtadm show': [TGTADM, ...show],
  };
  const times = Object.fromEntries(Object.keys(cmds).map((k) => [k, []]));
  for (let i = 0; i < runs; i++) for (const [k, c] of Object.entries(cmds)) times[k].push(timeCall(c));
  await stopProcess(d, 5000);

  const daemons = {
    'stgt tgtd, ES modules (checkout)': checkoutTgtd,
    ...(prefix !== undefined ? { 'stgt tgtd, installed (CommonJS)': stgtTgtd } : {}),
    ...(existsSync('/usr/sbin/tgtd') ? { 'tgt tgtd': null } : {}),
  };
  const ready = Object.fromEntries(Object.keys(daemons).map((k) => [k, { wall: [], cpu: [] }]));
  for (let i = 0; i < readyRuns; i++) {
    let n = 1;
    for (const [k, c] of Object.entries(daemons)) {
      const r = await timeReady(c, control + n++);
      ready[k].wall.push(r.wall);
      ready[k].cpu.push(r.cpu);
    }
  }
  const load = readFileSync('/proc/loadavg', 'utf8').trim();
  console.log(`runs ${runs} (tgtd ${readyRuns}), load ${load}, ${prefix !== undefined ? `installed package ${prefix}` : 'checkout bin/'}`);
  for (const [k, v] of Object.entries(times)) console.log(`${k.padEnd(34)} wall median ${median(v).toFixed(1)} ms  min ${Math.min(...v).toFixed(1)} ms`);
  for (const [k, v] of Object.entries(ready)) {
    console.log(`${`${k} to ready`.padEnd(34)} wall median ${median(v.wall).toFixed(1)} ms  min ${Math.min(...v.wall).toFixed(1)} ms | CPU median ${median(v.cpu).toFixed(1)} ms  min ${Math.min(...v.cpu).toFixed(1)} ms`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
