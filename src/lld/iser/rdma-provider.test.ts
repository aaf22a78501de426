// Unit tests of the RDMA provider loader: interface version check and shape check with fake addon objects.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  checkProvider, findAddon, loadRdmaProvider, probeRdma, RDMA_PROVIDER_VERSION, RdmaUnavailable, WC_STRIDE, WcOpcode, WcStatus,
} from './rdma-provider.js';

const fn = (): never => {
  throw new Error('not called');
};
const v2 = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  providerVersion: RDMA_PROVIDER_VERSION, listDevices: () => [], cmProbe: () => '', createEndpoint: fn, ...over,
});

test('provider interface is version 2', () => {
  assert.equal(RDMA_PROVIDER_VERSION, 2);
});

test('checkProvider: a complete v2 object passes', () => {
  assert.equal(checkProvider(v2(), '/a.node'), '');
});

test('checkProvider: a v1 addon (no createEndpoint) is refused for its version, with the rebuild hint', () => {
  const v1 = { providerVersion: 1, listDevices: () => [], cmProbe: () => '' };
  assert.equal(
    checkProvider(v1, '/a.node'),
    'RDMA addon has provider version 1, this iser LLD needs 2 (rebuild: npm run build:native)',
  );
  assert.match(checkProvider(v2({ providerVersion: 3 }), '/a.node'), /provider version 3, this iser LLD needs 2/);
});

test('checkProvider: not an object, no version, missing functions', () => {
  assert.equal(checkProvider(null, '/a.node'), '/a.node is not an RDMA provider');
  assert.equal(checkProvider(42, '/a.node'), '/a.node is not an RDMA provider');
  assert.equal(checkProvider({ listDevices: fn }, '/a.node'), '/a.node is not an RDMA provider (no providerVersion)');
  assert.equal(
    checkProvider(v2({ createEndpoint: undefined, cmProbe: 'x' }), '/a.node'),
    '/a.node is not an RDMA provider (missing cmProbe, createEndpoint)',
  );
});

test('loadRdmaProvider: returns the addon object itself; require failures and bad addons become RdmaUnavailable', () => {
  const addon = v2();
  let asked = '';
  assert.equal(loadRdmaProvider('/x.node', (p) => ((asked = p), addon)), addon);
  assert.equal(asked, '/x.node');
  assert.throws(
    () => loadRdmaProvider('/x.node', () => { throw new Error('librdmacm.so.1: cannot open shared object file'); }),
    (e: unknown) => e instanceof RdmaUnavailable && e.message === 'cannot load RDMA addon /x.node: librdmacm.so.1: cannot open shared object file',
  );
  assert.throws(() => loadRdmaProvider('/x.node', () => v2({ providerVersion: 1 })), RdmaUnavailable);
});

test('probeRdma: a wrong version is refused before any addon function runs', () => {
  let called = false;
  const spy = (): never => {
    called = true;
    throw new Error('must not run');
  };
  const addon = { providerVersion: 1, listDevices: spy, cmProbe: spy, createEndpoint: spy };
  assert.throws(
    () => probeRdma({ addonPath: '/x.node', sysfs: () => ['rxe0'], requireAddon: () => addon }),
    /provider version 1, this iser LLD needs 2/,
  );
  assert.equal(called, false);
});

test('completion constants are verbs.h values', () => {
  assert.deepEqual(WcOpcode, { Send: 0, RdmaWrite: 1, RdmaRead: 2, Recv: 128 });
  assert.equal(WcStatus.Success, 0);
  assert.equal(WcStatus.WrFlushErr, 5);
  assert.equal(WcStatus.RemAccessErr, 10);
  assert.equal(WcStatus.RnrRetryExcErr, 13);
  assert.equal(WC_STRIDE, 5);
});

// The real addon when `npm run build:native` built it (CI does): its v2 entry points fail cleanly
// on a machine without an RDMA CM — an Error with errno, nothing left behind, no crash.
const here = dirname(fileURLToPath(import.meta.url));
const built = findAddon(here, {});
test('real addon: v2 shape; createEndpoint validates handlers and throws with errno where RDMA CM is missing', { skip: built === null ? 'addon not built (npm run build:native)' : false }, () => {
  const p = loadRdmaProvider(built!, (x) => createRequire(import.meta.url)(x) as unknown);
  assert.throws(() => p.createEndpoint({} as never), /handlers.onCmEvents and handlers.onCompletions must be functions/);
  const handlers = { onCmEvents: () => {}, onCompletions: () => {} };
  if (p.cmProbe() === '') return; // a machine with RDMA: the VM test covers endpoints
  for (let k = 0; k < 3; k++) {
    assert.throws(() => p.createEndpoint(handlers), (e: unknown) => {
      const err = e as Error & { errno?: number; syscall?: string };
      assert.equal(typeof err.errno, 'number');
      assert.equal(err.syscall, 'rdma_create_event_channel');
      return true;
    });
  }
});
