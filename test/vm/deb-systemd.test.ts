// The Debian package under systemd (issue 14): dpkg -i, tgt.service Type=notify from targets.conf, kernel initiator, reload, stop
//
// One boot with systemd as PID 1 (harness init 'systemd'). The .deb is built on the host
// (scripts/build-deb.mjs, as `npm run deb` does) into a directory shared read-only with the
// guest; test/vm/guest/deb-systemd-flow.sh installs it, starts the unit with targets.conf's
// conf.d holding one target, logs open-iscsi in over 127.0.0.1, writes and reads back with
// checks against the backing file, adds a second target and `systemctl reload`s, reads the
// first target's data again, uses the second, reads the journal, stops the unit and removes the
// package.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot, requireVmTools, runInGuest } from './harness.js';
import { parseSteps } from './steps.js';

const IQN1 = 'iqn.2026-12.org.stgt.vmtest:deb-disk1';
const IQN2 = 'iqn.2026-12.org.stgt.vmtest:deb-disk2';
const LUN_MIB = 32;
const STEPS = ['install-start', 'iscsid', 'discovery', 'login', 'write-verify', 'reload', 'read-verify',
  'discovery-2', 'login-2', 'write-verify-2', 'logout-2', 'logout', 'journal', 'stop', 'remove'];

/** Lines of stdout that start with `PREFIX: `, prefix removed. */
function tagged(stdout: string, prefix: string): string[] {
  return stdout.split('\n').filter((l) => l.startsWith(`${prefix}: `)).map((l) => l.slice(prefix.length + 2));
}

test('Debian package: dpkg -i, systemctl start (Type=notify), open-iscsi I/O, systemctl reload adds a target, clean stop', { timeout: 30 * 60_000 }, async (t) => {
  requireVmTools();
  const debDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stgt-deb-test-'));
  try {
    const built = spawnSync(process.execPath, [path.join(repoRoot(), 'scripts/build-deb.mjs'), '--out', debDir], { encoding: 'utf8' });
    assert.equal(built.status, 0, `build-deb failed:\n${built.stderr}`);
    const deb = built.stdout.trim();
    assert.match(path.basename(deb), /^stgt_\d+\.\d+\.\d+_amd64\.deb$/);

    const r = await runInGuest('bash /mnt/repo/test/vm/guest/deb-systemd-flow.sh\n', {
      label: 'deb-systemd',
      init: 'systemd',
      timeoutMs: 25 * 60_000,
      cpus: 2,
      shares: [{ tag: 'deb', hostPath: debDir, guestPath: '/mnt/deb', readonly: true }],
      env: { DEB: `/mnt/deb/${path.basename(deb)}`, IQN1, IQN2, LUN_MIB: String(LUN_MIB), IO_MIB: '8' },
      log: (l) => t.diagnostic(l),
    });
    const why = `guest exit ${r.code}\n--- stdout:\n${r.stdout.slice(-6000)}\n--- stderr (tail):\n${r.stderr.slice(-4000)}\n--- console: ${r.consoleLog}`;
    const steps = parseSteps(r.stdout);
    t.diagnostic(`${r.accel}: boot ${r.bootMs} ms, total ${r.totalMs} ms; ` + steps.map((s) => `${s.name} ${s.ms}ms`).join(', '));
    t.diagnostic(`dpkg -i (unpack, systemctl start tgt): ${tagged(r.stdout, 'INSTALL-MS')[0] ?? '?'} ms`);
    const failed = steps.find((s) => !s.ok);
    assert.equal(failed, undefined, `step ${failed?.name} failed\n${why}`);
    assert.deepEqual(steps.map((s) => s.name), STEPS, `not every step ran\n${why}`);
    assert.equal(r.code, 0, why);
    assert.match(r.stdout, /^ALL DONE$/m, why);

    // dpkg installed it (only the node dependency forced); the postinst enabled the unit and
    // started it. Type=notify: the start returned with the unit running, its status text sent by
    // tgtd itself (the main PID is node running /usr/sbin/tgtd), the target of targets.conf in place.
    assert.match(tagged(r.stdout, 'DPKG')[0] ?? '', /^stgt \S+ install ok installed$/, why);
    assert.deepEqual(tagged(r.stdout, 'ENABLED'), ['enabled'], why);
    const unit = tagged(r.stdout, 'UNIT');
    for (const want of ['Type=notify', 'NotifyAccess=main', 'ActiveState=active', 'SubState=running', 'StatusText=ready, control port 0']) {
      assert.ok(unit.includes(want), `${want} missing\n${why}`);
    }
    assert.match(tagged(r.stdout, 'MAINPID-CMD')[0] ?? '', /^\S*node \/usr\/sbin\/tgtd -f $/, why);
    const atStart = tagged(r.stdout, 'SHOW-START');
    assert.ok(atStart.includes(`Target 1: ${IQN1}`), why);
    assert.ok(atStart.includes('        LUN: 1'), why);
    assert.ok(!atStart.some((l) => l.startsWith('Target 2:')), why);

    // The kernel initiator's writes came back, from the disk and from the backing file, before
    // and after the reload, and on the target the reload added.
    const sums = r.stdout.split('\n').filter((l) => l.startsWith('SHA256 written'));
    assert.equal(sums.length, 2, why);
    for (const l of sums) assert.match(l, /^SHA256 written ([0-9a-f]{64}) read \1 backing \1$/, why);
    assert.match(r.stdout, /^SHA256 after lldload read [0-9a-f]{64}$/m, why);

    // systemctl reload (tgt-admin --update ALL) added target 2 and kept target 1's session.
    assert.deepEqual(tagged(r.stdout, 'ACTIVE-AFTER-RELOAD'), ['active'], why);
    const reloaded = tagged(r.stdout, 'SHOW-RELOAD');
    assert.ok(reloaded.includes(`Target 1: ${IQN1}`) && reloaded.includes(`Target 2: ${IQN2}`), why);
    assert.ok(tagged(r.stdout, 'SESSIONS').some((l) => l.includes(IQN1)), why);

    // tgtd's own messages (its stderr) are in the unit's journal.
    const journal = tagged(r.stdout, 'JOURNAL');
    assert.ok(journal.some((l) => /tgtd ready, control port 0/.test(l)), why);
    assert.ok(journal.some((l) => /lld iscsi ready/.test(l)), why);
    // systemd called the unit started only after tgtd had said it was ready.
    const ready = journal.findIndex((l) => /tgtd ready, control port 0/.test(l));
    const started = journal.findIndex((l) => /^Started tgt\.service/.test(l));
    assert.ok(ready >= 0 && started > ready, `"Started tgt.service" must follow tgtd's ready line\n${why}`);

    // The stop ran ExecStop to its end: tgtd exited 0 on `tgtadm --op delete --mode system`, no process left.
    const stopped = tagged(r.stdout, 'STOPPED');
    for (const want of ['ActiveState=inactive', 'Result=success', 'ExecMainCode=1', 'ExecMainStatus=0', 'MainPID=0']) {
      assert.ok(stopped.includes(want), `${want} missing\n${why}`);
    }
    assert.deepEqual(tagged(r.stdout, 'LEFTOVER'), ['0'], why);
    assert.ok(tagged(r.stdout, 'JOURNAL-STOP').some((l) => /shutting down \(tgtadm --op delete --mode system\)/.test(l)), why);

    // dpkg -r: the program goes, the conffile stays until purge.
    assert.deepEqual(tagged(r.stdout, 'DPKG-REMOVED'), ['deinstall ok config-files'], why);
  } finally {
    fs.rmSync(debDir, { recursive: true, force: true });
  }
});
