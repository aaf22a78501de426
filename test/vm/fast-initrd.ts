// A small initramfs for the test VM, derived on the host from the cached image's Debian initrd: no udev, a few insmods
//
// Debian's initramfs (MODULES=most) is a 130 MB cpio of 750 modules; under TCG the kernel spends
// seconds unpacking it and its /init starts udev, which loads a driver for every emulated device
// (floppy, PATA, CD-ROM, SMBus, mouse) before it waits for the root disk: about half of each boot.
// The guest only needs virtio-blk and ext4 to mount its root. This builds, once per image (kept
// beside it as initrd-fast-<hash>.img, atomically), a cpio holding Debian's own klibc tools
// (sh, mount, insmod, run-init, ...) and the root disk's modules from that same initrd, and an
// /init that loads them in dependency order (modules.dep), waits for /dev/vda, mounts it as the
// root and runs the kernel command line's init= (stgt-init, or systemd) through run-init, as
// Debian's /init does. Everything else is loaded after the switch, by stgt-init / init.sh or
// udev under systemd, from the same kernel's /lib/modules. No image rebuild: the recipe is unchanged.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

export interface CpioEntry {
  name: string;
  mode: number;
  data: Buffer;
  rdevMajor?: number;
  rdevMinor?: number;
}

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

/** Parses a newc ("070701"/"070702") cpio archive, or several concatenated ones (NUL padding between). */
export function parseCpio(buf: Buffer): CpioEntry[] {
  const out: CpioEntry[] = [];
  let off = 0;
  while (off + 110 <= buf.length) {
    const magic = buf.toString('latin1', off, off + 6);
    if (magic !== '070701' && magic !== '070702') {
      if (buf[off] === 0) {
        off++;
        continue;
      }
      throw new Error(`cpio: bad header at offset ${off}`);
    }
    const field = (i: number): number => parseInt(buf.toString('latin1', off + 6 + 8 * i, off + 14 + 8 * i), 16);
    const mode = field(1);
    const size = field(6);
    const nameSize = field(11);
    const rdevMajor = field(9);
    const rdevMinor = field(10);
    const name = buf.toString('utf8', off + 110, off + 110 + nameSize - 1);
    const dataOff = (off + 110 + nameSize + 3) & ~3;
    off = (dataOff + size + 3) & ~3;
    if (name === 'TRAILER!!!') continue;
    out.push({ name, mode, data: buf.subarray(dataOff, dataOff + size), rdevMajor, rdevMinor });
  }
  return out;
}

/** Writes entries as one newc cpio archive (inode numbers from 1, root-owned, mtime 0), with its trailer. */
export function writeCpio(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let len = 0;
  const push = (b: Buffer): void => {
    parts.push(b);
    len += b.length;
  };
  const pad = (): void => {
    if (len % 4 !== 0) push(Buffer.alloc(4 - (len % 4)));
  };
  const one = (e: CpioEntry, ino: number): void => {
    const hex = (n: number): string => n.toString(16).padStart(8, '0');
    const name = Buffer.from(`${e.name}\0`, 'utf8');
    const isDir = (e.mode & S_IFMT) === S_IFDIR;
    const fields = [ino, e.mode, 0, 0, isDir ? 2 : 1, 0, e.data.length, 0, 0, e.rdevMajor ?? 0, e.rdevMinor ?? 0, name.length, 0];
    push(Buffer.from(`070701${fields.map(hex).join('')}`, 'latin1'));
    push(name);
    pad();
    push(e.data);
    pad();
  };
  entries.forEach((e, i) => one(e, i + 1));
  one({ name: 'TRAILER!!!', mode: 0, data: Buffer.alloc(0) }, 0);
  return Buffer.concat(parts, len);
}

/** Modules (paths relative to the modules dir) to load for `wanted`, dependencies first, from modules.dep's text. */
export function loadOrder(modulesDep: string, wanted: readonly string[]): string[] {
  const deps = new Map<string, string[]>();
  for (const line of modulesDep.split('\n')) {
    const m = /^([^:\s]+):\s*(.*)$/.exec(line);
    if (m) deps.set(m[1]!, m[2]!.split(/\s+/).filter(Boolean));
  }
  const order: string[] = [];
  const visit = (mod: string, chain: string[]): void => {
    if (order.includes(mod)) return;
    if (chain.includes(mod)) throw new Error(`modules.dep: cycle at ${mod}`);
    const d = deps.get(mod);
    if (d === undefined) throw new Error(`modules.dep: no entry for ${mod}`);
    for (const x of d) visit(x, [...chain, mod]);
    order.push(mod);
  };
  for (const w of wanted) {
    const key = [...deps.keys()].find((k) => path.posix.basename(k) === `${w}.ko`);
    if (key === undefined) throw new Error(`modules.dep: no module ${w}`);
    visit(key, []);
  }
  return order;
}

/** What the root disk needs (the rest is loaded after the switch to the real root). */
// crc32c-intel (SSE 4.2) as Debian's udev loads it for the CPU; crc32c_generic where that fails.
const ROOT_MODULES = ['virtio_pci', 'virtio_blk', 'crc32c-intel', 'crc32c_generic', 'ext4'];
/** Debian's klibc tools the /init below runs. */
const TOOLS = ['sh', 'cat', 'mount', 'umount', 'mkdir', 'ln', 'insmod', 'sleep', 'run-init'];

/** The /init (klibc sh): `modules` are paths under /usr/lib/modules/<kver>/. */
export function initScript(kver: string, modules: readonly string[]): string {
  return `#!/bin/sh
# Written by test/vm/fast-initrd.ts: load the root disk's modules, mount /dev/vda, run init= from the command line.
export PATH=/usr/sbin:/usr/bin
mkdir -p /proc /sys /dev /root
mount -t proc proc /proc
mount -t devtmpfs devtmpfs /dev
for m in ${modules.join(' ')}; do
  insmod /usr/lib/modules/${kver}/$m || echo "stgt-initrd: insmod $m failed"
done
init=/sbin/init
for x in $(cat /proc/cmdline); do
  case "$x" in init=*) init="\${x#init=}" ;; esac
done
# The disk appears when virtio_blk has probed it (synchronously, on most boots before the first look).
n=0
while [ ! -b /dev/vda ]; do
  n=$((n + 1))
  if [ $n -gt 600 ]; then echo "stgt-initrd: no /dev/vda"; break; fi
  sleep 0.1
done
mount -t ext4 -o rw /dev/vda /root || echo "stgt-initrd: cannot mount /dev/vda"
umount /proc
# What Debian's /init adds to devtmpfs (bash's <(...) needs /dev/fd; udev is not there to make them).
ln -s /proc/self/fd /dev/fd
ln -s /proc/self/fd/0 /dev/stdin
ln -s /proc/self/fd/1 /dev/stdout
ln -s /proc/self/fd/2 /dev/stderr
mount -o move /dev /root/dev
exec run-init /root "$init" "$@" </root/dev/console >/root/dev/console 2>&1
`;
}

/** The derived initramfs for Debian's `initrd` (gzip or plain newc), as bytes. */
export function buildFastInitrd(initrd: Buffer): Buffer {
  const raw = initrd[0] === 0x1f && initrd[1] === 0x8b ? zlib.gunzipSync(initrd) : initrd;
  const entries = parseCpio(raw);
  const byName = new Map(entries.map((e) => [e.name, e]));
  const depEntry = entries.find((e) => /^usr\/lib\/modules\/[^/]+\/modules\.dep$/.test(e.name));
  if (!depEntry) throw new Error('initrd: no usr/lib/modules/<version>/modules.dep');
  const kver = depEntry.name.split('/')[3]!;
  const modules = loadOrder(depEntry.data.toString('utf8'), ROOT_MODULES);
  const keep = new Set<string>();
  for (const top of ['bin', 'lib', 'lib64', 'sbin']) {
    const e = byName.get(top);
    if (e && (e.mode & S_IFMT) === S_IFLNK) keep.add(top);
  }
  for (const e of entries) if (/^usr\/lib\/klibc-[^/]+\.so$/.test(e.name)) keep.add(e.name);
  for (const t of TOOLS) {
    if (!byName.has(`usr/bin/${t}`)) throw new Error(`initrd: no usr/bin/${t}`);
    keep.add(`usr/bin/${t}`);
  }
  for (const m of modules) keep.add(`usr/lib/modules/${kver}/${m}`);
  if (![...keep].some((k) => k.startsWith('usr/lib/klibc-'))) throw new Error('initrd: no klibc');
  // Parent directories first, then the kept entries in the original order, then /init and /dev/console.
  const dirs = new Set<string>(['dev', 'proc', 'sys', 'root', 'run']);
  for (const k of keep) {
    for (let d = path.posix.dirname(k); d !== '.'; d = path.posix.dirname(d)) dirs.add(d);
  }
  const out: CpioEntry[] = [...dirs].sort().map((d) => ({ name: d, mode: S_IFDIR | 0o755, data: Buffer.alloc(0) }));
  for (const e of entries) if (keep.has(e.name)) out.push(e);
  out.push({ name: 'init', mode: 0o100755, data: Buffer.from(initScript(kver, modules)) });
  out.push({ name: 'dev/console', mode: S_IFCHR | 0o600, data: Buffer.alloc(0), rdevMajor: 5, rdevMinor: 1 });
  return writeCpio(out);
}

/** Bumped whenever buildFastInitrd's output changes in a way initScript's text does not show. */
const FORMAT = 2;

/** Names the derived file after this generator's source, so a change to it makes a new one. */
function generatorHash(): string {
  return createHash('sha256').update(`${FORMAT}\0`).update(initScript('K', ['M'])).update(ROOT_MODULES.join(',')).update(TOOLS.join(','))
    .digest('hex').slice(0, 12);
}

/**
 * The fast initrd beside `initrd` (same directory), built on first use (about a second on the
 * host). Concurrent callers each write a temporary file and rename it: the result is the same.
 */
export function fastInitrd(initrd: string): string {
  const file = path.join(path.dirname(initrd), `initrd-fast-${generatorHash()}.img`);
  if (fs.existsSync(file)) return file;
  const data = buildFastInitrd(fs.readFileSync(initrd));
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
  return file;
}
