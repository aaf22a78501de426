// QEMU VM harness: boot the cached Debian image under TCG/KVM, run one bash script in the guest, return its result
//
// One VM per call. The kernel runs /sbin/stgt-init from the image (kernel cmdline init=), which
// mounts the 9p control share and runs the init.sh written here: it mounts the other shares, sets
// up eth0 for QEMU's user network (10.0.2.15/24), runs the caller's script with its stdout,
// stderr and exit status going to files on the control share, then powers off. QEMU's user
// network has restrict=on, so the guest reaches nothing but the guestfwd forwards, and each
// forward runs stdio-proxy.js per connection to a port on the host's loopback.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fastInitrd } from './fast-initrd.js';
import { ensureImage, repoRoot, type VmImage } from './image-cache.js';

export { ensureImage, repoRoot, type VmImage } from './image-cache.js';

/** The guest's view of a host port: guest connects to guestAddr:guestPort, lands on hostAddr:hostPort. */
export interface GuestForward {
  guestPort: number;
  hostPort: number;
  /** Default 10.0.2.100 (inside QEMU's user network, never a real address). */
  guestAddr?: string;
  /** Default 127.0.0.1. */
  hostAddr?: string;
  /** Fault injection for the harness's negative test (see data-in-corrupter.ts). */
  corruptDataIn?: boolean;
}

export interface GuestShare {
  tag: string;
  hostPath: string;
  guestPath: string;
  readonly?: boolean;
}

export interface RunOptions {
  image?: VmImage;
  /** Whole run including boot; on expiry qemu is killed and the promise rejects. Default 300 s. */
  timeoutMs?: number;
  forwards?: GuestForward[];
  /** More 9p shares; a read-only one is mounted with cache=loose (its files must not change while the guest runs). */
  shares?: GuestShare[];
  /** Share the repository read-only at /mnt/repo (default true). */
  shareRepo?: boolean;
  /** Share the directory of the host's node binary at /mnt/node, linked as /usr/local/bin/node (default true). */
  shareNode?: boolean;
  memoryMb?: number;
  cpus?: number;
  /** Exported in the guest before the script runs. */
  env?: Record<string, string>;
  /**
   * Raw image files attached as SCSI disks on a virtio-scsi controller (QEMU scsi-hd: vendor QEMU,
   * product QEMU HARDDISK, serial STGT-SCSI<i>), in order; the guest loads virtio_scsi and sg.
   */
  scsiDisks?: string[];
  /**
   * PID 1 of the guest: 'script' (default) the image's /sbin/stgt-init, no init system; 'systemd'
   * boots systemd and runs the script as the unit systemd.run= makes (systemd-run-generator(8)),
   * booted into instead of default.target: only sysinit and basic units start, and its end powers
   * off. Units of the image's packages that are not wanted are masked (multipathd would claim
   * iSCSI disks; open-iscsi.service would log in to recorded nodes; a test starts iscsid itself).
   */
  init?: 'script' | 'systemd';
  /**
   * The initramfs: 'fast' (default; fast-initrd.ts: the root disk's modules and Debian's klibc
   * tools only, no udev, built once per image from Debian's) or 'debian' (the image's own, with
   * udev). Env STGT_VM_INITRD=debian|fast wins.
   */
  initrd?: 'fast' | 'debian';
  /** Names the work dir (console log, results) for diagnosis. */
  label?: string;
  log?: (line: string) => void;
}

export interface GuestResult {
  code: number;
  stdout: string;
  stderr: string;
  /** Serial console of the run (kernel log, init messages); kept on disk at this path. */
  consoleLog: string;
  workDir: string;
  accel: string;
  /** From QEMU start to the script's start, per the guest's uptime. */
  bootMs: number;
  totalMs: number;
}

/** Directory of this file (compiled: dist/test/vm), where stdio-proxy.js lives. */
const HERE = path.dirname(fileURLToPath(import.meta.url));

/** KVM only when a real KVM module is loaded (a software /dev/kvm hangs Debian's kernel); env STGT_VM_ACCEL wins. */
export function chooseAccel(): 'kvm' | 'tcg' {
  const forced = process.env.STGT_VM_ACCEL;
  if (forced === 'kvm' || forced === 'tcg') return forced;
  try {
    const mods = fs.readFileSync('/proc/modules', 'utf8');
    if (/^kvm_(intel|amd) /m.test(mods) && fs.existsSync('/dev/kvm')) return 'kvm';
  } catch {
    /* no /proc/modules: assume no KVM */
  }
  return 'tcg';
}

function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':').concat(['/usr/sbin', '/sbin'])) {
    const p = path.join(dir, cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

/** Throws a loud, actionable error when the VM tools are missing (the tests must not skip silently). */
export function requireVmTools(): void {
  const missing = ['qemu-system-x86_64', 'debootstrap', 'mke2fs'].filter((c) => !which(c));
  if (missing.length > 0) {
    throw new Error(`stgt-vm: missing ${missing.join(', ')}: run "bash .ci/vm-deps" (installs qemu-system-x86, debootstrap)`);
  }
}

/** QEMU option values are comma-separated: a literal comma is written twice. */
function qemuEscape(value: string): string {
  return value.replace(/,/g, ',,');
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The init.sh run by the image's /sbin/stgt-init from the control share (bash, in the guest).
 * Read-only shares are mounted with cache=loose: the guest keeps what it read in its page cache.
 * Without it every `node` in the guest read the whole node binary (~100 MB) and each module again
 * over 9p (measured under TCG: a second `node -e 0` took 38 s instead of 4 s, a tgtadm 40 s instead
 * of 10 s). Those shares (the repository, node, a test's inputs) do not change while the guest runs.
 */
function initScript(shares: GuestShare[], nodeShared: boolean, scsi: boolean, systemd: boolean): string {
  const mounts = shares
    .map(
      (s) =>
        `mkdir -p ${shellQuote(s.guestPath)} && mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,${s.readonly ? 'ro,cache=loose' : 'rw'} ${s.tag} ${shellQuote(s.guestPath)} || echo "stgt-vm: mount of share ${s.tag} failed"`,
    )
    .join('\n');
  return `#!/bin/bash
# Written by test/vm/harness.ts for one run; executed by ${systemd ? 'systemd (kernel-command-line.service)' : "/sbin/stgt-init as PID 1's child"}.
ctl=/mnt/ctl
export HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
echo "stgt-vm: init.sh at uptime $(cut -d' ' -f1 /proc/uptime)"
${mounts}
${nodeShared ? 'ln -sf /mnt/node/node /usr/local/bin/node' : ''}
# Without systemd there is no udev: load what udev would (NIC, SCSI disk driver) by hand.
modprobe virtio_net; modprobe sd_mod
${scsi ? 'modprobe virtio_scsi; modprobe sg' : ''}
ip link set lo up
ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 && ip route add default via 10.0.2.2 || echo "stgt-vm: eth0 setup failed"
hostname stgt-vm
mkdir -p /run/lock
cut -d' ' -f1 /proc/uptime >$ctl/boot-uptime
set -a; . $ctl/env.sh; set +a
cd /root
bash $ctl/script.sh >$ctl/stdout 2>$ctl/stderr </dev/null
echo $? >$ctl/code.tmp && mv $ctl/code.tmp $ctl/code
echo "stgt-vm: script exited $(cat $ctl/code) at uptime $(cut -d' ' -f1 /proc/uptime)"
sync
`;
}

function readIf(p: string): string {
  try {
    return fs.readFileSync(p, 'utf8');
  } catch {
    return '';
  }
}

function tail(text: string, lines: number): string {
  return text.split('\n').slice(-lines).join('\n');
}

/**
 * Kernel arguments for init 'systemd': the unit running init.sh mounts the control share first
 * (stgt-init does that in the other mode); its success or failure powers the guest off.
 */
const SYSTEMD_CMDLINE = [
  'init=/lib/systemd/systemd',
  `systemd.run="/bin/sh -c 'modprobe 9pnet_virtio; modprobe 9p; mkdir -p /mnt/ctl && mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 ctl /mnt/ctl && exec /bin/bash /mnt/ctl/init.sh'"`,
  'systemd.run_success_action=poweroff',
  'systemd.run_failure_action=poweroff',
  'systemd.mask=multipathd.service',
  'systemd.mask=multipathd.socket',
  'systemd.mask=open-iscsi.service',
  'systemd.mask=systemd-pstore.service',
  'systemd.mask=systemd-binfmt.service',
  'systemd.show_status=0',
].join(' ');

/** Boots a VM, runs `script` with bash as root in the guest, and returns its exit status and output. */
export async function runInGuest(script: string, opts: RunOptions = {}): Promise<GuestResult> {
  requireVmTools();
  const log = opts.log ?? (() => {});
  const image = opts.image ?? (await ensureImage(log));
  const label = (opts.label ?? 'run').replace(/[^A-Za-z0-9_.-]/g, '_');
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), `stgt-vm-${label}-`));
  const ctlDir = path.join(workDir, 'ctl');
  fs.mkdirSync(ctlDir);
  const consoleLog = path.join(workDir, 'console.log');

  const shares: GuestShare[] = [...(opts.shares ?? [])];
  if (opts.shareRepo !== false) shares.push({ tag: 'repo', hostPath: repoRoot(), guestPath: '/mnt/repo', readonly: true });
  const shareNode = opts.shareNode !== false;
  if (shareNode) {
    const nodeDir = path.dirname(fs.realpathSync(process.execPath));
    shares.push({ tag: 'node', hostPath: nodeDir, guestPath: '/mnt/node', readonly: true });
  }
  const systemd = opts.init === 'systemd';
  fs.writeFileSync(path.join(ctlDir, 'init.sh'), initScript(shares, shareNode, (opts.scsiDisks ?? []).length > 0, systemd));
  fs.writeFileSync(path.join(ctlDir, 'script.sh'), script);
  const envLines = Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${shellQuote(v)}`);
  fs.writeFileSync(path.join(ctlDir, 'env.sh'), envLines.join('\n') + '\n');

  const proxy = path.join(HERE, 'stdio-proxy.js');
  const netdev = ['user', 'id=n0', 'restrict=on'];
  for (const f of opts.forwards ?? []) {
    const cmd = `${process.execPath} ${proxy} ${f.hostAddr ?? '127.0.0.1'} ${f.hostPort}${f.corruptDataIn ? ' corrupt-data-in' : ''}`;
    netdev.push(`guestfwd=tcp:${f.guestAddr ?? '10.0.2.100'}:${f.guestPort}-cmd:${qemuEscape(cmd)}`);
  }
  const accel = chooseAccel();
  const initrdKind = process.env.STGT_VM_INITRD === 'debian' || process.env.STGT_VM_INITRD === 'fast'
    ? process.env.STGT_VM_INITRD
    : (opts.initrd ?? 'fast');
  let initrd = image.initrd;
  if (initrdKind === 'fast') {
    try {
      initrd = fastInitrd(image.initrd);
    } catch (e) {
      log(`stgt-vm: no fast initrd (${e instanceof Error ? e.message : String(e)}); booting Debian's`);
    }
  }
  const args = [
    '-accel', accel,
    '-cpu', accel === 'kvm' ? 'host' : 'max',
    '-m', String(opts.memoryMb ?? 1024),
    '-smp', String(opts.cpus ?? 1),
    // -nodefaults: no VGA, floppy or CD-ROM drive for the guest to probe (the serial port, monitor and
    // NIC are given below).
    '-nodefaults', '-nographic', '-monitor', 'none', '-serial', `file:${consoleLog}`,
    '-no-reboot',
    '-kernel', image.kernel,
    '-initrd', initrd,
    // no_timer_check: under TCG on a loaded host the kernel's check that the IO-APIC timer ticks can
    // time out and panic ("IO-APIC + timer doesn't work", seen once at load 12); the check is moot here.
    '-append', `console=ttyS0 root=/dev/vda rw panic=-1 net.ifnames=0 loglevel=5 no_timer_check ${systemd ? SYSTEMD_CMDLINE : 'init=/sbin/stgt-init'}`,
    '-drive', `file=${qemuEscape(image.rootfs)},if=virtio,format=raw,snapshot=on`,
    '-netdev', netdev.join(','),
    // romfile= (none): the kernel is loaded by -kernel, so the NIC's iPXE boot ROM is not run.
    '-device', 'virtio-net-pci,netdev=n0,romfile=',
    '-virtfs', `local,path=${qemuEscape(ctlDir)},mount_tag=ctl,security_model=none`,
  ];
  const scsiDisks = opts.scsiDisks ?? [];
  if (scsiDisks.length > 0) args.push('-device', 'virtio-scsi-pci,id=scsi0');
  scsiDisks.forEach((file, i) => {
    args.push('-drive', `if=none,id=scsid${i},file=${qemuEscape(file)},format=raw`);
    args.push('-device', `scsi-hd,drive=scsid${i},bus=scsi0.0,scsi-id=0,lun=${i},serial=STGT-SCSI${i}`);
  });
  for (const s of shares) {
    args.push('-virtfs', `local,path=${qemuEscape(s.hostPath)},mount_tag=${s.tag},security_model=none${s.readonly ? ',readonly=on' : ''}`);
  }
  fs.writeFileSync(path.join(workDir, 'qemu-args.json'), JSON.stringify(args, null, 1));

  const timeoutMs = opts.timeoutMs ?? 300_000;
  const t0 = Date.now();
  log(`stgt-vm: booting (${accel}) for ${label}; work dir ${workDir}`);
  const exit = await new Promise<{ code: number | null; signal: string | null; timedOut: boolean; qemuErr: string }>(
    (resolve, reject) => {
      const child = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let qemuErr = '';
      const keep = (b: Buffer): void => {
        qemuErr = (qemuErr + b.toString()).slice(-4000);
      };
      child.stdout.on('data', keep);
      child.stderr.on('data', keep);
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, timeoutMs);
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(new Error(`stgt-vm: cannot start qemu-system-x86_64: ${e.message}`));
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal, timedOut, qemuErr });
      });
    },
  );
  const totalMs = Date.now() - t0;
  const stdout = readIf(path.join(ctlDir, 'stdout'));
  const stderr = readIf(path.join(ctlDir, 'stderr'));
  const codeText = readIf(path.join(ctlDir, 'code')).trim();
  const diagnosis = (): string =>
    `\n--- work dir: ${workDir}\n--- qemu stderr:\n${exit.qemuErr.trim()}\n--- console (tail of ${consoleLog}):\n${tail(readIf(consoleLog), 30)}\n--- script stdout (tail):\n${tail(stdout, 30)}\n--- script stderr (tail):\n${tail(stderr, 30)}`;
  if (exit.timedOut) {
    throw new Error(`stgt-vm: ${label}: TIMEOUT after ${timeoutMs} ms: qemu killed${diagnosis()}`);
  }
  if (codeText === '' || !/^\d+$/.test(codeText)) {
    throw new Error(
      `stgt-vm: ${label}: the guest did not finish the script (qemu exit ${exit.code ?? exit.signal})${diagnosis()}`,
    );
  }
  const bootSeconds = Number(readIf(path.join(ctlDir, 'boot-uptime')).trim());
  return {
    code: Number(codeText),
    stdout,
    stderr,
    consoleLog,
    workDir,
    accel,
    bootMs: Number.isFinite(bootSeconds) ? Math.round(bootSeconds * 1000) : -1,
    totalMs,
  };
}
