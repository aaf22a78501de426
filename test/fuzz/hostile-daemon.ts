// The tgtd a hostile run attacks: two targets (plain and CHAP), digests and multi-connection sessions allowed; and its clean teardown.
//
// tid 1 is the open target with LUN 1 a memory disk; it allows CRC32C digests, 4 connections per
// session and unsolicited data (InitialR2T=No) so every data path is reachable. tid 2 requires
// CHAP, for the login fuzzer. The end of a run must be ordinary: both targets deleted without
// --force (which tgtadm refuses while a session exists) and tgtd stopping with status 0.

import { TestDaemon } from '../helpers/daemon.js';
import { BAD_LOG, type HostileTarget } from './hostile-initiator.js';
import { nexusCount } from './clean-session.js';

export const HOSTILE_IQN = 'iqn.2026-11.org.stgt.fuzz:hostile';
export const HOSTILE_CHAP_IQN = 'iqn.2026-11.org.stgt.fuzz:hostile-chap';
const LUN_MIB = 16;

export async function startHostileDaemon(tgtdArgs: string[] = []): Promise<{ daemon: TestDaemon; target: HostileTarget }> {
  const d = await TestDaemon.start({ args: tgtdArgs });
  try {
    await d.addTarget(1, HOSTILE_IQN);
    await d.tgtadmOk('--mode', 'logicalunit', '--op', 'new', '--tid', '1', '--lun', '1', '-b', `${LUN_MIB}M`, '--bstype', 'memory');
    for (const [name, value] of [['MaxConnections', '4'], ['HeaderDigest', 'CRC32C'], ['DataDigest', 'CRC32C'], ['InitialR2T', 'No']]) {
      await d.tgtadmOk('--mode', 'target', '--op', 'update', '--tid', '1', '--name', name!, '--value', value!);
    }
    await d.addTarget(2, HOSTILE_CHAP_IQN);
    await d.tgtadmOk('--mode', 'logicalunit', '--op', 'new', '--tid', '2', '--lun', '1', '-b', '1M', '--bstype', 'memory');
    await d.tgtadmOk('--mode', 'account', '--op', 'new', '--user', 'fuzzuser', '--password', 'fuzzsecret12');
    await d.tgtadmOk('--mode', 'account', '--op', 'bind', '--tid', '2', '--user', 'fuzzuser');
  } catch (e) {
    d.kill();
    throw e;
  }
  const target: HostileTarget = {
    host: '127.0.0.1',
    port: d.iscsiPort,
    iqn: HOSTILE_IQN,
    blocks: (LUN_MIB * 1024 * 1024) / 512,
    chapIqn: HOSTILE_CHAP_IQN,
    chapUser: 'fuzzuser',
    chapSecret: 'fuzzsecret12',
    pid: d.pid,
    alive: () => d.running,
    stderr: () => d.stderr,
    tgtadm: (...args: string[]) => d.tgtadm(...args),
  };
  return { daemon: d, target };
}

/**
 * Ends the run: no nexus left, both targets deleted without --force, tgtd stopped cleanly.
 * Returns the failures (empty when all went well); the daemon is gone afterwards either way.
 */
export async function finishHostileDaemon(d: TestDaemon): Promise<string[]> {
  const failures: string[] = [];
  try {
    if (!d.running) {
      failures.push(`tgtd is not running at the end:\n${tail(d.stderr)}`);
      return failures;
    }
    const { count, text } = await nexusCount({ tgtadm: (...a: string[]) => d.tgtadm(...a) });
    if (count !== 0) failures.push(`${count} I_T nexuses at the end:\n${text}`);
    for (const tid of ['1', '2']) {
      const r = await d.tgtadm('--lld', 'iscsi', '--mode', 'target', '--op', 'delete', '--tid', tid);
      if (r.code !== 0) failures.push(`tgtadm --op delete --tid ${tid} exited ${String(r.code)}: ${r.stderr.trim()}`);
    }
    const bad = d.stderr.split('\n').filter((l) => BAD_LOG.test(l));
    if (bad.length > 0) failures.push(`tgtd stderr:\n${bad.slice(0, 20).join('\n')}`);
    await d.stop();
  } catch (e) {
    failures.push(`tgtd did not stop cleanly: ${(e as Error).message.slice(0, 4000)}`);
  } finally {
    d.kill();
  }
  return failures;
}

function tail(s: string): string {
  return s.split('\n').slice(-30).join('\n');
}
