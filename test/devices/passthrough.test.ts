// Passthrough LU requests on the host, against Debian's tgt as the oracle: the sg/bsg stores refuse
// what is not an sg or bsg node and the pt device type pairs only with them, with tgt's exit code
// and message. (The host has no SCSI devices: a passthrough LU serving commands is test/vm/passthrough.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runClient, startDaemon, type CompatDaemon } from '../compat/daemons.js';
import { cleanup, skipWithoutTgt as skip } from './lib.js';

const IQN = 'iqn.2026-12.org.stgt.test:pt';
const { daemons } = cleanup();

/** A character device node with the sg major whose minor no device has (root only; null elsewhere). */
function orphanSgNode(dir: string): string | null {
  const p = join(dir, 'sg250');
  return spawnSync('mknod', [p, 'c', '21', '250']).status === 0 ? p : null;
}

test('sg/bsg and --device-type pt: the same answers as Debian tgt for every pairing and non-sg path', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'stgt-pt-'));
  const file = join(dir, 'disk.img');
  writeFileSync(file, Buffer.alloc(1 << 20));
  const node = orphanSgNode(dir);
  const cases: string[][] = [
    ['-b', file, '--device-type', 'pt', '--bstype', 'sg'], // a regular file
    ['-b', '/dev/null', '--device-type', 'pt', '--bstype', 'sg'], // a character device, not sg
    ['-b', '/dev/null', '--device-type', 'pt', '--bstype', 'bsg'],
    ['-b', file, '--device-type', 'pt'], // pt on rdwr
    ['-b', file, '--bstype', 'sg'], // sg for a disk
    ['-b', file, '--device-type', 'pt', '--bstype', 'sg', '--bsoflags', 'direct'],
    ...(node === null ? [] : [['-b', node, '--device-type', 'pt', '--bstype', 'sg']]), // sg major, no device: open fails
  ];
  const results: Record<string, unknown[]> = {};
  for (const kind of ['debian', 'stgt'] as const) {
    const d: CompatDaemon = await startDaemon(kind);
    daemons.push(d);
    const adm = (...a: string[]) => runClient('stgt', d, ['--lld', 'iscsi', ...a]);
    assert.equal((await adm('--mode', 'target', '--op', 'new', '--tid', '1', '-T', IQN)).code, 0);
    const out: unknown[] = [];
    for (const [i, c] of cases.entries()) {
      const r = await adm('--mode', 'logicalunit', '--op', 'new', '--tid', '1', '--lun', String(i + 1), ...c);
      out.push([c.join(' '), r.code, r.stderr]);
    }
    const show = await adm('--mode', 'target', '--op', 'show');
    out.push(['LUNs', show.stdout.match(/LUN: \d+/g)]);
    const sys = await runClient('stgt', d, ['--mode', 'system', '--op', 'show']);
    out.push(['stores', /^ {4}bsg\n {4}sg\n/m.test(sys.stdout), /^ {4}passthrough$/m.test(sys.stdout)]);
    results[kind] = out;
  }
  assert.deepEqual(results['stgt'], results['debian']);
  // and they are refusals (tgt's "invalid request", exit 22): no LU was made
  for (const [what, code, stderr] of results['stgt']!.slice(0, cases.length) as [string, number, string][]) {
    assert.deepEqual([code, stderr], [22, 'tgtadm: invalid request\n'], what);
  }
  assert.deepEqual(results['stgt']!.at(-2), ['LUNs', ['LUN: 0']]);
  assert.deepEqual(results['stgt']!.at(-1), ['stores', true, true], 'bsg and sg listed as tgt lists them, and the passthrough type');
});
