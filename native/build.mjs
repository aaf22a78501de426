#!/usr/bin/env node
// Builds the optional native addons (native/io: the iscsi LLD's own accept loop; native/rdma: the iser LLD's RDMA provider; native/rbd: the rbd backing store's librbd binding) with node-gyp; design.md §1 "native/".
//
// `npm run build:native` runs this. It must never break an install or the TypeScript build: when the
// headers (libibverbs-dev, librdmacm-dev; librbd-dev, librados-dev), node-addon-api or node-gyp are
// missing, it says what is missing and exits 0, and the iser module then reports "RDMA addon not
// built" (the rbd store: "rbd addon not built") when loaded; without native/io the iscsi LLD
// listens with net.Server as before.
// node-gyp is run with --nodedir=/usr because, offline, it cannot download Node's headers.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const strict = process.argv.includes('--strict');
// `--install`: run as the package's npm "install" script. An installed package (npm install -g
// stgt-*.tgz) builds its addons there; in a git checkout `npm ci` leaves that to
// `npm run build:native` (as .ci/run does), so an install does not build them twice.
// STGT_NATIVE=skip leaves the addons unbuilt (an install that does not want a compiler run).
if (process.argv.includes('--install') && existsSync(join(here, '..', '.git'))) process.exit(0);
if (process.env.STGT_NATIVE === 'skip') {
  console.warn('build:native: skipping the native addons (STGT_NATIVE=skip)');
  process.exit(0);
}

/** Each addon: its directory and the system headers it needs (the Debian -dev package named in the hint). */
const ADDONS = [
  { dir: join(here, 'io'), headers: [] },
  {
    dir: join(here, 'rdma'),
    headers: [
      ['/usr/include/infiniband/verbs.h', 'libibverbs-dev'],
      ['/usr/include/rdma/rdma_cma.h', 'librdmacm-dev'],
    ],
  },
  {
    dir: join(here, 'rbd'),
    headers: [
      ['/usr/include/rbd/librbd.h', 'librbd-dev'],
      ['/usr/include/rados/librados.h', 'librados-dev'],
    ],
  },
];

function skip(name, why) {
  console.warn(`build:native: skipping ${name}: ${why}`);
  if (strict) process.exitCode = 1;
}

/** npm's bundled node-gyp (npm 11 ships node-gyp 12, the last line that supports Node 20). */
function findNodeGyp() {
  const npmRoot = spawnSync('npm', ['root', '-g'], { encoding: 'utf8' });
  const candidates = [
    process.env.npm_config_node_gyp,
    npmRoot.status === 0 ? join(npmRoot.stdout.trim(), 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js') : undefined,
    '/usr/share/nodejs/node-gyp/bin/node-gyp.js',
    '/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js',
  ];
  return candidates.find((p) => p !== undefined && existsSync(p));
}

function hasAddonApi(dir) {
  try {
    createRequire(join(dir, 'noop.js')).resolve('node-addon-api');
    return true;
  } catch {
    return false;
  }
}

for (const addon of ADDONS) {
  const name = `native/${addon.dir.slice(here.length + 1)}`;
  const missing = addon.headers.filter(([h]) => !existsSync(h)).map(([, pkg]) => pkg);
  if (missing.length > 0) {
    skip(name, `headers not installed (apt-get install ${missing.join(' ')})`);
    continue;
  }
  if (!hasAddonApi(addon.dir)) {
    const r = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: addon.dir, stdio: 'inherit' });
    if (r.status !== 0 || !hasAddonApi(addon.dir)) {
      skip(name, 'node-addon-api could not be installed');
      continue;
    }
  }
  const gyp = findNodeGyp();
  if (gyp === undefined) {
    skip(name, 'node-gyp not found (it ships with npm)');
    continue;
  }
  const nodedir = process.env.STGT_NODEDIR ?? '/usr';
  const r = spawnSync(process.execPath, [gyp, 'rebuild', `--nodedir=${nodedir}`], { cwd: addon.dir, stdio: 'inherit' });
  if (r.status !== 0) skip(name, `node-gyp failed (exit ${r.status ?? r.signal})`);
  else console.log(`build:native: built ${name}`);
}
