// Back-pressure: an initiator that queues many large reads and stops reading our responses must not
// make tgtd buffer them all (memory stays bounded); when it reads again, every command completes.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestDaemon } from '../helpers/daemon.js';
import { MiniInitiator } from '../helpers/mini-initiator.js';

const IQN = 'iqn.2026-11.org.stgt.test:backpressure';
const daemons: TestDaemon[] = [];
after(() => daemons.forEach((d) => d.kill()));

const rssMiB = (pid: number): number => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m === null ? 0 : Number(m[1]) / 1024;
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** rd_subm commands of LUN 1 in `--op stat` (columns: tgt lun sid rd_subm bytes, cmds ...). */
const readsSubmitted = (stat: string): number => {
  let n = 0;
  for (const line of stat.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/).map(Number);
    if (f.length >= 5 && f[1] === 1) n += f[4]!;
  }
  return n;
};

test('120 queued 1 MiB reads from an initiator that does not read: bounded memory, then all complete', { timeout: 120_000 }, async () => {
  const d = await TestDaemon.start();
  daemons.push(d);
  await d.addTarget(1, IQN);
  // A file LUN: each read allocates its buffer (the memory store would hand out views of its RAM).
  const disk = join(d.dir, 'lun1.img');
  writeFileSync(disk, '');
  truncateSync(disk, 64 << 20);
  await d.addLun(1, 1, disk);
  const m = await MiniInitiator.connect(d.iscsiPort);
  await m.login(IQN, 'iqn.2026-11.org.stgt.test:slow-reader');
  // Clear the power-on unit attention first.
  m.send(m.scsiBhs(Buffer.from([0, 0, 0, 0, 0, 0]), { lun: 1 }));
  await m.recv();
  const baseline = rssMiB(d.pid);

  // Stop reading, then queue 120 READ(10)s of 2048 blocks (1 MiB) each.
  m.sock.removeAllListeners('data');
  m.sock.pause();
  const N = 120;
  for (let i = 0; i < N; i++) {
    const cdb = Buffer.from([0x28, 0, 0, 0, 0, (i % 32) * 8, 0, 0x08, 0, 0]);
    m.send(m.scsiBhs(cdb, { lun: 1, read: true, edtl: 1 << 20 }));
  }
  // Wait for the state, not for a time: tgtd has started at least the 32 MiB's worth of reads the
  // limit lets through, and then starts no more (rd_subm stays put for 1 s). Under load a fixed
  // 3 s could end before tgtd had read the commands at all, and the memory check would prove nothing.
  let peak = 0;
  let last = -1;
  let stableSince = Date.now();
  const deadline = Date.now() + 60_000;
  for (;;) {
    await sleep(100);
    peak = Math.max(peak, rssMiB(d.pid));
    const submitted = readsSubmitted(await d.tgtadmOk('--mode', 'target', '--op', 'stat', '--tid', '1'));
    if (submitted !== last) {
      last = submitted;
      stableSince = Date.now();
    } else if (submitted >= 32 && Date.now() - stableSince >= 1000) break;
    assert.ok(Date.now() < deadline, `tgtd started ${submitted} reads and did not settle`);
  }
  assert.ok(last < N, `tgtd started all ${N} reads while the initiator read nothing`);
  // Without back-pressure the daemon would hold ~120 MiB of Data-In; allow the 32 MiB limit plus
  // the commands in flight when it hit, and the socket buffers.
  assert.ok(peak - baseline < 100, `tgtd grew by ${(peak - baseline).toFixed(0)} MiB while the initiator did not read`);

  // Now read everything: count the data bytes and the statuses (Data-In with S, or SCSI Response).
  let buf = Buffer.alloc(0);
  let need = 48;
  let inHeader = true;
  let dataBytes = 0;
  let statuses = 0;
  let skip = 0;
  const done = new Promise<void>((resolve) => {
    m.sock.on('data', (chunk: Buffer) => {
      let c = chunk;
      while (c.length > 0) {
        if (skip > 0) {
          const n = Math.min(skip, c.length);
          skip -= n;
          c = c.subarray(n);
          continue;
        }
        const take = Math.min(need - buf.length, c.length);
        buf = Buffer.concat([buf, c.subarray(0, take)]);
        c = c.subarray(take);
        if (buf.length < need || !inHeader) continue;
        const op = buf[0]! & 0x3f;
        const dsl = buf.readUIntBE(5, 3);
        if (op === 0x25) {
          dataBytes += dsl;
          if ((buf[1]! & 0x01) !== 0) statuses++;
        } else if (op === 0x21) {
          statuses++;
        }
        skip = (dsl + 3) & ~3;
        buf = Buffer.alloc(0);
        need = 48;
        if (statuses === N) resolve();
      }
    });
  });
  m.sock.resume();
  await done;
  assert.equal(statuses, N);
  assert.equal(dataBytes, N << 20);
  m.close();
  await d.stop();
});
