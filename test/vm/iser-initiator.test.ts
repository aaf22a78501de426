// The Linux kernel initiator (open-iscsi + ib_iser over rxe0) against stgt's iser LLD, with iSCSI/TCP I/O to another target meanwhile (RFC 7145; issue 8)
//
// One boot (test/vm/guest/iser-flow.sh): tgtd in the guest serves TCP and iSER on the same
// 10.0.2.15:3260; tid 1 (--lld iser, 256 MiB) is found by SendTargets over an iSER discovery
// session, logged in with -I iser (the session must say Iface Transport: iser), gets ext4, files,
// a remount after dropping caches and sha256sum -c; then fio with crc32c verify (4 KiB random and
// 1 MiB sequential, write then read-and-verify) while a TCP session to tid 2 (--lld iscsi) writes
// and reads back with dd; logout of both; tgtd alive, no I_T nexus left on the iser target, no
// error in its log. Then the same fio jobs against LIO + ib_isert in the same boot as the
// reference (reported, not judged: a kernel without isert only loses the comparison).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot, requireVmTools } from './harness.js';
import { ADDON_RELATIVE, BUILD_HINT } from '../../src/lld/iser/rdma-provider.js';
import { GUEST_PORTAL, runWithGuestTarget } from './guest-target.js';
import { parseSteps } from './steps.js';

const IQN_ISER = 'iqn.2026-12.org.stgt.vmtest:iser';
const IQN_TCP = 'iqn.2026-12.org.stgt.vmtest:tcp';
const IQN_LIO = 'iqn.2026-12.org.stgt.vmtest:lio';
const IQN_CONF = 'iqn.2026-12.org.stgt.vmtest:conf';
const STEPS = ['rxe', 'tgtd-start', 'iscsid', 'target-setup', 'discovery-iser', 'login-iser', 'fs-write', 'fs-verify',
  'login-tcp', 'tcp-io-start', 'fio-stgt', 'tcp-io-verify', 'logout', 'tgtd-alive', 'no-nexus', 'tgt-admin-iser', 'clean-log'];
const FIO_JOBS = ['rand4k-write', 'rand4k-read', 'seq1m-write', 'seq1m-read'];

export interface FioLine {
  target: string;
  job: string;
  rw: string;
  bs: string;
  iops: number;
  bwKib: number;
  err: number;
}

const FIO_LINE = /^FIO (\S+) (\S+) rw=(\S+) bs=(\S+) iops=(\d+) bw_kib=(\d+) err=(-?\d+)$/;

export function parseFio(stdout: string): FioLine[] {
  const out: FioLine[] = [];
  for (const l of stdout.split('\n')) {
    const m = FIO_LINE.exec(l);
    if (m) out.push({ target: m[1]!, job: m[2]!, rw: m[3]!, bs: m[4]!, iops: Number(m[5]), bwKib: Number(m[6]), err: Number(m[7]) });
  }
  return out;
}

function table(lines: FioLine[], ref: FioLine[]): string[] {
  return lines.map((l) => {
    const r = ref.find((x) => x.job === l.job);
    const ratio = r !== undefined && r.iops > 0 ? ` (${(l.iops / r.iops).toFixed(2)}x LIO)` : '';
    return `fio ${l.target.padEnd(4)} ${l.job.padEnd(12)} ${l.rw.padEnd(9)} bs=${l.bs.padEnd(3)} ${String(l.iops).padStart(6)} IOPS ${String(l.bwKib).padStart(7)} KiB/s${l.target === 'iser' ? ratio : ''}`;
  });
}

test('guest: kernel ib_iser over rxe0 against stgt iser (ext4, fio verify) while iSCSI/TCP does I/O; LIO isert reference', { timeout: 12 * 60_000 }, async (t) => {
  requireVmTools();
  const addon = path.join(repoRoot(), ADDON_RELATIVE);
  if (!fs.existsSync(addon)) throw new Error(`stgt-vm: ${addon} missing: the RDMA addon is not built (${BUILD_HINT})`);
  const r = await runWithGuestTarget({
    label: 'iser-initiator',
    timeoutMs: 8 * 60_000,
    tgtdArgs: `-d 1 --lld iscsi,iser --iscsi portal=${GUEST_PORTAL} --iser portal=${GUEST_PORTAL},pool_sz_mb=64`,
    script: 'source /mnt/repo/test/vm/guest/iser-flow.sh\n',
    env: {
      IQN_ISER, IQN_TCP, IQN_LIO, IQN_CONF, LIO: '1', LIO_PORT: '3261',
      ISER_MIB: '256', TCP_MIB: '64', FIO_RAND_MIB: '4', FIO_SEQ_MIB: '16', TCP_IO_MIB: '16',
    },
    log: (l) => t.diagnostic(l),
  });
  const why = `guest exit ${r.code}\n--- stdout:\n${r.stdout.slice(-6000)}\n--- stderr (tail):\n${r.stderr.slice(-6000)}\n--- console: ${r.consoleLog}`;
  const steps = parseSteps(r.stdout);
  t.diagnostic(`${r.accel}: boot ${r.bootMs} ms, total ${r.totalMs} ms; ` + steps.map((s) => `${s.name} ${s.ms}ms`).join(', '));
  const fio = parseFio(r.stdout);
  const stgt = fio.filter((l) => l.target === 'iser');
  const lio = fio.filter((l) => l.target === 'lio');
  for (const l of table(stgt, lio)) t.diagnostic(l);
  for (const l of table(lio, [])) t.diagnostic(l);
  const lioMissing = r.stdout.split('\n').find((l) => l.startsWith('LIO-UNAVAILABLE'));
  if (lioMissing !== undefined || lio.length !== FIO_JOBS.length) {
    t.diagnostic(`LIO + ib_isert reference not measured (${lioMissing ?? 'no LIO fio lines'}): ` +
      r.stdout.split('\n').filter((l) => / lio-|FAIL/.test(l)).join('; '));
  }

  const failed = steps.find((s) => !s.ok && !s.name.startsWith('lio-') && s.name !== 'fio-lio');
  assert.equal(failed, undefined, `step ${failed?.name} failed\n${why}`);
  assert.deepEqual(steps.map((s) => s.name).filter((n) => !n.startsWith('lio-') && n !== 'fio-lio'), STEPS, `not every step ran\n${why}`);
  assert.equal(r.code, 0, why);
  assert.match(r.stdout, /^STGT DONE$/m, why);
  assert.match(r.stdout, /^ALL DONE$/m, why);
  // Discovery over iSER lists the iser target only (the TCP target belongs to the other LLD).
  const disc = r.stdout.split('\n').filter((l) => l.startsWith('DISCOVERY-ISER: '));
  assert.deepEqual(disc, [`DISCOVERY-ISER: ${GUEST_PORTAL},1 ${IQN_ISER}`], why);
  assert.match(r.stdout, /^SESSION-ISER: Iface Transport: iser$/m, why);
  assert.match(r.stdout, /^FS-VERIFIED \d+ files$/m, why);
  // tgt-admin's `driver iser`: made on the iser LLD, served over iSER, deleted.
  assert.match(r.stdout, /^TGT-ADMIN-ISER sha256 [0-9a-f]{64}$/m, why);
  assert.match(r.stdout, /^TCP-SHA256 written ([0-9a-f]{64}) read \1 backing \1$/m, why);
  // Every fio job ran, verified, and moved data.
  assert.deepEqual(stgt.map((l) => l.job), FIO_JOBS, why);
  for (const l of stgt) {
    assert.equal(l.err, 0, `fio ${l.job}: error ${l.err}\n${why}`);
    assert.ok(l.iops > 0 && l.bwKib > 0, `fio ${l.job}: no I/O\n${why}`);
  }
});
