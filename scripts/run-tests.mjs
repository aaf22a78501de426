#!/usr/bin/env node
// Runs every compiled test file (dist/**/*.test.js) with Node's own runner, in two lanes at once.
//
// Node 20's `node --test DIR` runs every .js file under DIR, helpers included, and has no glob
// support; this lists the test files explicitly. Extra arguments are passed to every `node --test`.
//
// Lanes: the VM tests (dist/test/vm: QEMU TCG guests, about one busy host core each) and the host
// tests run side by side, each lane one test file at a time (`--test-concurrency=1`), so a host
// test never meets another host test, only one VM test. The `vm` lane takes the VM test files
// from the front of a queue (longest first), each in its own `node --test`; the `host` lane runs
// all host test files in one `node --test`, then takes VM files from the back of the same queue
// (shortest first) until it is empty, so both lanes end at about the same time. The lanes share
// nothing fixed: every daemon has its own IPC socket directory, and the port helpers
// (test/helpers/daemon.ts freePort, test/ceph/cluster.ts) take ports from a slice of their range
// given by STGT_TEST_LANE=<i>/<n>, so two lanes never probe the same port. The VM image is built
// (or found in the cache) once, before the first VM test file starts; the host tests start at once.
//
// Output: each lane writes its TAP to its own file (<log dir>/<lane>.tap, the log dir printed
// first; STGT_TEST_LOG_DIR chooses it), a `# run-tests: file ...` line before each VM file's TAP.
// While the lanes run, one line per finished top-level test goes to stdout, prefixed with its lane;
// when a lane ends its whole log is printed as one block, then a summary names every failed test
// with its lane and file. The exit status is 0 only if every test process passed.
//
// `--serial` (or STGT_TEST_LANES=1) runs all files in one `node --test`, as before the lanes existed.
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, sep } from 'node:path';
import { pathToFileURL } from 'node:url';

function find(dir, out) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'node_modules') find(p, out);
    } else if (e.name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const roots = ['dist/src', 'dist/test', 'dist/examples'].filter((d) => {
  try {
    readdirSync(d);
    return true;
  } catch {
    return false;
  }
});
const files = roots.flatMap((r) => find(r, [])).sort();
if (files.length === 0) {
  console.error('no test files under dist/: run the build first');
  process.exit(1);
}

const argv = process.argv.slice(2);
const serial = argv.includes('--serial') || process.env.STGT_TEST_LANES === '1';
const nodeArgs = argv.filter((a) => a !== '--serial');

/**
 * Seconds a VM test file took under TCG on a quiet 2-core machine (orders the queue: longest
 * first). A file not listed counts as one 60 s boot; the VM directory's unit tests take none.
 */
const VM_SECONDS = {
  'kernel-initiator': 250, 'iser-initiator': 196, 'deb-systemd': 185, 'rbd-initiator': 125, passthrough: 83,
  'guest-target': 76, 'device-types': 59, 'scsi-pr-alua': 59, xcopy: 51, sanitize: 72, 'rdma-addon': 42, rxe: 36,
  'image-cache': 0, 'fast-initrd': 0, 'data-in-corrupter': 0,
};
const vmSeconds = (f) => VM_SECONDS[basename(f, '.test.js')] ?? 60;

const VM_DIR = join('dist', 'test', 'vm') + sep;
const vmFiles = files.filter((f) => f.startsWith(VM_DIR)).sort((a, b) => vmSeconds(b) - vmSeconds(a) || a.localeCompare(b));
const hostFiles = files.filter((f) => !f.startsWith(VM_DIR));
/** VM test files not yet started: the vm lane shifts, the host lane pops. */
const vmQueue = serial ? [] : [...vmFiles];

let logDir;
if (process.env.STGT_TEST_LOG_DIR) {
  logDir = process.env.STGT_TEST_LOG_DIR;
  mkdirSync(logDir, { recursive: true });
} else {
  logDir = mkdtempSync(join(tmpdir(), 'stgt-test-logs-'));
}

const t0 = Date.now();
const secs = (ms) => `${(ms / 1000).toFixed(0)} s`;
const out = (line) => process.stdout.write(`${line}\n`);

/** Builds the VM image once (or finds it cached); a failure is left to the VM tests to report. */
let imageReady;
function vmImage(log) {
  imageReady ??= (async () => {
    const started = Date.now();
    try {
      const { ensureImage } = await import(pathToFileURL(join(process.cwd(), 'dist/test/vm/image-cache.js')).href);
      const image = await ensureImage((line) => log(`# ${line}`));
      log(`# run-tests: VM image ${image.dir} ${image.built ? 'built' : 'from cache'} (${secs(Date.now() - started)})`);
    } catch (e) {
      log(`# run-tests: VM image not ready (${e instanceof Error ? e.message.split('\n')[0] : String(e)}); the VM tests report why`);
    }
  })();
  return imageReady;
}

/** Top-level result lines of a TAP stream ("ok 3 - name", "not ok 4 - name"). */
const TOP = /^(not ok|ok) \d+ - (.*)$/;
/** Any failed result, nested ones indented by 4 spaces per level. */
const ANY_NOT_OK = /^( *)not ok \d+ - (.*)$/;

const children = new Set();
let stopping = false;

/** One `node --test` over `testFiles`; its output is appended to `write`. Resolves with how it ended. */
function runNodeTest(lane, index, laneCount, testFiles, write, started) {
  return new Promise((resolve) => {
    const t = Date.now();
    // --test-force-exit: each test file's process exits once its tests and hooks are done. Without
    // it a file whose tests had all passed once hung for 14 min at 93 % CPU inside Node's own exit
    // (gdb: node::Environment::CleanupHandles spinning uv_run, no JavaScript left, no syscalls;
    // hostile-initiator.test.js, which resets sockets with pending writes), holding its lane forever.
    const child = spawn(process.execPath, ['--test', '--test-concurrency=1', '--test-force-exit', ...nodeArgs, ...testFiles], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, STGT_TEST_LANE: `${index}/${laneCount}` },
      detached: true,
    });
    children.add(child);
    let partial = '';
    let text = '';
    child.stdout.on('data', (b) => {
      write(b);
      const s = b.toString('utf8');
      text += s;
      partial += s;
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) {
        const m = TOP.exec(l);
        if (m) out(`[${lane} ${secs(Date.now() - started)}] ${m[1]} - ${m[2]}`);
      }
    });
    child.stderr.on('data', (b) => write(b));
    child.on('close', (code, signal) => {
      children.delete(child);
      resolve({ files: testFiles, code: code ?? 1, signal, ms: Date.now() - t, text });
    });
  });
}

/**
 * A lane: `first` (files for one `node --test`, may be empty), then VM files one at a time from
 * the queue (`take`), until it is empty. Resolves with the lane's test processes.
 */
async function runLane(name, index, laneCount, first, take) {
  const file = join(logDir, `${name}.tap`);
  const stream = createWriteStream(file);
  const write = (s) => stream.write(s);
  const started = Date.now();
  const jobs = [];
  if (first.length > 0) jobs.push(await runNodeTest(name, index, laneCount, first, write, started));
  for (;;) {
    if (stopping) break;
    if (vmQueue.length > 0) await vmImage((l) => write(`${l}\n`));
    const f = take();
    if (f === undefined) break;
    write(`# run-tests: file ${f} (lane ${name}, at ${secs(Date.now() - started)})\n`);
    const r = await runNodeTest(name, index, laneCount, [f], write, started);
    write(`# run-tests: file ${f}: exit ${r.signal ?? r.code} after ${secs(r.ms)}\n`);
    jobs.push(r);
  }
  await new Promise((res) => stream.end(res));
  return { name, file, jobs, ms: Date.now() - started };
}

const laneSpecs = serial
  ? [{ name: 'all', first: files, take: () => undefined }]
  : [
      { name: 'vm', first: [], take: () => vmQueue.shift() },
      { name: 'host', first: hostFiles, take: () => vmQueue.pop() },
    ];

out(`# run-tests: ${files.length} test files (${vmFiles.length} VM, ${hostFiles.length} host) in ${laneSpecs.length} lane(s); ` +
  `logs ${laneSpecs.map((l) => join(logDir, `${l.name}.tap`)).join(', ')}`);
if (serial && vmFiles.length > 0) await vmImage(out);

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    out(`# run-tests: ${sig}: stopping the lanes`);
    stopping = true;
    for (const c of children) {
      try {
        process.kill(-c.pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
    }
  });
}

const lanes = await Promise.all(
  laneSpecs.map((l, i) =>
    runLane(l.name, i, laneSpecs.length, l.first, l.take).then((r) => {
      const bad = r.jobs.filter((j) => j.code !== 0 || j.signal).length;
      out(`\n# ======== lane ${r.name}: ${r.jobs.length} test process(es), ${bad} failed, after ${secs(r.ms)} (${r.file}) ========`);
      process.stdout.write(readFileSync(r.file));
      out(`# ======== end of lane ${r.name} ========\n`);
      return r;
    }),
  ),
);

out(`# run-tests summary (wall ${secs(Date.now() - t0)}):`);
let failed = stopping;
for (const r of lanes) {
  const sum = (k) => r.jobs.reduce((n, j) => n + [...j.text.matchAll(new RegExp(`^# ${k} (\\d+)$`, 'gm'))].reduce((a, m) => a + Number(m[1]), 0), 0);
  out(`#   lane ${r.name}: ${secs(r.ms)}, ${r.jobs.reduce((n, j) => n + j.files.length, 0)} files, tests ${sum('tests')}, ` +
    `pass ${sum('pass')}, fail ${sum('fail')}, cancelled ${sum('cancelled')}, skipped ${sum('skipped')}, todo ${sum('todo')}`);
  for (const j of r.jobs) {
    const what = j.files.length === 1 ? j.files[0] : `${j.files.length} files in one node --test`;
    out(`#     ${j.code === 0 && !j.signal ? 'ok' : `FAILED (exit ${j.signal ?? j.code})`} ${what} (${secs(j.ms)})`);
    for (const l of j.text.split('\n')) {
      const m = ANY_NOT_OK.exec(l);
      if (m) out(`#       [${r.name}${j.files.length === 1 ? ` ${basename(j.files[0])}` : ''}] ${m[1]}not ok - ${m[2]}`);
    }
    if (j.code !== 0 || j.signal) failed = true;
  }
}
process.exit(failed ? 1 : 0);
