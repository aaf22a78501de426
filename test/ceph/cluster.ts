// A throw-away one-node Ceph cluster for tests and benchmarks: one mon, one memstore OSD, cephx, no mgr, loopback only (issue 12 part 2).
//
// Everything lives in a fresh temporary directory: ceph.conf, one keyring with the mon., client.admin
// and osd.0 keys, the mon store and the OSD's data. Ports come from a block below the kernel's
// ephemeral range and below test/helpers' freePort range (which hands out the 12,000 ports under
// the ephemeral range), so a Ceph daemon never races an initiator's outgoing connection or another
// test's portal for a port. Start-up waits for states (the mon answers, the OSD is up, the pool is
// usable), never for times. `stop()` stops the OSD before the mon: an OSD whose mon is gone waits
// for it before exiting. A memstore OSD saves its objects to its data directory on a clean stop
// (SIGTERM) and loads them on start, so `restartOsd()` keeps the data.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { accessSync, constants, mkdirSync, mkdtempSync, openSync, closeSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { laneSlice, run, waitFor, type RunResult } from '../helpers/daemon.js';

/** Programs a cluster needs, and the Debian package of each (for the skip reason). */
const PROGRAMS: ReadonlyArray<[string, string]> = [
  ['ceph-mon', 'ceph-mon'],
  ['ceph-osd', 'ceph-osd'],
  ['ceph', 'ceph-common'],
  ['ceph-authtool', 'ceph-common'],
  ['monmaptool', 'ceph-common'],
  ['rbd', 'ceph-common'],
];

function onPath(prog: string): boolean {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
    try {
      accessSync(join(dir, prog), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

/** Why a cluster cannot be started here (missing programs and their packages), or null when it can. */
export function cephUnavailable(): string | null {
  const missing = PROGRAMS.filter(([p]) => !onPath(p));
  if (missing.length === 0) return null;
  const pkgs = [...new Set(missing.map(([, pkg]) => pkg))];
  return `Ceph is not installed (${missing.map(([p]) => p).join(', ')} missing; apt-get install ${pkgs.join(' ')})`;
}

/** Ports of one cluster: the mon's msgr2 and msgr1 ports, then the range every daemon binds from. */
interface PortBlock {
  monV2: number;
  monV1: number;
  bindMin: number;
  bindMax: number;
}

const BLOCK = 40;
/** Blocks between 15,000 and 19,999: under freePort's range (ephemeral low - 12,000 = 20,768 by default). */
const BLOCK_FIRST = 15_000;
const BLOCK_COUNT = 125;

function canBind(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = net.createServer();
    s.once('error', () => res(false));
    s.listen({ host: '127.0.0.1', port, exclusive: true }, () => s.close(() => res(true)));
  });
}

/** A block of BLOCK ports all free right now, tried from a random start so two clusters rarely meet. */
async function freeBlock(): Promise<PortBlock> {
  // Only this test lane's share of the blocks (STGT_TEST_LANE, scripts/run-tests.mjs): two lanes never meet.
  const [first, last] = laneSlice(0, BLOCK_COUNT - 1);
  const count = last - first + 1;
  const start = Math.floor(Math.random() * count);
  for (let i = 0; i < count; i++) {
    const base = BLOCK_FIRST + (first + ((start + i) % count)) * BLOCK;
    let free = true;
    for (let p = base; p < base + BLOCK && free; p++) free = await canBind(p);
    if (free) return { monV2: base, monV1: base + 1, bindMin: base + 2, bindMax: base + BLOCK - 1 };
  }
  throw new Error(`no free block of ${BLOCK} ports between ${BLOCK_FIRST} and ${BLOCK_FIRST + BLOCK * BLOCK_COUNT}`);
}

export interface ClusterOptions {
  /** Client-side op timeouts in seconds (rados osd/mon op timeout, client mount timeout); default 0 (Ceph's: wait forever). */
  clientOpTimeout?: number;
  /** memstore capacity; default 4 GiB (memory is only used for what is written). */
  memstoreBytes?: number;
}

interface Daemon {
  proc: ChildProcess;
  exited: Promise<void>;
  done: boolean;
}

function spawnDaemon(cmd: string, args: string[], logFile: string): Daemon {
  const fd = openSync(logFile, 'a');
  const proc = spawn(cmd, args, { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const d: Daemon = { proc, done: false, exited: Promise.resolve() };
  d.exited = new Promise((res) => proc.on('exit', () => ((d.done = true), res())));
  return d;
}

async function stopDaemon(d: Daemon | null, timeoutMs: number): Promise<void> {
  if (d === null || d.done) return;
  d.proc.kill('SIGTERM');
  const t = setTimeout(() => d.proc.kill('SIGKILL'), timeoutMs);
  await d.exited;
  clearTimeout(t);
}

const PREFIX = 'stgt-ceph-';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Stops the daemons of clusters whose test process died without stopping them (killed runner,
 * SIGKILL on a timeout): a memstore OSD holds everything written in RAM. Only a process whose
 * command line names that cluster's own ceph.conf is signalled, so a reused pid is left alone.
 */
export function reapOrphans(dir = tmpdir()): number {
  let reaped = 0;
  let entries: string[];
  try {
    entries = readdirSync(dir).filter((e) => e.startsWith(PREFIX));
  } catch {
    return 0;
  }
  for (const e of entries) {
    const d = join(dir, e);
    let owner: number;
    let pids: number[];
    try {
      owner = Number(readFileSync(join(d, 'owner'), 'utf8'));
      pids = readFileSync(join(d, 'pids'), 'utf8').split(/\s+/).filter(Boolean).map(Number);
    } catch {
      continue; // being created, or not one of ours
    }
    if (!Number.isInteger(owner) || owner <= 0 || alive(owner)) continue;
    for (const pid of pids) {
      let cmd = '';
      try {
        cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      } catch {
        continue;
      }
      if (!cmd.includes(join(d, 'ceph.conf'))) continue;
      try {
        process.kill(pid, 'SIGCONT');
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    rmSync(d, { recursive: true, force: true });
    reaped++;
  }
  return reaped;
}

export class CephCluster {
  private mon: Daemon | null = null;
  private osd: Daemon | null = null;
  private osdId = '0';
  private osdUuid = '';

  private constructor(
    /** The temporary directory holding everything (removed by stop). */
    readonly dir: string,
    readonly ports: PortBlock,
  ) {}

  get conf(): string {
    return join(this.dir, 'ceph.conf');
  }

  get keyring(): string {
    return join(this.dir, 'keyring');
  }

  /** `mon host` as clients write it. */
  get monHost(): string {
    return `v2:127.0.0.1:${this.ports.monV2}/0,v1:127.0.0.1:${this.ports.monV1}/0`;
  }

  /** tgt's bsopts for an rbd LU on this cluster (client.admin). */
  get bsopts(): string {
    return `conf=${this.conf};id=admin`;
  }

  /** client.admin's secret (for bsopts cephx_key=). */
  adminKey(): string {
    const m = /\[client\.admin\]\s*\n\s*key\s*=\s*(\S+)/.exec(readFileSync(this.keyring, 'utf8'));
    if (m === null) throw new Error('no client.admin key in the keyring');
    return m[1]!;
  }

  /** Logs of the mon and the OSD (for failure messages). */
  logs(): string {
    const tail = (f: string): string => {
      try {
        return readFileSync(join(this.dir, 'log', f), 'utf8').slice(-4000);
      } catch {
        return '';
      }
    };
    return `--- mon.a:\n${tail('mon.a.out')}\n--- osd.0:\n${tail('osd.0.out')}`;
  }

  /** Starts a cluster and waits until pool `rbd` takes I/O. Throws (after tearing down what started) on failure. */
  static async start(o: ClusterOptions = {}): Promise<CephCluster> {
    const why = cephUnavailable();
    if (why !== null) throw new Error(why);
    reapOrphans();
    const c = new CephCluster(mkdtempSync(join(tmpdir(), PREFIX)), await freeBlock());
    writeFileSync(join(c.dir, 'owner'), String(process.pid));
    try {
      await c.create(o);
      return c;
    } catch (e) {
      const logs = c.logs();
      await c.stop();
      throw new Error(`${(e as Error).message}\n${logs}`);
    }
  }

  private async must(cmd: string, args: string[], timeoutMs = 60_000): Promise<string> {
    const r = await run(cmd, args, { timeoutMs });
    if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${String(r.code ?? r.signal)}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  }

  /** `ceph -c conf ARGS` (must succeed); bounded so a cluster that never answers fails the call. */
  ceph(...args: string[]): Promise<string> {
    return this.must('ceph', ['-c', this.conf, '--connect-timeout', '20', ...args]);
  }

  /** `rbd -c conf ARGS`, whatever its exit. */
  rbd(args: readonly string[], timeoutMs = 120_000): Promise<RunResult> {
    return run('rbd', ['-c', this.conf, ...args], { timeoutMs });
  }

  /** `rbd -c conf ARGS` that must succeed; returns stdout. */
  rbdOk(...args: string[]): Promise<string> {
    return this.must('rbd', ['-c', this.conf, ...args], 300_000);
  }

  /**
   * Writes a second client configuration `name` (beside ceph.conf): the same cluster, with `client`
   * options added to its [client] section (e.g. short op timeouts for one LU). Returns its path.
   */
  clientConf(name: string, client: Readonly<Record<string, string>>): string {
    const path = join(this.dir, name);
    const extra = Object.entries(client).map(([k, v]) => `${k} = ${v}`).join('\n');
    writeFileSync(path, `${readFileSync(this.conf, 'utf8')}${extra}\n`);
    return path;
  }

  /** Creates image `name` of `bytes` in pool `pool`. */
  async createImage(name: string, bytes: number, pool = 'rbd'): Promise<void> {
    await this.rbdOk('create', '--size', `${Math.ceil(bytes / (1 << 20))}M`, `${pool}/${name}`);
  }

  private writeConf(o: ClusterOptions, fsid: string): void {
    const d = this.dir;
    const p = this.ports;
    const lines = [
      '[global]',
      `fsid = ${fsid}`,
      `mon host = ${this.monHost}`,
      'mon initial members = a',
      'public network = 127.0.0.0/8',
      'auth cluster required = cephx',
      'auth service required = cephx',
      'auth client required = cephx',
      `keyring = ${this.keyring}`,
      `ms bind port min = ${p.bindMin}`,
      `ms bind port max = ${p.bindMax}`,
      'ms bind ipv6 = false',
      'osd pool default size = 1',
      'osd pool default min size = 1',
      'osd pool default pg num = 8',
      'osd pool default pgp num = 8',
      'mon max pg per osd = 500',
      'mon allow pool size one = true',
      'mon allow pool delete = true',
      'mon warn on pool no redundancy = false',
      'osd crush chooseleaf type = 0',
      `run dir = ${join(d, 'run')}`,
      `admin socket = ${join(d, 'run', '$name.asok')}`,
      `log file = ${join(d, 'log', '$name.log')}`,
      'debug ms = 0',
      '',
      '[mon]',
      `mon data = ${join(d, 'mon-$id')}`,
      '',
      '[osd]',
      `osd data = ${join(d, 'osd-$id')}`,
      'osd objectstore = memstore',
      `memstore device bytes = ${o.memstoreBytes ?? 4 * 2 ** 30}`,
      'osd crush update on start = true',
      'osd class load list = *',
      'osd class default list = *',
      // A client killed with SIGKILL (the failover test) leaves its watches until this expires; only
      // then may another client break its exclusive lock (Ceph's default: 30 s). librados pings every 5 s.
      'osd client watch timeout = 15',
      '',
      '[client]',
      // A client (rbd, librbd in tgtd) writes no log file into the cluster's directory.
      'log file = /dev/null',
      'admin socket = ',
    ];
    if (o.clientOpTimeout !== undefined && o.clientOpTimeout > 0) {
      lines.push(`rados osd op timeout = ${o.clientOpTimeout}`, `rados mon op timeout = ${o.clientOpTimeout}`,
        `client mount timeout = ${o.clientOpTimeout}`);
    }
    writeFileSync(this.conf, lines.join('\n') + '\n');
  }

  private async create(o: ClusterOptions): Promise<void> {
    const d = this.dir;
    for (const sub of ['run', 'log', 'mon-a']) mkdirSync(join(d, sub), { recursive: true });
    const fsid = randomUUID();
    this.writeConf(o, fsid);
    const kr = this.keyring;
    await this.must('ceph-authtool', ['--create-keyring', kr, '--gen-key', '-n', 'mon.', '--cap', 'mon', 'allow *']);
    await this.must('ceph-authtool', [kr, '--gen-key', '-n', 'client.admin', '--cap', 'mon', 'allow *', '--cap', 'osd', 'allow *',
      '--cap', 'mgr', 'allow *']);
    await this.must('ceph-authtool', [kr, '--gen-key', '-n', 'osd.0', '--cap', 'mon', 'allow profile osd', '--cap', 'osd', 'allow *',
      '--cap', 'mgr', 'allow profile osd']);
    const monmap = join(d, 'monmap');
    await this.must('monmaptool', ['--create', '--addv', 'a', `[v2:127.0.0.1:${this.ports.monV2},v1:127.0.0.1:${this.ports.monV1}]`,
      '--fsid', fsid, monmap]);
    await this.must('ceph-mon', ['-c', this.conf, '--mkfs', '-i', 'a', '--monmap', monmap, '--keyring', kr]);
    this.startMon();
    // osd.0's key came into the mon's auth database with the keyring at mkfs; `osd new` allocates the id.
    this.osdUuid = randomUUID();
    this.osdId = (await this.ceph('osd', 'new', this.osdUuid)).trim();
    mkdirSync(join(d, `osd-${this.osdId}`), { recursive: true });
    await this.must('ceph-osd', ['-c', this.conf, '-i', this.osdId, '--mkfs', '--osd-uuid', this.osdUuid]);
    this.startOsd();
    await this.waitOsdUp();
    await this.ceph('osd', 'pool', 'create', 'rbd', '8', '8');
    await this.ceph('osd', 'pool', 'application', 'enable', 'rbd', 'rbd');
    // The pool takes I/O once its PGs are active: `rbd ls` reads the pool's directory object.
    await waitFor(async () => (await this.rbd(['ls', 'rbd'], 60_000)).code === 0, 60_000, 'pool rbd to answer rbd ls');
  }

  private startMon(): void {
    this.mon = spawnDaemon('ceph-mon', ['-f', '-c', this.conf, '-i', 'a'], join(this.dir, 'log', 'mon.a.out'));
    this.recordPids();
  }

  private startOsd(): void {
    this.osd = spawnDaemon('ceph-osd', ['-f', '-c', this.conf, '-i', this.osdId], join(this.dir, 'log', `osd.${this.osdId}.out`));
    this.recordPids();
  }

  /** The daemons' pids, for reapOrphans in a later run if this process dies first. */
  private recordPids(): void {
    writeFileSync(join(this.dir, 'pids'), [this.osd?.proc.pid, this.mon?.proc.pid].filter((p) => p !== undefined).join(' '));
  }

  /** Waits until the osdmap says our OSD is up (and in). */
  async waitOsdUp(timeoutMs = 60_000): Promise<void> {
    await waitFor(async () => {
      if (this.osd?.done) throw new Error('ceph-osd exited');
      const st = JSON.parse(await this.ceph('osd', 'stat', '-f', 'json')) as { num_up_osds?: number; num_in_osds?: number };
      return (st.num_up_osds ?? 0) >= 1 && (st.num_in_osds ?? 0) >= 1;
    }, timeoutMs, 'the OSD to be up');
  }

  /** The OSD process (for tests that pause it with SIGSTOP/SIGCONT). */
  get osdPid(): number {
    return this.osd?.proc.pid ?? -1;
  }

  get monPid(): number {
    return this.mon?.proc.pid ?? -1;
  }

  /** Stops the OSD cleanly (memstore saves its objects), starts it again and waits for it to be up. */
  async restartOsd(): Promise<void> {
    await stopDaemon(this.osd, 30_000);
    this.startOsd();
    await this.waitOsdUp();
  }

  /** Stops the OSD, then the mon, and removes the directory. Never throws. */
  async stop(): Promise<void> {
    for (const pid of [this.osdPid, this.monPid]) {
      // A test may have left a daemon paused: SIGTERM does nothing to a stopped process.
      if (pid > 0) try { process.kill(pid, 'SIGCONT'); } catch { /* gone already */ }
    }
    await stopDaemon(this.osd, 20_000);
    await stopDaemon(this.mon, 20_000);
    this.osd = this.mon = null;
    rmSync(this.dir, { recursive: true, force: true });
  }
}
