// Connection contract, back-pressure (design.md §4, connection.ts MAX_QUEUED_READ_BYTES): commands wait while the transport is behind.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_QUEUED_READ_BYTES } from '../connection.js';
import type { MakeConnection } from './capture-connection.js';
import { assertBhs, disk, loggedIn, seq } from './contract-fixture.js';
import { pattern } from './initiator.js';
import { nopInBhs, TOp, type TargetPdu } from './target-pdu.js';

function isStatus(p: TargetPdu): boolean {
  return p.opcode === TOp.ScsiResponse || (p.opcode === TOp.DataIn && (p.flags & 1) === 1);
}

export function backPressureContract(make: MakeConnection): void {
  describe('back-pressure', () => {
    // Every command here completes in the backing store (one turn each), so completion order is submission order.
    test('while the transport is behind, due commands wait (NOP-Out is still answered); drained, they run in order', async () => {
      const r = loggedIn(make);
      r.wire.setBacklog(MAX_QUEUED_READ_BYTES + 1);
      const st = r.ini.expStatSN;
      const a = r.ini.read(0, 8);
      const b = r.ini.write(8, 1, { immediateData: 512 });
      const c = r.ini.read(24, 1);
      const d = r.ini.read(16, 8);
      const ping = r.ini.nop({ immediate: true });
      const out = r.ini.take();
      assert.equal(out.length, 1, 'only the NOP-In');
      assertBhs(out[0], nopInBhs({ ...seq(r, st), itt: ping }), 'NOP-In: the commands consumed their CmdSNs');
      const tasks = [a, b, c, d].map((itt) => r.wire.conn.tasks.get(itt));
      assert.ok(tasks.every((t) => t !== undefined && t.deferred && !t.submitted), 'all four held back, none submitted');
      assert.equal(r.host.dev.writes, 0);

      r.wire.setBacklog(0);
      await r.ini.waitFor((p) => p.itt === d && isStatus(p), 'the last command');
      const statuses = r.ini.take().filter(isStatus);
      assert.deepEqual(statuses.map((p) => p.itt), [a, b, c, d], 'in arrival order');
      assert.deepEqual(statuses.map((p) => p.statSN), [st + 1, st + 2, st + 3, st + 4]);
      assert.ok(statuses.every((p) => p.status === 0));
      assert.ok(disk(r, 8 * 512, 512).equals(pattern(8 * 512, 512)));
    });

    test('read data still running counts too: past MAX_QUEUED_READ_BYTES the next read waits for a completion', async () => {
      const r = loggedIn(make);
      const size = r.host.dev.size; // one whole-disk read each
      const fit = Math.floor(MAX_QUEUED_READ_BYTES / size) + 1; // the last one that starts takes it over the limit
      const itts: number[] = [];
      for (let i = 0; i <= fit; i++) itts.push(r.ini.read(0, size / 512));
      const tasks = itts.map((itt) => r.wire.conn.tasks.get(itt)!);
      assert.ok(tasks.slice(0, fit).every((t) => t.submitted), `${fit} reads running`);
      assert.ok(tasks[fit]!.deferred && !tasks[fit]!.submitted, 'the next one waits');
      await r.ini.waitFor((p) => p.itt === itts[fit] && isStatus(p), 'the waiting read');
      const statuses = r.ini.take().filter(isStatus);
      assert.deepEqual(statuses.map((p) => p.itt), itts);
      assert.ok(statuses.every((p) => p.status === 0));
    });
  });
}
