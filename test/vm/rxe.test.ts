// Soft-RoCE in the guest (RDMA for the iSER tests, RFC 7145): rdma_rxe comes up on eth0 and verbs see it
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requireVmTools, runInGuest } from './harness.js';
import { RXE_SETUP } from './guest-target.js';

test('guest: rdma link add rxe0 on eth0; rdma link and ibv_devices list rxe0', { timeout: 10 * 60_000 }, async (t) => {
  requireVmTools();
  const r = await runInGuest(RXE_SETUP, { label: 'rxe', timeoutMs: 5 * 60_000, log: (l) => t.diagnostic(l) });
  t.diagnostic(`${r.accel}: boot ${r.bootMs} ms, total ${r.totalMs} ms`);
  const why = `exit ${r.code}\n${r.stdout}\n${r.stderr}\nconsole: ${r.consoleLog}`;
  assert.equal(r.code, 0, why);
  assert.match(r.stdout, /link rxe0\/1 state ACTIVE .*netdev eth0/, why);
  assert.match(r.stdout, /^\s+rxe0\s+[0-9a-f]{16}$/m, why);
  assert.match(r.stdout, /^RXE OK$/m, why);
});
