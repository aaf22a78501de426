#!/usr/bin/env node
// iSER speed under QEMU: stgt's iser LLD and LIO + ib_isert in one guest, the Linux kernel initiator over rxe0 (fio).
//
// One boot (test/vm/guest/iser-bench.sh): tgtd from the repository in the guest with --lld iser,
// LIO configured through configfs on another port, both 256 MiB LUNs on files in the guest; each
// round runs the same time-based fio jobs against stgt and LIO, alternating who goes first. The
// table reports medians, the stgt/LIO ratio and tgtd's CPU seconds per 1000 I/Os. Never part of
// `npm test`: speed is not asserted anywhere. Needs the tsc build (dist/), `npm run build:native`
// and the VM image (built on first use, as for test/vm).
//
// Usage: node bench/iser-vm.mjs [--rounds 3] [--secs 10] [--qd 16] [--jobs rand4k-read,rand4k-write,seq1m-read,seq1m-write]
//                               [--prof DIR]   (tgtd runs with --cpu-prof; the .cpuprofile files are copied to DIR)
//                               [--node-flags '--jitless ...'] (for tgtd) [--sample] (per-thread states) [--perf] (perf record of tgtd per job; image has linux-perf)
//                               [--iser-args post_thread=on,...] (appended to tgtd's --iser)
//                               [--sched-batch] (tgtd's threads SCHED_BATCH: no wakeup preemption among them)
import { cpSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { median } from './lib.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const JOBS = ['rand4k-read', 'rand4k-write', 'seq1m-read', 'seq1m-write'];

function parseArgs(argv) {
  const o = { rounds: 3, secs: 10, qd: 16, jobs: JOBS, prof: null, sched: '', sample: '', nodeFlags: '', perf: '', iserArgs: '' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--rounds') o.rounds = Number(v());
    else if (a === '--secs') o.secs = Number(v());
    else if (a === '--qd') o.qd = Number(v());
    else if (a === '--jobs') o.jobs = v().split(',');
    else if (a === '--prof') o.prof = resolve(v());
    else if (a === '--sched-batch') o.sched = 'batch';
    else if (a === '--sample') o.sample = '1';
    else if (a === '--perf') o.perf = '1';
    else if (a === '--iser-args') o.iserArgs = `,${v()}`;
    else if (a === '--node-flags') o.nodeFlags = v();
    else throw new Error(`unknown option ${a}`);
  }
  for (const j of o.jobs) if (!JOBS.includes(j)) throw new Error(`unknown job ${j} (one of ${JOBS.join(', ')})`);
  return o;
}


async function main() {
  const o = parseArgs(process.argv.slice(2));
  const gt = join(ROOT, 'dist/test/vm/guest-target.js');
  if (!existsSync(gt)) throw new Error('dist/ is missing: run npx tsc -p tsconfig.json first');
  const { runWithGuestTarget, GUEST_PORTAL } = await import(pathToFileURL(gt).href);
  const r = await runWithGuestTarget({
    label: 'iser-bench',
    timeoutMs: (5 * 60 + o.rounds * o.jobs.length * 2 * (o.secs + 15)) * 1000,
    tgtdArgs: `--lld iser --iser portal=${GUEST_PORTAL},pool_sz_mb=64${o.iserArgs}`,
    nodeFlags: `${o.nodeFlags} ${o.perf ? '--perf-basic-prof' : ''} ${o.prof ? '--cpu-prof --cpu-prof-dir=/mnt/ctl/prof' : ''}`,
    script: 'source /mnt/repo/test/vm/guest/iser-bench.sh\n',
    env: {
      IQN_ISER: 'iqn.2026-12.org.stgt.bench:iser', IQN_LIO: 'iqn.2026-12.org.stgt.bench:lio', LIO_PORT: '3261',
      ISER_MIB: '256', ROUNDS: String(o.rounds), SECS: String(o.secs), QD: String(o.qd), JOBS: o.jobs.join(' '), SCHED: o.sched, SAMPLE: o.sample, PERF: o.perf,
    },
    log: (l) => process.stderr.write(`${l}\n`),
  });
  const lines = r.stdout.split('\n').filter((l) => l.startsWith('FIO '));
  for (const l of r.stdout.split('\n').filter((x) => /^(THREADS|SAMPLES|PERF|PERFDSO) /.test(x))) console.log(l);
  for (const l of lines) process.stderr.write(`${l}\n`);
  if (r.code !== 0 || !/^BENCH DONE$/m.test(r.stdout)) {
    process.stderr.write(`guest exit ${r.code}\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-4000)}\n`);
    process.exitCode = 1;
  }
  const runs = {};
  for (const l of lines) {
    const m = /^FIO (\S+) (\S+) .* iops=(\d+) bw_kib=(\d+) err=(-?\d+)(?: cpu_s=([\d.]+))?/.exec(l);
    if (!m) continue;
    const k = `${m[2]}`;
    runs[k] ??= { iser: [], lio: [], cpu: [] };
    runs[k][m[1]].push(Number(m[3]));
    if (m[6] !== undefined) runs[k].cpu.push((Number(m[6]) / (Number(m[3]) * o.secs)) * 1000);
  }
  console.log(`${r.accel}, ${o.rounds} rounds x ${o.secs} s, QD ${o.qd}, fio libaio direct on the kernel initiator (ib_iser over rxe0)`);
  console.log('| job | stgt IOPS | LIO IOPS | stgt/LIO | stgt runs | LIO runs | tgtd CPU s per 1000 IO |');
  console.log('|---|---|---|---|---|---|---|');
  for (const j of o.jobs) {
    const x = runs[j] ?? { iser: [], lio: [], cpu: [] };
    const s = median(x.iser);
    const l = median(x.lio);
    console.log(`| ${j} | ${s} | ${l} | ${(s / l).toFixed(2)} | ${x.iser.join(' ')} | ${x.lio.join(' ')} | ${median(x.cpu).toFixed(3)} |`);
  }
  if (o.prof) {
    const src = join(r.workDir, 'ctl', 'prof');
    if (existsSync(src)) {
      mkdirSync(o.prof, { recursive: true });
      cpSync(src, o.prof, { recursive: true });
      console.log(`profiles: ${readdirSync(o.prof).map((f) => join(o.prof, f)).join(' ')}`);
    } else console.log('no profile was written (did tgtd exit cleanly?)');
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.stack : String(e));
  process.exit(1);
});
