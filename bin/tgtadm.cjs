#!/usr/bin/env node
// tgtadm as npm installs it: CommonJS, so a call starts no ESM loader and loads only the client's few
// files (lib/cjs/, compiled by npm pack's prepack from src/cli/tgtadm-client.ts with tsconfig.cli.json).
// A checkout, which has dist/, runs the ESM build there instead (what bin/tgtadm runs).
'use strict';
const { existsSync } = require('node:fs');
const { join } = require('node:path');

if (existsSync(join(__dirname, '..', 'dist'))) {
  import(join(__dirname, '..', 'dist', 'src', 'cli', 'tgtadm.js')).then((m) => m.main());
} else {
  require('../lib/cjs/cli/tgtadm-client.js').main();
}
