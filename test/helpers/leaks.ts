// What a fault test checks after the fault: no I_T nexus left, tgtd alive, no uncaught error, sockets and RSS back (read from /proc of the daemon).

import assert from 'node:assert/strict';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { waitFor, type TestDaemon } from './daemon.js';

/** Resident set size of a process in MiB (/proc/PID/status VmRSS). */
export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m === null ? 0 : Number(m[1]) / 1024;
}

/**
 * Established TCP connections of process `pid` on its local `port` (the iSCSI portal): /proc/PID/net/tcp
 * and tcp6 rows in state 01 whose inode is one of the process's descriptors. Unlike fds().sockets
 * it does not count management (unix) connections, which tgtadm calls open and close around it.
 */
export function tcpConnections(pid: number, port: number): number {
  const mine = new Set<string>();
  for (const name of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${name}`));
      if (m !== null) mine.add(m[1]!);
    } catch {
      /* closed while we looked */
    }
  }
  let n = 0;
  for (const table of ['tcp', 'tcp6']) {
    let text = '';
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, 'utf8');
    } catch {
      continue; // no IPv6
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const local = f[1]!;
      if (f[3] === '01' && parseInt(local.slice(local.lastIndexOf(':') + 1), 16) === port && mine.has(f[9]!)) n++;
    }
  }
  return n;
}

/** Open file descriptors of a process, and how many of them are sockets (TCP, the IPC socket...). */
export function fds(pid: number): { total: number; sockets: number } {
  let total = 0;
  let sockets = 0;
  for (const name of readdirSync(`/proc/${pid}/fd`)) {
    total++;
    try {
      if (readlinkSync(`/proc/${pid}/fd/${name}`).startsWith('socket:')) sockets++;
    } catch {
      /* closed while we looked */
    }
  }
  return { total, sockets };
}

/** Number of I_T nexus lines in `tgtadm --mode target --op show`. */
export async function nexusCount(d: TestDaemon): Promise<number> {
  const out = await d.tgtadmOk('--mode', 'target', '--op', 'show');
  return (out.match(/^ {8}I_T nexus: \d+$/gm) ?? []).length;
}

/** tgtd is running and has logged no uncaught exception. */
export function assertAlive(d: TestDaemon): void {
  assert.ok(d.running, `tgtd exited:\n${d.stderr}`);
  assert.doesNotMatch(d.stderr, /uncaught/i, 'tgtd logged an uncaught exception');
}

export interface Baseline {
  sockets: number;
  rss: number;
}

/** Sockets and RSS of an idle daemon, to compare with after the fault. */
export function baseline(d: TestDaemon): Baseline {
  return { sockets: fds(d.pid).sockets, rss: rssMiB(d.pid) };
}

/**
 * Waits (with a deadline) until the clients are gone from tgtd's point of view: no I_T nexus is
 * listed and tgtd holds no more sockets than at `base`; then checks tgtd is alive and, when
 * `rssSlackMiB` is given, that its RSS is within that many MiB of the baseline. Returns the state.
 */
export async function assertNoLeaks(
  d: TestDaemon,
  base: Baseline,
  opts: { timeoutMs?: number; rssSlackMiB?: number } = {},
): Promise<{ nexus: number; sockets: number; rss: number }> {
  const timeoutMs = opts.timeoutMs ?? 15_000;
  await waitFor(async () => (await nexusCount(d)) === 0, timeoutMs, 'no I_T nexus in tgtadm --op show');
  await waitFor(() => fds(d.pid).sockets <= base.sockets, timeoutMs,
    `tgtd's sockets to return to ${base.sockets} (now ${fds(d.pid).sockets})`);
  assertAlive(d);
  const rss = rssMiB(d.pid);
  if (opts.rssSlackMiB !== undefined) {
    assert.ok(rss - base.rss < opts.rssSlackMiB,
      `tgtd RSS ${rss.toFixed(0)} MiB, ${(rss - base.rss).toFixed(0)} MiB above the baseline (limit ${opts.rssSlackMiB})`);
  }
  return { nexus: 0, sockets: fds(d.pid).sockets, rss };
}
