// Helpers shared by the benchmarks (bench/run.mjs, bench/rbd.mjs, bench/iser-vm.mjs): ports, tgtadm, timed runs, CPU, medians.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** Debian's tgtadm: the same IPC client for both daemons. */
export const TGTADM = '/usr/sbin/tgtadm';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => res(p));
    });
  });
}

/** tgtadm against daemon `d` ({ control, socket }): exit code and combined output. */
export function tgtadm(d, args) {
  const r = spawnSync(TGTADM, ['-C', String(d.control), ...args], {
    env: { ...process.env, TGT_IPC_SOCKET: d.socket },
    encoding: 'utf8',
  });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

/** Runs a program to its end (or SIGINT after `secs` when > 0): exit code, output and wall seconds. */
export function runFor(cmd, args, secs = 0) {
  return new Promise((res) => {
    const t0 = process.hrtime.bigint();
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.setEncoding('utf8').on('data', (s) => (out += s));
    p.stderr.setEncoding('utf8').on('data', (s) => (out += s));
    const t = secs > 0 ? setTimeout(() => p.kill('SIGINT'), secs * 1000) : null;
    p.on('exit', (code) => {
      if (t) clearTimeout(t);
      res({ code, out, secs: Number(process.hrtime.bigint() - t0) / 1e9 });
    });
  });
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
export async function stopProcess(proc, graceMs) {
  if (proc.exitCode !== null) return;
  const gone = new Promise((r) => proc.on('exit', r));
  proc.kill('SIGTERM');
  const t = setTimeout(() => proc.kill('SIGKILL'), graceMs);
  await gone;
  clearTimeout(t);
}

/** utime + stime of every thread of a process, in seconds (/proc/<pid>/stat fields 14 and 15). */
export function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return NaN;
  }
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return NaN;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}
