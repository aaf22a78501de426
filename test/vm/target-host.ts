// The iSCSI target on the host side of the VM tests: tgtd (stgt's or Debian's) on 127.0.0.1 plus tgtadm
//
// STGT_VM_TARGET chooses the binaries: `stgt` (default) runs <repo>/bin/tgtd and bin/tgtadm,
// `debian` runs /usr/sbin/tgtd and /usr/sbin/tgtadm (the reference the test was proven against).
// Each instance gets a free TCP port, its own IPC socket (TGT_IPC_SOCKET, honoured by both
// implementations) and a control port (-C), so it never meets a system tgtd or another test.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from './image-cache.js';
import { freePort as helperFreePort } from '../helpers/daemon.js';

export type TargetKind = 'stgt' | 'debian';

export interface TargetBinaries {
  kind: TargetKind;
  tgtd: string;
  tgtadm: string;
}

/** Picks the target from STGT_VM_TARGET; throws (loudly, never a skip) when its binaries are missing. */
export function targetBinaries(env: NodeJS.ProcessEnv = process.env): TargetBinaries {
  const kind = (env.STGT_VM_TARGET ?? 'stgt') as string;
  let bins: TargetBinaries;
  if (kind === 'stgt') {
    const root = repoRoot();
    bins = { kind, tgtd: path.join(root, 'bin/tgtd'), tgtadm: path.join(root, 'bin/tgtadm') };
  } else if (kind === 'debian') {
    bins = { kind, tgtd: '/usr/sbin/tgtd', tgtadm: '/usr/sbin/tgtadm' };
  } else {
    throw new Error(`stgt-vm: STGT_VM_TARGET must be "stgt" or "debian", not "${kind}"`);
  }
  for (const bin of [bins.tgtd, bins.tgtadm]) {
    if (!fs.existsSync(bin)) {
      throw new Error(
        `stgt-vm: target binary ${bin} does not exist (STGT_VM_TARGET=${kind})` +
          (kind === 'debian' ? ': apt-get install -y tgt' : ': build stgt first (npm run build)'),
      );
    }
  }
  return bins;
}

/** A free port below the ephemeral range (see test/helpers/daemon.ts freePort: a port-0 port can be taken by an outgoing connection before tgtd binds it). */
export const freePort = (): Promise<number> => helperFreePort();

export class HostTarget {
  readonly dir: string;
  readonly port: number;
  readonly controlPort: number;
  private readonly socket: string;
  private child: ChildProcess | undefined;
  private output = '';

  private constructor(readonly bins: TargetBinaries, port: number) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `stgt-vm-target-${bins.kind}-`));
    this.port = port;
    // Any free number works as a control port: it only names the socket file.
    this.controlPort = 100 + (port % 9000); // tgtd refuses large -C values
    this.socket = path.join(this.dir, 'socket');
  }

  static async start(bins: TargetBinaries = targetBinaries()): Promise<HostTarget> {
    const t = new HostTarget(bins, await freePort());
    await t.launch();
    return t;
  }

  private env(): NodeJS.ProcessEnv {
    return { ...process.env, TGT_IPC_SOCKET: this.socket };
  }

  private async launch(): Promise<void> {
    const args = ['-f', '-C', String(this.controlPort), '--iscsi', `portal=127.0.0.1:${this.port}`];
    const child = spawn(this.bins.tgtd, args, { env: this.env(), stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    const keep = (b: Buffer): void => {
      this.output = (this.output + b.toString()).slice(-20000);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`stgt-vm: ${this.bins.tgtd} exited at start (${child.exitCode ?? child.signalCode}):\n${this.output}`);
      }
      const r = this.tgtadmRaw(['--mode', 'system', '--op', 'show']);
      if (r.status === 0 && (await this.listening())) return;
      if (Date.now() > deadline) {
        this.stop();
        throw new Error(`stgt-vm: ${this.bins.tgtd} not ready within 20 s (tgtadm: ${r.stderr.trim()}):\n${this.output}`);
      }
      await new Promise((res) => setTimeout(res, 200));
    }
  }

  private listening(): Promise<boolean> {
    return new Promise((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port: this.port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
  }

  private tgtadmRaw(args: string[]): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync(this.bins.tgtadm, ['-C', String(this.controlPort), ...args], {
      env: this.env(),
      encoding: 'utf8',
      timeout: 20_000,
    });
    return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? String(r.error ?? '') };
  }

  /** Runs tgtadm with tgt's syntax (`--lld iscsi` added when absent); throws with its output on failure. */
  tgtadm(...args: string[]): string {
    const full = args.includes('--lld') || args.includes('-L') ? args : ['--lld', 'iscsi', ...args];
    const r = this.tgtadmRaw(full);
    if (r.status !== 0) {
      throw new Error(`stgt-vm: tgtadm ${full.join(' ')} failed (exit ${r.status}): ${r.stderr.trim()} ${r.stdout.trim()}`);
    }
    return r.stdout;
  }

  /** A sparse backing file of `mib` MiB in this target's temp dir. */
  backingFile(name: string, mib: number): string {
    const p = path.join(this.dir, name);
    fs.writeFileSync(p, '');
    fs.truncateSync(p, mib * 1024 * 1024);
    return p;
  }

  /** New target `tid` named `iqn` with one LUN per entry of `lunFiles` (LUN 1, 2, ...), bound to all initiators. */
  addTarget(tid: number, iqn: string, lunFiles: string[]): void {
    this.tgtadm('--mode', 'target', '--op', 'new', '--tid', String(tid), '-T', iqn);
    lunFiles.forEach((file, i) => {
      this.tgtadm('--mode', 'logicalunit', '--op', 'new', '--tid', String(tid), '--lun', String(i + 1), '-b', file);
    });
    this.tgtadm('--mode', 'target', '--op', 'bind', '--tid', String(tid), '-I', 'ALL');
  }

  /** Sets an iSCSI key of target `tid` (tgtadm --op update --name --value), e.g. HeaderDigest CRC32C,None. */
  setParam(tid: number, name: string, value: string): void {
    this.tgtadm('--mode', 'target', '--op', 'update', '--tid', String(tid), '--name', name, '--value', value);
  }

  /** Incoming CHAP: the initiator must authenticate as user/password to log in to `tid`. */
  addChap(tid: number, user: string, password: string): void {
    this.tgtadm('--mode', 'account', '--op', 'new', '--user', user, '--password', password);
    this.tgtadm('--mode', 'account', '--op', 'bind', '--tid', String(tid), '--user', user);
  }

  /**
   * Stops tgtd (SIGTERM, as an init system does; SIGKILL after 15 s) and starts it again on the same
   * port and IPC socket, with nothing configured: the caller creates its targets and LUs again.
   * The temp dir (backing files, the APTPL state beside them) stays.
   */
  async restart(): Promise<void> {
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((res) => child.once('exit', () => res()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
    this.child = undefined;
    await this.launch();
  }

  /** Kills tgtd with SIGKILL (a gateway that dies) and waits for it to be gone; restart() starts it again. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((res) => child.once('exit', () => res()));
    child.kill('SIGKILL');
    await exited;
  }

  /** What tgtd printed (for failure messages). */
  log(): string {
    return this.output;
  }

  stop(): void {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    this.child = undefined;
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
