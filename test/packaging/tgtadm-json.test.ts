// `tgtadm --json` (stgt's extension): the same information as the text, against stgt's tgtd and Debian's (the JSON is built from tgt's text, so both must give the same).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, ftruncateSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { haveDebianTgt, runClient, startDaemon, type CompatDaemon } from '../compat/daemons.js';
import { ScsiClient } from '../helpers/scsi-client.js';

const IQN = 'iqn.2026-12.org.stgt.test:json';

async function setUp(d: CompatDaemon): Promise<void> {
  const img = join(d.dir, 'disk.img');
  const fd = openSync(img, 'w');
  ftruncateSync(fd, 8 * 1024 * 1024);
  closeSync(fd);
  for (const args of [
    ['--mode', 'target', '--op', 'new', '--tid', '1', '-T', IQN],
    ['--mode', 'logicalunit', '--op', 'new', '--tid', '1', '--lun', '1', '-b', img],
    ['--mode', 'target', '--op', 'bind', '--tid', '1', '-I', 'ALL'],
    ['--mode', 'target', '--op', 'bind', '--tid', '1', '-I', '10.1.2.3'],
    ['--mode', 'account', '--op', 'new', '--user', 'jsonuser', '--password', 'jsonpass12'],
    ['--mode', 'account', '--op', 'new', '--user', 'outuser', '--password', 'outpass123'],
    ['--mode', 'account', '--op', 'bind', '--tid', '1', '--user', 'outuser', '--outgoing'],
  ]) {
    const r = await runClient('debian', d, ['--lld', 'iscsi', ...args]);
    assert.equal(r.code, 0, `${d.kind}: ${args.join(' ')}: ${r.stderr}`);
  }
}

async function json(d: CompatDaemon, args: string[]): Promise<{ text: string; value: unknown }> {
  const textRun = await runClient('stgt', d, ['--lld', 'iscsi', ...args]);
  const r = await runClient('stgt', d, ['--lld', 'iscsi', ...args, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return { text: textRun.stdout.split(d.dir).join('<dir>'), value: JSON.parse(r.stdout.split(d.dir).join('<dir>')) };
}

test('tgtadm --json: target, system, account and portal show as JSON, the same from stgt and Debian tgtd', { skip: haveDebianTgt ? false : 'Debian tgt not installed', timeout: 120_000 }, async () => {
  const got: Record<string, { target: unknown; params: unknown; accounts: unknown; portals: unknown; nexus: unknown; empty: unknown }> = {};
  for (const kind of ['stgt', 'debian'] as const) {
    const d = await startDaemon(kind);
    try {
      const empty = (await json(d, ['--mode', 'target', '--op', 'show'])).value;
      await setUp(d);
      const s = await ScsiClient.login(d.iscsiPort, IQN, 'iqn.2026-12.org.stgt.test:host');
      let nexus: unknown;
      let target: unknown;
      try {
        const t = await json(d, ['--mode', 'target', '--op', 'show']);
        const v = t.value as { targets: { itNexusInformation: unknown[] }[] };
        nexus = v.targets[0]!.itNexusInformation;
        v.targets[0]!.itNexusInformation = [];
        target = v;
      } finally {
        s.close();
      }
      got[kind] = {
        empty, target, nexus,
        params: (await json(d, ['--mode', 'target', '--op', 'show', '--tid', '1'])).value,
        accounts: (await json(d, ['--mode', 'account', '--op', 'show'])).value,
        portals: (await json(d, ['--mode', 'portal', '--op', 'show'])).value,
      };
      if (kind === 'stgt') {
        const sys = (await json(d, ['--mode', 'system', '--op', 'show'])).value as Record<string, unknown>;
        assert.deepEqual(sys['system'], { state: 'ready', debug: 'off' });
        assert.equal((sys['llds'] as Record<string, string>)['iscsi'], 'ready');
        assert.ok((sys['backingStores'] as string[]).includes('rdwr (bsoflags sync:direct)'));
        assert.equal((sys['isns'] as Record<string, string>)['iSNS'], 'Off');
        const refused = await runClient('stgt', d, ['--mode', 'target', '--op', 'new', '--tid', '9', '-T', 'iqn.x', '--json']);
        assert.equal(refused.code, 22);
        assert.equal(refused.stderr, 'tgtadm: --json is only for --op show\n');
        const noTarget = await runClient('stgt', d, ['--mode', 'target', '--op', 'show', '--tid', '7', '--json']);
        assert.equal(noTarget.code, 22);
        assert.equal(noTarget.stderr, 'tgtadm: can\'t find the target\n');
      }
    } finally {
      await d.stop();
    }
  }
  const stgt = got['stgt']!;
  assert.deepEqual(stgt.empty, { targets: [] });
  const t = (stgt.target as { targets: Record<string, unknown>[] }).targets;
  assert.equal(t.length, 1);
  assert.equal(t[0]!['tid'], 1);
  assert.equal(t[0]!['name'], IQN);
  assert.deepEqual(t[0]!['systemInformation'], { driver: 'iscsi', state: 'ready' });
  const luns = t[0]!['lunInformation'] as Record<string, unknown>[];
  assert.deepEqual(luns.map((l) => [l['lun'], l['type']]), [[0, 'controller'], [1, 'disk']]);
  assert.equal(luns[1]!['backingStorePath'], '<dir>/disk.img');
  assert.equal(luns[1]!['backingStoreFlags'], '');
  assert.equal(luns[1]!['scsiId'], 'IET     00010001');
  assert.deepEqual(t[0]!['accountInformation'], ['outuser (outgoing)']);
  assert.deepEqual(t[0]!['aclInformation'], ['ALL', '10.1.2.3']);
  const nexus = stgt.nexus as { id: number; initiator: string; connections: { cid: number; ipAddress: string }[] }[];
  assert.equal(nexus.length, 1);
  assert.match(nexus[0]!.initiator, /^iqn\.2026-12\.org\.stgt\.test:host/);
  assert.equal(nexus[0]!.connections[0]!.ipAddress, '127.0.0.1');
  assert.equal((stgt.params as Record<string, string>)['MaxRecvDataSegmentLength'] !== undefined, true);
  assert.deepEqual(stgt.accounts, { accountList: ['outuser', 'jsonuser'] }); // newest first, as tgt lists them
  // The same JSON from Debian's tgtd (portals differ: each daemon its own port).
  const tgt = got['debian']!;
  assert.deepEqual(stgt.empty, tgt.empty);
  assert.deepEqual(stgt.target, tgt.target);
  assert.deepEqual(stgt.accounts, tgt.accounts);
  assert.deepEqual(Object.keys(stgt.nexus as object), Object.keys(tgt.nexus as object));
  assert.equal((stgt.portals as { portals: string[] }).portals.length, 1);
  assert.equal((tgt.portals as { portals: string[] }).portals.length, 1);
});
