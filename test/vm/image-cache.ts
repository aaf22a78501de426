// Test VM image cache: a Debian rootfs + kernel + initrd built once by build-image.sh, keyed by its recipe
//
// The cache lives outside the repo (default /var/cache/stgt-vm/<recipe hash>/, env STGT_VM_CACHE
// overrides the root) so that fresh clones and CI runs on the same machine reuse it. The hash
// covers everything that decides the image's content (the build script, suite, package list),
// so changing the recipe builds a new image and an unchanged one is never rebuilt.
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const VM_SUITE = 'bookworm';
/** What the guest needs: the kernel (with iscsi_tcp, ib_iser, rdma_rxe), the initiator and test tools. */
export const VM_PACKAGES = [
  'linux-image-amd64',
  'open-iscsi',
  'fio',
  'e2fsprogs',
  'rdma-core',
  'ibverbs-providers',
  'rdmacm-utils',
  'ibverbs-utils',
  'iproute2',
  'kmod',
  'procps',
  // bench/iser-vm.mjs --perf: where tgtd's CPU goes inside the guest (kernel, libs, JIT code)
  'linux-perf',
  // SCSI tools for the device-type, reservation, ALUA and multipath tests: sg_persist, sg_rtpg,
  // sg_xcopy, sg_dd; mtx for a media changer; mt for a tape drive; dm-multipath for two gateways
  'sg3-utils',
  'mtx',
  'mt-st',
  'multipath-tools',
  // the packaging test boots the guest under systemd
  'systemd-sysv',
];

export interface VmImage {
  dir: string;
  kernel: string;
  initrd: string;
  rootfs: string;
  /** True when this call built the image (false: found in the cache). */
  built: boolean;
  buildMs: number;
}

/** The repository root: found from this file (source or compiled under dist/) or the cwd. */
export function repoRoot(): string {
  if (process.env.STGT_REPO) return path.resolve(process.env.STGT_REPO);
  const starts = [path.dirname(fileURLToPath(import.meta.url)), process.cwd()];
  for (const start of starts) {
    for (let dir = start; ; dir = path.dirname(dir)) {
      if (fs.existsSync(path.join(dir, 'test/vm/build-image.sh')) && fs.existsSync(path.join(dir, 'package.json'))) {
        return dir;
      }
      if (path.dirname(dir) === dir) break;
    }
  }
  throw new Error('stgt-vm: cannot find the repository root (test/vm/build-image.sh); set STGT_REPO');
}

/**
 * The Debian mirror apt on this machine uses (first `bookworm` main source in
 * /etc/apt/sources.list and sources.list.d, one-line or deb822 format); env STGT_VM_MIRROR wins.
 */
export function aptMirror(): string {
  if (process.env.STGT_VM_MIRROR) return process.env.STGT_VM_MIRROR;
  const files: string[] = [];
  if (fs.existsSync('/etc/apt/sources.list')) files.push('/etc/apt/sources.list');
  const dir = '/etc/apt/sources.list.d';
  if (fs.existsSync(dir)) {
    for (const f of fs.readdirSync(dir).sort()) {
      if (f.endsWith('.list') || f.endsWith('.sources')) files.push(path.join(dir, f));
    }
  }
  for (const file of files) {
    const found = mirrorFromSources(fs.readFileSync(file, 'utf8'), VM_SUITE);
    if (found) return found;
  }
  return 'http://deb.debian.org/debian';
}

/** Parses one sources file; returns the URI serving `<suite>` (not -security/-updates), or undefined. */
export function mirrorFromSources(text: string, suite: string): string | undefined {
  for (const line of text.split('\n')) {
    const m = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line);
    if (m && m[2] === suite) return m[1];
  }
  // deb822: stanzas separated by blank lines, fields "URIs:" and "Suites:".
  for (const stanza of text.split(/\n\s*\n/)) {
    const field = (name: string): string[] => {
      const m = new RegExp(`^${name}:\\s*(.*)$`, 'mi').exec(stanza);
      return m ? m[1]!.trim().split(/\s+/) : [];
    };
    if (!field('Types').includes('deb') || field('Enabled')[0] === 'no') continue;
    if (field('Suites').includes(suite)) return field('URIs')[0];
  }
  return undefined;
}

/** The recipe hash: build script text, suite and packages. */
export function recipeHash(buildScript: string): string {
  const h = createHash('sha256');
  h.update(fs.readFileSync(buildScript));
  h.update(`\0${VM_SUITE}\0${VM_PACKAGES.join(',')}`);
  return h.digest('hex').slice(0, 16);
}

export function cacheRoot(): string {
  return process.env.STGT_VM_CACHE ? path.resolve(process.env.STGT_VM_CACHE) : '/var/cache/stgt-vm';
}

function imageAt(dir: string, built: boolean, buildMs: number): VmImage {
  return {
    dir,
    kernel: path.join(dir, 'vmlinuz'),
    initrd: path.join(dir, 'initrd.img'),
    rootfs: path.join(dir, 'rootfs.img'),
    built,
    buildMs,
  };
}

function complete(dir: string): boolean {
  return ['vmlinuz', 'initrd.img', 'rootfs.img', 'manifest.txt'].every((f) => fs.existsSync(path.join(dir, f)));
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Returns the cached image for the current recipe, building it first if needed (about 2-4 min).
 * Concurrent callers (several test files, several checkouts) wait for one build via a lock dir.
 */
export async function ensureImage(log: (line: string) => void = () => {}): Promise<VmImage> {
  const root = repoRoot();
  const script = path.join(root, 'test/vm/build-image.sh');
  const dir = path.join(cacheRoot(), recipeHash(script));
  if (complete(dir)) return imageAt(dir, false, 0);
  fs.mkdirSync(cacheRoot(), { recursive: true });
  const lock = `${dir}.lock`;
  const deadline = Date.now() + 20 * 60_000;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      fs.writeFileSync(path.join(lock, 'pid'), String(process.pid));
      break;
    } catch {
      if (complete(dir)) return imageAt(dir, false, 0);
      const holder = Number(fs.readFileSync(path.join(lock, 'pid'), { encoding: 'utf8', flag: 'a+' }) || 0);
      if (holder > 0 && !pidAlive(holder)) {
        fs.rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`stgt-vm: timed out waiting for the image build lock ${lock}`);
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
  try {
    if (complete(dir)) return imageAt(dir, false, 0);
    const mirror = aptMirror();
    log(`stgt-vm: building the VM image in ${dir} from ${mirror} (a few minutes, once per recipe)`);
    const t0 = Date.now();
    await runBuild(script, dir, mirror);
    return imageAt(dir, true, Date.now() - t0);
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

function runBuild(script: string, dir: string, mirror: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [script, dir, mirror, VM_SUITE, VM_PACKAGES.join(',')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const keep = (b: Buffer): void => {
      out = (out + b.toString()).slice(-8000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', (e) => reject(new Error(`stgt-vm: cannot run ${script}: ${e.message}`)));
    child.on('close', (code) => {
      if (code === 0 && complete(dir)) resolve();
      else reject(new Error(`stgt-vm: image build failed (exit ${code}):\n${out}`));
    });
  });
}
