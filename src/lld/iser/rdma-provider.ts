// The iser LLD's RDMA provider: a small interface over the optional native addon (native/rdma; RFC 7145 §5 needs RDMA CM + verbs).
//
// The interface is what the iSER transport will be written against, so tests can substitute a fake
// provider (design.md §3). Version 1 only discovers devices and probes the connection manager; the
// event channel, queue pairs and registered buffer pools join it with the transport.
//
// The addon is loaded with createRequire inside `loadRdmaProvider`, which only the iser module's
// init calls: a tgtd that never loads iser never maps libibverbs or librdmacm (seed 000).
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The provider interface version this LLD speaks; the addon exports its own as `providerVersion`. */
export const RDMA_PROVIDER_VERSION = 1;

export interface RdmaDevice {
  /** Kernel device name, e.g. "rxe0", "mlx5_0" (ibv_get_device_name). */
  name: string;
  /** Node GUID as ibv_devinfo prints it, "xxxx:xxxx:xxxx:xxxx". */
  nodeGuid: string;
  /** "InfiniBand" (also RoCE and rxe), "iWARP" (also siw), ... */
  transport: string;
}

export interface RdmaProvider {
  readonly providerVersion: number;
  /** ibv_get_device_list(3); throws when the kernel has no verbs support (e.g. ENOSYS). */
  listDevices(): RdmaDevice[];
  /** '' when an RDMA CM event channel can be created (rdma_create_event_channel(3)), else why not. */
  cmProbe(): string;
}

/** Where the addon is looked for, relative to a directory: node-gyp's output inside native/rdma. */
export const ADDON_RELATIVE = join('native', 'rdma', 'build', 'Release', 'stgt_rdma.node');

/** The hint every "not built" reason carries: what an operator runs to fix it. */
export const BUILD_HINT = 'apt-get install libibverbs-dev librdmacm-dev, then npm run build:native';

/** Why RDMA cannot be used (the text becomes the LLD's error reason, shown by tgtd's log). */
export class RdmaUnavailable extends Error {}

/**
 * Finds the built addon: $STGT_RDMA_ADDON if set, else native/rdma/build/Release/stgt_rdma.node in
 * the nearest ancestor of `fromDir` that has one (works from src/ and from dist/src/).
 */
export function findAddon(fromDir: string, env: Readonly<Record<string, string | undefined>> = process.env): string | null {
  const override = env['STGT_RDMA_ADDON'];
  if (override !== undefined && override !== '') return existsSync(override) ? override : null;
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const p = join(dir, ADDON_RELATIVE);
    if (existsSync(p)) return p;
    if (dirname(dir) === dir) return null;
  }
}

/** RDMA devices the kernel registered (/sys/class/infiniband/*); [] when the class does not exist. */
export function sysfsDevices(dir = '/sys/class/infiniband'): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

export const NO_DEVICE = 'no RDMA device (load rdma_rxe or an RDMA NIC driver)';

export interface ProbeDeps {
  /** Path of the addon, or null if not built. */
  addonPath: string | null;
  /** Names in /sys/class/infiniband. */
  sysfs: () => string[];
  /** Loads the addon file (createRequire in production). */
  requireAddon: (path: string) => unknown;
}

export interface ProbeResult {
  provider: RdmaProvider;
  devices: RdmaDevice[];
}

function isProvider(x: unknown): x is RdmaProvider {
  const o = x as Partial<RdmaProvider> | null;
  return o !== null && typeof o === 'object' && typeof o.listDevices === 'function' && typeof o.cmProbe === 'function';
}

/**
 * Loads the provider and checks that RDMA is usable; throws RdmaUnavailable with the reason.
 * Cheap checks first, so a machine without RDMA hardware never maps the verbs libraries.
 */
export function probeRdma(deps: ProbeDeps): ProbeResult {
  if (deps.addonPath === null) throw new RdmaUnavailable(`RDMA addon not built (${BUILD_HINT})`);
  if (deps.sysfs().length === 0) throw new RdmaUnavailable(NO_DEVICE);
  let provider: unknown;
  try {
    provider = deps.requireAddon(deps.addonPath);
  } catch (e) {
    // Typically the addon was built but rdma-core's runtime libraries are gone.
    throw new RdmaUnavailable(`cannot load RDMA addon ${deps.addonPath}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!isProvider(provider)) throw new RdmaUnavailable(`${deps.addonPath} is not an RDMA provider`);
  if (provider.providerVersion !== RDMA_PROVIDER_VERSION) {
    throw new RdmaUnavailable(
      `RDMA addon has provider version ${String(provider.providerVersion)}, this iser LLD needs ${RDMA_PROVIDER_VERSION} (rebuild: npm run build:native)`,
    );
  }
  let devices: RdmaDevice[];
  try {
    devices = provider.listDevices();
  } catch (e) {
    throw new RdmaUnavailable(`${NO_DEVICE}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (devices.length === 0) throw new RdmaUnavailable(NO_DEVICE);
  const cm = provider.cmProbe();
  if (cm !== '') throw new RdmaUnavailable(`RDMA connection manager unavailable (load rdma_ucm): ${cm}`);
  return { provider, devices };
}

/** The production dependencies: the addon beside this package, the real sysfs, Node's require. */
export function defaultProbeDeps(env: Readonly<Record<string, string | undefined>> = process.env): ProbeDeps {
  const here = dirname(fileURLToPath(import.meta.url));
  return {
    addonPath: findAddon(here, env),
    sysfs: () => sysfsDevices(),
    requireAddon: (path) => createRequire(import.meta.url)(path) as unknown,
  };
}
