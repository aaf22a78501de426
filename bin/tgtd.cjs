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
if (existsSync(join(pkg, 'dist'))) {
  import(join(pkg, 'dist', 'src', 'daemon', 'main.js')).then((m) => m.main());
} else {
  require('./tgtadm.cjs').runBundle(pkg, 'tgtd', require, (s) => import(s)).main();
}
