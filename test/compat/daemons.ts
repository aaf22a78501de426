// Compat-test daemons and clients: Debian's tgtd/tgtadm (the oracle) and stgt's, side by side (tgt-compat.md A1, §1.3).
//
// Every daemon gets a private TGT_IPC_SOCKET prefix and a free iSCSI port, so the oracle never
// touches /var/run/tgtd and both kinds can run at once. A client is "which tgtadm": Debian's binary
// (started with argv[0] = "tgtadm" so its getopt messages read like ours) or stgt's compiled one.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { distRoot, freePort, run, TestDaemon, waitFor, type RunResult } from '../helpers/daemon.js';

export const DEBIAN_TGTD = '/usr/sbin/tgtd';
export const DEBIAN_TGTADM = '/usr/sbin/tgtadm';
export const haveDebianTgt = existsSync(DEBIAN_TGTD) && existsSync(DEBIAN_TGTADM);

/** What a transcript needs of a running daemon, whichever implementation it is. */
export interface CompatDaemon {
  readonly kind: 'debian' | 'stgt';
  /** Private directory (socket prefix lives here; tests put disk images here). */
  readonly dir: string;
  readonly controlPort: number;
  readonly iscsiPort: number;
  readonly socketBase: string;
  readonly running: boolean;
  /** Daemon stderr so far (stgt) or '' (Debian logs to syslog). */
  log(): string;
  /** Stops the daemon if still running (SIGTERM, then SIGKILL) and removes its directory. */
  stop(): Promise<void>;
}

export type ClientKind = 'debian' | 'stgt';

/**
 * Starts Debian's tgtd in the foreground on a private socket; resolves once tgtadm can reach it
 * and it listens on its portal. When another process bound the port first, tgt falls back to its
 * default portals instead of failing: that start is retried on another port.
 */
export async function startDebianTgtd(extraEnv: Readonly<Record<string, string>> = {}): Promise<CompatDaemon> {
  for (let attempt = 1; ; attempt++) {
    const d = await startDebianTgtdOnce(extraEnv);
    const portals = await runClient('debian', d, ['--mode', 'portal', '--op', 'show']);
    if (portals.stdout === `Portal: 127.0.0.1:${d.iscsiPort},1\n` || attempt === 5) return d;
    await d.stop();
  }
}

async function startDebianTgtdOnce(extraEnv: Readonly<Record<string, string>>): Promise<CompatDaemon> {
  const dir = mkdtempSync(join(tmpdir(), 'h7c-'));
  const controlPort = 1 + Math.floor(Math.random() * 9999);
  const iscsiPort = await freePort();
  const socketBase = join(dir, 'socket');
  const proc: ChildProcess = spawn(DEBIAN_TGTD, ['-f', '-C', String(controlPort), '--iscsi', `portal=127.0.0.1:${iscsiPort}`], {
    env: { ...process.env, ...extraEnv, TGT_IPC_SOCKET: socketBase },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  proc.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  let exited = false;
  const done = new Promise<void>((res) => proc.on('exit', () => ((exited = true), res())));
  await waitFor(async () => {
    if (exited) throw new Error(`Debian tgtd exited during start: ${stderr}`);
    if (!existsSync(`${socketBase}.${controlPort}`)) return false;
    const r = await runClient('debian', { socketBase, controlPort }, ['--mode', 'sys', '--op', 'show']);
    return r.code === 0;
  }, 10_000, 'Debian tgtd to start');
  return {
    kind: 'debian', dir, controlPort, iscsiPort, socketBase,
    get running() { return !exited; },
    log: () => stderr,
    async stop() {
      if (!exited) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
        await done;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Starts stgt's tgtd (test/helpers/daemon.ts). `--lld iscsi,iser` makes it list the same LLDs as
 * Debian's build: iser is linked into Debian's tgtd and shows "iser: error" without RDMA hardware,
 * and stgt's iser module fails its init the same way on this machine.
 */
export async function startStgtTgtd(env: Readonly<Record<string, string>> = {}, args: readonly string[] = []): Promise<CompatDaemon> {
  const d = await TestDaemon.start({ args: ['--lld', 'iscsi,iser', ...args], env });
  return {
    kind: 'stgt', dir: d.dir, controlPort: d.controlPort, iscsiPort: d.iscsiPort, socketBase: d.socketBase,
    get running() { return d.running; },
    log: () => d.stderr,
    async stop() {
      if (d.running) await d.stop().catch(() => d.kill());
      else d.kill();
    },
  };
}

/** `stgtArgs`: more tgtd arguments for stgt's daemon (e.g. --workers 2). */
export function startDaemon(kind: 'debian' | 'stgt', stgtArgs: readonly string[] = []): Promise<CompatDaemon> {
  return kind === 'debian' ? startDebianTgtd() : startStgtTgtd({}, stgtArgs);
}

/** stgt's tgtadm as a one-line script importing the dist beside this file (like the daemon helper). */
function stgtTgtadmScript(): string {
  const dir = join(tmpdir(), 'h7c-bin');
  const file = join(dir, `tgtadm-${createHash('sha1').update(distRoot()).digest('hex').slice(0, 12)}.mjs`);
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    const url = pathToFileURL(join(distRoot(), 'src', 'cli', 'tgtadm.js')).href;
    writeFileSync(file, `import { main } from ${JSON.stringify(url)};\nawait main();\n`);
  }
  return file;
}

/**
 * Runs one tgtadm (`-C <port>` first, TGT_IPC_SOCKET set). The program name getopt and eprintf
 * print is normalised to "tgtadm:" for both clients.
 */
export async function runClient(
  client: ClientKind,
  d: { socketBase: string; controlPort: number },
  args: readonly string[],
  extra: { wrap?: readonly string[] } = {},
): Promise<RunResult> {
  const env = { ...process.env, TGT_IPC_SOCKET: d.socketBase };
  const full = ['-C', String(d.controlPort), ...args];
  let r: RunResult;
  if (client === 'debian') {
    r = extra.wrap === undefined
      ? await runArgv0(DEBIAN_TGTADM, 'tgtadm', full, env)
      : await run(extra.wrap[0]!, [...extra.wrap.slice(1), DEBIAN_TGTADM, ...full], { env, timeoutMs: 30_000 });
    r.stderr = r.stderr.split(`${DEBIAN_TGTADM}:`).join('tgtadm:');
  } else {
    const script = stgtTgtadmScript();
    const cmd = [process.execPath, script, ...full];
    r = extra.wrap === undefined
      ? await run(cmd[0]!, cmd.slice(1), { env, timeoutMs: 30_000 })
      : await run(extra.wrap[0]!, [...extra.wrap.slice(1), ...cmd], { env, timeoutMs: 30_000 });
    r.stderr = r.stderr.split(`${script}:`).join('tgtadm:');
  }
  return r;
}

function runArgv0(cmd: string, argv0: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env, argv0, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    p.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const t = setTimeout(() => p.kill('SIGKILL'), 30_000);
    p.on('error', reject);
    p.on('close', (code, signal) => {
      clearTimeout(t);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
