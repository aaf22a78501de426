#!/usr/bin/env node
// tgtadm as npm installs it: CommonJS, so a call starts no ES module loader, resolves no module
// paths and compiles little: lib/tgtadm.bundle.js, the client's modules in one script made by
// scripts/pack-build.mjs, compiled with a V8 code cache kept beside it (BENCHMARKS.md "Start-up").
// A checkout, which has dist/, runs the ESM build there instead (what bin/tgtadm runs).
//
// runBundle (below) is also how bin/tgtd.cjs runs lib/tgtd.bundle.js; it lives here rather than
// in a file of its own because every tgtadm call would pay for loading one more module.
// The cache, lib/<name>.bundle.cache, is written (atomically: temporary file, rename) at the exit
// of the first run that had none or an unusable one, so it holds the functions that ran compiled.
// It is only an optimisation: an unwritable directory, a stale, truncated or corrupt cache (its
// own header and integrity check first, then V8's version/flag/source checks) all fall back to
// compiling the source, with the same result.
'use strict';
const fs = require('node:fs');
const vm = require('node:vm');
const { join } = require('node:path');

const MAGIC = 'stgtcc2 ';
const HDR = 32;

function readCache(file, hash) {
  let buf;
  try {
    buf = fs.readFileSync(file);
  } catch {
    return undefined;
  }
  if (buf.length < HDR || buf.toString('latin1', 0, 24) !== MAGIC + hash) return undefined;
  const n = buf.readUInt32LE(24);
  if (n === 0 || buf.length !== HDR + 2 * n) return undefined;
  const data = buf.subarray(HDR, HDR + n);
  return data.equals(buf.subarray(HDR + n)) ? data : undefined;
}

function writeCache(file, hash, data) {
  const hdr = Buffer.alloc(HDR);
  hdr.write(MAGIC + hash, 0, 'latin1');
  hdr.writeUInt32LE(data.length, 24);
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(tmp, Buffer.concat([hdr, data, data]), { mode: 0o644 });
    fs.renameSync(tmp, file);
  } catch {
    try { fs.unlinkSync(tmp); } catch { /* read-only or gone: nothing to clean */ }
  }
}

/**
 * Compiles and runs lib/<name>.bundle.js of the package at `pkgDir`; returns its entry module's
 * exports. `nodeRequire` resolves what the bundle does not hold (node: built-ins, dependencies),
 * `nodeImport` does its import()s (a vm.Script has none of its own).
 */
function runBundle(pkgDir, name, nodeRequire, nodeImport) {
  const file = join(pkgDir, 'lib', `${name}.bundle.js`);
  const source = fs.readFileSync(file, 'utf8');
  const m = /^\/\/ stgt ([0-9a-f]{16}):/.exec(source);
  const hash = m === null ? undefined : m[1];
  const cacheFile = join(pkgDir, 'lib', `${name}.bundle.cache`);
  const cachedData = hash === undefined ? undefined : readCache(cacheFile, hash);
  const script = new vm.Script(source, { filename: file, cachedData });
  if (hash !== undefined && (cachedData === undefined || script.cachedDataRejected === true)) {
    process.once('exit', () => {
      try {
        writeCache(cacheFile, hash, script.createCachedData());
      } catch { /* the cache is optional */ }
    });
  }
  return script.runInThisContext()(nodeRequire, join(pkgDir, 'lib', 'cjs'), nodeImport);
}

module.exports = { runBundle };

if (require.main === module) {
  const pkg = join(__dirname, '..');
  if (fs.existsSync(join(pkg, 'dist'))) {
    import(join(pkg, 'dist', 'src', 'cli', 'tgtadm.js')).then((m) => m.main());
  } else {
    runBundle(pkg, 'tgtadm', require, (s) => import(s)).main();
  }
}
