// Helpers shared by the benchmarks (bench/run.mjs, bench/sessions.mjs, bench/rbd.mjs, bench/iser-vm.mjs): daemons, ports, tgtadm, timed runs, CPU, medians.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** Debian's tgtd 1.0.85, the daemon stgt is measured against. */
export const DEBIAN_TGTD = '/usr/sbin/tgtd';

/** Debian's tgtadm: the same IPC client for both daemons. */
export const TGTADM = '/usr/sbin/tgtadm';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => res(p));
    });
  });
}

/** tgtadm against daemon `d` ({ control, socket }): exit code and combined output. */
export function tgtadm(d, args) {
  const r = spawnSync(TGTADM, ['-C', String(d.control), ...args], {
    env: { ...process.env, TGT_IPC_SOCKET: d.socket },
    encoding: 'utf8',
  });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

/** Runs a program to its end (or SIGINT after `secs` when > 0): exit code, output and wall seconds. */
export function runFor(cmd, args, secs = 0) {
  return new Promise((res) => {
    const t0 = process.hrtime.bigint();
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.setEncoding('utf8').on('data', (s) => (out += s));
    p.stderr.setEncoding('utf8').on('data', (s) => (out += s));
    const t = secs > 0 ? setTimeout(() => p.kill('SIGINT'), secs * 1000) : null;
    p.on('exit', (code) => {
      if (t) clearTimeout(t);
      res({ code, out, secs: Number(process.hrtime.bigint() - t0) / 1e9 });
    });
  });
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
export async function stopProcess(proc, graceMs) {
  if (proc.exitCode !== null) return;
  const gone = new Promise((r) => proc.on('exit', r));
  proc.kill('SIGTERM');
  const t = setTimeout(() => proc.kill('SIGKILL'), graceMs);
  await gone;
  clearTimeout(t);
}

/** utime + stime of every thread of a process, in seconds (/proc/<pid>/stat fields 14 and 15). */
export function cpuSeconds(pid, children = false) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime, stime; with `children`, cutime, cstime: the waited-for children's
    return children ? (Number(f[13]) + Number(f[14])) / 100 : (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return NaN;
  }
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return NaN;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/** `tgtadm --mode sys --op show` says the iscsi LLD is ready and the rdwr and null stores are loaded. */
function daemonReady(show) {
  const stores = show.split('Backing stores:')[1]?.split(/\n\S/)[0] ?? '';
  return /iscsi: ready/.test(show) && /^\s+rdwr\b/m.test(stores) && /^\s+null\b/m.test(stores);
}

/**
 * Starts stgt's tgtd (from the compiled tree `dist`) or Debian's (`kind` 'tgt') in the foreground on
 * a private IPC socket in `dir` and a free 127.0.0.1 port, then sets up target 1 (`iqn`) bound to
 * ALL with `luns`: { lun, size } is an rdwr LUN on its own sparse file of `size` bytes in `dir`
 * (read once, so it starts page-cached), { lun, bstype: 'null' } a null-store one, { lun, bstype, path, bsopts } a LUN on that path of
 * that store (e.g. rbd). The daemon is pushed to `started` before the setup, so the caller stops it
 * even when a step fails. `env`: extra variables for stgt's daemon only; `args`: extra tgtd
 * arguments for it (e.g. --bstype ...,rbd); `name`: tells two daemons of one kind apart (socket);
 * `extraTargets`: that many more targets, tid 2.., sharing LUN 1's backing;
 * `STGT_NODE_FLAGS` in the environment: node flags for it (e.g. --cpu-prof).
 */
export async function startDaemon(kind, dir, { dist, env: extraEnv = {}, args: stgtArgs = [], name = kind, iqn, luns, started, extraTargets = 0 }) {
  const control = 1000 + Math.floor(Math.random() * 8000);
  const port = await freePort();
  const socket = join(dir, `${name.replace(/\W/g, '-')}-socket`);
  const args = ['-f', '-C', String(control), '--iscsi', `portal=127.0.0.1:${port}`];
  let cmd;
  let argv;
  const env = { ...process.env, TGT_IPC_SOCKET: socket };
  if (kind === 'tgt') {
    cmd = DEBIAN_TGTD;
    argv = args;
  } else {
    // A shim importing the chosen dist, so a tree compiled elsewhere (--dist) can be measured.
    const shim = join(dir, 'stgt-tgtd.mjs');
    const main = pathToFileURL(join(dist, 'src', 'daemon', 'main.js')).href;
    writeFileSync(shim, `import { main } from ${JSON.stringify(main)};\nawait main();\n`);
    cmd = process.execPath;
    argv = [...(process.env.STGT_NODE_FLAGS ?? '').split(' ').filter(Boolean), shim, ...args, ...stgtArgs];
    Object.assign(env, extraEnv);
  }
  const proc = spawn(cmd, argv, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.setEncoding('utf8').on('data', (s) => (stderr += s));
  const d = { kind, control, port, socket, proc, iqn };
  started.push(d);
  for (let i = 0; ; i++) {
    if (proc.exitCode !== null) throw new Error(`${kind} tgtd exited: ${stderr}`);
    // The control socket may answer before the iscsi LLD and the stores are up (they load after it).
    if (existsSync(`${socket}.${control}`) && daemonReady(tgtadm(d, ['--mode', 'sys', '--op', 'show']).out)) break;
    if (i > 100) throw new Error(`${kind} tgtd did not start: ${stderr}`);
    await sleep(100);
  }
  const steps = [['--lld', 'iscsi', '--mode', 'target', '--op', 'new', '--tid', '1', '-T', iqn]];
  for (const l of luns) {
    let path = l.path ?? `null${l.lun}`;
    if (l.path === undefined && l.bstype !== 'null') {
      path = join(dir, `${name.replace(/\W/g, '-')}-lun${l.lun}.img`);
      writeFileSync(path, '');
      spawnSync('truncate', ['-s', String(l.size), path]);
      // Read it once, so its pages are in the page cache (holes read as cached zero pages): the
      // cases measure page-cached LUNs, as the table does. Without this a random-read run
      // measured the cache filling (each first touch of a page a cache miss: for stgt a
      // preadv2(RWF_NOWAIT) EAGAIN and a thread-pool read, for tgt its worker thread's pread).
      spawnSync('dd', [`if=${path}`, 'of=/dev/null', 'bs=1M', 'status=none']);
    }
    steps.push(['--lld', 'iscsi', '--mode', 'logicalunit', '--op', 'new', '--tid', '1', '--lun', String(l.lun), '-b', path, '--bstype', l.bstype ?? 'rdwr',
      ...(l.bsopts === undefined ? [] : ['--bsopts', l.bsopts])]);
  }
  steps.push(['--lld', 'iscsi', '--mode', 'target', '--op', 'bind', '--tid', '1', '-I', 'ALL']);
  // `extraTargets`: targets 2.. named `${iqn}-tN`, each with LUN 1 on target 1's LUN 1 backing (one
  // session per target shows how targets spread, e.g. over tgtd --workers).
  const lun1 = steps.find((s) => s[3] === 'logicalunit' && s[9] === '1');
  for (let t = 2; t <= 1 + extraTargets; t++) {
    steps.push(['--lld', 'iscsi', '--mode', 'target', '--op', 'new', '--tid', String(t), '-T', `${iqn}-t${t}`]);
    if (lun1 !== undefined) steps.push(lun1.map((a, i) => (i === 7 ? String(t) : a)));
    steps.push(['--lld', 'iscsi', '--mode', 'target', '--op', 'bind', '--tid', String(t), '-I', 'ALL']);
  }
  for (const s of steps) {
    const r = tgtadm(d, s);
    if (r.code !== 0) throw new Error(`${kind}: tgtadm ${s.join(' ')}: ${r.out}\n${kind} tgtd said: ${stderr}`);
  }
  return d;
}
