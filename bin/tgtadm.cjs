#!/usr/bin/env node
// tgtadm as npm installs it: one CommonJS file, so a call starts no ES module loader, resolves no
// module paths and compiles little. lib/tgtadm.bundle.js (scripts/pack-build.mjs: the client's
// modules compiled to CommonJS, wrapped into one script) is compiled with a V8 code cache kept
// beside it, lib/tgtadm.bundle.cache, written (atomically: temporary file, rename) at the exit of
// the first run that had none or an unusable one, so it holds the functions that run compiled.
// The cache is only an optimisation: an unwritable directory, a stale, truncated or corrupt cache
// (its own header and integrity check first, then V8's version/flag/source checks) all fall back
// to compiling the source, with the same output.
// A checkout, which has dist/, runs the ESM build there instead (what bin/tgtadm runs).
'use strict';
const fs = require('node:fs');
const { join } = require('node:path');

// Cache file: "stgtcc2 " + the bundle's 16-hex-digit hash + payload length (u32 LE) + 0 (u32) +
// V8's data, twice. V8 release builds do not verify a code cache's checksum, and a cache with
// flipped bytes handed to V8 crashed node here; so a read-back must have its two copies
// byte-equal (one memcmp). Any damage that does not hit both copies identically (a flipped bit, a
// sector of zeros, a truncated or partly rewritten file) makes it unused. A CRC-32 did the same
// but node:zlib's load cost ~1.5-2.5 ms of each call's CPU (BENCHMARKS.md "Start-up").
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

function runBundle(file) {
  const vm = require('node:vm');
  const source = fs.readFileSync(file, 'utf8');
  const m = /^\/\/ stgt ([0-9a-f]{16}):/.exec(source);
  const hash = m === null ? undefined : m[1];
  const cacheFile = file.replace(/\.js$/, '.cache');
  const cachedData = hash === undefined ? undefined : readCache(cacheFile, hash);
  const script = new vm.Script(source, { filename: file, cachedData });
  if (hash !== undefined && (cachedData === undefined || script.cachedDataRejected === true)) {
    process.once('exit', () => {
      try {
        writeCache(cacheFile, hash, script.createCachedData());
      } catch { /* the cache is optional */ }
    });
  }
  return script.runInThisContext()(require);
}

if (fs.existsSync(join(__dirname, '..', 'dist'))) {
  import(join(__dirname, '..', 'dist', 'src', 'cli', 'tgtadm.js')).then((m) => m.main());
} else {
  runBundle(join(__dirname, '..', 'lib', 'tgtadm.bundle.js')).main();
}
