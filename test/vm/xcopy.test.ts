// EXTENDED COPY from the Linux initiator: sg_xcopy in a QEMU VM copies between two LUNs of one target and onto another target's LUN (issue 11)
//
// One boot. The guest writes random data to LUN 1 of target A, runs sg_xcopy to LUN 2 (at an offset)
// and, from LUN 1's copy manager, to LUN 1 of target B, and compares sha256 sums of the ranges read
// back from the target. The host then compares the backing files themselves, so a copy that only
// looked right through some cache cannot pass.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ensureImage, requireVmTools, runInGuest, type VmImage } from './harness.js';
import { HostTarget, targetBinaries } from './target-host.js';
import { expectSteps } from './steps.js';
import { fileRangeSha } from '../helpers/fixtures.js';

const IQN_A = 'iqn.2026-12.org.stgt.vmtest:xcopy-a';
const IQN_B = 'iqn.2026-12.org.stgt.vmtest:xcopy-b';
const GUEST_PORT = 3260;
const PORTAL = `10.0.2.100:${GUEST_PORT}`;
const COPY_MIB = 4;
const SEEK_BLOCKS = 2048;
const STEPS = ['modules', 'iscsid', 'login', 'fill-source', 'tpc-params', 'xcopy-lun', 'xcopy-target', 'logout'];


describe('sg_xcopy from the kernel initiator against stgt', { timeout: 15 * 60_000 }, () => {
  let image: VmImage;
  let target: HostTarget;
  let files: string[] = [];

  before(async () => {
    requireVmTools();
    image = await ensureImage((line) => process.stderr.write(`${line}\n`));
    target = await HostTarget.start(targetBinaries());
    files = [target.backingFile('xa1.img', 32), target.backingFile('xa2.img', 32), target.backingFile('xb1.img', 32)];
    target.addTarget(1, IQN_A, files.slice(0, 2));
    target.addTarget(2, IQN_B, files.slice(2));
  });

  after(() => {
    target?.stop();
  });

  test('LUN to LUN and target to target copies are byte-identical, in the guest and in the backing files', async (t) => {
    const r = await runInGuest('exec bash /mnt/repo/test/vm/guest/xcopy-flow.sh\n', {
      image,
      label: 'xcopy',
      timeoutMs: 8 * 60_000,
      forwards: [{ guestPort: GUEST_PORT, hostPort: target.port }],
      env: { PORTAL, IQN_A, IQN_B, COPY_MIB: String(COPY_MIB), SEEK_BLOCKS: String(SEEK_BLOCKS) },
      log: (line) => t.diagnostic(line),
    });
    const explain = expectSteps(t, r, STEPS, target.log(), assert);
    assert.match(r.stdout, /^ALL DONE$/m, explain);
    const srcSha = /^SRC_SHA=([0-9a-f]{64})$/m.exec(r.stdout)?.[1];
    const bytes = COPY_MIB << 20;
    assert.equal(fileRangeSha(files[0]!, 0, bytes), srcSha, 'the source backing file holds what the guest wrote');
    assert.equal(fileRangeSha(files[1]!, SEEK_BLOCKS * 512, bytes), srcSha, 'LUN 2 backing file at the seek offset');
    assert.equal(fileRangeSha(files[2]!, 0, bytes), srcSha, "target B's backing file");
    // sg_xcopy's own summary: every block went through EXTENDED COPY commands.
    for (const tag of ['XCOPY_LUN', 'XCOPY_TARGET']) assert.match(r.stdout, new RegExp(`^${tag}=sg_xcopy: ${COPY_MIB * 2048} blocks, \\d+ commands?$`, 'm'), explain);
  });
});
