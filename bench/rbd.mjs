#!/usr/bin/env node
// RBD benchmark (issue 12 part 4): stgt's rbd store vs Debian tgt's bs_rbd vs `rbd bench`, on one prefilled 1 GiB image of a throw-away one-node Ceph.
//
// Starts a cluster with test/ceph/cluster.ts (compiled: dist/test/ceph/cluster.js), creates image
// rbd/bench and writes all of it (4 MiB sequential writes, so reads hit real objects, not holes
// that librbd's object map answers locally), then starts stgt's tgtd (--bstype ...,rbd) and Debian's
// /usr/sbin/tgtd (bs_rbd from tgt-rbd), each with LUN 1 = rbd/bench through Debian's tgtadm. Cases:
//
//   4k-randread   iscsi-perf -m 32 -b 8 -r (SIGINT after --secs)     | rbd bench read rand 4K, 32 threads
//   4k-randwrite  qemu-img bench -w -s 4K -d 32, scattered (*)        | rbd bench write rand 4K, 32 threads
//   1m-seqread    qemu-img bench -s 1M -d 8, 1 GiB                     | rbd bench read seq 1M, 8 threads, 1 GiB
//   1m-seqwrite   qemu-img bench -w -s 1M -d 8, 1 GiB                  | rbd bench write seq 1M, 8 threads, 1 GiB
//
// (*) libiscsi has no random-write client and fio's Debian build has no libiscsi engine: the writes
// step by 4 MiB + 4 KiB (-S), so consecutive writes land in different RADOS objects, as random
// writes on a 1 GiB image mostly do. rbd bench's random writes are the reference.
//
// Every case runs once per system per round; the order of the three systems rotates each round;
// the table shows medians and every run. Never part of npm test.
//
// The table also gives each target's CPU per I/O (all its threads, librbd's included, from /proc):
// on a shared machine IOPS follow the load, CPU per I/O much less. A second table splits the CPU
// of the whole path per I/O for every system: the client (iscsi-perf / qemu-img, or rbd bench with
// librbd; from this process's reaped-children times), the target, ceph-osd and ceph-mon. With every
// piece on the same cores, it bounds what an iSCSI path can reach against rbd bench.
//
// STGT_NODE_FLAGS='--cpu-prof --cpu-prof-dir=DIR' in the environment: node flags for stgt's tgtd (bench/lib.mjs).
// Usage: node bench/rbd.mjs [--rounds 3] [--secs 5] [--dist dist] [--cases 4k-randread,...] [--json]
//          [--client 'rbd cache=false,...']   Ceph client options for both targets and rbd bench (a [client] section)
//          [--variant 'LABEL:K=V,...']   a second stgt tgtd with environment K=V (e.g. 'thread:STGT_RBD_SUBMIT_THREAD=1'),
//                                        run in the same rotation as column "stgt LABEL"
//          [--variant-bsopts ';cache=librbd']   appended to the variant's bsopts (e.g. librbd's client cache on)
//          [--threads]   also print each target run's CPU per I/O by thread name (stgt's "node" is its loop thread,
//                        librbd's are msgr-worker-N and io_context_pool; tgt's own threads, workers included, are "tgtd")
import { spawnSync } from 'node:child_process';
import { cpuSeconds as cpuSecs, median, runFor, startDaemon, stopProcess } from './lib.mjs';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const IQN = 'iqn.2026-12.org.stgt.bench:rbd';
const IMAGE_BYTES = 1 << 30;
const CASES = ['4k-randread', '4k-randwrite', '1m-seqread', '1m-seqwrite'];

function parseArgs(argv) {
  const o = { rounds: 3, secs: 5, dist: resolve(HERE, '..', 'dist'), cases: CASES, json: false, client: {}, variant: null, variantBsopts: '', threads: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => argv[++i];
    if (a === '--rounds') o.rounds = Number(v());
    else if (a === '--secs') o.secs = Number(v());
    else if (a === '--dist') o.dist = resolve(v());
    else if (a === '--cases') o.cases = v().split(',');
    else if (a === '--json') o.json = true;
    else if (a === '--threads') o.threads = true;
    else if (a === '--variant-bsopts') o.variantBsopts = v();
    else if (a === '--client') {
      for (const kv of v().split(',')) {
        const eq = kv.indexOf('=');
        o.client[kv.slice(0, eq).trim()] = kv.slice(eq + 1).trim();
      }
    } else if (a === '--variant') {
      const [label, kvs] = [v()].map((x) => [x.slice(0, x.indexOf(':')), x.slice(x.indexOf(':') + 1)])[0];
      o.variant = { label, env: Object.fromEntries(kvs.split(',').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])) };
    } else {
      console.error(`unknown option ${a}`);
      process.exit(2);
    }
  }
  return o;
}

/** utime + stime in seconds of each thread of `pid`, summed by thread name with its digits dropped ("msgr-worker-1" -> "msgr-worker-"). */
function threadCpu(pid) {
  const m = new Map();
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      const st = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
      const name = st.slice(st.indexOf('(') + 1, st.lastIndexOf(')')).replace(/\d+$/, '');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      m.set(name, (m.get(name) ?? 0) + (Number(f[11]) + Number(f[12])) / 100);
    } catch {
      // the thread ended meanwhile
    }
  }
  return m;
}

/** CPU seconds of this process's waited-for children (a client run adds its CPU once reaped). */
const childrenCpu = () => cpuSecs('self', true);

/** stgt's tgtd (`--bstype ...,rbd`, `env` added) or Debian's with LUN 1 = rbd/bench of the cluster (`bsoptsExtra` appended to its bsopts). */
function startRbdDaemon(kind, dir, opts, started, env = {}, name = kind, bsoptsExtra = '') {
  return startDaemon(kind, dir, {
    // startDaemon waits for the rdwr and null stores: rbd, listed first, is loaded by then.
    dist: opts.dist, env, name, started, iqn: IQN, args: ['--bstype', 'rbd,rdwr,null,memory'],
    luns: [{ lun: 1, bstype: 'rbd', path: 'rbd/bench', bsopts: `conf=${opts.conf};id=admin${bsoptsExtra}` }],
  }).then((d) => ({ ...d, url: `iscsi://127.0.0.1:${d.port}/${IQN}/1` }));
}

async function iscsiCase(name, d, secs) {
  if (name === '4k-randread') {
    const r = await runFor('iscsi-perf', ['-m', '32', '-b', '8', '-r', d.url], secs);
    const all = [...r.out.matchAll(/iops average (\d+)/g)];
    if (all.length === 0) throw new Error(`iscsi-perf against ${d.kind}: ${r.out.slice(-400)}`);
    const iops = Number(all[all.length - 1][1]);
    return { iops, ios: iops * secs };
  }
  const q = {
    '4k-randwrite': ['-w', '-s', '4K', '-d', '32', '-c', String(Math.round(secs * 8000)), '-S', String((4 << 20) + 4096)],
    '1m-seqread': ['-s', '1M', '-d', '8', '-c', '1024'],
    '1m-seqwrite': ['-w', '-s', '1M', '-d', '8', '-c', '1024'],
  }[name];
  const count = Number(q[q.indexOf('-c') + 1]);
  const r = await runFor('qemu-img', ['bench', '-f', 'raw', '-t', 'none', '-n', ...q, d.url]);
  const m = /Run completed in ([\d.]+) seconds/.exec(r.out);
  if (r.code !== 0 || m === null) throw new Error(`qemu-img bench ${name} against ${d.kind}: ${r.out.slice(-400)}`);
  const iops = count / Number(m[1]);
  return name.startsWith('1m') ? { iops, ios: count, mbs: iops * 1.048576 } : { iops, ios: count };
}

async function rbdBenchCase(name, conf, secs) {
  const spec = {
    '4k-randread': ['--io-type', 'read', '--io-pattern', 'rand', '--io-size', '4K', '--io-threads', '32', '--io-total', String(Math.round(secs * 25000) * 4096)],
    '4k-randwrite': ['--io-type', 'write', '--io-pattern', 'rand', '--io-size', '4K', '--io-threads', '32', '--io-total', String(Math.round(secs * 8000) * 4096)],
    '1m-seqread': ['--io-type', 'read', '--io-pattern', 'seq', '--io-size', '1M', '--io-threads', '8', '--io-total', '1G'],
    '1m-seqwrite': ['--io-type', 'write', '--io-pattern', 'seq', '--io-size', '1M', '--io-threads', '8', '--io-total', '1G'],
  }[name];
  const r = await runFor('rbd', ['-c', conf, 'bench', ...spec, 'rbd/bench']);
  const m = /elapsed:\s*([\d.]+)\s+ops:\s*(\d+)\s+ops\/sec:\s*([\d.]+)/.exec(r.out);
  if (r.code !== 0 || m === null) throw new Error(`rbd bench ${name}: ${r.out.slice(-400)}`);
  const iops = Number(m[3]);
  const ios = Number(m[2]);
  return name.startsWith('1m') ? { iops, ios, mbs: iops * 1.048576 } : { iops, ios };
}

const fmt = (x) => (x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(1));

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const { CephCluster, cephUnavailable } = await import(pathToFileURL(join(opts.dist, 'test', 'ceph', 'cluster.js')).href);
  const why = cephUnavailable();
  if (why !== null) throw new Error(why);
  if (!existsSync(join(HERE, '..', 'native', 'rbd', 'build', 'Release', 'stgt_rbd.node'))) throw new Error('rbd addon not built: npm run build:native');
  if (!existsSync('/usr/lib/tgt/backing-store/bs_rbd.so')) throw new Error('tgt-rbd not installed (apt-get install tgt-rbd)');
  const load0 = readFileSync('/proc/loadavg', 'utf8').trim();
  console.error('starting the cluster...');
  const cluster = await CephCluster.start();
  const started = [];
  const rows = [];
  try {
    opts.conf = Object.keys(opts.client).length > 0 ? cluster.clientConf('bench-client.conf', opts.client) : cluster.conf;
    await cluster.createImage('bench', IMAGE_BYTES);
    console.error('prefilling rbd/bench (1 GiB)...');
    await cluster.rbdOk('bench', '--io-type', 'write', '--io-pattern', 'seq', '--io-size', '4M', '--io-threads', '4', '--io-total', '1G', 'rbd/bench');
    const stgt = await startRbdDaemon('stgt', cluster.dir, opts, started);
    const tgt = await startRbdDaemon('tgt', cluster.dir, opts, started);
    const systems = [
      { name: 'stgt rbd', run: (c) => iscsiCase(c, stgt, opts.secs), pid: stgt.proc.pid },
      ...(opts.variant === null ? [] : [await startRbdDaemon('stgt', cluster.dir, opts, started, opts.variant.env, `stgt ${opts.variant.label}`, opts.variantBsopts)]
        .map((x) => ({ name: `stgt ${opts.variant.label}`, run: (c) => iscsiCase(c, x, opts.secs), pid: x.proc.pid }))),
      { name: 'tgt bs_rbd', run: (c) => iscsiCase(c, tgt, opts.secs), pid: tgt.proc.pid },
      { name: 'rbd bench', run: (c) => rbdBenchCase(c, opts.conf, opts.secs), pid: null },
    ];
    // ceph-osd and ceph-mon, as the cluster recorded them (osd first)
    const [osdPid, monPid] = readFileSync(join(cluster.dir, 'pids'), 'utf8').split(/\s+/).filter(Boolean).map(Number);
    for (let round = 0; round < opts.rounds; round++) {
      for (const c of opts.cases) {
        for (let k = 0; k < systems.length; k++) {
          const s = systems[(k + round) % systems.length];
          const cpu0 = s.pid ? cpuSecs(s.pid) : NaN;
          const [client0, osd0, mon0] = [childrenCpu(), cpuSecs(osdPid), cpuSecs(monPid)];
          const th0 = s.pid && opts.threads ? threadCpu(s.pid) : null;
          const r = await s.run(c);
          const cpu = s.pid ? cpuSecs(s.pid) - cpu0 : NaN;
          const path = { client: childrenCpu() - client0, osd: cpuSecs(osdPid) - osd0, mon: cpuSecs(monPid) - mon0 };
          rows.push({ round, case: c, system: s.name, ...r, cpu, path });
          console.error(`round ${round + 1} ${c} ${s.name}: ${fmt(r.iops)} IOPS${r.mbs ? ` (${fmt(r.mbs)} MB/s)` : ''}`);
          if (th0 !== null) {
            const by = [...threadCpu(s.pid)].map(([n, t]) => [n, ((t - (th0.get(n) ?? 0)) * 1e6) / r.ios]).filter(([, us]) => us >= 1);
            console.error(`  CPU µs per I/O by thread: ${by.sort((x, y) => y[1] - x[1]).map(([n, us]) => `${n} ${us.toFixed(0)}`).join(', ')}`);
          }
        }
      }
    }
  } finally {
    for (const d of started) await stopProcess(d.proc, 10_000);
    await cluster.stop();
  }
  if (opts.json) {
    console.log(JSON.stringify(rows, null, 2));
    return;
  }
  const load = spawnSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).stdout.trim();
  const names = [...new Set(rows.map((r) => r.system))];
  const stgts = names.filter((n) => n.startsWith('stgt'));
  const daemons = names.filter((n) => n !== 'rbd bench');
  console.log(`| case | ${names.join(' | ')} | ${stgts.map((n) => `${n} / bs_rbd | ${n} / rbd bench`).join(' | ')} | ` +
    `CPU µs per I/O (${daemons.join('; ')}) | runs (${names.join('; ')}) |`);
  console.log(`|---|${names.map(() => '---|').join('')}${stgts.map(() => '---|---|').join('')}---|---|`);
  for (const c of opts.cases) {
    const of = (sys) => rows.filter((r) => r.case === c && r.system === sys).map((r) => r.iops);
    const med = (sys) => median(of(sys));
    const unit = c.startsWith('1m') ? ' IOPS' : '';
    const runs = names.map((n) => of(n).map(fmt).join(', ')).join('; ');
    const us = (sys) => median(rows.filter((x) => x.case === c && x.system === sys).map((x) => (x.cpu * 1e6) / x.ios)).toFixed(0);
    const ratios = stgts.map((n) => `${(med(n) / med('tgt bs_rbd')).toFixed(2)}x | ${(med(n) / med('rbd bench')).toFixed(2)}x`).join(' | ');
    console.log(`| ${c} | ${names.map((n) => `${fmt(med(n))}${unit}`).join(' | ')} | ${ratios} | ${daemons.map(us).join('; ')} | ${runs} |`);
  }
  console.log('\nCPU µs per I/O along the whole path (medians): client + target + ceph-osd + ceph-mon = total\n');
  console.log(`| case | ${names.join(' | ')} |`);
  console.log(`|---|${names.map(() => '---|').join('')}`);
  for (const c of opts.cases) {
    const cell = (sys) => {
      const rs = rows.filter((x) => x.case === c && x.system === sys);
      const per = (f) => median(rs.map((x) => (f(x) * 1e6) / x.ios));
      const parts = [per((x) => x.path.client), sys === 'rbd bench' ? 0 : per((x) => x.cpu), per((x) => x.path.osd), per((x) => x.path.mon)];
      const total = per((x) => x.path.client + (Number.isNaN(x.cpu) ? 0 : x.cpu) + x.path.osd + x.path.mon);
      return `${parts.map((v) => v.toFixed(0)).join(' + ')} = ${total.toFixed(0)}`;
    };
    console.log(`| ${c} | ${names.map(cell).join(' | ')} |`);
  }
  console.log(`\n${opts.rounds} rounds, ${opts.secs} s per timed run; load average at the start: ${load0}, at the end: ${load}`);
}

main().catch((e) => {
  console.error(e.stack ?? String(e));
  process.exit(1);
});
