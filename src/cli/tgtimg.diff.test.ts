// Differential test: Debian's /usr/sbin/tgtimg vs stgt's tgtimg (messages, exit codes, image bytes, --op show).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runTgtimg, progressLine } from './tgtimg.js';
import { BLK_HDR_SIZE, BlkType, FIRST_HDR_OFFSET, encodeHeader } from '../scsi/ssc-format.js';

const DEBIAN = '/usr/sbin/tgtimg';
/** The shim scripts run (dist/src/cli -> bin/tgtimg). */
const OURS = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..', 'bin', 'tgtimg');
const haveTgt = existsSync(DEBIAN);
const skip = haveTgt ? false : `${DEBIAN} is not installed`;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string[], args: string[], prog: string): Run {
  const r = spawnSync(cmd[0]!, [...cmd.slice(1), ...args], { encoding: 'utf8', timeout: 15000, env: { ...process.env, TZ: 'UTC' } });
  // glibc's getopt messages start with argv[0], the only allowed difference.
  return { code: r.status, stdout: r.stdout, stderr: r.stderr.split(prog + ':').join('PROG:') };
}

/** Argument lines; @ is replaced by a fresh file path in a per-side directory. */
const CASES = `
--help

--op foo
--op new
--op new --file @
--op new --file @ --type data
--op new --file @ --type data --barcode A
--op new --file @ --type foo
--op new --device-type foo --file @
--op show --file /nonexistent/x
--op show --file /dev/null
--op new --device-type cd --file @
--op new --device-type cd --file @ --type dvd+r
--op new --device-type cd --file @ --type DVD+RW
--op new --device-type cd --file @ --type cdrom
--op show --device-type cd --file @
--op new --device-type disk --file @ --type disk
--op new --device-type disk --file @ --type disk --size 0
--op new --device-type disk --file @ --type disk --size 3
--op new --device-type disk --file @ --type disk --size 2 --thin-provisioning
--op new --device-type disk --file @ --type raw --size 2
--bogus
-x
--op new extra
--op new --device-type tape --file /nonexistent/dir/x --type data --barcode A --size 1
`.trim().split('\n');

test('tgtimg answers every case as Debian tgtimg does (stdout, stderr, exit code, file size)', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'stgt-tgtimg-'));
  try {
    const mismatches: string[] = [];
    CASES.forEach((line, i) => {
      const side = (s: string): string[] => (line === '' ? [] : line.split(' ').map((a) => (a === '@' ? join(dir, `${s}${i}`) : a)));
      const want = run([DEBIAN], side('a'), DEBIAN);
      const got = run([process.execPath, OURS], side('b'), OURS);
      const size = (s: string): number => (existsSync(join(dir, `${s}${i}`)) ? statSync(join(dir, `${s}${i}`)).size : -1);
      const norm = (r: Run): Run => ({ ...r, stdout: r.stdout.split(join(dir, 'b')).join(join(dir, 'a')) });
      try {
        assert.deepEqual({ ...norm(got), size: size('b') }, { ...want, size: size('a') });
      } catch {
        mismatches.push(`${line}\n  want ${JSON.stringify(want)}\n  got  ${JSON.stringify(got)}`);
      }
    });
    assert.deepEqual(mismatches, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bin/tgtimg runs the compiled tool', () => {
  const r = spawnSync(process.execPath, [OURS, '--help'], { encoding: 'utf8' });
  assert.equal(r.status, 0);
  assert.match(r.stdout, /^Usage: tgtimg \[OPTION\]\nLinux SCSI Target Framework Image File Utility, version 1\.0\.85\n/);
});

test('a new tape image is byte-identical to Debian tgtimg\'s, and each tool shows the other\'s', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'stgt-tgtimg-'));
  try {
    for (const [type, barcode, size] of [['data', 'ABC123', '10'], ['clean', 'CLN001L4', '1'], ['WORM', 'W', '0'], ['Data', 'A_B', '7']] as const) {
      const a = join(dir, `a-${type}`);
      const b = join(dir, `b-${type}`);
      const want = run([DEBIAN], ['--op', 'new', '--device-type', 'tape', '--barcode', barcode, '--size', size, '--type', type, '--file', a], DEBIAN);
      assert.equal(want.code, 0, want.stderr);
      // Same creation second as Debian's image: it is in the serial number "<barcode>_<time>".
      const serial = readFileSync(a).subarray(48 + 264, 48 + 296).toString('latin1');
      const when = Number(/_(\d+)/.exec(serial.slice(barcode.length))![1]);
      const out: string[] = [];
      const code = runTgtimg(['tgtimg', '--op', 'new', '--device-type', 'tape', '--barcode', barcode, '--size', size, '--type', type, '--file', b], {
        stdout: (s) => out.push(s), stderr: (s) => out.push(s), now: () => when, tty: false,
      });
      assert.equal(code, 0);
      assert.equal(out.join(''), want.stdout);
      assert.deepEqual(readFileSync(b), readFileSync(a), `${type} image bytes`);
      assert.equal((statSync(b).mode & 0o777).toString(8), (statSync(a).mode & 0o777).toString(8));
      const showA = run([DEBIAN], ['--op', 'show', '--file', a], DEBIAN);
      const showB = run([process.execPath, OURS], ['--op', 'show', '--file', a], OURS);
      assert.equal(showA.code, 0);
      assert.deepEqual(showB, showA);
      assert.match(showA.stdout, new RegExp(`^Media     : ${barcode}`));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--op show walks data blocks and filemarks, warns on a bad CRC and stops at a short header, as Debian does', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'stgt-tgtimg-'));
  try {
    const f = join(dir, 't');
    assert.equal(run([DEBIAN], ['--op', 'new', '--barcode', 'X1', '--size', '5', '--type', 'data', '--file', f], DEBIAN).code, 0);
    // Append by hand what a drive writes: a 10-byte data block, a filemark, EOD.
    const img = readFileSync(f).subarray(0, FIRST_HDR_OFFSET);
    const d1 = FIRST_HDR_OFFSET;
    const fm = d1 + BLK_HDR_SIZE + 10;
    const eod = fm + BLK_HDR_SIZE;
    const parts = [
      img,
      encodeHeader({ ondiskSize: 10, blkSize: 10, blkType: BlkType.UncompressedData, blkNum: 1, prev: 0, curr: d1, next: fm }),
      Buffer.from('0123456789'),
      encodeHeader({ ondiskSize: 0, blkSize: 0, blkType: BlkType.Filemark, blkNum: 2, prev: d1, curr: fm, next: eod }),
      encodeHeader({ ondiskSize: 0, blkSize: 0, blkType: BlkType.Eod, blkNum: 3, prev: fm, curr: eod, next: eod }),
    ];
    writeFileSync(f, Buffer.concat(parts));
    const cmp = (): void => {
      const want = run([DEBIAN], ['--op', 'show', '--file', f], DEBIAN);
      const got = run([process.execPath, OURS], ['--op', 'show', '--file', f], OURS);
      assert.deepEqual(got, want);
    };
    cmp();
    assert.match(run([DEBIAN], ['--op', 'show', '--file', f], DEBIAN).stdout, /Filemark\(64\): Blk No\. 2/);
    // Corrupt the filemark header's CRC.
    const bad = Buffer.concat(parts);
    bad[fm] = bad[fm]! ^ 0xff;
    writeFileSync(f, bad);
    cmp();
    // Cut the file inside the EOD header.
    writeFileSync(f, bad.subarray(0, eod + 10));
    cmp();
    // Another format version.
    const v = Buffer.concat(parts);
    v.writeUInt32BE(3, 48);
    writeFileSync(f, v);
    cmp();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the progress bar line', () => {
  assert.equal(progressLine(0, 100, 10), '\r[..........]   0% 0/100 MB');
  assert.equal(progressLine(50, 100, 10), '\r[#####.....]  50% 50/100 MB');
  assert.equal(progressLine(100, 100, 10), '\r[##########] 100% 100/100 MB');
});

test('a large disk image written to a terminal draws the progress bar on stderr only', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stgt-tgtimg-'));
  try {
    const f = join(dir, 'd');
    const out: string[] = [];
    const err: string[] = [];
    const code = runTgtimg(['tgtimg', '--op', 'new', '--device-type', 'disk', '--type', 'disk', '--size', '64', '--file', f], {
      stdout: (s) => out.push(s), stderr: (s) => err.push(s), now: () => 0, tty: true,
    });
    assert.equal(code, 0);
    assert.equal(out.join(''), `Created blank DISK image file : ${f}\n`);
    assert.equal(statSync(f).size, 64 * 1024 * 1024);
    assert.equal(err.length, 5); // every 16 MB, then the newline
    assert.equal(err[3], progressLine(64, 64));
    assert.equal(err[4], '\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
