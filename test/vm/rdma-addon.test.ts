// The real RDMA provider addon (native/rdma, provider interface v2) in the VM over Soft-RoCE (rxe0 on eth0), RFC 7145's substrate
//
// One boot: rxe0 comes up on eth0; the host-built addon (the guest is Debian 12 like the host and
// has libibverbs1/librdmacm1 from rdma-core) runs test/vm/guest/rdma-selftest.ts under the host's
// node: listen on eth0's address, connect to itself, private data checked both ways, Sends,
// 1 MiB RDMA WRITE (chained before a Send) and RDMA READ verified byte for byte, a bad rkey as an
// error completion, disconnect, destroy, close; then over IPv6, completions in batches of at
// most batchSize and close() from inside a completion handler; iSCSI/TCP and RDMA CM listeners
// on 0.0.0.0 and :: sharing port 3260, reject with private data; /proc/self/fd back to its baseline. Needs
// `npm run build:native` (libibverbs-dev, librdmacm-dev; .ci/run does both) and the tsc build.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot, requireVmTools, runInGuest } from './harness.js';
import { ADDON_RELATIVE, BUILD_HINT } from '../../src/lld/iser/rdma-provider.js';

test('guest: real RDMA addon over rxe0 — CM private data, Sends, 1 MiB RDMA WRITE/READ, bad rkey, clean close', { timeout: 10 * 60_000 }, async (t) => {
  requireVmTools();
  const root = repoRoot();
  const addon = path.join(root, ADDON_RELATIVE);
  if (!fs.existsSync(addon)) throw new Error(`stgt-vm: ${addon} missing: the RDMA addon is not built (${BUILD_HINT})`);
  const program = path.join(root, 'dist/test/vm/guest/rdma-selftest.js');
  if (!fs.existsSync(program)) throw new Error(`stgt-vm: ${program} missing: run npx tsc -p tsconfig.json`);
  const r = await runInGuest('bash /mnt/repo/test/vm/guest/rdma-addon.sh\n', {
    label: 'rdma-addon', timeoutMs: 6 * 60_000, cpus: 2, log: (l) => t.diagnostic(l),
  });
  const why = `guest exit ${r.code}\n--- stdout:\n${r.stdout.slice(-6000)}\n--- stderr:\n${r.stderr.slice(-4000)}\n--- console: ${r.consoleLog}`;
  const line = r.stdout.split('\n').find((l) => l.startsWith('RDMA-RESULT '));
  assert.ok(line !== undefined, `no RDMA-RESULT line\n${why}`);
  const res = JSON.parse(line.slice('RDMA-RESULT '.length)) as Record<string, unknown>;
  t.diagnostic(`${r.accel}: boot ${r.bootMs} ms, total ${r.totalMs} ms; result ${JSON.stringify(res)}`);
  assert.equal(res['ok'], true, `${String(res['error'])}\n${why}`);
  assert.equal(r.code, 0, why);
  assert.match(r.stdout, /^RXE OK$/m, why);
  assert.deepEqual(res['postErrors'], { outOfPool: 22, unknownPool: 22, unknownConn: 107 });
  assert.notEqual((res['badRkey'] as { status: number }).status, 0);
  assert.equal(res['fdsAfterClose'], res['fdsBaseline']);
  assert.equal(res['flushedRecvs'], 2);
  assert.equal((res['ipv6'] as { address: string }).address, 'fd00:5767::15');
  assert.deepEqual((res['portSharing'] as { rejectStatus: number[] }).rejectStatus, [28, 28]);
  // postThread: the writes that did not fit the send queue came back as GeneralErr / ENOMEM.
  assert.deepEqual((res['postThread'] as { statuses: number[]; vendorErr: number[] }).statuses, [21]);
  assert.deepEqual((res['postThread'] as { statuses: number[]; vendorErr: number[] }).vendorErr, [12]);
});
