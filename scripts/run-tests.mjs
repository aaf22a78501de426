#!/usr/bin/env node
// Runs every compiled test file (dist/**/*.test.js) with Node's own runner, in two lanes at once.
//
// Node 20's `node --test DIR` runs every .js file under DIR, helpers included, and has no glob
// support; this lists the test files explicitly. Extra arguments are passed to every `node --test`.
//
// Lanes: the VM tests (dist/test/vm: QEMU TCG guests, one busy host core each while they boot and
// run) in one `node --test --test-concurrency=1` process, everything else in another, side by
// side; within a lane files still run one at a time. The lanes share nothing fixed: every daemon
// has its own IPC socket directory, and the port helpers (test/helpers/daemon.ts freePort,
// test/ceph/cluster.ts) take ports from a slice of their range given by STGT_TEST_LANE=<i>/<n>, so
// two lanes never probe the same port. The VM image is built (or found in the cache) before the VM
// lane's first test file starts; the host lane starts at once.
//
// Output: each lane writes its TAP to its own file (<log dir>/<lane>.tap, log dir printed first;
// STGT_TEST_LOG_DIR chooses it). While the lanes run, one line per finished top-level test goes to
// stdout, prefixed with its lane; when a lane ends its whole log is printed as one block, then a
// summary names every failed test with its lane. The exit status is 0 only if every lane passed.
//
// `--serial` (or STGT_TEST_LANES=1) runs all files in one process, as before the lanes existed.
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
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

const VM_DIR = join('dist', 'test', 'vm') + sep;
const vmFiles = files.filter((f) => f.startsWith(VM_DIR));
const hostFiles = files.filter((f) => !f.startsWith(VM_DIR));
const lanes = serial
  ? [{ name: 'all', files, vm: vmFiles.length > 0 }]
  : [
      { name: 'vm', files: vmFiles, vm: true },
      { name: 'host', files: hostFiles, vm: false },
    ].filter((l) => l.files.length > 0);

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

out(`# run-tests: ${files.length} test files in ${lanes.length} lane(s): ` +
  lanes.map((l) => `${l.name} (${l.files.length} files, log ${join(logDir, `${l.name}.tap`)})`).join(', '));

/** Builds the VM image once (or finds it cached) before the VM lane's tests; a failure is left to the tests to report. */
async function prepareVmImage(log) {
  const started = Date.now();
  try {
    const { ensureImage } = await import(pathToFileURL(join(process.cwd(), 'dist/test/vm/image-cache.js')).href);
    const image = await ensureImage((line) => log(`# ${line}`));
    log(`# run-tests: VM image ${image.dir} ${image.built ? 'built' : 'from cache'} (${secs(Date.now() - started)})`);
  } catch (e) {
    log(`# run-tests: VM image not ready (${e instanceof Error ? e.message.split('\n')[0] : String(e)}); the VM tests report why`);
  }
}

/** Top-level result lines of a TAP stream ("ok 3 - name", "not ok 4 - name"). */
const TOP = /^(not ok|ok) \d+ - (.*)$/;
/** Any result line, nested ones indented by 4 spaces per level. */
const ANY_NOT_OK = /^( *)not ok \d+ - (.*)$/;

const children = new Set();

function runLane(lane, index) {
  return new Promise((resolve) => {
    const file = join(logDir, `${lane.name}.tap`);
    const stream = createWriteStream(file);
    const started = Date.now();
    const write = (s) => stream.write(s);
    const start = async () => {
      if (lane.vm) await prepareVmImage((l) => write(`${l}\n`));
      const child = spawn(process.execPath, ['--test', '--test-concurrency=1', ...nodeArgs, ...lane.files], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, STGT_TEST_LANE: `${index}/${lanes.length}` },
        detached: true,
      });
      children.add(child);
      let partial = '';
      child.stdout.on('data', (b) => {
        write(b);
        partial += b.toString('utf8');
        const lines = partial.split('\n');
        partial = lines.pop() ?? '';
        for (const l of lines) {
          const m = TOP.exec(l);
          if (m) out(`[${lane.name} ${secs(Date.now() - started)}] ${m[1]} - ${m[2]}`);
        }
      });
      child.stderr.on('data', (b) => write(b));
      child.on('close', (code, signal) => {
        children.delete(child);
        stream.end(() => resolve({ lane, file, code: code ?? 1, signal, ms: Date.now() - started }));
      });
    };
    void start();
  });
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    out(`# run-tests: ${sig}: stopping the lanes`);
    for (const c of children) {
      try {
        process.kill(-c.pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
    }
  });
}

const results = await Promise.all(
  lanes.map((l, i) =>
    runLane(l, i).then((r) => {
      out(`\n# ======== lane ${r.lane.name}: exit ${r.signal ?? r.code} after ${secs(r.ms)} (${r.file}) ========`);
      process.stdout.write(readFileSync(r.file));
      out(`# ======== end of lane ${r.lane.name} ========\n`);
      return r;
    }),
  ),
);

out(`# run-tests summary (wall ${secs(Date.now() - t0)}):`);
let failed = false;
for (const r of results) {
  const text = readFileSync(r.file, 'utf8');
  const count = (k) => (text.match(new RegExp(`^# ${k} (\\d+)$`, 'm')) ?? [])[1] ?? '?';
  out(`#   lane ${r.lane.name}: exit ${r.signal ?? r.code}, ${secs(r.ms)}, tests ${count('tests')}, pass ${count('pass')}, ` +
    `fail ${count('fail')}, cancelled ${count('cancelled')}, skipped ${count('skipped')}, todo ${count('todo')}`);
  for (const l of text.split('\n')) {
    const m = ANY_NOT_OK.exec(l);
    if (m) out(`#     [${r.lane.name}] ${m[1]}not ok - ${m[2]}`);
  }
  if (r.code !== 0 || r.signal) failed = true;
}
process.exit(failed ? 1 : 0);
