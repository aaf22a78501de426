// End to end with a real initiator: many small reads in flight at once (qemu-io aio_read) return each its own bytes (the TCP connection's read slab, tcp-connection.ts).

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestDaemon, iscsiUrl, run } from '../helpers/daemon.js';

const dirs: string[] = [];
const daemons: TestDaemon[] = [];
after(() => {
  daemons.forEach((d) => d.kill());
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

const REGION = 64 * 1024;
const REGIONS = 64;
const pattern = (r: number) => (r * 37 + 11) & 0xff;

test('small reads of several sizes in flight together each get the bytes of their own region', { timeout: 120_000 }, async () => {
  const work = mkdtempSync(join(tmpdir(), 'stgt-small-'));
  dirs.push(work);
  const disk = join(work, 'lun1.img');
  const data = Buffer.alloc(REGION * REGIONS);
  for (let r = 0; r < REGIONS; r++) data.fill(pattern(r), r * REGION, (r + 1) * REGION);
  writeFileSync(disk, data);
  const d = await TestDaemon.start();
  daemons.push(d);
  const iqn = 'iqn.2026-12.org.stgt.test:small-reads';
  await d.addTarget(1, iqn);
  await d.addLun(1, 1, disk);
  // Sizes below and above the slab's limit (16 KiB), offsets spread over every region, all issued
  // before the first completes (aio_read), then waited for (aio_flush).
  const sizes = [512, 4096, 8192, 16384, 20480, 1024];
  const cmds: string[] = [];
  for (let i = 0; i < 3 * REGIONS; i++) {
    const r = (i * 29) % REGIONS;
    const size = sizes[i % sizes.length]!;
    const off = r * REGION + ((i * 4096) % (REGION - size + 1)) - (((i * 4096) % (REGION - size + 1)) % 512);
    cmds.push('-c', `aio_read -P 0x${pattern(r).toString(16)} ${off} ${size}`);
  }
  cmds.push('-c', 'aio_flush');
  const url = iscsiUrl(d.iscsiPort, iqn, 1);
  const res = await run('qemu-io', ['-f', 'raw', ...cmds, url], { timeoutMs: 90_000 });
  const out = res.stdout + res.stderr;
  assert.equal(res.code, 0, out);
  assert.doesNotMatch(out, /Pattern verification failed|error|fail/i);
  assert.equal((out.match(/^read \d+\/\d+ bytes/gm) ?? []).length, 3 * REGIONS, out.slice(0, 2000));
  await d.stop();
});
