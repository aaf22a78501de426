// tgtd's command line: tgt's options (tgt-compat.md A1) plus stgt's --lld, --bstype, --module-dir, --demo.

import { GetoptLong, type LongOption } from '../cli/getopt.js';
import { ERANGE, strToInt } from '../cli/tgtadm-numbers.js';

export interface DaemonOptions {
  foreground: boolean;
  nodaemonize: boolean;
  controlPort: number;
  nrIothreads: number;
  pidFile: string | null;
  debug: boolean;
  /** LLDs to load at start, in order (default: iscsi). */
  llds: string[];
  /** Backing stores to load at start (default: the built-in ones). */
  bstypes: string[];
  /** `--<lld> args` strings, joined with ',' when repeated. */
  lldArgs: Map<string, string>;
  moduleDirs: string[];
  /** Create a demo target with a memory LUN of this size (`--demo[=SIZE]`), or null. */
  demo: string | null;
  /** `--metrics ADDR:PORT`: serve Prometheus metrics there (null: off). */
  metrics: string | null;
  /** `--workers N`: worker threads that own the targets (0: none, everything on the main loop; docs/multicore.md). */
  workers: number;
  action: 'run' | 'help' | 'version';
}

export const DEFAULT_LLDS = ['iscsi'];
// aio first, so `--mode system --op show` lists it after rdwr as tgt does (newest first).
export const DEFAULT_BSTYPES = ['aio', 'rdwr', 'mmc', 'smc', 'ssc', 'null', 'sg', 'bsg', 'memory'];

const LONG: LongOption[] = [
  { name: 'foreground', hasArg: false, val: 'f' },
  { name: 'nodaemonize', hasArg: false, val: 'D' },
  { name: 'control-port', hasArg: true, val: 'C' },
  { name: 'nr_iothreads', hasArg: true, val: 't' },
  { name: 'pid-file', hasArg: true, val: 'p' },
  { name: 'debug', hasArg: true, val: 'd' },
  { name: 'version', hasArg: false, val: 'V' },
  { name: 'help', hasArg: false, val: 'h' },
  { name: 'iscsi', hasArg: true, val: '\u0101' },
  { name: 'iser', hasArg: true, val: '\u0102' },
  { name: 'lld', hasArg: true, val: '\u0103' },
  { name: 'bstype', hasArg: true, val: '\u0104' },
  { name: 'module-dir', hasArg: true, val: '\u0105' },
  { name: 'demo', hasArg: false, val: '\u0106' },
  { name: 'demo-size', hasArg: true, val: '\u0107' },
  { name: 'metrics', hasArg: true, val: '\u0108' },
  { name: 'workers', hasArg: true, val: '\u0109' },
];

/** More event loops than this cannot help on any machine stgt targets (and each costs ~15 MiB of RSS). */
export const MAX_WORKERS = 256;

export class UsageError extends Error {
  /** The exit status (tgt's usage(status): 1, or the errno of a bad option value). */
  constructor(message: string, readonly status = 1) {
    super(message);
  }
}

/** tgt's -d: str_to_int_range(optarg, is_debug, 0, 1), "-d argument value 'X' invalid|out of range" with exit EINVAL/ERANGE. */
export function parseDebugLevel(v: string): number {
  let [err, val] = strToInt(v, 'int32');
  if (err === 0 && (val < 0n || val > 1n)) err = ERANGE;
  if (err !== 0) throw new UsageError(`-d argument value '${v}' ${err === ERANGE ? 'out of range' : 'invalid'}`, err);
  return Number(val);
}

/** "ADDR:PORT" or "[V6ADDR]:PORT" (`--metrics`); null when malformed. */
export function parseListen(s: string): { host: string; port: number } | null {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(s) ?? /^([^:[\]]+):(\d{1,5})$/.exec(s);
  if (m === null) return null;
  const port = Number(m[2]);
  return port <= 65535 ? { host: m[1]!, port } : null;
}

const list = (s: string): string[] => s.split(',').map((x) => x.trim()).filter((x) => x !== '');

export function parseDaemonArgs(argv: readonly string[]): DaemonOptions {
  const o: DaemonOptions = {
    foreground: false, nodaemonize: false, controlPort: 0, nrIothreads: 16, pidFile: null, debug: false,
    llds: DEFAULT_LLDS, bstypes: DEFAULT_BSTYPES, lldArgs: new Map(), moduleDirs: [], demo: null, metrics: null, workers: 0, action: 'run',
  };
  const g = new GetoptLong(['tgtd', ...argv], 'fDC:d:t:p:Vh', LONG);
  const addLldArg = (lld: string, v: string): void => {
    const prev = o.lldArgs.get(lld);
    o.lldArgs.set(lld, prev === undefined ? v : `${prev},${v}`);
  };
  const num = (opt: string, v: string): number => {
    if (!/^\d+$/.test(v)) throw new UsageError(`invalid ${opt} value '${v}'`);
    return Number(v);
  };
  for (let ev = g.next(); ev !== null; ev = g.next()) {
    if (ev.kind === 'error') throw new UsageError(ev.message);
    const v = ev.arg ?? '';
    switch (ev.ch) {
      case 'f': o.foreground = true; break;
      case 'D': o.nodaemonize = true; break;
      case 'C': o.controlPort = num('control port', v); break;
      case 't': o.nrIothreads = num('nr_iothreads', v); break;
      case 'p': o.pidFile = v; break;
      case 'd': o.debug = parseDebugLevel(v) === 1; break;
      case 'V': o.action = 'version'; break;
      case 'h': o.action = 'help'; break;
      case '\u0101': addLldArg('iscsi', v); break;
      case '\u0102': addLldArg('iser', v); break;
      case '\u0103': o.llds = list(v); break;
      case '\u0104': o.bstypes = list(v); break;
      case '\u0105': o.moduleDirs.push(v); break;
      case '\u0106': o.demo = o.demo ?? '1G'; break;
      case '\u0107': o.demo = v; break;
      case '\u0108':
        if (parseListen(v) === null) throw new UsageError(`invalid --metrics value '${v}' (ADDR:PORT or [ADDR]:PORT)`);
        o.metrics = v;
        break;
      case '\u0109':
        o.workers = num('--workers', v);
        if (o.workers > MAX_WORKERS) throw new UsageError(`invalid --workers value '${v}' (0 to ${MAX_WORKERS})`);
        break;
      default: throw new UsageError(`unknown option ${ev.ch}`);
    }
  }
  if (g.operands.length > 0) throw new UsageError(`unexpected argument '${g.operands[0]}'`);
  return o;
}

export const USAGE = `Usage: tgtd [OPTION]
Target framework daemon (stgt).
  -f, --foreground        make the program run in the foreground (log to stderr)
  -D, --nodaemonize       make the program run in the foreground with logger
  -C, --control-port NNNN use port NNNN for the mgmt channel
  -t, --nr_iothreads NNNN accepted for compatibility (I/O runs on libuv's pool)
  -p, --pid-file filename specify the pid file
  -d, --debug debuglevel  print debugging information (0 or 1)
  -V, --version           print version and exit
  -h, --help              display this help and exit
      --iscsi portal=ADDR[:PORT][,nop_interval=N,nop_count=N]
                          iSCSI portals (IPv6 as [ADDR]:PORT; repeatable) and target pings
      --lld LIST          transport drivers to load at start (default: iscsi)
      --bstype LIST       backing stores to load at start (default: aio,rdwr,mmc,smc,ssc,null,memory)
      --module-dir DIR    where npm-named third-party modules resolve from (repeatable)
      --metrics ADDR:PORT serve Prometheus metrics at http://ADDR:PORT/metrics (off by default)
      --workers N         run the targets in N worker threads, one event loop each (default 0:
                          everything on one loop; needs native/io; docs/multicore.md)
      --demo              serve iqn.2026-11.org.stgt:demo with a 1 GiB memory LUN 1
      --demo-size SIZE    as --demo, with this size (e.g. 64M)
`;
