// What `tgtd --metrics` reports: per-LU I/O counters and queue depth, sessions per target, module states, process figures, as Prometheus text (exposition.ts).
//
// Counters come from the SCSI layer's own `--op stat` counters (LogicalUnit.totals(), monotonic:
// a gone nexus's row is folded in when it is dropped), read at scrape time: metrics add nothing
// to the data path, except the latency histograms (latency.ts: a few number operations per command,
// only while tgtd serves metrics). Label names: tid, target (the IQN), lun, op, lld, reason, kind,
// module, state, backing_store.
import { readdirSync, readFileSync } from 'node:fs';
import { Exposition } from './exposition.js';
import { LATENCY_BOUNDS_SECONDS, type IoLatency, type LatencyHistogram } from './latency.js';
import type { LldMetrics } from '../lld/api.js';

/** The slice of a LU the collector reads (scsi/logical-unit.ts LogicalUnit). */
export interface MetricsLu {
  readonly lun: number;
  readonly bsName: string;
  readonly size: number;
  totals(): { rdDoneCmds: number; rdDoneBytes: number; wrDoneCmds: number; wrDoneBytes: number; errs: number };
  readonly taskSet: { readonly list: { readonly length: number } };
  /** Set by tgtd when it serves metrics (null: LU created without timing). */
  readonly latency: IoLatency | null;
}

export interface MetricsTarget {
  readonly tid: number;
  readonly name: string;
  readonly lldName: string;
  readonly nexuses: { readonly size: number };
  sortedLuns(): readonly MetricsLu[];
}

export interface MetricsModule {
  readonly name: string;
  readonly state: string;
}

export interface MetricsLld extends MetricsModule {
  /** The running driver (null unless ready). */
  readonly driver: { metrics?(): LldMetrics } | null;
}

/** What the daemon hands the collector (daemon/tgtd.ts has all of it). */
export interface MetricsSource {
  readonly targets: ReadonlyMap<number, MetricsTarget>;
  readonly system: { readonly state: string };
  llds(): readonly MetricsLld[];
  bstores(): readonly MetricsModule[];
}

const MODULE_STATES = ['uninitialized', 'ready', 'error', 'stopped'] as const;

/** /proc/self figures (Linux); null where /proc is not there. */
function procFigures(): { rss: number; fds: number; maxFds: number; startTime: number } | null {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const bootTime = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1] ?? NaN);
    // USER_HZ is 100 on every Linux architecture Node runs on.
    const startTime = bootTime + Number(f[19]) / 100;
    const limits = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return { rss: process.memoryUsage.rss(), fds: readdirSync('/proc/self/fd').length, maxFds: Number(limits?.[1] ?? NaN), startTime };
  } catch {
    return null;
  }
}

export function collectMetrics(src: MetricsSource): string {
  const e = new Exposition();
  const targets = [...src.targets.values()].sort((a, b) => a.tid - b.tid);
  const lus: { t: MetricsTarget; lu: MetricsLu; s: ReturnType<MetricsLu['totals']> }[] = [];
  for (const t of targets) for (const lu of t.sortedLuns()) lus.push({ t, lu, s: lu.totals() });
  const luLabels = (t: MetricsTarget, lu: MetricsLu) => ({ tid: t.tid, target: t.name, lun: lu.lun });

  const luCounter = (name: string, help: string, pick: (s: ReturnType<MetricsLu['totals']>) => number): void => {
    e.family(name, 'counter', help);
    for (const { t, lu, s } of lus) e.sample(name, luLabels(t, lu), pick(s));
  };
  luCounter('stgt_lu_read_commands_total', 'Read commands completed on the LU.', (s) => s.rdDoneCmds);
  luCounter('stgt_lu_read_bytes_total', 'Bytes read from the LU by completed read commands.', (s) => s.rdDoneBytes);
  luCounter('stgt_lu_write_commands_total', 'Write commands completed on the LU.', (s) => s.wrDoneCmds);
  luCounter('stgt_lu_write_bytes_total', 'Bytes written to the LU by completed write commands.', (s) => s.wrDoneBytes);
  luCounter('stgt_lu_errors_total', 'Commands on the LU that ended in CHECK CONDITION (tgt\'s --op stat errs: failed I/O, bad CDBs, unit attentions).', (s) => s.errs);
  e.family('stgt_lu_queue_depth', 'gauge', 'Commands in the LU\'s task set (received, not yet completed).');
  for (const { t, lu } of lus) e.sample('stgt_lu_queue_depth', luLabels(t, lu), lu.taskSet.list.length);
  e.family('stgt_lu_io_duration_seconds', 'histogram', 'Time from a read or write command\'s arrival at the LU to its status, for commands whose media I/O completed (op: read, write; COMPARE AND WRITE counts as a write).');
  const hist = (t: MetricsTarget, lu: MetricsLu, op: string, h: LatencyHistogram): void => {
    e.histogram('stgt_lu_io_duration_seconds', { ...luLabels(t, lu), op }, LATENCY_BOUNDS_SECONDS, h.counts, h.sumMs / 1000);
  };
  for (const { t, lu } of lus) {
    if (lu.latency === null) continue;
    hist(t, lu, 'read', lu.latency.read);
    hist(t, lu, 'write', lu.latency.write);
  }
  e.family('stgt_lu_size_bytes', 'gauge', 'Size of the LU in bytes.');
  for (const { t, lu } of lus) e.sample('stgt_lu_size_bytes', { ...luLabels(t, lu), backing_store: lu.bsName }, lu.size);

  const llds = src.llds();
  const lldFigures = new Map<string, LldMetrics>();
  for (const l of llds) {
    const m = l.driver?.metrics?.();
    if (m !== undefined) lldFigures.set(l.name, m);
  }
  e.family('stgt_target_sessions', 'gauge', 'Sessions (I_T nexuses) logged in to the target.');
  for (const t of targets) e.sample('stgt_target_sessions', { tid: t.tid, target: t.name, lld: t.lldName }, t.nexuses.size);
  e.family('stgt_target_connections', 'gauge', 'Transport connections of the sessions logged in to the target.');
  for (const t of targets) e.sample('stgt_target_connections', { tid: t.tid, target: t.name, lld: t.lldName }, lldFigures.get(t.lldName)?.connections.get(t.tid) ?? 0);
  e.family('stgt_lld_sessions', 'gauge', 'Sessions logged in through the transport driver, all targets.');
  for (const l of llds) {
    let n = 0;
    for (const t of targets) if (t.lldName === l.name) n += t.nexuses.size;
    e.sample('stgt_lld_sessions', { lld: l.name }, n);
  }
  e.family('stgt_lld_connections', 'gauge', 'Connections of normal sessions through the transport driver, all targets.');
  for (const [lld, m] of lldFigures) {
    let n = 0;
    for (const c of m.connections.values()) n += c;
    e.sample('stgt_lld_connections', { lld }, n);
  }
  e.family('stgt_login_successes_total', 'counter', 'Logins (normal and discovery) that reached full feature phase, since the driver started.');
  for (const [lld, m] of lldFigures) e.sample('stgt_login_successes_total', { lld }, m.loginSuccesses);
  e.family('stgt_login_failures_total', 'counter', 'Logins refused, by the reason of the login response status (RFC 7143 11.13.5), since the driver started.');
  for (const [lld, m] of lldFigures) for (const [reason, n] of m.loginFailures) e.sample('stgt_login_failures_total', { lld, reason }, n);
  e.family('stgt_targets', 'gauge', 'Targets configured.').sample('stgt_targets', {}, targets.length);

  e.family('stgt_module_state', 'gauge', 'State of each loaded module: 1 for its current state, 0 for the others.');
  for (const [kind, list] of [['lld', llds], ['bs', src.bstores()]] as const) {
    for (const m of list) for (const st of MODULE_STATES) e.sample('stgt_module_state', { module: m.name, kind, state: st }, m.state === st ? 1 : 0);
  }
  e.family('stgt_system_ready', 'gauge', '1 while the system state is ready, 0 while offline (tgtadm --mode sys --name State).')
    .sample('stgt_system_ready', {}, src.system.state === 'ready' ? 1 : 0);

  const cpu = process.cpuUsage();
  e.family('process_cpu_user_seconds_total', 'counter', 'User CPU time of tgtd in seconds.').sample('process_cpu_user_seconds_total', {}, cpu.user / 1e6);
  e.family('process_cpu_system_seconds_total', 'counter', 'System CPU time of tgtd in seconds.').sample('process_cpu_system_seconds_total', {}, cpu.system / 1e6);
  e.family('process_cpu_seconds_total', 'counter', 'User and system CPU time of tgtd in seconds.').sample('process_cpu_seconds_total', {}, (cpu.user + cpu.system) / 1e6);
  const mem = process.memoryUsage();
  e.family('nodejs_heap_used_bytes', 'gauge', 'V8 heap in use.').sample('nodejs_heap_used_bytes', {}, mem.heapUsed);
  e.family('nodejs_external_memory_bytes', 'gauge', 'Memory of Buffers and other objects outside the V8 heap.').sample('nodejs_external_memory_bytes', {}, mem.external);
  const p = procFigures();
  if (p !== null) {
    e.family('process_resident_memory_bytes', 'gauge', 'Resident set size of tgtd.').sample('process_resident_memory_bytes', {}, p.rss);
    e.family('process_open_fds', 'gauge', 'Open file descriptors of tgtd.').sample('process_open_fds', {}, p.fds);
    e.family('process_max_fds', 'gauge', 'Limit of open file descriptors of tgtd.').sample('process_max_fds', {}, p.maxFds);
    e.family('process_start_time_seconds', 'gauge', 'Start time of tgtd since the Unix epoch, in seconds.').sample('process_start_time_seconds', {}, p.startTime);
  }
  return e.text();
}
