#!/usr/bin/env node
// tgtd as npm installs it: lib/tgtd.bundle.js, the daemon's CommonJS modules (lib/cjs/) in one
// script, compiled with its V8 code cache (runBundle of bin/tgtadm.cjs): it starts without the ES module
// loader resolving, reading, compiling and linking each of its ~120 files one by one (more than
// half of tgtd's own start-up CPU: BENCHMARKS.md "Start-up").
// A checkout, which has dist/, runs the ES modules there (what bin/tgtd runs).
'use strict';
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const pkg = join(__dirname, '..');

/**
 * The bundle's import() of what it does not hold. A dependency by package name (koffi,
 * @node-rs/crc32: both CommonJS) is required and handed over as import() would (its exports, and
 * the same object as `default`): import() of a CommonJS package starts the ES module loader and runs
 * cjs-module-lexer over its source, a good part of the start-up's CPU (BENCHMARKS.md "Start-up").
 * Paths and URLs (modules loaded by path, ES module stores), and an ES-module-only package, go to
 * import().
 */
function nodeImport(spec) {
  if (!/^(\.|\/|[a-z]+:)/i.test(spec)) {
    try {
      const m = require(spec);
      return Promise.resolve(Object.assign({}, m, { default: m }));
    } catch (e) {
      if (e === null || typeof e !== 'object' || (e.code !== 'ERR_REQUIRE_ESM' && e.code !== 'ERR_REQUIRE_ASYNC_MODULE')) return Promise.reject(e);
    }
  }
  return import(spec);
}
if (existsSync(join(pkg, 'dist'))) {
  import(join(pkg, 'dist', 'src', 'daemon', 'main.js')).then((m) => m.main());
} else {
  require('./tgtadm.cjs').runBundle(pkg, 'tgtd', require, nodeImport).main();
}
