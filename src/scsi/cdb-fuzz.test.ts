// Robustness of the SCSI engine (design.md §4): random CDBs for every opcode, with random data-out
// and transfer lengths, never throw; each completes exactly once with a valid SAM status, and a
// CHECK CONDITION always carries well-formed sense data.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rig } from './testing/harness.js';
import { Status } from './api.js';
import { rng } from '../../test/helpers/fixtures.js';

const VALID = new Set<number>(Object.values(Status));


test('random CDBs: no throw, one completion, valid status and sense', { timeout: 120_000 }, async () => {
  const r = rig({ blocks: 256, thin: true });
  await r.clearUa();
  const rand = rng(0xdecafbad);
  const byte = (): number => Math.floor(rand() * 256);
  const statuses = new Map<number, number>();
  for (let i = 0; i < 6000; i++) {
    const op = i < 256 * 8 ? i % 256 : byte();
    const len = [6, 10, 12, 16][Math.floor(rand() * 4)]!;
    const cdb = Buffer.alloc(len);
    cdb[0] = op;
    for (let j = 1; j < len; j++) cdb[j] = rand() < 0.6 ? 0 : byte();
    // Keep transfer lengths small most of the time so that commands get past the length checks.
    if (rand() < 0.7 && len >= 10) cdb[len === 16 ? 13 : len === 12 ? 9 : 8] = byte() & 0x07;
    const withData = rand() < 0.4;
    const dataOut = withData ? Buffer.alloc(Math.floor(rand() * 4) * 512 + (rand() < 0.2 ? byte() : 0), byte()) : undefined;
    let calls = 0;
    const task = await new Promise<Parameters<Parameters<typeof r.target.execute>[1]>[0]>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no completion for CDB ${cdb.toString('hex')}`)), 5000);
      try {
        r.target.execute(
          {
            nexus: r.i1, lun: rand() < 0.9 ? 1 : Math.floor(rand() * 4), cdb, attr: 1, tag: i,
            dir: withData ? 1 : 2, expectedLength: withData ? dataOut!.length : 65536, expectedReadLength: 0,
            dataOut: withData ? [dataOut!] : [], dataOutLength: withData ? dataOut!.length : 0, readBuffer: null,
            status: -1, sense: null, dataIn: null, transferLength: -1, aborted: false,
          },
          (done) => {
            calls++;
            clearTimeout(t);
            setImmediate(() => resolve(done));
          },
        );
      } catch (e) {
        clearTimeout(t);
        reject(new Error(`execute threw for CDB ${cdb.toString('hex')}: ${(e as Error).message}`));
      }
    });
    assert.equal(calls, 1, `CDB ${cdb.toString('hex')} completed ${calls} times`);
    assert.ok(VALID.has(task.status), `CDB ${cdb.toString('hex')}: status ${task.status}`);
    if (task.status === Status.CheckCondition) {
      const s = task.sense;
      assert.ok(s !== null && s.length >= 8, `CDB ${cdb.toString('hex')}: CHECK CONDITION without sense`);
      const code = s[0]! & 0x7f;
      assert.ok(code === 0x70 || code === 0x71 || code === 0x72 || code === 0x73, `response code ${code.toString(16)}`);
    }
    statuses.set(task.status, (statuses.get(task.status) ?? 0) + 1);
  }
  // The corpus reaches both success and error paths.
  assert.ok((statuses.get(Status.Good) ?? 0) > 100, JSON.stringify([...statuses]));
  assert.ok((statuses.get(Status.CheckCondition) ?? 0) > 100, JSON.stringify([...statuses]));
});
