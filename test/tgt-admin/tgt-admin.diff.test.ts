// Differential test: Debian's Perl /usr/sbin/tgt-admin vs stgt's tgt-admin, driving real Debian tgtd daemons (tgt-compat.md §1.5, §1.6).
//
// Two private tgtd daemons (control ports A and B) start empty. For each corpus config, both
// tools run `--pretend -e` against daemon A (stdout, stderr and exit code must be identical),
// then the real `-v -e` (Perl on A, ours on B), then `--dump` and `--show` of the resulting
// state, then `--delete ALL`. Both daemons see the same sequence, so they hold the same state.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync, closeSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../helpers/daemon.js';

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

function ours(args: string[]): Result {
  const r = spawnSync(process.execPath, [OURS, ...args], { cwd: dir, encoding: 'latin1', env: env() });
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
  const port = (s: string): string => s.split(`-C ${PORT_B} `).join('-C <port> ').split(`-C ${PORT_A} `).join('-C <port> ');
  const unordered = args.includes('ALL') || args.includes('-e');
  const sortLines = (s: string): string => (unordered ? s.split('\n').sort().join('\n') : s);
  // --dump prints whole target blocks in hash order: compare the blocks as a sorted list.
  const sortBlocks = (s: string): string => (args.includes('--dump') ? s.split(/(?=<target )/).sort().join('') : s);
  return { stdout: sortBlocks(sortLines(port(r.stdout))), stderr: sortLines(port(r.stderr)), status: r.status };
}

/**
 * Runs a scenario with Perl on daemon A to the end, then with ours on daemon B, and compares
 * step by step: running them one after the other keeps one daemon's open image files from
 * looking "in use" (lsof) to the other tool.
 */
function scenario(steps: string[][]): void {
  const a = steps.map((s) => normalise(perl(['-C', PORT_A, ...s]), s));
  const b = steps.map((s) => normalise(ours(['-C', PORT_B, ...s]), s));
  for (let i = 0; i < steps.length; i++) assert.deepEqual(b[i], a[i], `step ${i}: tgt-admin ${steps[i]!.join(' ')}`);
}

async function setup(): Promise<void> {
  dir = mkdtempSync(join(tmpdir(), 'h6-admin-'));
  mkdirSync(join(dir, 'img'));
  for (const f of ['a.img', 'b.img', 'c.img']) {
    closeSync(openSync(join(dir, 'img', f), 'w'));
    truncateSync(join(dir, 'img', f), 4 << 20);
  }
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
  startTgtd(PORT_A, await freePort());
  startTgtd(PORT_B, await freePort());
  waitReady(PORT_A);
  waitReady(PORT_B);
}

after(() => {
  for (const d of daemons) d.kill('SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

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
      scenario([
        ['-v', '-e', '-c', conf],
        ['--dump'],
        ['--show'],
        ['-p', '--update', 'ALL', '-c', conf],
        ['-p', '--offline', 'ALL'],
        ['-v', '--delete', 'ALL'],
      ]);
    });
  }
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
