// Unit tests of the fast initrd's pieces: newc cpio written and read back, modules.dep load order, the derived archive's content
import { test } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { buildFastInitrd, loadOrder, parseCpio, writeCpio, type CpioEntry } from './fast-initrd.js';

const file = (name: string, text: string, mode = 0o100644): CpioEntry => ({ name, mode, data: Buffer.from(text) });

test('writeCpio / parseCpio: entries (file, dir, symlink, char device) come back as written; concatenated archives read as one', () => {
  const entries: CpioEntry[] = [
    { name: 'usr', mode: 0o040755, data: Buffer.alloc(0) },
    file('usr/a', 'x'),
    file('usr/bee', 'hello world\n', 0o100755),
    { name: 'bin', mode: 0o120777, data: Buffer.from('usr/bin') },
    { name: 'dev/console', mode: 0o020600, data: Buffer.alloc(0), rdevMajor: 5, rdevMinor: 1 },
  ];
  const buf = writeCpio(entries);
  assert.equal(buf.length % 4, 0);
  const back = parseCpio(buf);
  assert.deepEqual(back.map((e) => [e.name, e.mode, e.data.toString()]), entries.map((e) => [e.name, e.mode, e.data.toString()]));
  assert.deepEqual([back[4]!.rdevMajor, back[4]!.rdevMinor], [5, 1]);
  const two = parseCpio(Buffer.concat([buf, Buffer.alloc(512), writeCpio([file('z', 'zz')])]));
  assert.deepEqual(two.map((e) => e.name), ['usr', 'usr/a', 'usr/bee', 'bin', 'dev/console', 'z']);
  assert.throws(() => parseCpio(Buffer.concat([buf, Buffer.from('garbage'.padEnd(120, '!'))])), /bad header/);
});

const DEP = `kernel/fs/ext4/ext4.ko: kernel/lib/crc16.ko kernel/fs/mbcache.ko kernel/fs/jbd2/jbd2.ko
kernel/lib/crc16.ko:
kernel/fs/mbcache.ko:
kernel/fs/jbd2/jbd2.ko:
kernel/crypto/crc32c_generic.ko:
kernel/arch/x86/crypto/crc32c-intel.ko:
kernel/drivers/virtio/virtio.ko:
kernel/drivers/virtio/virtio_ring.ko:
kernel/drivers/virtio/virtio_pci_legacy_dev.ko:
kernel/drivers/virtio/virtio_pci_modern_dev.ko:
kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_legacy_dev.ko kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
`;

test('loadOrder: every dependency before its user, each module once; an unknown module is an error', () => {
  const order = loadOrder(DEP, ['virtio_pci', 'virtio_blk', 'ext4']);
  assert.equal(new Set(order).size, order.length);
  const at = (m: string): number => order.findIndex((o) => o.endsWith(`/${m}.ko`));
  for (const [user, dep] of [['virtio_pci', 'virtio'], ['virtio_pci', 'virtio_ring'], ['virtio_blk', 'virtio'], ['ext4', 'jbd2'], ['ext4', 'crc16']]) {
    assert.ok(at(dep!) >= 0 && at(dep!) < at(user!), `${dep} before ${user}: ${order.join(' ')}`);
  }
  assert.equal(order.length, 10);
  assert.deepEqual(loadOrder(DEP, ['crc32c-intel']), ['kernel/arch/x86/crypto/crc32c-intel.ko']);
  assert.throws(() => loadOrder(DEP, ['nvme']), /no module nvme/);
});

test('buildFastInitrd: keeps the klibc tools and the root disk modules of the Debian initrd, adds /init and /dev/console, drops the rest', () => {
  const k = 'usr/lib/modules/6.1.0-9-amd64';
  const entries: CpioEntry[] = [
    { name: 'bin', mode: 0o120777, data: Buffer.from('usr/bin') },
    file('init', 'debian init', 0o100755),
    file('usr/lib/klibc-abc.so', 'klibc', 0o100755),
    ...['sh', 'cat', 'mount', 'umount', 'mkdir', 'ln', 'insmod', 'sleep', 'run-init', 'udevadm'].map((t) => file(`usr/bin/${t}`, t, 0o100755)),
    file(`${k}/modules.dep`, DEP),
    ...DEP.split('\n').filter(Boolean).map((l) => file(`${k}/${l.split(':')[0]}`, 'ko')),
    file(`${k}/kernel/drivers/scsi/floppy.ko`, 'ko'),
  ];
  const out = parseCpio(buildFastInitrd(zlib.gzipSync(writeCpio(entries))));
  const names = out.map((e) => e.name);
  assert.ok(names.includes('usr/lib/klibc-abc.so') && names.includes('usr/bin/run-init') && names.includes('bin'));
  assert.ok(!names.includes('usr/bin/udevadm') && !names.some((n) => n.endsWith('floppy.ko')));
  assert.ok(names.includes(`${k}/kernel/fs/ext4/ext4.ko`) && names.includes(`${k}/kernel/crypto/crc32c_generic.ko`));
  const init = out.find((e) => e.name === 'init')!.data.toString();
  assert.match(init, /^#!\/bin\/sh\n/);
  assert.match(init, /insmod \/usr\/lib\/modules\/6\.1\.0-9-amd64\/\$m/);
  assert.match(init, /exec run-init \/root "\$init"/);
  assert.match(init, /^ln -s \/proc\/self\/fd \/dev\/fd$/m);
  assert.ok(init.indexOf('virtio_ring.ko') < init.indexOf('virtio_blk.ko'));
  const console = out.find((e) => e.name === 'dev/console')!;
  assert.deepEqual([console.mode, console.rdevMajor, console.rdevMinor], [0o020600, 5, 1]);
  // Every parent directory is in the archive before its entries.
  for (const [i, n] of names.entries()) {
    const parent = n.includes('/') ? n.slice(0, n.lastIndexOf('/')) : null;
    if (parent) assert.ok(names.indexOf(parent) >= 0 && names.indexOf(parent) < i, `${parent} before ${n}`);
  }
});
