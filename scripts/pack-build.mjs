#!/usr/bin/env node
// Builds what `npm pack` / `npm publish` ship (package.json "prepack"): lib/ from src/ without tests (tsconfig.pack.json), with .d.ts for the module contracts.
//
// The checkout's own build (`npm run build`) goes to dist/ with the tests; lib/ exists only
// between prepack and postpack (`--clean` removes it), so a checkout never runs a stale lib/.
//
// The installed commands start faster as CommonJS in one file (no ES module loader, no module
// resolution: BENCHMARKS.md "Start-up"), so lib/cjs/ holds the same sources compiled to CommonJS
// (buildCjs below) and bundleCjs wraps the modules a command needs into one script:
// lib/tgtd.bundle.js and lib/tgtadm.bundle.js, which bin/tgtd.cjs and bin/tgtadm.cjs compile with a
// V8 code cache (runBundle of bin/tgtadm.cjs). lib/cjs/ stays: modules' files are still where their
// __filename says (sg's worker runs bs/sg-worker.js from there).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, posix, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const lib = join(root, 'lib');

/** Sources the packages ship (tsconfig.pack.json's exclude: no tests, no test helpers). */
const shipped = (rel) => rel.endsWith('.ts') && !rel.endsWith('.test.ts') && !/(^|\/)testing\//.test(rel) && !rel.endsWith('login-test-host.ts');

/**
 * Compiles src/ to CommonJS into `outDir` (with its own package.json saying so). tsc decides a
 * file's output format from the package.json above the source, and src/ is in an ES module
 * package; so the sources are staged in a directory whose package.json says "commonjs", and
 * compiled there with module NodeNext, which keeps dynamic import() as it is (modules loaded by
 * path, koffi, ES module third-party stores). The one ES-module-only construct the sources use,
 * `import.meta.url` (a module's own location: addon paths, sg's worker), becomes its CommonJS
 * equivalent in the staged copy; any other import.meta, and a top-level await (tsc refuses it
 * in CommonJS), fail the build. Comments are left out (less to read and parse at each start).
 */
export function buildCjs(outDir) {
  const stage = join(root, `.cjs-stage-${process.pid}`);
  rmSync(stage, { recursive: true, force: true });
  try {
    const src = join(root, 'src');
    for (const e of readdirSync(src, { recursive: true, withFileTypes: true })) {
      const rel = relative(src, join(e.parentPath ?? e.path, e.name));
      if (!e.isFile() || !shipped(rel)) continue;
      const text = readFileSync(join(src, rel), 'utf8').replaceAll('import.meta.url', 'require("node:url").pathToFileURL(__filename).href');
      if (text.includes('import.meta')) throw new Error(`pack-build: src/${rel} uses import.meta beyond import.meta.url: no CommonJS form`);
      mkdirSync(dirname(join(stage, 'src', rel)), { recursive: true });
      writeFileSync(join(stage, 'src', rel), text);
    }
    writeFileSync(join(stage, 'package.json'), '{ "type": "commonjs" }\n');
    writeFileSync(join(stage, 'tsconfig.json'), JSON.stringify({
      extends: '../tsconfig.json',
      compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', rootDir: 'src', outDir, sourceMap: false, declaration: false, removeComments: true },
      include: ['src/**/*.ts'],
    }));
    tsc(['-p', join(stage, 'tsconfig.json')]);
    writeFileSync(join(outDir, 'package.json'), '{ "type": "commonjs" }\n');
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

/** Runs the checkout's TypeScript compiler; throws when it fails. */
export function tsc(args) {
  const bin = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');
  const r = spawnSync(process.execPath, [bin, ...args], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`pack-build: tsc ${args.join(' ')} exited ${r.status}`);
}

/**
 * One script from the CommonJS files reachable from `entry` (ids relative to `dir`, posix): each
 * module becomes a function in a table; its relative require("./x.js") strings, and its dynamic
 * import('./x.js') of relative literals (tgtd's built-in modules, the metrics server), are
 * rewritten to table ids, so nothing of the bundle is resolved or read from disk a second time
 * (a module imported from its own file would also be a second instance). Anything else (node:
 * built-ins, dependencies, modules loaded by path) goes to the real require, and other import()s
 * to the loader's: a script compiled by vm.Script (for its code cache) has no import() of its own
 * in Node 20 without an experimental option. The script evaluates to a function
 * (nodeRequire, moduleDir, nodeImport) => the entry's exports, where moduleDir is where `dir` is
 * installed: each module's __filename and __dirname are its file there (addon lookups, sg's worker
 * file). The source carries its own hash (the code cache's key).
 */
export function bundleCjs(dir, entry) {
  const mods = new Map();
  const todo = [entry];
  const ref = (id, rel) => {
    const dep = posix.normalize(posix.join(posix.dirname(id), rel));
    todo.push(dep);
    return JSON.stringify(`stgt:${dep}`);
  };
  while (todo.length > 0) {
    const id = todo.pop();
    if (mods.has(id)) continue;
    const src = readFileSync(join(dir, id), 'utf8')
      .replace(/\brequire\("(\.{1,2}\/[^"]+)"\)/g, (_, rel) => `require(${ref(id, rel)})`)
      .replace(/\bimport\((['"])(\.{1,2}\/[^'"]+)\1\)/g, (_, q, rel) => `Promise.resolve(${ref(id, rel)}).then(require)`)
      .replace(/\bimport\(/g, 'nodeImport(');
    mods.set(id, src.replace(/\n\/\/# sourceMappingURL=.*\n?$/, '\n'));
  }
  const defs = [...mods].map(([id, src]) =>
    `${JSON.stringify(`stgt:${id}`)}: function (exports, require, module, __filename, __dirname) {\n${src}},\n`).join('');
  const body = `(function (nodeRequire, moduleDir, nodeImport) {
'use strict';
const defs = {
${defs}};
const done = {};
function load(id) {
  if (!Object.prototype.hasOwnProperty.call(defs, id)) return nodeRequire(id);
  if (done[id] !== undefined) return done[id].exports;
  const module = { exports: {} };
  done[id] = module;
  const file = moduleDir + '/' + id.slice(5);
  try {
    defs[id].call(module.exports, module.exports, load, module, file, file.slice(0, file.lastIndexOf('/')));
  } catch (e) {
    delete done[id]; // as require() does: a later load runs the module again
    throw e;
  }
  return module.exports;
}
return load(${JSON.stringify(`stgt:${entry}`)});
})`;
  const hash = createHash('sha256').update(body).digest('hex').slice(0, 16);
  return `// stgt ${hash}: generated by scripts/pack-build.mjs from lib/cjs/${entry}; do not edit.\n${body}\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  rmSync(lib, { recursive: true, force: true });
  if (!process.argv.includes('--clean')) {
    try {
      // lib/: the ES modules with .d.ts (the package's exports, tgt-admin, tgtimg); lib/cjs/: CommonJS (tgtd, tgtadm's bundle).
      tsc(['-p', join(root, 'tsconfig.pack.json')]);
      buildCjs(join(lib, 'cjs'));
      writeFileSync(join(lib, 'tgtadm.bundle.js'), bundleCjs(join(lib, 'cjs'), 'cli/tgtadm-client.js'));
      writeFileSync(join(lib, 'tgtd.bundle.js'), bundleCjs(join(lib, 'cjs'), 'daemon/main.js'));
    } catch (e) {
      rmSync(lib, { recursive: true, force: true });
      console.error(e instanceof Error ? e.message : e);
      process.exit(1);
    }
  }
}
