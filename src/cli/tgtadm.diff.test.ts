// Differential test: Debian's /usr/sbin/tgtadm vs stgt's tgtadm against two private Debian tgtd daemons (tgt-compat.md §1.3).
//
// Both daemons receive the same command sequence, so they hold the same state; each command runs
// through the stock client on daemon A and through ours on daemon B, and stdout, stderr (with the
// program path normalised, since getopt prints argv[0]) and the exit code must be identical.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, waitFor } from '../../test/helpers/daemon.js';

const TGTD = '/usr/sbin/tgtd';
const TGTADM = '/usr/sbin/tgtadm';
const OURS = join(fileURLToPath(new URL('.', import.meta.url)), 'tgtadm.js');
const haveTgt = existsSync(TGTD) && existsSync(TGTADM);

/** One command per line, split on spaces ('' stands for an empty argument). */
const COMMANDS = `
--op show --mode sys
--op show --mo sys
--op show --b x
--op show --foo=3
-x
--op show --mode sys extra
--op show --mode sys -- extra
--op bogus --mode sys
--op show --mode bogus
--op show
--mode sys
--mode target --op new --tid 1 -T iqn.2024-01.test:t1
--mode target --op new --tid 1 -T iqn.2024-01.test:t1
--mode target --op new --tid=0 -T x
--mode target --op new -t abc -T x
--mode target --op new -t -2 -T x
--mode target --op new -t -1 -T x
--mode target --op new -t 4294967296 -T x
--mode target --op new -t 0x10 -T iqn.2024-01.test:hex
--mode target --op new -t010 -T iqn.2024-01.test:oct
--mode target --op new --tid 3
--mode target --op show
--mode target --op show --tid 1
--mode target --op new --tid 2 -b /x
--mode target --op start --tid 2
--mode target --op update --tid 1 --name MaxRecvDataSegmentLength --value 65536
--mode target --op update --tid 1 --name HeaderDigest --value CRC32C,None
--mode target --op show --tid 1
--mode target --op update --tid 1 --name x
--mode lu --op new --tid 1 --lun 1 -b /nonexistent/disk.img
--mode lu --op new --tid 1
--mode lu --op new --lun 1
--mode lu --op new --tid 1 --lun 1 -Y foo
--mode lu --op new --tid 1 --lun 1 -Y osd
--mode lu --op new --tid 1 --lun 1 -T x
--mode lu --op update --tid 1 --lun 0 --params vendor_id=x
--mode lu --op update --tid 1 --lun 0 -T x
--mode lu --op show --tid 1 --lun 0
--mode lu --op delete --tid 1 --lun 7
--mode portal --op show
--mode portal --op new
--mode portal --op show -T x
--mode portal --op stat
--params portal=127.0.0.1:1 --mode portal --op new
--mode account --op new --user u1 --password p1
--mode account --op new --user u1 --password p1
--mode account --op new --user u2
--mode account --op bind --user u1 --tid 1
--mode account --op bind --user u1 --tid 1 --outgoing
--mode account --op bind --tid 1
--mode account --op show
--mode account --op show -t 1
--mode account --op stat
--mode account --op unbind --user u1 -O x --tid 1
--mode lld --op show
--mode lld --op new
--mode lld --op show -t 1
--lld iser --mode target --op show
--lld nosuch --mode target --op show
--mode sys --op update --name debug
--mode sys --op update --name debug --value off -T x
--mode sys --op new
--mode target --op bind --tid 1
--mode target --op bind --tid 1 -I ALL
--mode target --op bind --tid 1 -I ALL
--mode target --op bind --tid 1 -Q iqn.1994-05.com.example:c1
--mode target --op unbind --tid 1 -I 10.0.0.1
--mode target --op show
--mode conn --op show --tid 1
--mode session --op show --tid 1 --sid 1
--mode session --op stat --tid 1 --sid 1
--mode target --op stat --tid 1
--op show --mode sys -C 99999
--op show --mode sys -C -1
--op show --mode sys -s -1
--op show --mode sys -c -2
--op show --mode sys -l 18446744073709551616
--mode target --op delete -t 12abc
--mode target --op delete --tid 16
--op show --mode sys -C 78
--mode target --op show --tid 1 --name x
--op show --mode sys --
--op show --mode sys -F 1
--op show --mode sys -dF1
--mode tgt --op delete --force --tid 1
--mode tgt --op delete --tid 1
--op delete --mode system
--op show --mode sys
`.trim().split('\n');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string[], args: string[], sock: string, prog: string): Run {
  const r = spawnSync(cmd[0]!, [...cmd.slice(1), ...args], {
    env: { ...process.env, TGT_IPC_SOCKET: sock },
    encoding: 'utf8',
    timeout: 15000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr.split(prog + ':').join('PROG:') };
}

function startTgtd(sock: string, port: number): ChildProcess {
  return spawn(TGTD, ['-f', '-C', '77', '--iscsi', `portal=127.0.0.1:${port}`], {
    env: { ...process.env, TGT_IPC_SOCKET: sock },
    stdio: 'ignore',
  });
}

/**
 * Waits until the daemon answers on its socket: the socket file appears at bind(), a moment
 * before listen(), and a command sent in between failed with "can't connect".
 */
function ready(sock: string): Promise<void> {
  return waitFor(() => run([TGTADM], ['-C', '77', '--op', 'show', '--mode', 'sys'], sock, TGTADM).code === 0, 20_000,
    `tgtd on ${sock}.77`);
}

test('tgtadm matches Debian tgtadm byte for byte', { skip: haveTgt ? false : `${TGTD} is not installed` }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'stgt-tgtadm-'));
  const port = await freePort();
  const portB = await freePort();
  const a = join(dir, 'a');
  const b = join(dir, 'b');
  const da = startTgtd(a, port);
  const db = startTgtd(b, portB);
  try {
    await ready(a);
    await ready(b);
    const mismatches: string[] = [];
    for (const line of COMMANDS) {
      const args = ['-C', '77', ...line.split(' ').map((s) => (s === "''" ? '' : s))];
      // An explicit -C later on the line overrides ours (last wins), which exercises that rule too.
      const want = run([TGTADM], args, a, TGTADM);
      const got = run([process.execPath, OURS], args, b, OURS);
      // The two daemons listen on different iSCSI ports; only that number may differ.
      got.stdout = got.stdout.split(`127.0.0.1:${portB},`).join(`127.0.0.1:${port},`);
      try {
        assert.deepEqual(got, want);
      } catch {
        mismatches.push(`${line}\n  want ${JSON.stringify(want)}\n  got  ${JSON.stringify(got)}`);
      }
    }
    assert.deepEqual(mismatches, []);
  } finally {
    da.kill('SIGKILL');
    db.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
