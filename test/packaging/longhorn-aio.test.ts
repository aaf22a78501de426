// Longhorn's iSCSI frontend (go-iscsi-helper, tgt-compat.md §1.7) against stgt and Debian's tgtd as the oracle: the `aio` store it asks for, and every tgtadm call it makes, in its order.
//
// Longhorn starts `tgtd -f`, checks `--mode system --op show` for " aio", takes the first free tid
// below 4095 from the `Target N:` lines, adds a LUN with `--bstype aio`, binds ALL, parses
// `--mode conn --op show` for `Session:` / `Connection:`, deletes that connection, the LUN, the
// target, and ends with `--mode system --op delete`. Both daemons get the same calls; exit codes,
// stderr, the parsed values and the LUN's show text must be the same, and data written through a
// session on the aio LUN must reach the file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, ftruncateSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { haveDebianTgt, runClient, startDaemon, type CompatDaemon } from '../compat/daemons.js';
import { ScsiClient } from '../helpers/scsi-client.js';
import { waitFor } from '../helpers/daemon.js';

const IQN = 'iqn.2019-10.io.longhorn:vol1';
const OTHER = 'iqn.2019-10.io.longhorn:other';

interface Step { args: string; code: number | null; stderr: string }
interface Flow { steps: Step[]; tid: number; sessions: string[]; connections: string[]; lunShow: string; data: Buffer; lunAfterDelete: string }

/** Longhorn's findNextAvailableTargetID: the first id in 1..4094 no `Target N:` line uses. */
function firstFreeTid(show: string): number {
  const used = new Set<number>();
  for (const line of show.split('\n')) {
    if (line.startsWith('Target ')) used.add(Number(line.split(':')[0]!.trim().split(/\s+/)[1]));
  }
  for (let t = 1; t < 4095; t++) if (!used.has(t)) return t;
  throw new Error('no free tid');
}

/** The lines after TrimSpace that start with `prefix`, their value (go-iscsi-helper parses `Session: N`). */
function fields(text: string, prefix: string): string[] {
  return text.split('\n').map((l) => l.trim()).filter((l) => l.startsWith(prefix)).map((l) => l.slice(prefix.length).trim());
}

/** One LUN's block of `--mode target --op show` (from `        LUN: n` to the next LUN or the account section). */
function lunBlock(show: string, lun: number): string {
  const start = show.indexOf(`        LUN: ${lun}\n`);
  if (start < 0) return '';
  const rest = show.slice(start + 1);
  const end = rest.search(/\n {8}LUN: |\n {4}Account information:/);
  return show.slice(start, start + 1 + (end < 0 ? rest.length : end));
}

async function longhorn(d: CompatDaemon): Promise<Flow> {
  const client = d.kind === 'debian' ? 'debian' : 'stgt';
  const steps: Step[] = [];
  const tgtadm = async (...args: string[]): Promise<string> => {
    const r = await runClient(client, d, ['--lld', 'iscsi', ...args]);
    steps.push({ args: args.join(' ').split(d.dir).join('<dir>'), code: r.code, stderr: r.stderr });
    return r.stdout;
  };
  const img = join(d.dir, 'vol1.img');
  const fd = openSync(img, 'w');
  ftruncateSync(fd, 64 * 1024 * 1024);
  closeSync(fd);

  // "Running": the store is there.
  const sys = await tgtadm('--op', 'show', '--mode', 'system');
  assert.ok(sys.includes(' aio'), `${d.kind}: no aio in\n${sys}`);
  // Another volume's target holds tid 1, so the parse has something to skip.
  await tgtadm('--op', 'new', '--mode', 'target', '--tid', '1', '-T', OTHER);
  const tid = firstFreeTid(await tgtadm('--op', 'show', '--mode', 'target'));
  await tgtadm('--op', 'new', '--mode', 'target', '--tid', String(tid), '-T', IQN);
  await tgtadm('--op', 'new', '--mode', 'logicalunit', '--tid', String(tid), '--lun', '1', '-b', img, '--bstype', 'aio');
  // What Longhorn never sends but a user might: tgt refuses bsoflags on aio.
  await tgtadm('--op', 'new', '--mode', 'logicalunit', '--tid', String(tid), '--lun', '2', '-b', img, '--bstype', 'aio', '--bsoflags', 'sync');
  await tgtadm('--op', 'bind', '--mode', 'target', '--tid', String(tid), '-I', 'ALL');
  const lunShow = lunBlock(await tgtadm('--op', 'show', '--mode', 'target'), 1);

  const s = await ScsiClient.login(d.iscsiPort, IQN, 'iqn.2019-10.io.longhorn:host');
  let data: Buffer;
  let sessions: string[];
  let connections: string[];
  try {
    await s.clearUa(1);
    const w = await s.write16(1, 2048, Buffer.alloc(8192, 0x5a));
    assert.equal(w.status, 0, `${d.kind}: WRITE(16) on the aio LUN`);
    const sync = await s.command(Buffer.from([0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0]), { lun: 1 });
    assert.equal(sync.status, 0, `${d.kind}: SYNCHRONIZE CACHE`);
    const conn = await tgtadm('--op', 'show', '--mode', 'conn', '--tid', String(tid));
    sessions = fields(conn, 'Session:');
    connections = fields(conn, 'Connection:');
    assert.equal(sessions.length, 1, `${d.kind}: conn show\n${conn}`);
    assert.equal(connections.length, 1, `${d.kind}: conn show\n${conn}`);
    await tgtadm('--op', 'delete', '--mode', 'conn', '--tid', String(tid), '--sid', sessions[0]!, '--cid', connections[0]!);
    await waitFor(() => s.closed, 10_000, `${d.kind}: the deleted connection to close`);
    const back = Buffer.alloc(8192);
    const rfd = openSync(img, 'r');
    readSync(rfd, back, 0, back.length, 2048 * 512);
    closeSync(rfd);
    data = back;
  } finally {
    s.close();
  }
  await waitFor(async () => fields(await runClient(client, d, ['--lld', 'iscsi', '--op', 'show', '--mode', 'conn', '--tid', String(tid)]).then((r) => r.stdout), 'Session:').length === 0,
    10_000, `${d.kind}: the session to end`);
  await tgtadm('--op', 'delete', '--mode', 'logicalunit', '--tid', String(tid), '--lun', '1');
  const lunAfterDelete = lunBlock(await tgtadm('--op', 'show', '--mode', 'target'), 1);
  await tgtadm('--op', 'delete', '--mode', 'target', '--tid', String(tid));
  await tgtadm('--op', 'delete', '--mode', 'target', '--tid', '1');
  await tgtadm('--op', 'delete', '--mode', 'system');
  await waitFor(() => !d.running, 15_000, `${d.kind}: tgtd to exit after --mode system --op delete`);
  return { steps, tid, sessions, connections, lunShow, data, lunAfterDelete };
}

test('Longhorn flow with --bstype aio: stgt answers as Debian tgtd does, and the data lands', { skip: haveDebianTgt ? false : 'Debian tgt not installed', timeout: 180_000 }, async () => {
  const flows: Flow[] = [];
  for (const kind of ['stgt', 'debian'] as const) {
    const d = await startDaemon(kind);
    try {
      flows.push(await longhorn(d));
    } finally {
      await d.stop();
    }
  }
  const [stgt, tgt] = flows as [Flow, Flow];
  assert.deepEqual(stgt.steps, tgt.steps);
  // The refused --bsoflags: 22 and tgt's text.
  const refused = stgt.steps.find((x) => x.args.includes('--bsoflags'))!;
  assert.equal(refused.code, 22);
  assert.equal(refused.stderr, 'tgtadm: invalid request\n');
  assert.ok(stgt.steps.every((x) => x === refused || x.code === 0), JSON.stringify(stgt.steps, null, 1));
  assert.equal(stgt.tid, 2);
  assert.equal(tgt.tid, 2);
  assert.match(stgt.lunShow, /\n {12}Backing store type: aio\n {12}Backing store path: .*vol1\.img\n {12}Backing store flags: $/);
  assert.equal(stgt.lunShow.replace(stgt.lunShow.match(/path: .*\n/)![0], ''), tgt.lunShow.replace(tgt.lunShow.match(/path: .*\n/)![0], ''));
  assert.deepEqual(stgt.connections, tgt.connections);
  assert.deepEqual(stgt.data, Buffer.alloc(8192, 0x5a));
  assert.deepEqual(tgt.data, Buffer.alloc(8192, 0x5a));
  assert.equal(stgt.lunAfterDelete, '');
});
