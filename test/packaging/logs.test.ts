// tgtd's log (issue 14 item 7): tgt's -d levels and messages, context on every connection line, the journal's <N> prefixes under JOURNAL_STREAM, syslog(3) as LOG_DAEMON with -D.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, run, TestDaemon, waitFor } from '../helpers/daemon.js';
import { ScsiClient } from '../helpers/scsi-client.js';

const IQN = 'iqn.2026-12.org.stgt.test:logs';
const HOST = 'iqn.2026-12.org.stgt.test:loghost';
const TGTD = join(repoRoot(), 'bin', 'tgtd');

/** A TCP connection to the portal that never logs in (its end is a debug line). */
function probe(port: number): Promise<void> {
  return new Promise((res, rej) => {
    const s = net.connect(port, '127.0.0.1', () => s.end());
    s.on('close', () => res()).on('error', rej);
  });
}

/** A login, a refused login (no such target), a connection that never logs in, with debug off then on. */
async function workload(d: TestDaemon): Promise<void> {
  await d.addTarget(1, IQN);
  const s = await ScsiClient.login(d.iscsiPort, IQN, HOST);
  s.close();
  const lost = await ScsiClient.login(d.iscsiPort, `${IQN}-missing`, HOST).catch((e: Error) => e);
  assert.ok(lost instanceof Error);
  await probe(d.iscsiPort);
  assert.equal((await d.tgtadm('--mode', 'system', '--op', 'update', '--name', 'debug', '--value', 'on')).code, 0);
  assert.match((await d.tgtadm('--mode', 'system', '--op', 'show')).stdout, /debug: on/);
  await probe(d.iscsiPort);
}

test('-d takes 0 or 1 with tgt\'s messages and exit codes; -d 1 shows as debug: on', async () => {
  for (const v of ['2', 'x', '-1']) {
    const ours = await run(process.execPath, [TGTD, '-f', '-d', v]);
    const tgt = await run('/usr/sbin/tgtd', ['-f', '-d', v]);
    assert.equal(ours.stderr, tgt.stderr, `-d ${v}`);
    assert.equal(ours.code, tgt.code, `-d ${v}`);
  }
  assert.equal((await run(process.execPath, [TGTD, '-f', '-d', '2'])).code, 34);
  const d = await TestDaemon.start({ args: ['-d', '1'] });
  try {
    assert.match((await d.tgtadm('--mode', 'system', '--op', 'show')).stdout, /debug: on/);
    assert.equal((await d.tgtadm('--mode', 'system', '--op', 'update', '--name', 'debug', '--value', 'off')).code, 0);
    assert.match(d.stderr, /tgtd: info: set debug to: 0\n/);
  } finally {
    await d.stop();
  }
});

test('with -f: plain lines on stderr, each connection line names tid, sid, cid, initiator, target and peer', async () => {
  const d = await TestDaemon.start();
  try {
    await workload(d);
    await waitFor(() => (d.stderr.match(/connection closed \(/g) ?? []).length >= 2, 10_000, `2 connection lines in\n${d.stderr}`);
    const text = d.stderr;
    assert.match(text, new RegExp(`tgtd: info: iscsi: login: tid=1 sid=\\d+ cid=0 initiator=${HOST} target=${IQN} peer=127\\.0\\.0\\.1:\\d+\\n`));
    assert.match(text, new RegExp(`tgtd: info: iscsi: connection closed \\([^)]*\\): tid=1 sid=\\d+ cid=0 initiator=${HOST} target=${IQN} peer=127\\.0\\.0\\.1:\\d+\\n`));
    assert.match(text, new RegExp(`tgtd: warn: iscsi: login refused \\(target_not_found\\): initiator=${HOST} cid=0 peer=127\\.0\\.0\\.1:\\d+\\n`));
    // The probe before debug=on left no line; the one after did.
    assert.equal((text.match(/tgtd: debug: iscsi: connection closed \([^)]*\): cid=0 peer=/g) ?? []).length, 1, text);
    assert.ok(text.indexOf('tgtd: debug: iscsi: connection closed') > text.indexOf('set debug to: 1'));
    assert.doesNotMatch(text, /<\d>/);
  } finally {
    await d.stop();
  }
});

test('under systemd (JOURNAL_STREAM names stderr): every line carries its syslog priority as <N>', async () => {
  // The wrapper sets JOURNAL_STREAM to its stderr's device:inode, as systemd does for a unit's stream.
  const wrapper = ['sh', '-c', 'JOURNAL_STREAM=$(stat -L -c %d:%i /proc/self/fd/2); export JOURNAL_STREAM; exec "$@"', 'sh'];
  const d = await TestDaemon.start({ wrapper, readyLog: /<6>info: tgtd ready/ });
  try {
    await workload(d);
    await waitFor(() => /<7>debug: iscsi: connection closed/.test(d.stderr), 10_000, `a debug line in\n${d.stderr}`);
    const text = d.stderr;
    assert.match(text, new RegExp(`^<6>info: iscsi: login: tid=1 sid=\\d+ cid=0 initiator=${HOST} target=${IQN} peer=`, 'm'));
    assert.match(text, /^<4>warn: iscsi: login refused \(target_not_found\): /m);
    assert.match(text, /^<6>info: set debug to: 1$/m);
    for (const line of text.split('\n').filter((l) => l !== '')) assert.match(line, /^<[3467]>(error|warn|info|debug): /, `unprefixed line ${line}`);
  } finally {
    await d.stop();
  }
  // A JOURNAL_STREAM naming another stream (inherited from a parent unit) leaves plain lines.
  const other = await TestDaemon.start({ env: { JOURNAL_STREAM: '1:1' } });
  try {
    assert.match(other.stderr, /^tgtd: info: tgtd ready/m);
  } finally {
    await other.stop();
  }
});

test('with -D: lines go to syslog(3) as LOG_DAEMON "tgtd" (a private /dev/log in a mount namespace)', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'stgt-logs-'));
  // In a private mount namespace /dev is a tmpfs with the usual character devices bound in and
  // /dev/log a link to a datagram socket whose receiver echoes each message to stderr.
  const script = join(dir, 'ns.sh');
  writeFileSync(script, `set -e
D=${dir}
mkdir "$D/dev"
mount --rbind /dev "$D/dev"
mount -t tmpfs tmpfs /dev
for n in null zero full random urandom; do touch "/dev/$n"; mount --bind "$D/dev/$n" "/dev/$n"; done
python3 -u -c '
import ctypes, socket, sys
ctypes.CDLL("libc.so.6").prctl(1, 15)  # PR_SET_PDEATHSIG: end with tgtd
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
while True:
    sys.stderr.write("syslog: " + s.recv(65536).decode("utf8", "replace") + "\\n")
' "$D/log" &
while [ ! -S "$D/log" ]; do sleep 0.05; done
ln -s "$D/log" /dev/log
exec "$@"
`);
  const d = await TestDaemon.start({ foreground: false, wrapper: ['unshare', '-m', 'sh', script], readyLog: /syslog: <30>.* tgtd: info: tgtd ready/ });
  try {
    await workload(d);
    await waitFor(() => /syslog: <31>.* tgtd: debug: iscsi: connection closed/.test(d.stderr), 10_000, `a debug datagram in\n${d.stderr}`);
    const text = d.stderr;
    // <PRI> = LOG_DAEMON (3 << 3) + severity; glibc's header: timestamp, then the ident "tgtd".
    assert.match(text, new RegExp(`syslog: <30>\\w{3} [ \\d]\\d \\d\\d:\\d\\d:\\d\\d tgtd: info: iscsi: login: tid=1 sid=\\d+ cid=0 initiator=${HOST} target=${IQN} `));
    assert.match(text, /syslog: <28>.* tgtd: warn: iscsi: login refused \(target_not_found\): /);
    assert.equal((text.match(/tgtd: debug: iscsi: connection closed/g) ?? []).length, 1, 'debug lines only after debug=on');
    for (const line of text.split('\n').filter((l) => l !== '')) assert.match(line, /^syslog: <(27|28|30|31)>/, `not through syslog: ${line}`);
  } finally {
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
