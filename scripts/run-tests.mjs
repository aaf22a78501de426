#!/usr/bin/env node
// Runs every compiled test file (dist/**/*.test.js) with Node's own runner, one file at a time.
//
// Node 20's `node --test DIR` runs every .js file under DIR, helpers included, and has no glob
// support; this lists the test files explicitly. Extra arguments are passed to `node --test`.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

function find(dir, out) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'node_modules') find(p, out);
    } else if (e.name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const roots = ['dist/src', 'dist/test', 'dist/examples'].filter((d) => {
  try {
    readdirSync(d);
    return true;
  } catch {
    return false;
  }
});
const files = roots.flatMap((r) => find(r, [])).sort();
if (files.length === 0) {
  console.error('no test files under dist/: run the build first');
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...process.argv.slice(2), ...files], {
  stdio: 'inherit',
});
process.exit(r.status ?? 1);
