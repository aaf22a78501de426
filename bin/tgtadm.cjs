#!/usr/bin/env node
// tgtadm as npm installs it: one CommonJS file, so a call starts no ES module loader, resolves no
// module paths and compiles little. lib/tgtadm.bundle.js (scripts/pack-build.mjs: the client's
// modules compiled to CommonJS, wrapped into one script) is compiled with a V8 code cache kept
// beside it, lib/tgtadm.bundle.cache, written (atomically: temporary file, rename) at the exit of
// the first run that had none or an unusable one, so it holds the functions that run compiled.
// The cache is only an optimisation: an unwritable directory, a stale, truncated or corrupt cache
// (its own header and CRC checked first, then V8's version/flag/source checks) all fall back to
// compiling the source, with the same output.
// A checkout, which has dist/, runs the ESM build there instead (what bin/tgtadm runs).
'use strict';
const fs = require('node:fs');
const { join } = require('node:path');

/** The cache's integrity check (V8 release builds do not verify their code cache's checksum: a corrupt one can crash). zlib.crc32 is Node >= 20.15; without it no cache is used. */
function crc32() {
  const { crc32: f } = require('node:zlib');
  return typeof f === 'function' ? f : undefined;
}

// Cache file: "stgtcc1 " + the bundle's 16-hex-digit hash + payload length (u32 LE) + CRC-32 of it (u32 LE) + V8's data.
const MAGIC = 'stgtcc1 ';
const HDR = 32;

function readCache(file, hash, checksum) {
  let buf;
  try {
    buf = fs.readFileSync(file);
  } catch {
    return undefined;
  }
  if (buf.length < HDR || buf.toString('latin1', 0, 24) !== MAGIC + hash) return undefined;
  const data = buf.subarray(HDR);
  if (buf.readUInt32LE(24) !== data.length || buf.readUInt32LE(28) !== checksum(data)) return undefined;
  return data;
}

function writeCache(file, hash, data, checksum) {
  const hdr = Buffer.alloc(HDR);
  hdr.write(MAGIC + hash, 0, 'latin1');
  hdr.writeUInt32LE(data.length, 24);
  hdr.writeUInt32LE(checksum(data), 28);
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(tmp, Buffer.concat([hdr, data]), { mode: 0o644 });
    fs.renameSync(tmp, file);
  } catch {
    try { fs.unlinkSync(tmp); } catch { /* read-only or gone: nothing to clean */ }
  }
}

function runBundle(file) {
  const vm = require('node:vm');
  const source = fs.readFileSync(file, 'utf8');
  const m = /^\/\/ stgt ([0-9a-f]{16}):/.exec(source);
  const checksum = crc32();
  const hash = m === null || checksum === undefined ? undefined : m[1];
  const cacheFile = file.replace(/\.js$/, '.cache');
  const cachedData = hash === undefined ? undefined : readCache(cacheFile, hash, checksum);
  const script = new vm.Script(source, { filename: file, cachedData });
  if (hash !== undefined && (cachedData === undefined || script.cachedDataRejected === true)) {
    process.once('exit', () => {
      try {
        writeCache(cacheFile, hash, script.createCachedData(), checksum);
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
