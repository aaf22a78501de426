// The OpenStack Cinder TgtAdm flow against stgt's tgtd with stgt's tgtadm and tgt-admin (tgt-compat.md §1.6).
//
// Cinder writes one file per volume under volumes_dir, has tgt-admin create the target from it,
// parses the tid from `tgt-admin --show` ("Target 1: iqn..." -> split()[1][:-1]) and requires the
// exact line '        LUN: 1', then deletes with `tgt-admin --delete <iqn> -f`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync, closeSync, openSync, ftruncateSync } from 'node:fs';
import { join } from 'node:path';
import { distRoot, run } from '../helpers/daemon.js';
import { runClient, startStgtTgtd } from './daemons.js';

const IQN = 'iqn.2010-10.org.openstack:volume-0001';

test('Cinder flow: tgt-admin --update, show parsing, recover LUN, delete', { timeout: 90_000 }, async () => {
  const d = await startStgtTgtd();
  try {
    // tgt-admin finds tgtadm on $PATH (Cinder runs both by name).
    const bin = join(d.dir, 'bin');
    mkdirSync(bin);
    for (const [name, mod] of [['tgtadm', 'src/cli/tgtadm.js'], ['tgt-admin', 'src/cli/tgt-admin.js']] as const) {
      const f = join(bin, name);
      writeFileSync(f, `#!${process.execPath}\nimport(${JSON.stringify(join(distRoot(), mod))}).then((m) => m.main());\n`);
      chmodSync(f, 0o755);
    }
    const img = join(d.dir, 'volume-0001');
    const fd = openSync(img, 'w');
    ftruncateSync(fd, 64 * 1024 * 1024);
    closeSync(fd);
    const volumes = join(d.dir, 'volumes');
    mkdirSync(volumes);
    writeFileSync(join(volumes, 'volume-0001'),
      `<target ${IQN}>\n    backing-store ${img}\n    driver iscsi\n    incominguser cuser cpassword12\n    bsoflags direct\n` +
      `    write-cache on\n    scsi_sn 0001\n    scsi_id 0001\n</target>\n`);
    const conf = join(d.dir, 'targets.conf');
    writeFileSync(conf, `include ${volumes}/*\n`);
    const env = { ...process.env, PATH: `${bin}:${process.env['PATH'] ?? ''}`, TGT_IPC_SOCKET: d.socketBase };
    const admin = (...a: string[]) => run(join(bin, 'tgt-admin'), ['-C', String(d.controlPort), ...a], { env, timeoutMs: 30_000 });

    const up = await admin('--update', IQN, '-c', conf);
    assert.equal(up.code, 0, up.stderr);
    const show = await admin('--show');
    assert.equal(show.code, 0, show.stderr);
    const line = show.stdout.split('\n').find((l) => l.includes(IQN))!;
    assert.equal(line.split(/\s+/)[1]!.slice(0, -1), '1');
    assert.ok(show.stdout.split('\n').includes('        LUN: 1'), show.stdout);
    const t = await runClient('stgt', d, ['--lld', 'iscsi', '--op', 'show', '--mode', 'target']);
    assert.match(t.stdout, /Backing store flags: direct\n/);
    assert.match(t.stdout, /SCSI SN: 0001\n/);
    assert.match(t.stdout, /Account information:\n {8}cuser\n/);

    // Recovering a missing LUN: Cinder re-adds it with tgtadm; here it exists, so the error text matters.
    const again = await runClient('stgt', d, ['--lld', 'iscsi', '--op', 'new', '--mode', 'logicalunit', '--tid', '1', '--lun', '1', '-b', img]);
    assert.equal(again.code, 22);
    assert.equal(again.stderr, 'tgtadm: this logical unit number already exists\n');

    const del = await admin('--delete', IQN, '-f');
    assert.equal(del.code, 0, del.stderr);
    const after = await runClient('stgt', d, ['--lld', 'iscsi', '--op', 'show', '--mode', 'target']);
    assert.equal(after.stdout, '');
  } finally {
    await d.stop();
  }
});
