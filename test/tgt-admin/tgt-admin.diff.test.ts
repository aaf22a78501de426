// Differential test: Debian's Perl /usr/sbin/tgt-admin vs stgt's tgt-admin, driving real Debian tgtd daemons (tgt-compat.md §1.5, §1.6).
//
// Two private Debian tgtd daemons (control ports A and B) and stgt's tgtd (S) start empty. For
// each corpus config, both tools run `--pretend -e` against daemon A (stdout, stderr and exit code
// must be identical), then the real `-v -e` (Perl on A, ours on B, ours on S), then `--dump` and
// `--show` of the resulting state, then `--delete ALL`. Every daemon sees the same sequence, so they
// hold the same state: ours on B checks the tool, ours on S the pair that replaces tgt's.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, truncateSync, writeFileSync, closeSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, TestDaemon } from '../helpers/daemon.js';
import { newTape, TGTIMG } from '../devices/lib.js';
import { ScsiClient } from '../helpers/scsi-client.js';

const PERL_ADMIN = '/usr/sbin/tgt-admin';
const TGTD = '/usr/sbin/tgtd';
const HERE = fileURLToPath(new URL('.', import.meta.url));
const OURS = join(HERE, 'run-ours.js');
const CORPUS =
  [join(HERE, '..', '..', '..', 'test', 'tgt-admin', 'corpus'), join(process.cwd(), 'test', 'tgt-admin', 'corpus')].find((p) =>
    existsSync(p),
  ) ?? 'test/tgt-admin/corpus';
const isRoot = typeof process.geteuid === 'function' && process.geteuid() === 0;
const skip = !existsSync(PERL_ADMIN) || !existsSync(TGTD) ? `${PERL_ADMIN} or ${TGTD} missing` : !isRoot ? 'tgt-admin needs root' : false;
if (skip) console.log(`# skipping tgt-admin differential tests: ${skip}`);

const base = 300 + (process.pid % 400);
const PORT_A = String(base);
const PORT_B = String(base + 1);
const daemons: ChildProcess[] = [];
let dir = '';
/** stgt's tgtd, driven by our tgt-admin (its own socket prefix). */
let stgt: TestDaemon | null = null;
/** Daemon A's iSCSI port (the library check logs in). */
let iscsiA = 0;

/**
 * Environment of every daemon and tool here: a private socket prefix in the run's directory, so
 * the control ports (named after the pid) cannot meet another run's or a system tgtd's sockets in
 * /var/run/tgtd, and nothing is left there when the daemons are killed. Both tgt-admins run
 * tgtadm, which reads TGT_IPC_SOCKET.
 */
function env(): NodeJS.ProcessEnv {
  return { ...process.env, TGT_IPC_SOCKET: join(dir, 'socket') };
}

function startTgtd(port: string, iscsiPort: number): ChildProcess {
  const p = spawn(TGTD, ['-f', '-C', port, '--iscsi', `portal=127.0.0.1:${iscsiPort}`], { stdio: 'ignore', env: env() });
  daemons.push(p);
  return p;
}

/** Waits (20 s at most: a loaded machine starts tgtd slowly) until tgtadm gets an answer. */
function waitReady(port: string): void {
  const end = Date.now() + 20_000;
  while (spawnSync('tgtadm', ['-C', port, '--op', 'show', '--mode', 'sys'], { stdio: 'ignore', env: env() }).status !== 0) {
    if (Date.now() > end) throw new Error(`tgtd on control port ${port} did not come up`);
    spawnSync('sleep', ['0.1']);
  }
}

interface Result {
  stdout: string;
  stderr: string;
  status: number | null;
}

function perl(args: string[]): Result {
  const r = spawnSync(PERL_ADMIN, args, { cwd: dir, encoding: 'latin1', env: env() });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

function ours(args: string[], on: TestDaemon | null = null): Result {
  const e = on === null ? env() : { ...process.env, TGT_IPC_SOCKET: on.socketBase };
  const r = spawnSync(process.execPath, [OURS, ...args], { cwd: dir, encoding: 'latin1', env: e });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

/** Runs the same command line through both tools, on daemon A and daemon B. */
function both(args: string[], samePort = false): void {
  const a = perl(['-C', PORT_A, ...args]);
  const b = ours(['-C', samePort ? PORT_A : PORT_B, ...args]);
  assert.deepEqual(normalise(b, args), normalise(a, args), `tgt-admin ${args.join(' ')}`);
}

/**
 * Steps where the Perl script walks a hash (`keys %h`: -e's removal of unlisted targets,
 * ALL, update ALL) print in a random order, so their lines are compared as sorted lists.
 * The control port differs between the daemons and is written as "-C <port>".
 */
function normalise(r: Result, args: string[]): Result {
  const ports = [PORT_A, PORT_B, ...(stgt === null ? [] : [String(stgt.controlPort)])];
  const port = (s: string): string => ports.reduce((t, p) => t.split(`-C ${p} `).join('-C <port> '), s);
  const unordered = args.includes('ALL') || args.includes('-e');
  const sortLines = (s: string): string => (unordered ? s.split('\n').sort().join('\n') : s);
  // --dump prints whole target blocks in hash order: compare the blocks as a sorted list.
  const sortBlocks = (s: string): string => (args.includes('--dump') ? s.split(/(?=<target )/).sort().join('') : s);
  return { stdout: sortBlocks(sortLines(port(r.stdout))), stderr: sortLines(port(r.stderr)), status: r.status };
}

/**
 * Runs a scenario with Perl on daemon A to the end, then with ours on daemon B, then ours on
 * stgt's daemon, and compares step by step: running them one after the other keeps one daemon's
 * open image files from looking "in use" (lsof) to the other tool.
 */
function scenario(steps: string[][]): Result[] {
  const a = steps.map((s) => normalise(perl(['-C', PORT_A, ...s]), s));
  const b = steps.map((s) => normalise(ours(['-C', PORT_B, ...s]), s));
  for (let i = 0; i < steps.length; i++) assert.deepEqual(b[i], a[i], `step ${i}: tgt-admin ${steps[i]!.join(' ')}`);
  const d = stgt!;
  const c = steps.map((s) => normalise(ours(['-C', String(d.controlPort), ...s], d), s));
  for (let i = 0; i < steps.length; i++) assert.deepEqual(c[i], a[i], `stgt tgtd, step ${i}: tgt-admin ${steps[i]!.join(' ')}`);
  return a;
}

/**
 * What the device-type configs must have built (on every daemon, the outputs being equal): every
 * tgtadm command succeeded, and `--show` lists these lines.
 */
const DEVICE_CONFIGS: Readonly<Record<string, readonly RegExp[]>> = {
  'cd.conf': [/LUN: 4\n {12}Type: cd\/dvd\n(?: {12}.*\n)*? {12}Readonly: Yes\n(?: {12}.*\n)*? {12}Backing store type: mmc\n {12}Backing store path: \S+\/cd2\.iso\n/,
    /Target 2: \S+\n(?:.*\n)*? {8}LUN: 1\n {12}Type: cd\/dvd\n {12}SCSI ID: .*\n {12}SCSI SN: beaf21\n {12}Size: 4 MB, Block size: 2048\n/],
  'tape.conf': [/LUN: 1\n {12}Type: tape\n {12}SCSI ID: .*\n {12}SCSI SN: TAPE-SN-1\n/, /LUN: 2\n {12}Type: tape\n(?: {12}.*\n)*? {12}Backing store type: ssc\n/],
  'vtl.conf': [/LUN: 2\n {12}Type: tape\n {12}SCSI ID: .*\n {12}SCSI SN: HUM1A00002\n/,
    /LUN: 4\n {12}Type: changer\n(?: {12}.*\n)*? {12}Backing store type: smc\n {12}Backing store path: \S+\/img\/smc\n/],
};

async function setup(): Promise<void> {
  dir = mkdtempSync(join(tmpdir(), 'h6-admin-'));
  mkdirSync(join(dir, 'img'));
  for (const f of ['a.img', 'b.img', 'c.img', 'cd1.iso', 'cd2.iso', 'cd3.iso', 'smc']) {
    closeSync(openSync(join(dir, 'img', f), 'w'));
    truncateSync(join(dir, 'img', f), 4 << 20);
  }
  // Tapes in tgt's format; the VTL's drives hold a cleaning tape through links, as tgt's examples do.
  mkdirSync(join(dir, 'tapes'));
  for (const b of ['TAPE01', 'TAPE02', 'TAPE03', 'CLN001']) newTape(join(dir, 'tapes', b), b, 2);
  const r = spawnSync(process.execPath, [TGTIMG, '--op', 'new', '--device-type', 'tape', '--barcode', '', '--size', '1', '--type', 'clean', '--file', join(dir, 'tapes', 'notape')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  for (const l of ['notape1', 'notape2']) symlinkSync('notape', join(dir, 'tapes', l));
  // An include tree in the style of Debian (conf.d/*.conf) and Cinder (volumes_dir/*, §1.6).
  mkdirSync(join(dir, 'conf.d'));
  mkdirSync(join(dir, 'voldir'));
  writeFileSync(join(dir, 'conf.d', 'b.conf'), `<target iqn.2024-01.test.local:inc-b>\n    backing-store ${dir}/img/b.img\n</target>\n`);
  writeFileSync(join(dir, 'conf.d', 'a.conf'), `default-driver iscsi\n`);
  writeFileSync(join(dir, 'conf.d', 'skip.txt'), `<target iqn.never>\n</target>\n`);
  writeFileSync(
    join(dir, 'voldir', 'volume-0001'),
    `<target iqn.2010-10.org.openstack:volume-0001>\n    backing-store ${dir}/img/c.img\n    driver iscsi\n` +
      `    incominguser cinderuser cinderpass12\n    \n    write-cache on\n    scsi_sn volume-0001\n    scsi_id volume-0001\n</target>\n`,
  );
  for (const f of readdirSync(join(CORPUS, 'admin'))) {
    writeFileSync(join(dir, f), readFileSync(join(CORPUS, 'admin', f), 'utf8').replaceAll('@DIR@', dir));
  }
  iscsiA = await freePort();
  startTgtd(PORT_A, iscsiA);
  startTgtd(PORT_B, await freePort());
  stgt = await TestDaemon.start({ args: ['--lld', 'iscsi,iser'] });
  waitReady(PORT_A);
  waitReady(PORT_B);
}

after(async () => {
  for (const d of daemons) d.kill('SIGKILL');
  if (stgt !== null) await stgt.stop().catch(() => stgt!.kill());
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** [address, element type, FULL, primary volume tag] of every element of a READ ELEMENT STATUS answer (SMC-3 6.10). */
function elementList(b: Buffer): [number, number, number, string][] {
  const out: [number, number, number, string][] = [];
  const end = Math.min(b.length, 8 + b.readUIntBE(5, 3));
  for (let p = 8; p + 8 <= end;) {
    const type = b[p]!;
    const voltag = (b[p + 1]! & 0x80) !== 0;
    const len = b.readUInt16BE(p + 2);
    const bytes = b.readUIntBE(p + 5, 3);
    for (let e = p + 8; e + len <= p + 8 + bytes; e += len) {
      out.push([b.readUInt16BE(e), type, b[e + 2]! & 1, voltag ? b.subarray(e + 12, e + 44).toString('latin1').trim() : '']);
    }
    p += 8 + bytes;
  }
  return out;
}

const configs = existsSync(join(CORPUS, 'admin')) ? readdirSync(join(CORPUS, 'admin')).sort() : [];

test('tgt-admin differential', { skip }, async (t) => {
  await setup();
  await t.test('command line handling', () => {
    for (const args of [[], ['-h'], ['--d', 'x'], ['--bogus'], ['--delete', 'help'], ['--update', 'help'], ['--offline', 'help'],
      ['--ready', 'help'], ['--execute=1'], ['--delete'], ['-p', '--delete', 'nope'], ['-p', '--delete', 'tid=42'],
      ['-p', '--ready', 'nope'], ['-p', '--offline', 'tid=3'], ['--offline', 'ALL', '--ready', 'ALL'], ['-p', '-e', '-c', 'no-such.conf'],
      ['-p', '--update', 'tid=9', '-c', 'simple.conf'], ['-p', '--update', 'iqn.none', '-c', 'simple.conf'], ['x']]) {
      both(args, true);
    }
  });
  for (const conf of configs) {
    await t.test(conf, () => {
      both(['--pretend', '-e', '-c', conf], true);
      const r = scenario([
        ['-v', '-e', '-c', conf],
        ['--dump'],
        ['--show'],
        ['-p', '--update', 'ALL', '-c', conf],
        ['-p', '--offline', 'ALL'],
        ['-v', '--delete', 'ALL'],
      ]);
      const want = DEVICE_CONFIGS[conf];
      if (want !== undefined) {
        assert.equal(r[0]!.status, 0, r[0]!.stdout + r[0]!.stderr);
        assert.doesNotMatch(r[0]!.stdout + r[0]!.stderr, /exited with code|Skipping/);
        for (const re of want) assert.match(r[2]!.stdout, re, conf);
      }
    });
  }
  await t.test('the library vtl.conf builds works: elements, barcodes and drives seen by an initiator, alike on both daemons', async () => {
    const seen: unknown[] = [];
    const daemonsHere = [
      { run: (a: string[]) => perl(['-C', PORT_A, ...a]), port: iscsiA },
      { run: (a: string[]) => ours(['-C', String(stgt!.controlPort), ...a], stgt), port: stgt!.iscsiPort },
    ];
    for (const d of daemonsHere) {
      try {
        const r = d.run(['-e', '-c', 'vtl.conf']);
        assert.equal(r.status, 0, r.stdout + r.stderr);
        const c = await ScsiClient.login(d.port, 'iqn.2024-01.test.local:vtl', 'iqn.2024-01.test.local:vtl-check');
        try {
          await c.clearUa(4);
          // READ ELEMENT STATUS, VOLTAG, one element type at a time (tgt's answer to type 0 has wrong offsets), 4 KiB
          const all: [number, number, number, string][] = [];
          for (const type of [1, 2, 3, 4]) {
            const res = await c.command(Buffer.from([0xb8, 0x10 | type, 0, 0, 0xff, 0xff, 0, 0, 0x10, 0, 0, 0]), { lun: 4, readLen: 4096 });
            assert.equal(res.status, 0, `element type ${type}`);
            all.push(...elementList(res.data));
          }
          seen.push(all);
        } finally {
          c.close();
        }
      } finally {
        d.run(['--delete', 'ALL', '-f']);
      }
    }
    assert.deepEqual(seen[1], seen[0]);
    // [address, type, FULL, primary volume tag]: a slot given a volume_tag reports it, not its barcode
    assert.deepEqual(seen[1], [
      [1, 1, 0, ''], [1000, 2, 1, 'TAPE01'], [1001, 2, 1, 'TAPE02'], [1002, 2, 1, 'CLEAN'], [1003, 2, 0, ''], [1004, 2, 0, ''],
      [1005, 2, 0, ''], [1006, 2, 0, ''], [1007, 2, 0, ''], [10, 3, 1, 'TAPE03'], [11, 3, 0, ''], [500, 4, 0, ''], [501, 4, 0, ''],
    ]);
  });
  await t.test('-e removes targets missing from the config, --update by name and tid', () => {
    scenario([
      ['-e', '-c', 'acl.conf'],
      ['-v', '-e', '-c', 'simple.conf'],
      ['--dump'],
      ['-v', '--update', 'iqn.2024-01.test.local:simple', '-c', 'simple.conf'],
      ['-v', '--update', 'tid=1', '-c', 'simple.conf'],
      ['-v', '--ready', 'iqn.2024-01.test.local:simple'],
      ['-v', '--delete', 'tid=3'],
      ['--show'],
      ['-v', '--delete', 'ALL'],
    ]);
  });
});
