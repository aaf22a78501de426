// Unit tests: apt mirror discovery (one-line and deb822 sources), recipe hash, step-line parsing
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mirrorFromSources, recipeHash } from './image-cache.js';
import { parseSteps } from './steps.js';

test('mirrorFromSources: deb822 stanza serving the suite, not -security/-updates only', () => {
  const text = `Types: deb
URIs: http://security.example/debian-security
Suites: bookworm-security
Components: main

Types: deb
# a comment
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
`;
  assert.equal(mirrorFromSources(text, 'bookworm'), 'http://mirror.example/debian');
  assert.equal(mirrorFromSources('Types: deb-src\nURIs: http://x/\nSuites: bookworm\n', 'bookworm'), undefined);
});

test('mirrorFromSources: one-line format, with options', () => {
  const text = '# deb http://old/ bookworm main\ndeb [arch=amd64] http://one.example/debian bookworm main\n';
  assert.equal(mirrorFromSources(text, 'bookworm'), 'http://one.example/debian');
  assert.equal(mirrorFromSources('deb http://a/ bookworm-updates main\n', 'bookworm'), undefined);
});

test('recipeHash changes with the build script', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stgt-vm-hash-'));
  const f = path.join(dir, 'build.sh');
  fs.writeFileSync(f, 'echo a\n');
  const a = recipeHash(f);
  assert.match(a, /^[0-9a-f]{16}$/);
  assert.equal(recipeHash(f), a);
  fs.writeFileSync(f, 'echo b\n');
  assert.notEqual(recipeHash(f), a);
  fs.rmSync(dir, { recursive: true });
});

test('parseSteps reads ok and FAILED lines and ignores the rest', () => {
  const out = 'noise\nSTEP login ok 518ms\nLogging in\nSTEP mkfs FAILED 12ms (exit 1)\n';
  assert.deepEqual(parseSteps(out), [
    { name: 'login', ok: true, ms: 518 },
    { name: 'mkfs', ok: false, ms: 12 },
  ]);
});
