// The Linux kernel initiator (sr, st, sg; mtx, mt, tar) against the cd, tape and changer device types (issue 13)
//
// One boot: an ISO served as cd is mounted and its files verified; the changer's inventory (mtx
// status), MOVE MEDIUM of TAPE01 into the tape drive (mtx load), two tar archives written to the
// tape with filemarks, mt rewind/fsf/status, both read back, the tape returned (mtx unload).
// Then the tape file the guest wrote is read through Debian's tgt on the host and must hold the
// archive the guest wrote. STGT_VM_TARGET=debian runs the same guest flow against tgt itself.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ensureImage, repoRoot, requireVmTools, runInGuest, type VmImage } from './harness.js';
import { HostTarget, targetBinaries } from './target-host.js';
import { expectSteps } from './steps.js';
import { haveDebianTgt, runClient, startDaemon, type CompatDaemon } from '../compat/daemons.js';
import { ScsiClient, senseTriple } from '../helpers/scsi-client.js';

const IQN_DEV = 'iqn.2026-12.org.stgt.vmtest:devices';
const GUEST_PORT = 3260;
const PORTAL = `10.0.2.100:${GUEST_PORT}`;
const STEPS = ['modules', 'iscsid', 'login', 'cd-mount', 'cd-verify', 'cd-umount', 'mtx-status', 'mtx-load', 'tar-create',
  'tape-rewind', 'tape-write-1', 'tape-write-2', 'tape-status', 'tape-fsf', 'tape-read-1', 'tape-extract', 'mtx-unload', 'logout'];
const kind = process.env.STGT_VM_TARGET ?? 'stgt';
const TGTIMG = kind === 'debian' ? '/usr/sbin/tgtimg' : path.join(repoRoot(), 'bin', 'tgtimg');

/** An ISO9660 image of a few files and their SHA256SUMS. */
function makeIso(dir: string): string {
  const src = path.join(dir, 'iso-src');
  fs.mkdirSync(path.join(src, 'sub'), { recursive: true });
  const files: [string, Buffer][] = [
    ['readme.txt', Buffer.from('served by the cd device type\n')],
    ['sub/random.bin', createHash('sha512').update('x').digest().subarray(0, 32)],
    ['big.bin', Buffer.alloc(3 * 1024 * 1024 + 123, 0xa7)],
  ];
  const sums: string[] = [];
  for (const [name, data] of files) {
    fs.writeFileSync(path.join(src, name), data);
    sums.push(`${createHash('sha256').update(data).digest('hex')}  ${name}`);
  }
  fs.writeFileSync(path.join(src, 'SHA256SUMS'), sums.join('\n') + '\n');
  const iso = path.join(dir, 'disc.iso');
  const r = spawnSync('genisoimage', ['-quiet', '-r', '-V', 'STGTCD', '-o', iso, src], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return iso;
}

function newTape(file: string, barcode: string): void {
  const r = spawnSync(TGTIMG, ['--op', 'new', '--device-type', 'tape', '--barcode', barcode, '--size', '64', '--type', 'data', '--file', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}

describe(`kernel initiator against the cd, tape and changer device types of ${kind} tgtd`, { timeout: 20 * 60_000 }, () => {
  let image: VmImage;
  let target: HostTarget;
  let mediaHome: string;
  const daemons: CompatDaemon[] = [];

  before(async () => {
    requireVmTools();
    image = await ensureImage((line) => process.stderr.write(`${line}\n`));
    target = await HostTarget.start(targetBinaries());
    const iso = makeIso(target.dir);
    mediaHome = path.join(target.dir, 'tapes');
    fs.mkdirSync(mediaHome);
    newTape(path.join(mediaHome, 'TAPE01'), 'TAPE01');
    newTape(path.join(mediaHome, 'TAPE02'), 'TAPE02');
    const changerFile = target.backingFile('changer', 0);
    const lu = (lun: number, ...args: string[]): void => {
      target.tgtadm('--mode', 'logicalunit', '--op', 'new', '--tid', '1', '--lun', String(lun), ...args);
    };
    const params = (lun: number, p: string): void => {
      target.tgtadm('--mode', 'logicalunit', '--op', 'update', '--tid', '1', '--lun', String(lun), '--params', p);
    };
    target.tgtadm('--mode', 'target', '--op', 'new', '--tid', '1', '-T', IQN_DEV);
    lu(1, '-b', iso, '--device-type', 'cd');
    lu(2, '--device-type', 'tape');
    lu(3, '-b', changerFile, '--device-type', 'changer');
    for (const p of [
      'element_type=1,start_address=1,quantity=1',
      'element_type=2,start_address=1000,quantity=4',
      'element_type=3,start_address=10,quantity=1',
      'element_type=4,start_address=500,quantity=1',
      'element_type=4,address=500,tid=1,lun=2',
      'element_type=2,address=1000,barcode=TAPE01',
      'element_type=2,address=1001,barcode=TAPE02',
      `media_home=${mediaHome}`,
    ]) params(3, p);
    target.tgtadm('--mode', 'target', '--op', 'bind', '--tid', '1', '-I', 'ALL');
  });

  after(async () => {
    target?.stop();
    for (const d of daemons) await d.stop();
  });

  test('sr0 mounts the ISO; mtx status/load/unload; tar to st0 with mt rewind/fsf/status, read back; the tape reads through Debian tgt', async (t) => {
    const r = await runInGuest('exec bash /mnt/repo/test/vm/guest/device-flow.sh\n', {
      image,
      label: 'device-flow',
      timeoutMs: 10 * 60_000,
      forwards: [{ guestPort: GUEST_PORT, hostPort: target.port }],
      env: { PORTAL, IQN_DEV },
      log: (line) => t.diagnostic(line),
    });
    const explain = expectSteps(t, r, STEPS, target.log(), assert);
    assert.match(r.stdout, /^ALL DONE$/m, explain);
    const sha = /^TAR_SHA=([0-9a-f]{64})$/m.exec(r.stdout)?.[1];
    const bytes = Number(/^TAR_BYTES=(\d+)$/m.exec(r.stdout)?.[1]);
    assert.ok(sha !== undefined && bytes > 0, explain);

    // The tape the guest wrote, read through Debian's tgt: the first file is the archive.
    if (!haveDebianTgt) return t.skip('Debian tgt is not installed');
    const d = await startDaemon('debian');
    daemons.push(d);
    const adm = async (...a: string[]): Promise<void> => {
      const x = await runClient('debian', d, ['--lld', 'iscsi', ...a]);
      assert.equal(x.code, 0, x.stderr);
    };
    await adm('--mode', 'target', '--op', 'new', '--tid', '1', '-T', IQN_DEV);
    await adm('--mode', 'logicalunit', '--op', 'new', '--tid', '1', '--lun', '1', '-b', path.join(mediaHome, 'TAPE01'), '--device-type', 'tape');
    await adm('--mode', 'target', '--op', 'bind', '--tid', '1', '-I', 'ALL');
    const c = await ScsiClient.login(d.iscsiPort, IQN_DEV, 'iqn.2026-12.org.stgt.vmtest:host-reader');
    try {
      await c.clearUa(1);
      const parts: Buffer[] = [];
      for (;;) {
        const rd = await c.command(Buffer.from([0x08, 0, 0, 0x28, 0x00, 0]), { lun: 1, readLen: 10240 });
        if (rd.status !== 0) {
          assert.deepEqual(senseTriple(rd.sense), [0x00, 0x00, 0x01], 'the first file ends at a filemark');
          break;
        }
        parts.push(Buffer.from(rd.data.subarray(0, rd.dataInBytes)));
      }
      const tape = Buffer.concat(parts);
      assert.equal(tape.length, bytes);
      assert.equal(createHash('sha256').update(tape).digest('hex'), sha);
    } finally {
      c.close();
    }
  });
});
