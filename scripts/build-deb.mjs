#!/usr/bin/env node
// Builds the Debian package (`npm run deb`): stgt_<version>_<arch>.deb with dpkg-deb, no debhelper; see README "Debian package".
//
// Layout (Debian's tgt package for the paths that matter to users and scripts):
//   /usr/lib/stgt/          compiled JavaScript (lib/, lib/cjs/; lib/tgtd.bundle.js + bin/tgtd.cjs, lib/tgtadm.bundle.js + bin/tgtadm.cjs), package.json, node_modules/
//                           with the runtime dependencies (koffi, @node-rs/crc32 and their x86-64 binaries)
//   /usr/sbin/tgtd, tgtadm, tgt-admin, tgtimg   small #!/usr/bin/node entry files into /usr/lib/stgt
//   /lib/systemd/system/tgt.service             contrib/systemd/tgt.service with /usr/sbin paths
//   /etc/tgt/targets.conf (conffile), /etc/tgt/conf.d/
//   /usr/share/doc/stgt/    README.md, copyright
// The dependencies' prebuilt binaries make it arch-specific (amd64 where it is built here). The
// optional addons of native/ (RDMA for iser, librbd for rbd) are not included.
//
// Usage: node scripts/build-deb.mjs [--out DIR]   (default DIR: the repository root)
// Prints the path of the .deb on stdout.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildCjs, bundleCjs, tsc } from './pack-build.mjs';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const outIdx = process.argv.indexOf('--out');
const outDir = path.resolve(outIdx > 0 ? process.argv[outIdx + 1] : root);
const LIBDIR = '/usr/lib/stgt';

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', ...opts });
  if (r.error) throw new Error(`build-deb: ${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`build-deb: ${cmd} ${args.join(' ')} exited ${r.status}`);
  return r.stdout;
}

function write(file, text, mode = 0o644) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text, { mode });
  fs.chmodSync(file, mode);
}

/** Every regular file under dir, relative, sorted. */
function filesUnder(dir, rel = '') {
  const out = [];
  for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const r = path.join(rel, e.name);
    if (e.isDirectory()) out.push(...filesUnder(dir, r));
    else if (e.isFile()) out.push(r);
  }
  return out;
}

const arch = run('dpkg', ['--print-architecture']).trim();
const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'stgt-deb-'));
fs.chmodSync(stage, 0o755);
try {
  const lib = path.join(stage, LIBDIR.slice(1));

  // The JavaScript: what `npm pack` ships (scripts/pack-build.mjs; no tests): the ES modules of
  // lib/ without .d.ts (tgt-admin, tgtimg), lib/cjs/ (CommonJS) and the one-file bundles made
  // from it: tgtd's and tgtadm's, run by bin/tgtd.cjs and bin/tgtadm.cjs with their V8 code
  // caches (prerm removes the cache files).
  tsc(['-p', path.join(root, 'tsconfig.pack.json'), '--outDir', path.join(lib, 'lib'), '--declaration', 'false']);
  buildCjs(path.join(lib, 'lib', 'cjs'));
  write(path.join(lib, 'lib', 'tgtadm.bundle.js'), bundleCjs(path.join(lib, 'lib', 'cjs'), 'cli/tgtadm-client.js'));
  write(path.join(lib, 'lib', 'tgtd.bundle.js'), bundleCjs(path.join(lib, 'lib', 'cjs'), 'daemon/main.js'));
  for (const f of ['tgtd.cjs', 'tgtadm.cjs']) write(path.join(lib, 'bin', f), fs.readFileSync(path.join(root, 'bin', f), 'utf8'), 0o755);
  write(path.join(lib, 'package.json'), JSON.stringify({ name: pkg.name, version: pkg.version, private: true, type: 'module', license: pkg.license }, null, 2) + '\n');

  // Runtime dependencies (package-lock.json, not dev), those installed here: the optional
  // per-platform binaries exist only for this machine's platform. musl builds are left out.
  const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8'));
  const deps = Object.entries(lock.packages).filter(([k, v]) => k.startsWith('node_modules/') && !v.dev).map(([k]) => k);
  for (const dep of deps) {
    const from = path.join(root, dep);
    if (!fs.existsSync(from)) continue;
    fs.cpSync(fs.realpathSync(from), path.join(lib, dep), {
      recursive: true,
      dereference: true,
      // Not needed to run: musl builds, sources and headers to rebuild the binaries, docs.
      filter: (src) => !/\/(musl_[^/]*|vendor|doc|CMakeLists\.txt|cnoke\.cjs)$|\.(cc|hh|h|c|S|asm|inc|md)$/.test(src),
    });
  }

  const pruneEmpty = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) pruneEmpty(path.join(dir, e.name));
    if (fs.readdirSync(dir).length === 0) fs.rmdirSync(dir);
  };
  pruneEmpty(path.join(lib, 'node_modules'));

  // /usr/sbin entry points: node runs directly (tgtd is the unit's main PID, which sd_notify needs).
  // tgtadm is a symbolic link to bin/tgtadm.cjs, which runs only as the main module (and one
  // file less to load per call).
  fs.mkdirSync(path.join(stage, 'usr/sbin'), { recursive: true });
  fs.symlinkSync(`${LIBDIR}/bin/tgtadm.cjs`, path.join(stage, 'usr/sbin/tgtadm'));
  const entries = {
    tgtd: `require('${LIBDIR}/bin/tgtd.cjs');`,
    'tgt-admin': `import('${LIBDIR}/lib/cli/tgt-admin.js').then((m) => m.main());`,
    tgtimg: `import('${LIBDIR}/lib/cli/tgtimg.js').then((m) => m.main());`,
  };
  for (const [name, body] of Object.entries(entries)) {
    write(path.join(stage, 'usr/sbin', name), `#!/usr/bin/node\n// ${name} from the stgt Debian package: the code is in ${LIBDIR}.\n'use strict';\n${body}\n`, 0o755);
  }

  // The unit: contrib/systemd/tgt.service (written for /usr/local/bin) with the package's paths.
  const unit = fs.readFileSync(path.join(root, 'contrib/systemd/tgt.service'), 'utf8');
  const unitBody = unit.slice(unit.indexOf('[Unit]')).replaceAll('/usr/local/bin/', '/usr/sbin/');
  write(path.join(stage, 'lib/systemd/system/tgt.service'), `# stgt's tgt.service (Debian package), the same start, reload and stop sequence as Debian's tgt.\n\n${unitBody}`);

  const deb = path.join(root, 'packaging/deb');
  write(path.join(stage, 'etc/tgt/targets.conf'), fs.readFileSync(path.join(deb, 'targets.conf'), 'utf8'));
  fs.mkdirSync(path.join(stage, 'etc/tgt/conf.d'), { recursive: true });
  const doc = path.join(stage, 'usr/share/doc/stgt');
  write(path.join(doc, 'README.md'), fs.readFileSync(path.join(root, 'README.md'), 'utf8'));
  write(path.join(doc, 'copyright'), `stgt ${pkg.version}\nLicense: ${pkg.license} (GNU General Public License, version 2)\n` +
    'On Debian systems the full text is in /usr/share/common-licenses/GPL-2.\n' +
    'Bundled in /usr/lib/stgt/node_modules: koffi (MIT), @node-rs/crc32 (MIT); their licenses are beside them.\n');

  // DEBIAN/: control with the computed size, maintainer scripts, conffiles, md5sums (not of conffiles).
  const conffiles = fs.readFileSync(path.join(deb, 'conffiles'), 'utf8');
  const conf = new Set(conffiles.split('\n').filter(Boolean).map((l) => l.slice(1)));
  const payload = filesUnder(stage);
  const sizeKiB = Math.ceil(payload.reduce((n, f) => n + fs.statSync(path.join(stage, f)).size, 0) / 1024);
  const control = fs.readFileSync(path.join(deb, 'control'), 'utf8')
    .replace('@VERSION@', pkg.version)
    .replace('@INSTALLED_SIZE@', String(sizeKiB))
    .replace(/^Architecture: .*$/m, `Architecture: ${arch}`);
  const meta = path.join(stage, 'DEBIAN');
  write(path.join(meta, 'control'), control);
  write(path.join(meta, 'conffiles'), conffiles);
  for (const s of ['postinst', 'prerm', 'postrm']) write(path.join(meta, s), fs.readFileSync(path.join(deb, s), 'utf8'), 0o755);
  const sums = payload.filter((f) => !conf.has(f))
    .map((f) => `${createHash('md5').update(fs.readFileSync(path.join(stage, f))).digest('hex')}  ${f}\n`);
  write(path.join(meta, 'md5sums'), sums.join(''));

  fs.mkdirSync(outDir, { recursive: true });
  const out = path.join(outDir, `${pkg.name}_${pkg.version}_${arch}.deb`);
  run('dpkg-deb', ['--root-owner-group', '-Zxz', '--build', stage, out], { stdio: ['ignore', 'ignore', 'inherit'] });
  process.stdout.write(`${out}\n`);
} finally {
  fs.rmSync(stage, { recursive: true, force: true });
}
