// Unit tests of the iser LLD module: argument parsing, the RDMA probe's reasons, and the real addon when built.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import iserModule, { initIser } from './module.js';
import { ISER_DEFAULTS, parseIserArgs } from './options.js';
import { usePostThread } from './driver.js';
import {
  findAddon, NO_DEVICE, probeRdma, RDMA_PROVIDER_VERSION, RdmaUnavailable, sysfsDevices, type ProbeDeps, type RdmaProvider,
} from './rdma-provider.js';
import { LLD_API_VERSION, type LldContext } from '../api.js';
import { LoopbackFabric } from './testing/loopback-provider.js';

const fakeProvider = (over: Partial<RdmaProvider> = {}): RdmaProvider => ({
  providerVersion: RDMA_PROVIDER_VERSION,
  listDevices: () => [{ name: 'rxe0', nodeGuid: '0000:0000:0000:0001', transport: 'InfiniBand' }],
  cmProbe: () => '',
  createEndpoint: () => { throw new Error('not used by these tests'); },
  ...over,
});

const deps = (over: Partial<ProbeDeps> = {}, provider: unknown = fakeProvider()): ProbeDeps => ({
  addonPath: '/x/stgt_rdma.node',
  sysfs: () => ['rxe0'],
  requireAddon: () => provider,
  ...over,
});

const ctx = (args = ''): LldContext & { lines: string[] } => {
  const lines: string[] = [];
  return { args, services: null, lines, log: (level, msg) => lines.push(`${level}: ${msg}`) };
};

test('module object declares the LLD contract', () => {
  assert.equal(iserModule.kind, 'lld');
  assert.equal(iserModule.name, 'iser');
  assert.equal(iserModule.apiVersion, LLD_API_VERSION);
});

test('--iser arguments: tgt keys parsed, unknown keys and bad values refused', () => {
  assert.deepEqual(parseIserArgs(''), ISER_DEFAULTS);
  assert.deepEqual(parseIserArgs('port=3261,nop=on,pool_sz_mb=64,buf_sz_kb=128,cq_vector=2,post_thread=off'), {
    port: 3261, portals: [], nop: true, poolSizeMb: 64, bufSizeKb: 128, cqVector: 2, postThread: 'off',
  });
  assert.throws(() => parseIserArgs('post_thread=yes'), /expected auto, on or off/);
  // auto: a thread for software RDMA only (rxe/siw post in the caller's system call).
  const dev = (name: string) => ({ name, nodeGuid: '0000:0000:0000:0000', transport: 'InfiniBand' });
  assert.equal(usePostThread('auto', [dev('rxe0')]), true);
  assert.equal(usePostThread('auto', [dev('mlx5_0')]), false);
  assert.equal(usePostThread('off', [dev('rxe0')]), false);
  assert.equal(usePostThread('on', [dev('mlx5_0')]), true);
  // stgt's portal= (repeatable, IPv6 in brackets) beside tgt's port=.
  assert.deepEqual(parseIserArgs('portal=10.0.2.15:3260,portal=[fd00::1]').portals, [
    { host: '10.0.2.15', port: 3260 }, { host: 'fd00::1', port: 3260 },
  ]);
  assert.throws(() => parseIserArgs('portal=1.2.3.4:x'), /portal=1.2.3.4:x: expected ADDR\[:PORT\]/);
  assert.throws(() => parseIserArgs('bogus=1'), /unknown argument 'bogus'/);
  assert.throws(() => parseIserArgs('port=70000'), /port=70000/);
  assert.throws(() => parseIserArgs('nop=yes'), /expected on or off/);
});

test('probe: addon not built -> reason names the packages and the build command', () => {
  assert.throws(() => probeRdma(deps({ addonPath: null })), (e: unknown) => {
    assert.ok(e instanceof RdmaUnavailable);
    assert.match(e.message, /^RDMA addon not built \(apt-get install libibverbs-dev librdmacm-dev, then npm run build:native\)$/);
    return true;
  });
});

test('probe: no /sys/class/infiniband entries -> no RDMA device, and the addon is never loaded', () => {
  let loaded = false;
  const d = deps({ sysfs: () => [], requireAddon: () => { loaded = true; return fakeProvider(); } });
  assert.throws(() => probeRdma(d), { message: NO_DEVICE });
  assert.equal(loaded, false);
});

test('probe: empty or failing ibv_get_device_list -> no RDMA device with the cause', () => {
  assert.throws(() => probeRdma(deps({}, fakeProvider({ listDevices: () => [] }))), { message: NO_DEVICE });
  const enosys = fakeProvider({ listDevices: () => { throw new Error('ibv_get_device_list: Function not implemented'); } });
  assert.throws(() => probeRdma(deps({}, enosys)), {
    message: `${NO_DEVICE}: ibv_get_device_list: Function not implemented`,
  });
});

test('probe: wrong provider version, not a provider, load failure, CM failure', () => {
  assert.throws(() => probeRdma(deps({}, fakeProvider({ providerVersion: 1 }))), /provider version 1, this iser LLD needs 2/);
  assert.throws(() => probeRdma(deps({}, { hello: 1 })), /is not an RDMA provider/);
  assert.throws(
    () => probeRdma(deps({ requireAddon: () => { throw new Error('libibverbs.so.1: cannot open'); } })),
    /cannot load RDMA addon \/x\/stgt_rdma.node: libibverbs.so.1: cannot open/,
  );
  assert.throws(() => probeRdma(deps({}, fakeProvider({ cmProbe: () => 'rdma_create_event_channel: No such device' }))),
    /RDMA connection manager unavailable \(load rdma_ucm\): rdma_create_event_channel: No such device/);
});

test('init with a working provider listens on the portals and serves targets', async () => {
  const fabric = new LoopbackFabric();
  const c = ctx('port=3262,portal=192.0.2.50:3263');
  const d = await initIser(c, deps({}, fabric.provider()));
  assert.equal(d.options.port, 3262);
  assert.deepEqual(d.devices.map((x) => x.name), ['loop0']);
  assert.match(c.lines[0]!, /^info: RDMA devices: loop0 \(InfiniBand\)$/);
  assert.equal(d.portalShow(), 'Portal: 192.0.2.50:3263,1\n');
  assert.equal(d.targetCreate(1).status, 'ok');
  await d.exit();
});

test('without portals iser listens on the wildcard addresses of its port', async () => {
  const d = await initIser(ctx('port=3264'), deps({}, new LoopbackFabric().provider()));
  assert.equal(d.portalShow(), 'Portal: 0.0.0.0:3264,1\nPortal: [::]:3264,1\n');
  await d.exit();
});

test('init reports a bad --iser argument before looking at RDMA', async () => {
  await assert.rejects(initIser(ctx('bogus=1'), deps({ addonPath: null })), /unknown argument 'bogus'/);
});

test('findAddon: env override, upward search, absent', () => {
  const root = mkdtempSync(join(tmpdir(), 'h5-addon-'));
  try {
    const deep = join(root, 'dist', 'src', 'lld', 'iser');
    mkdirSync(deep, { recursive: true });
    assert.equal(findAddon(deep, {}), null);
    const addon = join(root, 'native', 'rdma', 'build', 'Release', 'stgt_rdma.node');
    mkdirSync(dirname(addon), { recursive: true });
    writeFileSync(addon, '');
    assert.equal(findAddon(deep, {}), addon);
    assert.equal(findAddon(deep, { STGT_RDMA_ADDON: join(root, 'nope.node') }), null);
    assert.equal(findAddon('/', { STGT_RDMA_ADDON: addon }), addon);
    assert.deepEqual(sysfsDevices(join(root, 'missing')), []);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

// The real addon, when `npm run build:native` has built it: it must speak RDMA_PROVIDER_VERSION and,
// on a machine without RDMA (this one), fail listDevices or return [] and fail the CM probe.
const built = findAddon(dirname(fileURLToPath(import.meta.url)), {}) ?? findAddon(process.cwd(), {});
test('real addon: provider shape and behaviour without RDMA hardware', { skip: built === null ? 'addon not built' : false }, () => {
  const a = createRequire(import.meta.url)(built!) as RdmaProvider;
  assert.equal(a.providerVersion, RDMA_PROVIDER_VERSION);
  assert.equal(typeof a.cmProbe(), 'string');
  if (sysfsDevices().length === 0 && !existsSync('/dev/infiniband/uverbs0')) {
    let devs: unknown[] = [];
    try {
      devs = a.listDevices();
    } catch (e) {
      assert.match((e as Error).message, /^ibv_get_device_list: /);
    }
    assert.deepEqual(devs, []);
    assert.notEqual(a.cmProbe(), '');
  }
});
