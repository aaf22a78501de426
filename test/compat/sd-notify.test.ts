// `tgtd -f` under systemd Type=notify: READY=1 on $NOTIFY_SOCKET once the daemon serves requests (sd_notify(3); tgt-compat.md §1.8).
//
// Node cannot bind an AF_UNIX datagram socket, so a small python3 program plays systemd's part:
// it binds the socket, prints the first datagram it receives and exits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../helpers/daemon.js';
import { runClient, startStgtTgtd } from './daemons.js';

const LISTENER = `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(30)
print(s.recv(4096).decode(), flush=True)
`;

const havePython = ['/usr/bin/python3', '/usr/local/bin/python3'].some(existsSync) || process.env['PATH']?.includes('pyenv');

test('tgtd -f sends READY=1 to NOTIFY_SOCKET', { skip: havePython ? false : 'python3 is missing', timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'h7n-'));
  const sock = join(dir, 'notify');
  const py = spawn('python3', ['-c', LISTENER, sock], { stdio: ['ignore', 'pipe', 'pipe'] });
  let got = '';
  py.stdout.setEncoding('utf8').on('data', (d: string) => (got += d));
  // 'close', not 'exit': the exit can be seen before the printed line has been read from the pipe.
  const pyDone = new Promise<number | null>((res) => py.on('close', (c) => res(c)));
  try {
    await waitFor(() => existsSync(sock), 10_000, 'the notify listener');
    const d = await startStgtTgtd({ NOTIFY_SOCKET: sock });
    try {
      assert.equal(await pyDone, 0);
      // One datagram: READY=1 and the status text `systemctl status` shows (sd_notify(3) variables, one per line).
      assert.deepEqual(got.trim().split('\n').map((l) => l.replace(/ port \d+$/, ' port N')), ['READY=1', 'STATUS=ready, control port N']);
      // READY means the management socket already answers (Debian's ExecStartPost runs tgtadm next).
      const r = await runClient('stgt', d, ['--mode', 'sys', '--op', 'show']);
      assert.equal(r.code, 0);
    } finally {
      await d.stop();
    }
  } finally {
    if (py.exitCode === null) py.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
