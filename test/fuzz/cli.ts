// `npm run fuzz -- [--only iscsi|mgmt|conf] [--pdus N] [--seed S] [--workers N]`: long fuzz runs against a real tgtd, one table of named fuzzers.
//
// `--workers N` starts every daemon with `tgtd --workers N` (targets in worker threads, the main
// thread routing connections and management), so the same invariants are checked on that path.
//
// Each fuzzer starts its own daemon, runs until it has sent `--pdus` units of work (PDUs for
// iscsi; requests or files for the others), prints its report as `name: key value` lines and says
// whether every invariant held. The exit status is 0 only when every fuzzer that ran passed.
// To add a fuzzer, add an entry to FUZZERS (nothing else here needs to change).

import { runHostileInitiator, type HostileResult } from './hostile-initiator.js';
import { finishHostileDaemon, startHostileDaemon } from './hostile-daemon.js';
import { TestDaemon } from '../helpers/daemon.js';
import { runMgmtFuzz } from './mgmt-fuzz.js';
import { runConfFuzz } from './conf-fuzz.js';

export interface FuzzArgs {
  /** Units of work to send (PDUs, requests, files: the fuzzer's own unit). */
  pdus: number;
  seed: number;
  /** Extra tgtd arguments for every daemon a fuzzer starts (`--workers N`). */
  tgtdArgs: string[];
  /** Progress lines. */
  log(line: string): void;
}

export interface FuzzReport {
  /** Report lines, printed as `name: key value`. */
  lines: Array<[string, string | number]>;
  /** Every invariant broken (empty: passed). */
  failures: string[];
}

export interface Fuzzer {
  name: string;
  describe: string;
  run(a: FuzzArgs): Promise<FuzzReport>;
}

async function iscsi(a: FuzzArgs): Promise<FuzzReport> {
  const { daemon, target } = await startHostileDaemon(a.tgtdArgs);
  let res: HostileResult;
  try {
    res = await runHostileInitiator(target, {
      seed: a.seed, pdus: a.pdus, roundPdus: Math.min(100_000, Math.max(20_000, Math.ceil(a.pdus / 200))), log: a.log,
    });
  } catch (e) {
    await finishHostileDaemon(daemon);
    throw e;
  }
  // The teardown checks (delete without --force, clean stop) run after every run.
  const teardown = await finishHostileDaemon(daemon);
  const s = res.stats;
  return {
    lines: [
      ['seed', `0x${a.seed.toString(16)}`], ['rounds', s.rounds], ['pdus', s.pdus], ['connections', s.connections],
      ['logins', s.logins], ['login failures', s.loginFailures], ['closed by target', s.targetClosed],
      ['script ends', Object.entries(s.ends).map(([k, v]) => `${k} ${v}`).join(', ')], ['sync pings answered', s.syncs], ['stalled connections', s.stalls],
      ['elapsed', `${(s.elapsedMs / 1000).toFixed(1)} s`], ['pdus/s', Math.round(s.pdus / Math.max(0.001, s.elapsedMs / 1000))],
      ['final rss', `${s.rssMiB.at(-1) ?? 0} MiB`], ['max rss', `${Math.max(0, ...s.rssMiB)} MiB`],
      ['answers', res.answers.summary()],
    ],
    failures: [...res.failures, ...teardown],
  };
}

/** `--pdus` management requests against a fresh tgtd (test/fuzz/mgmt-fuzz.ts). */
async function mgmt(a: FuzzArgs): Promise<FuzzReport> {
  const d = await TestDaemon.start({ args: a.tgtdArgs });
  try {
    await d.addTarget(1, 'iqn.2026-11.org.stgt.fuzz:mgmt');
    const { stats: s, failures } = await runMgmtFuzz(d, { seed: a.seed, requests: a.pdus, log: a.log });
    await d.stop().catch((e: Error) => failures.push(`tgtd did not stop cleanly: ${e.message}`));
    return {
      lines: [
        ['seed', `0x${a.seed.toString(16)}`], ['requests', s.requests], ['owed an answer', s.mustAnswer], ['answered', s.answered],
        ['abandoned', s.abandoned], ['split', s.split], ['half-open', s.halfOpen],
        ['kinds', Object.entries(s.kinds).map(([k, v]) => `${k} ${v}`).join(', ')],
        ['codes', Object.entries(s.codes).map(([k, v]) => `${k}:${v}`).join(' ')],
        ['targets left', s.targetsLeft], ['accounts left', s.accountsLeft], ['elapsed', `${(s.elapsedMs / 1000).toFixed(1)} s`],
      ],
      failures,
    };
  } finally {
    d.kill();
  }
}

/** `--pdus` targets.conf files, a few of them through bin/tgt-admin (test/fuzz/conf-fuzz.ts). */
async function conf(a: FuzzArgs): Promise<FuzzReport> {
  const d = await TestDaemon.start({ args: a.tgtdArgs });
  try {
    const processRuns = Math.min(200, Math.max(40, Math.ceil(a.pdus / 125)));
    const { stats: s, failures } = await runConfFuzz({ seed: a.seed, configs: a.pdus, processRuns, daemon: d, log: a.log });
    return {
      lines: [
        ['seed', `0x${a.seed.toString(16)}`], ['configs', s.configs], ['parsed', s.parsed], ['config errors', s.configErrors],
        ['warnings', s.warnings], ['tgt-admin exits', Object.entries(s.adminExit).map(([k, v]) => `${k}:${v}`).join(' ')],
        ['processes', s.processRuns], ['process exits', Object.entries(s.processExit).map(([k, v]) => `${k}:${v}`).join(' ')],
        ['elapsed', `${(s.elapsedMs / 1000).toFixed(1)} s`],
      ],
      failures,
    };
  } finally {
    d.kill();
  }
}

/** The fuzzers `--only` can name. */
export const FUZZERS: Fuzzer[] = [
  { name: 'iscsi', describe: 'hostile iSCSI initiator (test/fuzz/hostile-initiator.ts)', run: iscsi },
  { name: 'mgmt', describe: 'management socket requests, --pdus of them (test/fuzz/mgmt-fuzz.ts)', run: mgmt },
  { name: 'conf', describe: 'targets.conf files through the parser and tgt-admin, --pdus of them (test/fuzz/conf-fuzz.ts)', run: conf },
];

/** Names --only accepts even before their fuzzer is registered. */
const KNOWN = ['iscsi', 'mgmt', 'conf'];

function usage(): string {
  return `usage: npm run fuzz -- [--only ${KNOWN.join('|')}] [--pdus N] [--seed S] [--workers N]\n` +
    FUZZERS.map((f) => `  ${f.name.padEnd(6)} ${f.describe}`).join('\n');
}

function parseArgs(argv: readonly string[]): { only: string | null; pdus: number; seed: number; workers: number } | string {
  let only: string | null = null;
  let workers = 0;
  let pdus = 1_000_000;
  let seed = (Date.now() ^ (process.pid << 16)) >>> 0 || 1;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = argv[i + 1];
    const [k, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const val = inline ?? v;
    if (inline === undefined && ['--only', '--pdus', '--seed', '--workers'].includes(k)) i++;
    switch (k) {
      case '--only':
        if (val === undefined || !KNOWN.includes(val)) return `--only takes one of ${KNOWN.join(', ')}`;
        only = val;
        break;
      case '--pdus':
        pdus = Number(val);
        if (!Number.isSafeInteger(pdus) || pdus <= 0) return `--pdus takes a positive integer`;
        break;
      case '--seed':
        seed = Number(val) >>> 0;
        if (val === undefined || Number.isNaN(Number(val))) return `--seed takes a number (decimal or 0x...)`;
        break;
      case '--workers':
        workers = Number(val);
        if (!Number.isSafeInteger(workers) || workers < 0) return `--workers takes a count (0: no worker threads)`;
        break;
      case '-h':
      case '--help':
        return '';
      default:
        return `unknown argument ${a}`;
    }
  }
  return { only, pdus, seed: seed || 1, workers };
}

export async function main(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv);
  if (typeof args === 'string') {
    if (args !== '') console.error(`fuzz: ${args}`);
    console.error(usage());
    return args === '' ? 0 : 2;
  }
  const chosen = args.only === null ? FUZZERS : FUZZERS.filter((f) => f.name === args.only);
  if (chosen.length === 0) {
    console.error(`fuzz: no '${args.only}' fuzzer is registered yet\n${usage()}`);
    return 2;
  }
  let ok = true;
  for (const f of chosen) {
    console.log(`${f.name}: seed 0x${args.seed.toString(16)}, ${args.pdus} units${args.workers > 0 ? `, tgtd --workers ${args.workers}` : ''}`);
    let rep: FuzzReport;
    try {
      const tgtdArgs = args.workers > 0 ? ['--workers', String(args.workers)] : [];
      rep = await f.run({ pdus: args.pdus, seed: args.seed, tgtdArgs, log: (l) => console.log(`${f.name}: ${l}`) });
    } catch (e) {
      rep = { lines: [], failures: [`crashed: ${(e as Error).stack ?? String(e)}`] };
    }
    for (const [k, v] of rep.lines) console.log(`${f.name}: ${k} ${v}`);
    for (const x of rep.failures) console.log(`${f.name}: FAILURE ${x}`);
    console.log(`${f.name}: result ${rep.failures.length === 0 ? 'PASS' : `FAIL (${rep.failures.length})`}`);
    if (rep.failures.length > 0) ok = false;
  }
  return ok ? 0 : 1;
}

if (process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  process.exitCode = await main(process.argv.slice(2));
}
