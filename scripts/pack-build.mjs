#!/usr/bin/env node
// Builds what `npm pack` / `npm publish` ship (package.json "prepack"): lib/ from src/ without tests (tsconfig.pack.json), with .d.ts for the module contracts.
//
// The checkout's own build (`npm run build`) goes to dist/ with the tests; lib/ exists only
// between prepack and postpack (`--clean` removes it), so a checkout never runs a stale lib/.
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const lib = join(root, 'lib');
rmSync(lib, { recursive: true, force: true });
if (!process.argv.includes('--clean')) {
  const tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');
  // lib/: the ES modules with .d.ts; lib/cjs/: tgtadm and what it imports, as CommonJS (bin/tgtadm.cjs),
  // because a CommonJS entry starts measurably faster than an ES module one (BENCHMARKS.md "tgtadm").
  for (const args of [['-p', join(root, 'tsconfig.pack.json')], ['-p', join(root, 'tsconfig.cli.json')]]) {
    const r = spawnSync(process.execPath, [tsc, ...args], { stdio: 'inherit' });
    if (r.status !== 0) {
      rmSync(lib, { recursive: true, force: true });
      process.exit(r.status ?? 1);
    }
  }
  writeFileSync(join(lib, 'cjs', 'package.json'), '{ "type": "commonjs" }\n');
}
