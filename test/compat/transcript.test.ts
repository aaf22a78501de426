// Differential transcripts: the same tgtadm script three ways, Debian's tgt 1.0.85 as the oracle (tgt-compat.md §1.3, §1.8).
//
//   A  Debian tgtadm -> Debian tgtd   (the reference)
//   B  Debian tgtadm -> stgt tgtd     (stgt's daemon is a drop-in for the stock client)
//   C  stgt tgtadm   -> Debian tgtd   (stgt's client is a drop-in for the stock daemon)
// stdout, stderr and exit code of every step must be identical. Normalised, and asserted
// separately: the ports and temp directory of each run, and the lists of backing stores and
// device types in `--mode sys --op show` (stgt ships other stores and emulates fewer device
// types; the LLD list is compared as-is: both list "iscsi: ready" and "iser: error").
// Steps marked `!stgt` are where stgt answers otherwise by design (DIFFERS below: a documented
// but broken tgt command, bad input tgt takes); B's answer there is asserted on its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { haveDebianTgt, startDaemon, type ClientKind } from './daemons.js';
import { recordTranscript, render, type Transcript } from './transcript.js';
import { haveReadWatch } from '../helpers/native-io.js';

async function way(client: ClientKind, daemon: 'debian' | 'stgt', stgtArgs: readonly string[] = []): Promise<Transcript> {
  const d = await startDaemon(daemon, stgtArgs);
  try {
    return await recordTranscript(client, d);
  } finally {
    await d.stop();
  }
}

/**
 * The `!stgt` steps of the script. tgt answers "invalid request" to the session show it documents,
 * and stgt answers it. tgt takes any file as a tape (bs_ssc.c reads whatever header the file has,
 * and the drive then fails its commands); stgt refuses a file that is not in tgt's tape format, so
 * the delete that follows finds no LU.
 */
const DIFFERS: Readonly<Record<string, { tgt: [string, number]; stgt: [string, number]; stdout: RegExp }>> = {
  '--mode lu --op new --tid 7 --lun 11 -b {DIR}/disk5.img --device-type tape': {
    tgt: ['', 0], stgt: ['tgtadm: invalid request\n', 22], stdout: /^$/,
  },
  '--mode lu --op delete --tid 7 --lun 11': { tgt: ['', 0], stgt: ["tgtadm: can't find the logical unit\n", 22], stdout: /^$/ },
  '--mode session --op show --tid 2 --sid 1': {
    tgt: ['tgtadm: invalid request\n', 22], stgt: ['', 0],
    stdout: /^Session: 1\n {4}Initiator: iqn\.2024-01\.test:perf\n {4}ISID: [0-9a-f]{12}\n {4}Connection: 0\n {8}IP Address: 127\.0\.0\.1\n$/,
  },
};

const skip = haveDebianTgt ? false : 'Debian tgt (apt install tgt) is not installed';

test('tgtadm transcripts: Debian->Debian = Debian->stgt = stgt->Debian', { skip, timeout: 300_000 }, async () => {
  // A and C both use Debian daemons and run at once; B after, to keep the load on 2 cores low.
  const [a, c] = await Promise.all([way('debian', 'debian'), way('stgt', 'debian')]);
  const b = await way('debian', 'stgt');

  assert.equal(render(c.entries), render(a.entries), 'stgt tgtadm -> Debian tgtd differs from the stock client');

  const same = (t: Transcript) => t.entries.filter((e) => !e.stgtDiffers);
  // One default differs by design (README "Differences from tgt"): stgt declares MaxRecvDataSegmentLength
  // 262144, tgt 8192. Every target's parameter show says so until the script sets the key; the script
  // never sets 262144 or 8192 itself, so mapping one to the other compares everything else exactly.
  const MRDSL = /^MaxRecvDataSegmentLength=(\d+)$/gm;
  const declared = (t: string): string[] => [...t.matchAll(MRDSL)].map((m) => m[1]!);
  const textA = render(same(a));
  const textB = render(same(b));
  assert.ok(declared(textA).includes('8192') && !declared(textA).includes('262144'), 'tgt shows its default 8192');
  assert.ok(declared(textB).includes('262144') && !declared(textB).includes('8192'), 'stgt shows its default 262144');
  assert.equal(textB.replace(/^MaxRecvDataSegmentLength=262144$/gm, 'MaxRecvDataSegmentLength=8192'), textA,
    'Debian tgtadm -> stgt tgtd differs from Debian tgtd');

  // The steps where stgt answers otherwise, by design: tgt's answer, then stgt's (exit code, stderr,
  // and a pattern for stdout).
  const diffA = a.entries.filter((e) => e.stgtDiffers);
  const diffB = b.entries.filter((e) => e.stgtDiffers);
  assert.deepEqual(diffA.map((e) => e.line), Object.keys(DIFFERS));
  assert.deepEqual(diffB.map((e) => e.line), Object.keys(DIFFERS));
  for (let i = 0; i < diffA.length; i++) {
    const want = DIFFERS[diffA[i]!.line]!;
    assert.deepEqual([diffA[i]!.stderr, diffA[i]!.code], want.tgt, `tgt: ${diffA[i]!.line}`);
    assert.deepEqual([diffB[i]!.stderr, diffB[i]!.code], want.stgt, `stgt: ${diffB[i]!.line}`);
    assert.match(diffB[i]!.stdout, want.stdout, `stgt: ${diffB[i]!.line}`);
  }

  // The store/device-type lists: same in every show of one daemon; stgt's hold what tools look for.
  for (const t of [a, b, c]) {
    assert.ok(t.stores.length >= 5);
    for (const s of t.stores) assert.deepEqual(s, t.stores[0]);
    for (const s of t.deviceTypes) assert.deepEqual(s, t.deviceTypes[0]);
  }
  assert.deepEqual(a.stores[0], c.stores[0]);
  // Longhorn detects backing stores by " rdwr" in this text; tgt-admin and Cinder need rdwr with bsoflags.
  assert.ok(b.stores[0]!.includes('    rdwr (bsoflags sync:direct)'), JSON.stringify(b.stores[0]));
  assert.ok(b.stores[0]!.includes('    null'));
  // stgt lists the types it emulates, each spelled as tgt spells it and in tgt's order.
  const ours = b.deviceTypes[0]!;
  for (const d of ['    disk', '    cd/dvd', '    controller', '    changer', '    tape', '    passthrough']) assert.ok(ours.includes(d), d);
  assert.deepEqual(ours, a.deviceTypes[0]!.filter((d) => ours.includes(d)), 'not a subsequence of tgt\'s list');
});

// tgtd --workers 2 (docs/multicore.md): the targets live in two worker threads, management is
// forwarded; every step of the script must answer as the one-loop daemon does.
const haveIo = haveReadWatch();
test('tgtadm transcript: stgt tgtd --workers 2 = stgt tgtd', { skip: haveIo ? false : 'native/io not built', timeout: 300_000 }, async () => {
  const one = await way('stgt', 'stgt');
  const two = await way('stgt', 'stgt', ['--workers', '2']);
  // The ISID is the initiator's own random one (libiscsi picks it per run).
  const text = (t: Transcript): string => render(t.entries).replace(/ISID: [0-9a-f]{12}/g, 'ISID: <isid>');
  assert.equal(text(two), text(one));
});
