// SANITIZE from the Linux initiator: sg_sanitize in a QEMU VM, OVERWRITE with progress, BLOCK ERASE on a thin LU, CRYPTOGRAPHIC ERASE refused (SBC-4 5.30, issue 11)
//
// One boot, one target with three LUs. The guest writes random data to each, then: OVERWRITE of
// LUN 1 with IMMED=1, polling REQUEST SENSE and TEST UNIT READY until the pass ends (it runs at
// 128 MiB/s, sbc-sanitize.ts), and reads the whole LU back as the pattern; BLOCK ERASE of the thin
// LUN 2 with IMMED=0, read back as zeros; CRYPTOGRAPHIC ERASE of LUN 3 must be refused and change
// nothing. The host then checks the backing files themselves: the pattern in every block of
// LUN 1's, no allocated block and only zeros in LUN 2's, the guest's data still in LUN 3's.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { ensureImage, requireVmTools, runInGuest, type VmImage } from './harness.js';
import { HostTarget, targetBinaries } from './target-host.js';
import { expectSteps } from './steps.js';
import { fileRangeSha } from '../helpers/fixtures.js';

const IQN = 'iqn.2026-12.org.stgt.vmtest:sanitize';
const GUEST_PORT = 3260;
const PORTAL = `10.0.2.100:${GUEST_PORT}`;
/** LUN 1: 2 s of overwrite at 128 MiB/s, long enough for several polls from the guest. */
const OVERWRITE_MIB = 256;
const THIN_MIB = 64;
const CRYPTO_MIB = 32;
const DATA_MIB = 4; // what the guest writes at each end of every LU (sanitize-flow.sh)
const STEPS = ['modules', 'iscsid', 'login', 'fill', 'pattern', 'overwrite', 'block-erase', 'crypto', 'logout'];
const CHUNK = 1 << 20;

/** The first byte offset of `file` where a `unit`-byte repetition (a 1 MiB multiple of it) differs, or -1. */
function firstMismatch(file: string, unit: Buffer): number {
  const want = Buffer.alloc(CHUNK);
  for (let o = 0; o < CHUNK; o += unit.length) unit.copy(want, o);
  const got = Buffer.alloc(CHUNK);
  const fd = fs.openSync(file, 'r');
  try {
    for (let off = 0; ; off += CHUNK) {
      const n = fs.readSync(fd, got, 0, CHUNK, off);
      if (n === 0) return -1;
      if (got.subarray(0, n).equals(want.subarray(0, n))) continue;
      return off + got.subarray(0, n).findIndex((b, k) => b !== want[k]);
    }
  } finally {
    fs.closeSync(fd);
  }
}


function field(stdout: string, name: string): string | undefined {
  return new RegExp(`^${name}=(.*)$`, 'm').exec(stdout)?.[1];
}

describe('sg_sanitize from the kernel initiator against stgt', { timeout: 15 * 60_000 }, () => {
  let image: VmImage;
  let target: HostTarget;
  let files: string[] = [];

  before(async () => {
    requireVmTools();
    image = await ensureImage((line) => process.stderr.write(`${line}\n`));
    target = await HostTarget.start(targetBinaries());
    files = [target.backingFile('ow.img', OVERWRITE_MIB), target.backingFile('thin.img', THIN_MIB), target.backingFile('crypto.img', CRYPTO_MIB)];
    target.addTarget(1, IQN, files);
    // BLOCK ERASE is offered by a thin LU on a store with an allocation map (rdwr, a regular file)
    target.tgtadm('--mode', 'logicalunit', '--op', 'update', '--tid', '1', '--lun', '2', '--params', 'thin_provisioning=1');
  });

  after(() => {
    target?.stop();
  });

  test('OVERWRITE shows progress and leaves the pattern, BLOCK ERASE deallocates, CRYPTOGRAPHIC ERASE is refused', async (t) => {
    const r = await runInGuest('exec bash /mnt/repo/test/vm/guest/sanitize-flow.sh\n', {
      image,
      label: 'sanitize',
      timeoutMs: 10 * 60_000,
      forwards: [{ guestPort: GUEST_PORT, hostPort: target.port }],
      env: { PORTAL, IQN, POLL_LIMIT_S: '120' },
      log: (line) => t.diagnostic(line),
    });
    const explain = expectSteps(t, r, STEPS, target.log(), assert);
    assert.match(r.stdout, /^ALL DONE$/m, explain);

    // OVERWRITE: progress seen from REQUEST SENSE, rising; TUR refused with SANITIZE IN PROGRESS
    const progress = (field(r.stdout, 'OW_PROGRESS') ?? '').split(' ').filter(Boolean).map(Number);
    const turProgress = (field(r.stdout, 'OW_TUR_PROGRESS') ?? '').split(' ').filter(Boolean).map(Number);
    const busy = Number(field(r.stdout, 'OW_TUR_BUSY'));
    t.diagnostic(`overwrite of ${OVERWRITE_MIB} MiB: sg_sanitize returned in ${field(r.stdout, 'OW_LAUNCH_MS')} ms, TUR good after ${field(r.stdout, 'OW_MS')} ms; ` +
      `${field(r.stdout, 'OW_POLLS')} polls, ${busy} TURs answered SANITIZE IN PROGRESS; progress seen (%): ${progress.join(' ') || 'none'}`);
    t.diagnostic(`first TUR refused: ${field(r.stdout, 'OW_TUR_SENSE')}; progress in the TURs' sense (%): ${turProgress.join(' ') || 'none'}`);
    t.diagnostic(`block erase of ${THIN_MIB} MiB (IMMED=0): ${field(r.stdout, 'BE_MS')} ms`);
    assert.ok(progress.length >= 1, `REQUEST SENSE never reported a progress indication during the overwrite\n${explain}`);
    assert.ok(progress.every((p, i) => p >= 0 && p < 100 && (i === 0 || p >= progress[i - 1]!)), `progress must rise within 0..100%: ${progress.join(' ')}`);
    assert.ok(busy >= 1, `TEST UNIT READY never answered SANITIZE IN PROGRESS during the overwrite\n${explain}`);
    assert.equal(turProgress.length, busy, `every SANITIZE IN PROGRESS answer to TEST UNIT READY carries a progress indication\n${explain}`);
    assert.ok(turProgress.every((p, i) => p >= 0 && p < 100 && (i === 0 || p >= turProgress[i - 1]!)), `TUR progress must rise within 0..100%: ${turProgress.join(' ')}`);

    // OVERWRITE: every block of the backing file is the guest's pattern
    const hex = field(r.stdout, 'PATTERN') ?? '';
    assert.match(hex, /^[0-9a-f]{1024}$/, `the guest's pattern\n${explain}`);
    const pattern = Buffer.from(hex, 'hex');
    assert.equal(fs.statSync(files[0]!).size, OVERWRITE_MIB << 20, 'the overwritten file keeps its size');
    assert.equal(firstMismatch(files[0]!, pattern), -1, 'the overwritten backing file holds the pattern in every block');

    // BLOCK ERASE: nothing allocated, zeros everywhere
    assert.equal(fs.statSync(files[1]!).size, THIN_MIB << 20, 'the block-erased file keeps its size');
    assert.equal(fs.statSync(files[1]!).blocks, 0, 'the block-erased backing file has no allocated block');
    assert.equal(firstMismatch(files[1]!, Buffer.alloc(512)), -1, 'the block-erased backing file reads as zeros');

    // CRYPTOGRAPHIC ERASE: ILLEGAL REQUEST / INVALID FIELD IN CDB, data unchanged
    t.diagnostic(`crypto erase: exit ${field(r.stdout, 'CRYPTO_RC')}, ${field(r.stdout, 'CRYPTO_SENSE')}; ${field(r.stdout, 'CRYPTO_RESULT')}`);
    assert.equal(field(r.stdout, 'CRYPTO_RC'), '5', `sg_sanitize --crypto exits with SG_LIB_CAT_ILLEGAL_REQ\n${explain}`);
    assert.match(field(r.stdout, 'CRYPTO_SENSE') ?? '', /invalid field in cdb/i, explain);
    assert.match(field(r.stdout, 'CRYPTO_RESULT') ?? '', /illegal request/i, explain);
    const bytes = DATA_MIB << 20;
    assert.equal(fileRangeSha(files[2]!, 0, bytes), field(r.stdout, 'CR_HEAD'), "the crypto LU's backing file keeps the start the guest wrote");
    assert.equal(fileRangeSha(files[2]!, (CRYPTO_MIB << 20) - bytes, bytes), field(r.stdout, 'CR_TAIL'), "the crypto LU's backing file keeps the end the guest wrote");
  });
});
