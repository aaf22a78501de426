// The npm package as a user gets it (issue 14 item 1): `npm pack`, `npm install -g` of the tarball into a private prefix, the README's demo from the installed tgtd/tgtadm, and the module contracts' types.
//
// The tarball must hold the compiled lib/ (prepack builds it), the contracts' .d.ts and the native
// addons' sources, and nothing of the tests. The install runs with STGT_NATIVE=skip: building the
// addons at install was checked by hand (it takes minutes here); what CI checks is that the package
// installs and runs without them. Dependencies come from npm's cache (`npm ci` filled it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync, cpSync, existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, repoRoot, run, waitFor } from '../helpers/daemon.js';

const DEMO_IQN = 'iqn.2026-11.org.stgt:demo';

test('npm pack + npm install -g: the installed tgtd serves the demo, tgtadm manages it, the contract types check a store', { timeout: 600_000 }, async (t) => {
  const root = repoRoot();
  const work = mkdtempSync(join(tmpdir(), 'stgt-pkg-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));

  // 1. npm pack (prepack compiles lib/, postpack removes it again).
  const packed = await run('npm', ['pack', '--json', '--pack-destination', work], { cwd: root, timeoutMs: 300_000 });
  assert.equal(packed.code, 0, packed.stderr);
  const info = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as { filename: string; files: { path: string }[] }[];
  const files = info[0]!.files.map((f) => f.path);
  for (const want of ['bin/tgtd', 'bin/tgtadm', 'bin/tgt-admin', 'lib/daemon/main.js', 'lib/cli/tgtadm.js', 'lib/cli/tgt-admin.js',
    'lib/bs/rdwr.js', 'lib/lld/iscsi/driver.js', 'bin/tgtadm.cjs', 'lib/tgtadm.bundle.js', 'bin/tgtd.cjs', 'lib/tgtd.bundle.js', 'lib/cjs/package.json', 'lib/cjs/daemon/main.js', 'lib/cjs/bs/sg-worker.js', 'lib/bs/api.d.ts', 'lib/lld/api.d.ts', 'native/build.mjs', 'native/rdma/binding.gyp',
    'native/rdma/src/module.cc', 'native/rbd/src/module.cc', 'contrib/systemd/tgt.service', 'README.md', 'package.json']) {
    assert.ok(files.includes(want), `${want} missing from the tarball`);
  }
  const unwanted = files.filter((f) => /(^|\/)(test|testing|fixtures|dist|src\/[^/]+\.ts$)|\.test\.|\.map$|node_modules|\/build\//.test(f) && !f.startsWith('native/rdma/src/') && !f.startsWith('native/rbd/src/'));
  assert.deepEqual(unwanted, [], 'tests, fixtures, sources or build output in the tarball');
  assert.ok(!existsSync(join(root, 'lib')), 'postpack left lib/ in the checkout');

  // 2. npm install -g into a private prefix.
  const prefix = join(work, 'prefix');
  const env = { ...process.env, STGT_NATIVE: 'skip' };
  const inst = await run('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', join(work, info[0]!.filename)],
    { cwd: work, env, timeoutMs: 300_000 });
  assert.equal(inst.code, 0, inst.stdout + inst.stderr);
  const bin = (name: string): string => join(prefix, 'bin', name);
  for (const name of ['tgtd', 'tgtadm', 'tgt-admin']) assert.ok(existsSync(bin(name)), `${name} not installed`);
  // The installed tgtadm is the CommonJS entry (it starts faster, BENCHMARKS.md "Start-up").
  assert.match(realpathSync(bin('tgtadm')), /bin\/tgtadm\.cjs$/);
  // So is tgtd (lib/cjs/: no ES module loader at start).
  assert.match(realpathSync(bin('tgtd')), /bin\/tgtd\.cjs$/);
  const pkgDir = join(prefix, 'lib', 'node_modules', 'stgt');
  assert.ok(!existsSync(join(pkgDir, 'dist')), 'the installed package must run lib/, not a dist/');

  // 3. The README's demo, run by the installed commands (no checkout involved: cwd is elsewhere).
  const port = await freePort();
  const sock = join(work, 'socket');
  const controlPort = 1 + Math.floor(Math.random() * 9999);
  const denv = { ...process.env, TGT_IPC_SOCKET: sock };
  /** Starts the installed tgtd with the demo target on `port` and waits until it is ready. */
  const startTgtd = async (what: string): Promise<{ log: () => string; stop: () => Promise<void> }> => {
    const p = spawn(bin('tgtd'), ['-f', '-C', String(controlPort), '--iscsi', `portal=127.0.0.1:${port}`, '--demo'],
      { cwd: work, env: denv, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    let exited: number | null | undefined;
    p.stderr.setEncoding('utf8').on('data', (d: string) => (log += d));
    const closed = new Promise<void>((res) => p.on('close', (code) => { exited = code; res(); }));
    t.after(() => { if (exited === undefined) p.kill('SIGKILL'); });
    await waitFor(() => {
      if (exited !== undefined) throw new Error(`installed tgtd (${what}) exited ${String(exited)}:\n${log}`);
      return /tgtd ready/.test(log);
    }, 60_000, `the installed tgtd (${what}) to be ready (log so far:\n${log})`);
    return {
      log: () => log,
      stop: async () => {
        p.kill('SIGTERM');
        await closed;
        assert.equal(exited, 0, log);
      },
    };
  };
  const tgtd = await startTgtd('first start');

  const show = await run(bin('tgtadm'), ['-C', String(controlPort), '--mode', 'target', '--op', 'show'], { cwd: work, env: denv });
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, new RegExp(`^Target 1: ${DEMO_IQN.replace(/\./g, '\\.')}$`, 'm'));
  assert.match(show.stdout, /^ {8}LUN: 1\n {12}Type: disk$/m);
  const ls = await run('iscsi-ls', ['-s', `iscsi://127.0.0.1:${port}`], { cwd: work });
  assert.equal(ls.code, 0, ls.stderr);
  assert.match(ls.stdout, new RegExp(`Target:${DEMO_IQN.replace(/\./g, '\\.')} Portal:127\\.0\\.0\\.1:${port},1`));
  assert.match(ls.stdout, /Lun:1 +Type:DIRECT_ACCESS \(Size:1023M\)/);
  const bad = await run(bin('tgtadm'), ['-C', String(controlPort), '--mode', 'target', '--op', 'show', '--tid', '77'], { cwd: work, env: denv });
  assert.equal(bad.code, 22);
  assert.equal(bad.stderr, 'tgtadm: can\'t find the target\n');
  // tgtadm's V8 code cache (bin/tgtadm.cjs): written by the first call, and a corrupt, stale or
  // unwritable one changes nothing of the output (a corrupt one handed to V8 would crash node).
  const cache = join(pkgDir, 'lib', 'tgtadm.bundle.cache');
  assert.ok(existsSync(cache), 'the first tgtadm call wrote no code cache');
  const cached = readFileSync(cache);
  assert.equal(cached.toString('latin1', 0, 8), 'stgtcc2 ');
  const n = cached.readUInt32LE(24); // V8's data is there twice: the two copies must be equal
  assert.equal(cached.length, 32 + 2 * n);
  const again = async (what: string): Promise<void> => {
    const r = await run(bin('tgtadm'), ['-C', String(controlPort), '--mode', 'target', '--op', 'show'], { cwd: work, env: denv });
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, show.stdout, ''], `tgtadm with ${what}`);
  };
  await again('its code cache');
  for (const [what, from, to] of [['a corrupt code cache', 40, 32 + n], ['a code cache with a corrupt second copy', 32 + n, cached.length]] as const) {
    const corrupt = Buffer.from(cached);
    for (let i = from; i < to; i += 97) corrupt[i] ^= 0x5a;
    writeFileSync(cache, corrupt);
    await again(what);
    assert.deepEqual(readFileSync(cache).subarray(0, 24), cached.subarray(0, 24), `${what} was not replaced by a sound one`);
    assert.notDeepEqual(readFileSync(cache), corrupt, `${what} was not replaced`);
  }
  writeFileSync(cache, Buffer.concat([Buffer.from('stgtcc2 0000000000000000'), cached.subarray(24)]));
  await again('a stale code cache');
  writeFileSync(cache, cached.subarray(0, 100));
  await again('a truncated code cache');
  rmSync(cache);
  mkdirSync(cache); // neither readable nor replaceable, even for root
  await again('an unwritable code cache');
  rmSync(cache, { recursive: true });

  // The modules from the CommonJS build: built-in ones loaded and unloaded at run time, a
  // third-party ES module store and a version-1 store (the adapter) loaded by path, and iser, whose
  // addon is not built here, in its error state with the reason (the addon lookup from lib/cjs/).
  const adm = async (...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> =>
    run(bin('tgtadm'), ['-C', String(controlPort), ...args], { cwd: work, env: denv });
  const ok = async (...args: string[]): Promise<string> => {
    const r = await adm(...args);
    assert.equal(r.code, 0, `tgtadm ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const storesShown = async (): Promise<string> => (await ok('--mode', 'system', '--op', 'show')).split('Backing stores:\n')[1]!.split('Device types:')[0]!;
  await ok('--mode', 'system', '--op', 'bsunload', '--bstype', 'null');
  assert.doesNotMatch(await storesShown(), /^ {4}null$/m);
  await ok('--mode', 'system', '--op', 'bsload', '--bstype', 'null');
  await ok('--mode', 'logicalunit', '--op', 'new', '--tid', '1', '--lun', '2', '-b', '/dev/null', '--bstype', 'null');
  const busy = await adm('--mode', 'system', '--op', 'bsunload', '--bstype', 'null');
  assert.equal(busy.code, 22, 'a store in use must not unload');
  await ok('--mode', 'logicalunit', '--op', 'delete', '--tid', '1', '--lun', '2');
  await ok('--mode', 'system', '--op', 'bsunload', '--bstype', 'null');
  await ok('--mode', 'system', '--op', 'bsload', '--bstype', join(root, 'examples', 'stgt-bs-faulty', 'index.js'));
  const v1 = join(work, 'v1-store.mjs');
  writeFileSync(v1, [
    "export default { kind: 'bs', apiVersion: 1, name: 'oldmem', pathOptional: true, init() { return { open(o, cb) {",
    '  const data = Buffer.alloc(1 << 20);',
    '  cb(null, { size: data.length, read(off, len, c) { c(null, Buffer.from(data.subarray(off, off + len))); },',
    '    write(off, bufs, c) { for (const b of bufs) { b.copy(data, off); off += b.length; } c(null); }, flush(c) { c(null); }, close(c) { c(null); } }); } }; } };',
  ].join('\n'));
  await ok('--mode', 'system', '--op', 'bsload', '--bstype', v1);
  assert.match(await storesShown(), /^ {4}oldmem\n {4}faulty\b/);
  await ok('--mode', 'logicalunit', '--op', 'new', '--tid', '1', '--lun', '3', '-b', 'x', '--bstype', 'oldmem');
  const io = await run('qemu-io', ['-f', 'raw', '-c', 'write -P 0x5a 64k 128k', '-c', 'read -P 0x5a 64k 128k', `iscsi://127.0.0.1:${port}/${DEMO_IQN}/3`],
    { cwd: work, timeoutMs: 60_000 });
  assert.equal(io.code, 0, io.stdout + io.stderr);
  assert.doesNotMatch(io.stdout + io.stderr, /Pattern verification failed|error/i);
  assert.match(io.stdout, /read 131072\/131072 bytes/);
  const iser = await adm('--mode', 'system', '--op', 'lldload', '--lld', 'iser');
  assert.equal(iser.code, 22, 'iser cannot start without its addon and an RDMA device');
  assert.match(await ok('--mode', 'system', '--op', 'show'), /\nLLDs:\n {4}iscsi: ready\n {4}iser: error\n/);
  await waitFor(() => /iser.*(RDMA|addon)/.test(tgtd.log()), 10_000, `iser's reason in the log:\n${tgtd.log()}`);
  await ok('--mode', 'system', '--op', 'lldunload', '--lld', 'iser');
  await tgtd.stop();

  // tgtd's bundle has its code cache too, written at that exit; a start from it serves the same.
  const dcache = join(pkgDir, 'lib', 'tgtd.bundle.cache');
  assert.equal(readFileSync(dcache).toString('latin1', 0, 8), 'stgtcc2 ', 'tgtd wrote no code cache at its exit');
  const cached2 = await startTgtd('from its code cache');
  const show2 = await run(bin('tgtadm'), ['-C', String(controlPort), '--mode', 'target', '--op', 'show'], { cwd: work, env: denv });
  assert.deepEqual([show2.code, show2.stdout], [0, show.stdout]);
  await cached2.stop();

  // 4. The contracts as types: the example store type-checks against stgt/bs-api; a wrong store does not.
  const tc = join(work, 'typecheck');
  mkdirSync(join(tc, 'node_modules'), { recursive: true });
  symlinkSync(pkgDir, join(tc, 'node_modules', 'stgt'));
  cpSync(join(root, 'examples', 'stgt-bs-faulty'), join(tc, 'faulty'), { recursive: true });
  mkdirSync(join(tc, 'wrong'));
  writeFileSync(join(tc, 'wrong', 'index.js'), [
    '// @ts-check',
    "/** @type {import('stgt/bs-api').BackingStoreModule} */",
    "export default { kind: 'bs', apiVersion: 2, name: 'wrong', init: () => ({ open(opts, cb) { cb(null, { size: 0, read(off, len, cb2) { cb2(null, Buffer.alloc(len)); } }); } }) };",
    '',
  ].join('\n'));
  writeFileSync(join(tc, 'lld.ts'), [
    "import type { LldModule, LldDriver } from 'stgt/lld-api';",
    "const driver: LldDriver = { async exit() {} };",
    "export const m: LldModule = { kind: 'lld', apiVersion: 2, name: 'x', init: () => driver };",
    '',
  ].join('\n'));
  const tsconfig = (include: string[]): string => JSON.stringify({
    compilerOptions: {
      module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', allowJs: true, checkJs: true, noEmit: true,
      strict: false, types: ['node'], typeRoots: [join(root, 'node_modules', '@types')],
    },
    include,
  });
  writeFileSync(join(tc, 'tsconfig.good.json'), tsconfig(['faulty/*.js', 'lld.ts']));
  writeFileSync(join(tc, 'tsconfig.wrong.json'), tsconfig(['wrong/*.js']));
  const tscBin = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const good = await run(process.execPath, [tscBin, '-p', 'tsconfig.good.json'], { cwd: tc, timeoutMs: 180_000 });
  assert.equal(good.code, 0, good.stdout + good.stderr);
  const wrong = await run(process.execPath, [tscBin, '-p', 'tsconfig.wrong.json'], { cwd: tc, timeoutMs: 180_000 });
  assert.notEqual(wrong.code, 0, 'a store with a v1 read and no write/flush/close must not type-check');
  assert.match(wrong.stdout, /wrong\/index\.js.*error TS\d+/);
});
