// Linux kernel initiator with sg3_utils against tgtd on the host: PR with APTPL across a tgtd restart, ALUA port groups per portal (issue 11)
//
// One boot, guest/pr-alua-flow.sh. The host's tgtd has one target with one LU, reached through two
// portals (two ports on 127.0.0.1, forwarded to 10.0.2.100 and 10.0.2.101 in the guest); the second
// portal is put in ALUA group 2. The guest logs in through both, checks each path's relative port
// and group (sg_vpd) and RTPG (sg_rtpg), registers and reserves with APTPL (sg_persist), then asks
// the host to restart tgtd (stop it, start it, create the target and LU again the same way): its
// sessions must recover (or log in again) and the key and reservation must still be there. Then
// the host sets group 2 to standby with tgtadm and the guest sees it in RTPG and on path 2. Last,
// the host turns on explicit ALUA and the guest's sg_stpg through path 2 makes group 2
// active/optimized again (and group 1 standby), seen in RTPG, on path 2 and in tgtadm's show.
// stgt only: tgt 1.0.85 has no ALUA (STGT_VM_TARGET=debian fails at `alua_group`).
// The guest asks for host actions through a shared directory (req-NAME, answered done-NAME or
// failed-NAME; each NAME once), which the host watches while the VM runs.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ensureImage, requireVmTools, runInGuest, type VmImage } from './harness.js';
import { HostTarget, freePort, targetBinaries } from './target-host.js';
import { parseSteps } from './steps.js';
import { serveHostRequests } from './host-requests.js';

const IQN = 'iqn.2026-11.org.stgt.vmtest:pr-alua';
const KEY = '0x5354475431';
const STEPS = ['iscsid', 'login-both', 'ports-and-groups', 'register-reserve-aptpl', 'restart-tgtd', 'recovered',
  'pr-kept', 'set-standby', 'rtpg-standby', 'release', 'set-explicit', 'stpg', 'show-stpg', 'logout'];

describe('sg_persist APTPL across a tgtd restart, sg_rtpg port groups per portal (kernel initiator in a VM)', { timeout: 20 * 60_000 }, () => {
  let image: VmImage;
  let target: HostTarget;
  let port2: number;
  let disk: string;
  let hostDir: string;

  /**
   * The same configuration every time tgtd starts: target, second portal in group 2, LU, and only
   * then the ACL that admits logins. A group is also an iSCSI portal group (its tag is the group's
   * number): a session recovering through the second portal before it is in group 2 would be
   * answered portal group tag 1 instead of 2, and open-iscsi drops a session whose tag changed.
   */
  const configure = (): void => {
    const t = (...a: string[]): string => target.tgtadm('--mode', 'target', '--tid', '1', ...a);
    target.tgtadm('--mode', 'portal', '--op', 'new', '--param', `portal=127.0.0.1:${port2}`);
    t('--op', 'new', '-T', IQN);
    t('--op', 'update', '--name', 'alua_group', '--value', `2:127.0.0.1:${port2}`);
    target.tgtadm('--mode', 'logicalunit', '--op', 'new', '--tid', '1', '--lun', '1', '-b', disk);
    t('--op', 'bind', '-I', 'ALL');
  };

  before(async () => {
    requireVmTools();
    const bins = targetBinaries();
    image = await ensureImage((line) => process.stderr.write(`${line}\n`));
    target = await HostTarget.start(bins);
    port2 = await freePort();
    disk = target.backingFile('pr.img', 64);
    hostDir = fs.mkdtempSync(path.join(target.dir, 'host-'));
    configure();
  });

  after(() => {
    target?.stop();
  });

  test('register + reserve with APTPL, restart tgtd, reservation kept; RTPG shows both groups and a tgtadm state change', async (t) => {
    let restarts = 0;
    let stpgShown = '';
    const actions: Record<string, () => Promise<void>> = {
      restart: async () => {
        await target.restart();
        restarts++;
        configure();
      },
      standby2: async () => {
        target.tgtadm('--mode', 'target', '--op', 'update', '--tid', '1', '--name', 'alua_state', '--value', '2:standby');
      },
      explicit: async () => {
        target.tgtadm('--mode', 'target', '--op', 'update', '--tid', '1', '--name', 'alua_explicit', '--value', '1');
      },
      // the guest's SET TARGET PORT GROUPS, as the administrator sees it
      show_stpg: async () => {
        const show = target.tgtadm('--mode', 'target', '--op', 'show');
        stpgShown = show;
        if (!/\n {8}ALUA: explicit\n {8}ALUA group 1: standby \(SET TARGET PORT GROUPS\)\n {8}ALUA group 2: active_optimized \(SET TARGET PORT GROUPS\)\n/.test(show)) {
          throw new Error(`tgtadm show does not have group 2 active_optimized by SET TARGET PORT GROUPS:\n${show}`);
        }
      },
    };
    // Serve the guest's requests while it runs.
    const host = serveHostRequests(hostDir, actions, (m) => t.diagnostic(m));
    let r;
    try {
      r = await runInGuest('exec bash /mnt/repo/test/vm/guest/pr-alua-flow.sh\n', {
        image,
        label: 'pr-alua',
        timeoutMs: 14 * 60_000, // a quiet machine takes about a minute; at load 15 the boot alone took 240 s
        forwards: [
          { guestPort: 3260, hostPort: target.port },
          { guestPort: 3260, hostPort: port2, guestAddr: '10.0.2.101' },
        ],
        shares: [{ tag: 'host', hostPath: hostDir, guestPath: '/mnt/host' }],
        env: { PORTAL: '10.0.2.100:3260', PORTAL2: '10.0.2.101:3260', IQN, KEY, HOST_DIR: '/mnt/host' },
        log: (line) => t.diagnostic(line),
      });
    } finally {
      host.stop();
    }
    const steps = parseSteps(r.stdout);
    const explain = `guest exit ${r.code}\n--- stdout:\n${r.stdout.slice(-3000)}\n--- stderr (tail):\n${r.stderr.slice(-6000)}` +
      `\n--- console log: ${r.consoleLog}\n--- tgtd output (tail):\n${target.log().slice(-3000)}`;
    t.diagnostic(`${r.accel}: boot ${r.bootMs} ms, total ${r.totalMs} ms; ` + steps.map((s) => `${s.name} ${s.ms}ms`).join(', '));
    const failed = steps.find((s) => !s.ok);
    assert.equal(failed, undefined, `step ${failed?.name} failed\n${explain}`);
    assert.deepEqual(steps.map((s) => s.name), STEPS, `not every step ran\n${explain}`);
    assert.equal(r.code, 0, explain);
    assert.match(r.stdout, /^ALL DONE$/m, explain);
    assert.equal(restarts, 1, 'tgtd was restarted once, between the reservation and its check');
    assert.match(stpgShown, /ALUA group 2: active_optimized \(SET TARGET PORT GROUPS\)/, 'tgtadm show after sg_stpg');
    // the state that brought the reservation back was the file beside the LU; unregistering removed it
    assert.equal(fs.existsSync(`${disk}.stgt-pr`), false, 'APTPL state removed by the final unregister');
  });
});
