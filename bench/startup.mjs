#!/usr/bin/env node
// Start-up costs (issue 14 item 5): one `tgtadm --mode target --op show` call and tgtd's time to ready, stgt against `node -e 0` and Debian's tgt.
//
//   node bench/startup.mjs [--runs 30] [--prefix DIR]
//
// The checkout's bin/tgtadm (ES modules from dist/) is measured; with --prefix DIR also the tgtadm of
// an `npm install -g --prefix DIR stgt-*.tgz` (bin/tgtadm.cjs: one CommonJS bundle, lib/tgtadm.bundle.js, with a V8 code cache), and then
// tgtd's time to ready is the installed one's.
// Runs are interleaved (a, b, c, a, b, c, ...) so load drifts hit every command alike; medians of
// wall time. tgtd "ready": stgt's logs "tgtd ready" (after every --lld/--bstype load, the socket
// listening); tgt's has its management socket accepting.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
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
const prefix = opt('--prefix', undefined);
const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const stgtTgtd = prefix !== undefined ? [join(prefix, 'bin', 'tgtd')] : [process.execPath, join(repo, 'bin', 'tgtd')];
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

/** Starts a daemon, returns ms until ready, stops it. */
async function timeReady(kind, control) {
  const port = await freePort();
  const cmd = kind === 'stgt' ? [...stgtTgtd, '-f', '-C', String(control), '--iscsi', `portal=127.0.0.1:${port}`]
    : ['/usr/sbin/tgtd', '-f', '-C', String(control), '--iscsi', `portal=127.0.0.1:${port}`];
  const t0 = process.hrtime.bigint();
  const p = spawn(cmd[0], cmd.slice(1), { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  let t = -1;
  await new Promise((res, rej) => {
    p.on('exit', (c) => rej(new Error(`${kind} tgtd exited ${c}: ${log}`)));
    if (kind === 'stgt') {
      p.stderr.setEncoding('utf8').on('data', (d) => {
        log += d;
        if (t < 0 && /tgtd ready/.test(log)) { t = ms(t0); res(); }
      });
    } else {
      p.stderr.setEncoding('utf8').on('data', (d) => (log += d));
      const poll = async () => {
        while (!(await canConnect(`${sock}.${control}`))) await sleep(1);
        t = ms(t0);
        res();
      };
      void poll();
    }
  });
  p.removeAllListeners('exit');
  await stopProcess(p, 5000);
  return t;
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

  const ready = { stgt: [], tgt: [] };
  const haveTgt = existsSync('/usr/sbin/tgtd');
  for (let i = 0; i < Math.min(runs, 15); i++) {
    ready.stgt.push(await timeReady('stgt', control + 1));
    if (haveTgt) ready.tgt.push(await timeReady('tgt', control + 2));
  }
  const load = spawnSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).stdout.trim();
  console.log(`runs ${runs}, load ${load}, ${prefix !== undefined ? `installed package ${prefix}` : 'checkout bin/'}`);
  for (const [k, v] of Object.entries(times)) console.log(`${k.padEnd(26)} median ${median(v).toFixed(1)} ms  min ${Math.min(...v).toFixed(1)} ms`);
  for (const [k, v] of Object.entries(ready)) {
    if (v.length > 0) console.log(`${`${k} tgtd to ready`.padEnd(26)} median ${median(v).toFixed(1)} ms  min ${Math.min(...v).toFixed(1)} ms`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
