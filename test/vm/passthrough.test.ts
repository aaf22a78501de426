// SCSI passthrough in the VM (issue 13 item 4): stgt's tgtd in the guest exports a virtio-scsi disk with --device-type pt on the sg and bsg stores, the kernel initiator uses it
//
// One boot: the host fills a scratch image with a known pattern and attaches it as a QEMU scsi-hd
// on virtio-scsi; in the guest, tgtd (repo build, host node) makes LUN 1 on its /dev/sgN and LUN 2
// on its /dev/bsg/H:C:T:L; open-iscsi logs in over 10.0.2.15. Then: sg_inq (standard, VPD 83h
// and 80h) of each iSCSI disk equals the scratch disk's byte for byte; the host's pattern reads
// back through iSCSI; sg_dd writes through the sg LU and reads back through both LUs and from
// the scratch disk's own sg node, and the host finds it in the image file (Debian 12's sg_dd has
// no verify=); an invalid opcode answers with the device's own CHECK CONDITION sense.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot, requireVmTools, type GuestShare } from './harness.js';
import { runWithGuestTarget } from './guest-target.js';
import { expectSteps } from './steps.js';

const IQN = 'iqn.2026-12.org.stgt.vmtest:passthrough';
const STEPS = ['tgtd-start', 'iscsid', 'find-scratch', 'target-setup', 'login', 'inquiry', 'read-pattern', 'write-verify', 'bad-cdb', 'logout', 'tgtd-alive'];
const SCRATCH_MIB = 16;
const PATTERN_MIB = 2;
const IO_MIB = 2;

/** Lines of stdout that start with `PREFIX`, prefix removed. */
function tagged(stdout: string, prefix: string): string[] {
  return stdout.split('\n').filter((l) => l.startsWith(prefix)).map((l) => l.slice(prefix.length));
}

/** The guest resolves the repo's node_modules symlink (a worktree's) only when its target is shared at the same path. */
function nodeModulesShare(): GuestShare[] {
  const link = path.join(repoRoot(), 'node_modules');
  if (!fs.lstatSync(link).isSymbolicLink()) return [];
  const real = fs.realpathSync(link);
  return [{ tag: 'nodemods', hostPath: real, guestPath: real, readonly: true }];
}

test('guest: a virtio-scsi disk passed through by stgt (sg and bsg) answers INQUIRY as itself and moves sg_dd data', { timeout: 10 * 60_000 }, async (t) => {
  requireVmTools();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stgt-vm-pt-'));
  const scratch = path.join(dir, 'scratch.img');
  // a pattern no two sectors share: sector i holds sha256(i) repeated
  const pattern = Buffer.alloc(PATTERN_MIB << 20);
  for (let s = 0; s < pattern.length / 512; s++) {
    const h = createHash('sha256').update(String(s)).digest();
    for (let o = 0; o < 512; o += 32) h.copy(pattern, s * 512 + o);
  }
  fs.writeFileSync(scratch, pattern);
  fs.truncateSync(scratch, SCRATCH_MIB << 20);
  const patternSha = createHash('sha256').update(pattern).digest('hex');
  try {
    const r = await runWithGuestTarget({
      label: 'passthrough',
      timeoutMs: 8 * 60_000,
      rdma: false,
      scsiDisks: [scratch],
      shares: nodeModulesShare(),
      script: 'source /mnt/repo/test/vm/guest/passthrough-flow.sh\n',
      env: { IQN, PATTERN_SHA: patternSha, PATTERN_MIB: String(PATTERN_MIB), IO_MIB: String(IO_MIB) },
      log: (l) => t.diagnostic(l),
    });
    const explain = expectSteps(t, r, STEPS, '', assert);
    assert.match(r.stdout, /^ALL DONE$/m, explain);
    for (const l of tagged(r.stdout, 'SG_INQ: ').filter((x) => /Vendor|Product/.test(x))) t.diagnostic(`scratch disk: ${l.trim()}`);
    // the scratch disk is QEMU's, and every iSCSI disk showed the same INQUIRY data
    assert.ok(tagged(r.stdout, 'SG_INQ: ').some((l) => /Vendor identification: QEMU\s*$/.test(l)), explain);
    assert.ok(tagged(r.stdout, 'SG_INQ: ').some((l) => /Product identification: QEMU HARDDISK/.test(l)), explain);
    const luns = r.stdout.includes('NO-BSG: ') ? 1 : 2;
    if (luns === 1) t.diagnostic(`the guest kernel has no bsg node: ${tagged(r.stdout, 'NO-BSG: ')[0]}`);
    assert.equal(tagged(r.stdout, 'INQ-SAME ').length, 3 * luns, explain);
    // both LUs are passthrough LUs on their store
    const show = tagged(r.stdout, 'TARGET: ').join('\n');
    assert.match(show, /Type: passthrough[\s\S]*Backing store type: sg\n\s*Backing store path: \/dev\/sg\d+/, explain);
    if (luns === 2) assert.match(show, /Backing store type: bsg\n\s*Backing store path: \/dev\/bsg\/\d+:\d+:\d+:\d+/, explain);
    // data: the host's pattern through iSCSI; sg_dd's write read back through every path
    assert.match(r.stdout, new RegExp(`^PATTERN host ${patternSha} iscsi ${patternSha}$`, 'm'), explain);
    const io = tagged(r.stdout, 'IO written ');
    assert.equal(io.length, luns + 1, explain);
    for (const l of io) assert.match(l, /^([0-9a-f]{64}) read \1 via /, explain);
    const io2 = tagged(r.stdout, 'IO2 written ');
    assert.equal(io2.length, 1, explain);
    assert.match(io2[0]!, /^([0-9a-f]{64}) read \1 via /, explain);
    // the device's own sense for an opcode it lacks: ILLEGAL REQUEST, INVALID COMMAND OPERATION CODE
    const raw = tagged(r.stdout, 'RAW scratch: ').join('\n');
    assert.match(raw, /Illegal Request/i, explain);
    assert.match(raw, /Invalid command operation code/i, explain);
    // and the data the guest wrote is on the host's image, after the pattern
    const img = fs.readFileSync(scratch);
    assert.ok(img.subarray(0, pattern.length).equals(pattern), 'the pattern area is untouched');
    const written = io[0]!.slice(0, 64);
    assert.equal(createHash('sha256').update(img.subarray(pattern.length, pattern.length + (IO_MIB << 20))).digest('hex'), written);
    const at = pattern.length + (IO_MIB << 20);
    assert.equal(createHash('sha256').update(img.subarray(at, at + (IO_MIB << 20))).digest('hex'), io2[0]!.slice(0, 64));
    t.diagnostic(`guest run ${r.totalMs} ms (${r.accel})`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});


