// Integration-test harness: runs the real tgtd (bin/tgtd) on 127.0.0.1 with a private control socket, and tgtadm against it (tgt-compat.md A1, §1.3).
//
// Every daemon gets its own temporary directory holding TGT_IPC_SOCKET (so tests never touch
// /var/run/tgtd and can run beside a system tgtd), a free TCP port for its iSCSI portal, and its
// stderr captured. `stop()` sends SIGTERM and asserts a clean exit (status 0, no uncaught error).
//
// The daemon and tgtadm are the builds that sit beside this compiled file (<dist>/src/...), so a
// test compiled to /tmp/x-dist runs the daemon compiled there; when that dist is the repository's
// own dist/, the repository's bin/tgtd and bin/tgtadm are used as they are.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion, capturing its output; never rejects on a non-zero exit. */
export function run(
  cmd: string,
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {},
): Promise<RunResult> {
  return new Promise((resolveRun, reject) => {
    const p = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    p.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    p.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      resolveRun({ code, signal, stdout, stderr });
    });
  });
}

/** Ports freePort handed out in this process (never the same twice). */
const handedOut = new Set<number>();

/** Whether a listener can be bound at host:port right now. */
function canBind(host: string, port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = net.createServer();
    s.once('error', () => res(false));
    s.listen({ host, port, exclusive: true }, () => s.close(() => res(true)));
  });
}

/** The first port of the kernel's ephemeral range (where connect() picks local ports). */
function ephemeralLow(): number {
  try {
    const lo = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(lo) && lo > 2048 ? lo : 32768;
  } catch {
    return 32768;
  }
}

/**
 * The part of the port range [first, last] that belongs to this process's test lane: with
 * STGT_TEST_LANE=<i>/<n> (scripts/run-tests.mjs runs n lanes of test files at once) the range is cut
 * into n equal slices and slice i is returned, so two lanes never probe, and then bind, the same
 * port. Without the variable (one lane, or a test run by hand) the whole range.
 */
export function laneSlice(first: number, last: number, env: NodeJS.ProcessEnv = process.env): [number, number] {
  const m = /^(\d+)\/(\d+)$/.exec(env.STGT_TEST_LANE ?? '');
  if (!m) return [first, last];
  const n = Number(m[2]);
  const i = Number(m[1]);
  if (!(n > 1 && i < n)) return [first, last];
  const size = Math.floor((last - first + 1) / n);
  return [first + i * size, first + (i + 1) * size - 1];
}

/**
 * A TCP port nobody listens on right now, for a daemon to bind a moment later. Taken from below
 * the ephemeral range: a port the kernel hands out for port 0 is one it also gives to outgoing
 * connections (every initiator in every test on the machine), and such a connection taking it
 * between this probe and the daemon's bind made the daemon's portal fail with EADDRINUSE. The
 * daemon helpers still retry on EADDRINUSE: another process may bind the same port meanwhile.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const [bottom, top] = laneSlice(Math.max(1024, ephemeralLow() - 1 - 12_000), ephemeralLow() - 1);
  for (let i = 0; i < 64; i++) {
    const port = bottom + Math.floor(Math.random() * (top - bottom + 1));
    if (handedOut.has(port)) continue;
    if (await canBind(host, port)) {
      handedOut.add(port);
      return port;
    }
  }
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.once('error', rej);
    s.listen(0, host, () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => res(port));
    });
  });
}

/** Whether something accepts TCP connections at host:port. */
export function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = net.connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      res(true);
    });
    s.once('error', () => res(false));
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` every 50 ms until true; throws `what` after `timeoutMs`. */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

/** The repository root: the nearest ancestor of `from` (default: this file, then the cwd) holding bin/tgtd. */
export function repoRoot(from?: string): string {
  const starts = from !== undefined ? [from] : [dirname(fileURLToPath(import.meta.url)), process.cwd()];
  for (const start of starts) {
    for (let d = resolve(start); ; d = dirname(d)) {
      if (existsSync(join(d, 'bin', 'tgtd')) && existsSync(join(d, 'package.json'))) return d;
      if (dirname(d) === d) break;
    }
  }
  throw new Error('cannot find the stgt repository (a directory with bin/tgtd)');
}

/** The compiled tree this file belongs to (<dist>/test/helpers/daemon.js -> <dist>). */
export function distRoot(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
}

/** iscsi://127.0.0.1:PORT/IQN/LUN, the URL form libiscsi's tools take. */
export function iscsiUrl(port: number, iqn: string, lun: number, host = '127.0.0.1'): string {
  return `iscsi://${host}:${port}/${iqn}/${lun}`;
}

export interface DaemonStartOptions {
  /** Extra tgtd arguments after `-f -C N --iscsi portal=127.0.0.1:PORT` (e.g. ['--lld', 'iscsi,iser']). */
  args?: readonly string[];
  /** Do not add `--iscsi portal=...` (e.g. for daemons started without the iscsi LLD). Default true. */
  portal?: boolean;
  /** Control port (-C); default a random one in 1..9999 (the socket directory is private anyway). */
  controlPort?: number;
  /** Extra environment for the daemon. */
  env?: Readonly<Record<string, string>>;
  /** How long to wait for the daemon to be ready. Default 20 s. */
  readyTimeoutMs?: number;
  /** The log line that says start-up finished (after every --lld/--bstype load). Default /tgtd ready/. */
  readyLog?: RegExp;
  /** Pass -f (log to stderr). Default true; false runs tgtd with -D (foreground, syslog). */
  foreground?: boolean;
  /** A command the daemon is started through, which must exec it (e.g. ['unshare', '-m', 'sh', script]). */
  wrapper?: readonly string[];
}

export class TestDaemon {
  stderr = '';
  stdout = '';
  private exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  private readonly exited: Promise<void>;

  private constructor(
    readonly proc: ChildProcess,
    /** Private directory: the IPC socket lives here; tests may put files here (removed on stop). */
    readonly dir: string,
    readonly controlPort: number,
    /** Port of the iSCSI portal on 127.0.0.1 (0 when started with portal: false). */
    readonly iscsiPort: number,
    private readonly tgtadmScript: string,
  ) {
    proc.stdout?.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    proc.stderr?.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    proc.on('exit', (code, signal) => {
      this.exit = { code, signal };
    });
    // Settled on 'close', after stdout and stderr are drained: stop() reads the last log lines
    // (an uncaught error is printed just before the exit, which can be seen first).
    this.exited = new Promise((res) =>
      proc.on('close', (code, signal) => {
        this.exit ??= { code, signal };
        res();
      }),
    );
  }

  /** TGT_IPC_SOCKET for this daemon (tgtadm appends ".<control port>"). */
  get socketBase(): string {
    return join(this.dir, 'socket');
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  get running(): boolean {
    return this.exit === null;
  }

  static async start(o: DaemonStartOptions = {}): Promise<TestDaemon> {
    // The iSCSI port was free when freePort probed it; another process can bind it before tgtd
    // does (tgtd then runs with its iscsi LLD in error). Such a start is retried on another port.
    for (let attempt = 1; ; attempt++) {
      const d = await TestDaemon.startOnce(o);
      if (o.portal === false || !/lld iscsi: init failed: listen EADDRINUSE/.test(d.stderr) || attempt === 5) return d;
      d.kill();
      await d.exited;
    }
  }

  private static async startOnce(o: DaemonStartOptions): Promise<TestDaemon> {
    // Short prefix: the socket path must fit sockaddr_un (107 bytes).
    const dir = mkdtempSync(join(tmpdir(), 'stgt-'));
    const controlPort = o.controlPort ?? 1 + Math.floor(Math.random() * 9999);
    const iscsiPort = o.portal === false ? 0 : await freePort();
    const { tgtd, tgtadm } = launchers(dir);
    const args = [o.foreground === false ? '-D' : '-f', '-C', String(controlPort)];
    if (o.portal !== false) args.push('--iscsi', `portal=127.0.0.1:${iscsiPort}`);
    args.push(...(o.args ?? []));
    const argv = [...(o.wrapper ?? []), process.execPath, tgtd, ...args];
    const proc = spawn(argv[0]!, argv.slice(1), {
      env: { ...process.env, ...o.env, TGT_IPC_SOCKET: join(dir, 'socket') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const d = new TestDaemon(proc, dir, controlPort, iscsiPort, tgtadm);
    const ready = o.readyLog ?? /tgtd ready/;
    try {
      await waitFor(
        () => {
          if (!d.running) throw new Error(`tgtd exited during start (${JSON.stringify(d.exit)}):\n${d.stderr}`);
          return ready.test(d.stderr) && existsSync(`${d.socketBase}.${controlPort}`);
        },
        o.readyTimeoutMs ?? 20_000,
        `tgtd to start (stderr so far:\n${d.stderr})`,
      );
    } catch (e) {
      d.kill();
      throw e;
    }
    return d;
  }

  /** Runs tgtadm against this daemon (`-C <port>` prepended, TGT_IPC_SOCKET set). */
  tgtadm(...args: string[]): Promise<RunResult> {
    return run(process.execPath, [this.tgtadmScript, '-C', String(this.controlPort), ...args], {
      env: { ...process.env, TGT_IPC_SOCKET: this.socketBase },
      timeoutMs: 30_000,
    });
  }

  /** tgtadm that must succeed; returns its stdout. */
  async tgtadmOk(...args: string[]): Promise<string> {
    const r = await this.tgtadm(...args);
    if (r.code !== 0) {
      throw new Error(`tgtadm ${args.join(' ')} exited ${String(r.code)}: ${r.stderr}\n--- tgtd stderr:\n${this.stderr}`);
    }
    return r.stdout;
  }

  /** Creates target `tid` named `iqn` on `lld` (default iscsi) and lets every initiator in (`-I ALL`). */
  async addTarget(tid: number, iqn: string, lld = 'iscsi'): Promise<void> {
    await this.tgtadmOk('--lld', lld, '--mode', 'target', '--op', 'new', '--tid', String(tid), '-T', iqn);
    await this.tgtadmOk('--lld', lld, '--mode', 'target', '--op', 'bind', '--tid', String(tid), '-I', 'ALL');
  }

  /** Adds LUN `lun` to target `tid`; `extra` are more tgtadm options (e.g. ['--bstype', 'null']). */
  async addLun(tid: number, lun: number, path: string, extra: readonly string[] = [], lld = 'iscsi'): Promise<void> {
    await this.tgtadmOk('--lld', lld, '--mode', 'logicalunit', '--op', 'new', '--tid', String(tid), '--lun', String(lun),
      '-b', path, ...extra);
  }

  /**
   * Waits until the daemon's stderr (from offset `from`) matches. Use this, not a match on
   * `stderr` right after a tgtadm or SCSI answer: the answer and the log line reach this process
   * through different pipes, and the answer can come first.
   */
  waitForLog(re: RegExp, timeoutMs = 10_000, from = 0): Promise<void> {
    return waitFor(() => re.test(this.stderr.slice(from)), timeoutMs, `tgtd log ${String(re)} (stderr so far:\n${this.stderr.slice(from)})`);
  }

  /** Text of /proc/PID/maps of the daemon (what shared libraries it has mapped). */
  async maps(): Promise<string> {
    const { readFile } = await import('node:fs/promises');
    return readFile(`/proc/${this.pid}/maps`, 'utf8');
  }

  /**
   * SIGTERM, wait, and return how it ended; throws unless it exited with status 0 and logged
   * no uncaught exception. Removes the private directory.
   */
  async stop(timeoutMs = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.running) this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(timer);
    rmSync(this.dir, { recursive: true, force: true });
    const e = this.exit!;
    if (e.code !== 0 || /uncaught/i.test(this.stderr)) {
      throw new Error(`tgtd did not exit cleanly (${JSON.stringify(e)}):\n${this.stderr}`);
    }
    return e;
  }

  /** Hard stop for cleanup paths (after a failed assertion); never throws. */
  kill(): void {
    if (this.running) this.proc.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Scripts that start the daemon and tgtadm of the dist beside this file: the repository's bin/ when
 * that is the dist bin/ points at, otherwise two one-line copies of bin/ written into `dir`.
 */
function launchers(dir: string): { tgtd: string; tgtadm: string } {
  const dist = distRoot();
  let root: string | null = null;
  try {
    root = repoRoot();
  } catch {
    root = null;
  }
  if (root !== null && resolve(root, 'dist') === dist) {
    return { tgtd: join(root, 'bin', 'tgtd'), tgtadm: join(root, 'bin', 'tgtadm') };
  }
  const tgtd = join(dir, 'tgtd.mjs');
  const tgtadm = join(dir, 'tgtadm.mjs');
  const main = (rel: string): string => pathToFileURL(join(dist, rel)).href;
  writeFileSync(tgtd, `import { main } from ${JSON.stringify(main('src/daemon/main.js'))};\nawait main();\n`);
  writeFileSync(tgtadm, `import { main } from ${JSON.stringify(main('src/cli/tgtadm.js'))};\nawait main();\n`);
  return { tgtd, tgtadm };
}
