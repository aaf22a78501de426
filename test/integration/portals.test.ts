// iSCSI/TCP portals on both accept paths (the own accept loop of native/io, and net.Server with STGT_NATIVE_IO=0): logins, data, tgtadm's portal errors, no descriptor left behind.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { TestDaemon, freePort, iscsiUrl, repoRoot, run, waitFor, type RunResult } from '../helpers/daemon.js';

const IQN = 'iqn.2026-12.org.stgt.test:portals';
const work = mkdtempSync(join(tmpdir(), 'stgt-portals-'));
const daemons: TestDaemon[] = [];
after(() => {
  daemons.forEach((d) => d.kill());
  rmSync(work, { recursive: true, force: true });
});

const built = existsSync(join(repoRoot(), 'native', 'io', 'build', 'Release', 'stgt_io.node'));
const PATHS = [
  { name: 'own accept loop (native/io)', env: {} as Record<string, string>, addon: true },
  { name: 'net.Server (STGT_NATIVE_IO=0)', env: { STGT_NATIVE_IO: '0' }, addon: false },
];
/** What `tgtadm --op new` of a busy portal answered, per path: the two must be the same. */
const busyAnswers: RunResult[] = [];

function fds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

for (const path of PATHS) {
  test(`portals, ${path.name}: logins and data through a portal made at run time, its deletion frees the port and every descriptor`, {
    timeout: 180_000, skip: path.addon && !built && 'io addon not built (npm run build:native)',
  }, async () => {
    const disk = join(work, `${path.addon ? 'io' : 'net'}.img`);
    writeFileSync(disk, '');
    truncateSync(disk, 64 << 20);
    const d = await TestDaemon.start({ env: path.env });
    daemons.push(d);
    await d.addTarget(1, IQN);
    await d.addLun(1, 1, disk);
    assert.equal((await d.maps()).includes('stgt_io.node'), path.addon, 'the addon is mapped only on its path');
    const before = fds(d.pid);
    const port = await freePort();
    const src = join(work, 'src.raw');
    writeFileSync(src, randomBytes(8 << 20));
    for (let round = 0; round < 2; round++) {
      await d.tgtadmOk('--lld', 'iscsi', '--mode', 'portal', '--op', 'new', '--param', `portal=127.0.0.1:${port}`);
      assert.match(await d.tgtadmOk('--lld', 'iscsi', '--mode', 'portal', '--op', 'show'), new RegExp(`Portal: 127\\.0\\.0\\.1:${port},1`));
      const url = iscsiUrl(port, IQN, 1);
      const inq = await run('iscsi-inq', [url], { timeoutMs: 20_000 });
      assert.equal(inq.code, 0, inq.stderr);
      // 8 MiB of random data written (1 MiB requests: R2T bursts) and compared through the new portal.
      const w = await run('qemu-img', ['convert', '-n', '-f', 'raw', '-O', 'raw', src, url], { timeoutMs: 120_000 });
      assert.equal(w.code, 0, w.stderr);
      const cmp = await run('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', src, url], { timeoutMs: 120_000 });
      assert.match(cmp.stdout + cmp.stderr, /Images are identical/);
      await d.tgtadmOk('--lld', 'iscsi', '--mode', 'portal', '--op', 'delete', '--param', `portal=127.0.0.1:${port}`);
      // The initiators have gone and the portal is closed: the daemon holds what it held before.
      await waitFor(() => fds(d.pid) === before, 10_000, `descriptors back to ${before} (now ${fds(d.pid)})`);
    }
    // A port another process holds: refused, as tgtadm words it, and logged with net's words.
    const holder = net.createServer();
    await new Promise<void>((r) => holder.listen({ host: '127.0.0.1', port: 0 }, r));
    const busy = (holder.address() as net.AddressInfo).port;
    busyAnswers.push(await d.tgtadm('--lld', 'iscsi', '--mode', 'portal', '--op', 'new', '--param', `portal=127.0.0.1:${busy}`));
    await d.waitForLog(new RegExp(`portal 127\\.0\\.0\\.1:${busy}: Error: listen EADDRINUSE: address already in use 127\\.0\\.0\\.1:${busy}\n`));
    holder.close();
    await waitFor(() => fds(d.pid) === before, 10_000, `descriptors back to ${before} after the refusal (now ${fds(d.pid)})`);
    await d.stop();
  });
}

test('portals: a busy port gets the same tgtadm answer on both paths', { skip: !built && 'io addon not built' }, () => {
  assert.equal(busyAnswers.length, 2);
  const [a, b] = busyAnswers as [RunResult, RunResult];
  assert.notEqual(a.code, 0);
  assert.deepEqual({ code: a.code, stdout: a.stdout, stderr: a.stderr }, { code: b.code, stdout: b.stdout, stderr: b.stderr });
});
