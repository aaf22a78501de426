// Fault tests (issue 9 item 4.4): thousands of TCP connections that never log in (silent, or stopped after half a BHS) against the real tgtd.
//
// While 5,000 silent and 1,000 half-BHS connections are held open, tgtd must keep answering
// tgtadm and serve a real session (ScsiClient I/O and libiscsi's iscsi-inq); once the client
// closes them (half with FIN, half with RST) tgtd's sockets and memory come back. A second
// daemon with `--iscsi login_timeout=2` closes such connections itself.
//
// File descriptors: Node raises its soft RLIMIT_NOFILE to the hard limit at start, in this test
// process and in tgtd alike, so the hard limit (`ulimit -Hn`) is what counts; the test scales the
// counts down when it is too low for both ends and says so, rather than failing on EMFILE.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { iscsiUrl, run, TestDaemon, waitFor } from '../helpers/daemon.js';
import { collectGarbage, INSPECT_ENV, inspectorUrl } from '../helpers/inspector-gc.js';
import { assertAlive, assertNoLeaks, baseline, fds, nexusCount, rssMiB, tcpConnections } from '../helpers/leaks.js';
import { ScsiClient } from '../helpers/scsi-client.js';

const IQN = 'iqn.2026-11.org.stgt.test:faults-connections';
const daemons: TestDaemon[] = [];
const held: net.Socket[] = [];
after(() => {
  held.forEach((s) => s.destroy());
  daemons.forEach((d) => d.kill());
});

/** Soft limit on open files of this process (after Node raised it to the hard limit). */
function openFileLimit(): number {
  const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
  const soft = line === undefined ? NaN : Number(line.split(/\s{2,}/)[1]);
  return Number.isFinite(soft) ? soft : 1024;
}

const LIMIT = openFileLimit();
/** Room left for everything else each process has open (tgtd: listeners, files, IPC; us: the runner). */
const SPARE = 300;
const scale = Math.min(1, (LIMIT - SPARE) / 6000);
const SILENT = Math.floor(5000 * scale);
const HALF = Math.floor(1000 * scale);
if (scale < 1) console.log(`open file limit ${LIMIT}: ${SILENT} silent + ${HALF} half-BHS connections instead of 5000 + 1000`);

/** A Login Request BHS cut after 24 of its 48 bytes (RFC 7143 11.12: opcode 43h, T/CSG/NSG, ISID...). */
const HALF_BHS = (() => {
  const b = Buffer.alloc(24);
  b[0] = 0x43;
  b[1] = 0x81;
  b.writeUIntBE(64, 5, 3); // a data segment follows, it never will
  Buffer.from([0x80, 0, 0, 0, 0, 1]).copy(b, 8);
  return b;
})();

/** Sockets this test closed itself (their 'close' is not the target's doing). */
const ours = new WeakSet<net.Socket>();

interface Held {
  socks: net.Socket[];
  /** How many the target closed (it should not, before we do, without a login timeout). */
  closedByTarget(): number;
}

/** Opens `n` connections, `parallel` connects at a time; `first` (if given) is written on each. */
async function openMany(port: number, n: number, first?: Buffer, parallel = 200): Promise<Held> {
  const socks: net.Socket[] = [];
  let closed = 0;
  let started = 0;
  const one = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port });
      s.once('error', reject);
      s.once('connect', () => {
        s.removeListener('error', reject);
        s.on('error', () => undefined);
        s.on('close', () => {
          if (!ours.has(s)) closed++;
        });
        if (first !== undefined) s.write(first);
        socks.push(s);
        held.push(s);
        resolve();
      });
    });
  const worker = async (): Promise<void> => {
    while (started < n) {
      started++;
      await one();
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, n) }, worker));
  return { socks, closedByTarget: () => closed };
}

/** Closes our sockets: even indexes with a FIN (end), odd ones with an RST. */
function closeAll(h: Held): void {
  h.socks.forEach((s, i) => {
    ours.add(s);
    if (i % 2 === 0) s.end(() => s.destroy());
    else s.resetAndDestroy();
  });
}

/** A real session on the side: login, TEST UNIT READY, 1 MiB written and read back; then logout by close. */
async function realSession(d: TestDaemon, name: string): Promise<number> {
  const t0 = Date.now();
  const c = await ScsiClient.login(d.iscsiPort, IQN, `iqn.2026-11.org.stgt.test:${name}`);
  try {
    await c.clearUa(1);
    const data = Buffer.alloc(1 << 20);
    for (let i = 0; i < data.length; i += 4) data.writeUInt32LE(i ^ 0x5a5a5a5a, i);
    assert.equal((await c.write16(1, 0, data)).status, 0);
    const r = await c.read16(1, 0, 2048);
    assert.equal(r.status, 0);
    assert.ok(r.data.equals(data), 'the real session reads back its data');
    assert.ok((await nexusCount(d)) >= 1, 'its I_T nexus is listed');
  } finally {
    c.close();
  }
  return Date.now() - t0;
}

test(`${SILENT} silent + ${HALF} half-BHS connections held open: tgtadm and a real session are served; closed by the client, all comes back`,
  { timeout: 120_000 }, async () => {
    // No login timeout here: the client decides when these connections end.
    const d = await TestDaemon.start({ args: ['--iscsi', 'login_timeout=0'], env: INSPECT_ENV });
    daemons.push(d);
    await d.addTarget(1, IQN);
    await d.addLun(1, 1, '64M', ['--bstype', 'memory']);
    const idle = baseline(d);
    await realSession(d, 'warm-up'); // the first session's allocations are not a leak
    await assertNoLeaks(d, idle);
    await collectGarbage(inspectorUrl(d.stderr)!);
    // Sockets counted before the GC (its inspector connection is not tgtd's), RSS after it.
    const base = { sockets: idle.sockets, rss: rssMiB(d.pid) };

    const t0 = Date.now();
    const silent = await openMany(d.iscsiPort, SILENT);
    // Counted as established TCP connections on the portal: a socket count relative to the baseline
    // is off by one whenever a tgtadm connection was still closing when the baseline was taken.
    await waitFor(() => tcpConnections(d.pid, d.iscsiPort) >= SILENT, 30_000, `tgtd to accept ${SILENT} connections`);
    const half = await openMany(d.iscsiPort, HALF, HALF_BHS);
    await waitFor(() => tcpConnections(d.pid, d.iscsiPort) >= SILENT + HALF, 30_000, `tgtd to accept ${HALF} more`);
    const openMs = Date.now() - t0;

    // While they are all open: management and a real session work.
    const t1 = Date.now();
    const show = await d.tgtadmOk('--mode', 'target', '--op', 'show');
    assert.match(show, /^Target 1: iqn\.2026-11\.org\.stgt\.test:faults-connections$/m);
    await d.tgtadmOk('--mode', 'system', '--op', 'show');
    const tgtadmMs = Date.now() - t1;
    const sessionMs = await realSession(d, 'during-flood');
    const inq = await run('iscsi-inq', [iscsiUrl(d.iscsiPort, IQN, 1)], { timeoutMs: 30_000 });
    assert.equal(inq.code, 0, `iscsi-inq during the flood: ${inq.stderr}`);
    assert.match(inq.stdout, /Peripheral Device Type/i);
    const rssFlood = rssMiB(d.pid);
    const socketsFlood = fds(d.pid).sockets;
    assert.equal(silent.closedByTarget() + half.closedByTarget(), 0, 'tgtd closed none of them (login_timeout=0)');
    assertAlive(d);

    closeAll(silent);
    closeAll(half);
    const t2 = Date.now();
    const end = await assertNoLeaks(d, base, { timeoutMs: 30_000 });
    const closeMs = Date.now() - t2;
    const rssNoGc = rssMiB(d.pid);
    await collectGarbage(inspectorUrl(d.stderr)!);
    const rssGc = rssMiB(d.pid);
    // Per connection tgtd holds a socket, a TcpConnection and its read state: some KiB each.
    // After the client closed them and a GC, what is left is V8 heap that grew and is reused.
    assert.ok(rssGc - base.rss < 64, `tgtd RSS ${rssGc.toFixed(0)} MiB after the flood and a GC, idle was ${base.rss.toFixed(0)} MiB`);
    await realSession(d, 'after-flood');
    console.log(`${SILENT}+${HALF} connections: opened in ${openMs} ms; tgtadm show ${tgtadmMs} ms and a session ${sessionMs} ms ` +
      `while open; tgtd sockets ${base.sockets} -> ${socketsFlood} -> ${end.sockets} (${closeMs} ms to close), ` +
      `RSS ${base.rss.toFixed(0)} -> ${rssFlood.toFixed(0)} -> ${rssNoGc.toFixed(0)} (after GC ${rssGc.toFixed(0)}) MiB`);
    await d.stop();
  });

test('with login_timeout=2, tgtd itself closes 2000 silent and 500 half-BHS connections, and serves on', { timeout: 60_000 }, async () => {
  const d = await TestDaemon.start({ args: ['--iscsi', 'login_timeout=2'], env: INSPECT_ENV });
  daemons.push(d);
  await d.addTarget(1, IQN);
  await d.addLun(1, 1, '16M', ['--bstype', 'memory']);
  const base = baseline(d);
  const n = Math.min(2000, SILENT);
  const m = Math.min(500, HALF);
  const silent = await openMany(d.iscsiPort, n);
  const half = await openMany(d.iscsiPort, m, HALF_BHS);
  await waitFor(() => silent.closedByTarget() === n && half.closedByTarget() === m, 30_000,
    `tgtd to close all ${n + m} connections that never logged in (closed ${silent.closedByTarget() + half.closedByTarget()})`);
  const end = await assertNoLeaks(d, base, { timeoutMs: 15_000 });
  await collectGarbage(inspectorUrl(d.stderr)!);
  const rssGc = rssMiB(d.pid);
  assert.ok(rssGc - base.rss < 64, `tgtd RSS ${rssGc.toFixed(0)} MiB after the timeouts and a GC, idle was ${base.rss.toFixed(0)} MiB`);
  await realSession(d, 'after-timeouts');
  console.log(`login_timeout=2: ${n}+${m} connections closed by tgtd; sockets ${base.sockets} -> ${end.sockets}, ` +
    `RSS ${base.rss.toFixed(0)} -> ${end.rss.toFixed(0)} (after GC ${rssGc.toFixed(0)}) MiB`);
  await d.stop();
});
