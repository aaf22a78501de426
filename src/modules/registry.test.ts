// Tests for the module registry (design.md §2): sources, version check, states, retries, use counts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BackingDevice, BackingStore } from '../bs/api.js';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModuleError, ModuleRegistry, type ModuleErrorReason } from './registry.js';
import { LLD_API_VERSION } from '../lld/api.js';

function bsModule(name: string, init: () => unknown, apiVersion = 2) {
  return { default: { kind: 'bs', apiVersion, name, init } };
}

function makeRegistry(extra: Record<string, () => Promise<unknown>> = {}, moduleDirs: string[] = []) {
  const exits: string[] = [];
  const reg = new ModuleRegistry({
    builtins: {
      lld: { iscsi: async () => ({ default: { kind: 'lld', apiVersion: LLD_API_VERSION, name: 'iscsi', init: () => ({ exit: async () => void exits.push('iscsi') }) } }) },
      bs: {
        null: async () => bsModule('null', () => ({ open() {}, exit: () => void exits.push('null') })),
        ...extra,
      },
    },
    moduleDirs,
    makeContext: (kind, name) => ({ kind, name }),
  });
  return { reg, exits };
}

const reason = (e: unknown): ModuleErrorReason | null => (e instanceof ModuleError ? e.reason : null);

test('built-in load, list order, acquire/release, busy unload', async () => {
  const { reg, exits } = makeRegistry();
  const e = await reg.load('bs', 'null');
  await reg.load('lld', 'iscsi');
  assert.equal(e.state, 'ready');
  assert.deepEqual(reg.list('bs').map((x) => x.name), ['null']);
  assert.equal(await reg.load('bs', 'null'), e, 'loading a ready module again is a no-op');
  reg.acquire('bs', 'null');
  await assert.rejects(reg.unload('bs', 'null'), (err) => reason(err) === 'busy');
  await assert.rejects(reg.stop('bs', 'null'), (err) => reason(err) === 'busy');
  reg.release('bs', 'null');
  await reg.unload('bs', 'null');
  assert.deepEqual(exits, ['null']);
  assert.equal(reg.get('bs', 'null'), undefined);
  assert.throws(() => reg.acquire('bs', 'null'), (err) => reason(err) === 'not-found');
});

test('init failure leaves error state and a later start retries', async () => {
  let fail = true;
  const { reg } = makeRegistry({
    flaky: async () => bsModule('flaky', () => {
      if (fail) throw new Error('RDMA device missing');
      return { open() {} };
    }),
  });
  await assert.rejects(reg.load('bs', 'flaky'), /RDMA device missing/);
  const e = reg.get('bs', 'flaky')!;
  assert.equal(e.state, 'error');
  assert.equal(e.error, 'RDMA device missing');
  assert.throws(() => reg.acquire('bs', 'flaky'));
  fail = false;
  await reg.start('bs', 'flaky');
  assert.equal(e.state, 'ready');
  assert.equal(e.error, null);
  await reg.stop('bs', 'flaky');
  assert.equal(e.state, 'stopped');
  await reg.start('bs', 'flaky');
  assert.equal(e.state, 'ready');
});

test('API version and kind mismatch are refused with a clear message', async () => {
  const { reg } = makeRegistry({
    v3: async () => bsModule('v3', () => ({}), 3),
    wrong: async () => ({ default: { kind: 'lld', apiVersion: LLD_API_VERSION, name: 'wrong', init: () => ({}) } }),
  });
  await assert.rejects(reg.load('bs', 'v3'), { message: 'module v3 has API version 3, this tgtd supports 1 and 2' });
  assert.equal(reg.get('bs', 'v3')!.state, 'error');
  await assert.rejects(reg.load('bs', 'wrong'), /is a lld module, not bs/);
  await assert.rejects(reg.load('bs', 'nosuch'), /cannot find bs module nosuch/);
});

test('a version-1 backing store is loaded through the adapter: reads land in the caller\'s buffer', async () => {
  const v1Dev = {
    size: 4096,
    read(off: number, len: number, cb: (e: null, d?: Buffer) => void) {
      cb(null, Buffer.alloc(len, off / 512 + 1));
    },
    write: (_o: number, _d: Buffer[], cb: (e: null) => void) => cb(null),
    flush: (cb: (e: null) => void) => cb(null),
    close: (cb: (e: null) => void) => cb(null),
  };
  const { reg } = makeRegistry({
    old: async () => bsModule('old', () => ({ open: (_o: unknown, cb: (e: null, d: unknown) => void) => cb(null, v1Dev) }), 1),
  });
  const e = await reg.load('bs', 'old');
  assert.equal(e.state, 'ready');
  const store = e.instance as BackingStore;
  const dev = await new Promise<BackingDevice>((res, rej) =>
    store.open({ path: '', bsopts: '', oflags: { sync: false, direct: false }, blockSize: 512, readonly: false }, (err, d) => (err ? rej(err) : res(d!))));
  assert.equal(dev.size, 4096);
  const into = Buffer.alloc(1024, 0xee);
  const err = await new Promise((res) => dev.read(1024, into, res));
  assert.equal(err, null);
  assert.deepEqual(into, Buffer.alloc(1024, 3));
});

test('file path and npm package modules, fresh import after unload', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'stgt-reg-'));
  try {
    const file = join(dir, 'bs-foo.mjs');
    const src = (v: number) => `export default { kind: 'bs', apiVersion: 2, name: 'foo', init() { return { v: ${v}, open() {} }; } };\n`;
    writeFileSync(file, src(1));
    const pkg = join(dir, 'node_modules', 'stgt-bs-bar');
    mkdirSync(pkg, { recursive: true });
    writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'stgt-bs-bar', main: 'index.mjs' }));
    writeFileSync(join(pkg, 'index.mjs'), "export default { kind: 'bs', apiVersion: 1, name: 'bar', init: () => ({ open() {} }) };\n");

    const { reg } = makeRegistry({}, [dir]);
    const e = await reg.load('bs', file);
    assert.equal(e.name, 'foo', 'keyed by the declared name');
    assert.equal(e.source, file);
    assert.equal((e.instance as { v: number }).v, 1);
    await reg.unload('bs', 'foo');
    writeFileSync(file, src(2));
    const again = await reg.load('bs', file);
    assert.equal((again.instance as { v: number }).v, 2, 'imported fresh');

    const bar = await reg.load('bs', 'stgt-bs-bar');
    assert.equal(bar.name, 'bar');
    assert.equal(bar.source, join(pkg, 'index.mjs'));
    assert.equal(await reg.load('bs', 'stgt-bs-bar'), bar, 'found again by its package name');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
