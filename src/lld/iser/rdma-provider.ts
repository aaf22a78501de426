// The iser LLD's RDMA provider loader: finds the optional native addon (native/rdma), checks its interface version, probes RDMA (RFC 7145 §5).
//
// The interface itself (v2: endpoints, CM events, registered pools, work requests, completion
// batches) is in rdma-provider-api.ts, so that tests can substitute a fake provider (design.md §3;
// testing/loopback-provider.ts). An addon that speaks another version is refused with a reason
// that says which version it has and how to rebuild, before any of its functions is called.
//
// The addon is loaded with createRequire inside `loadRdmaProvider`/`probeRdma`, which only the iser
// module's init calls: a tgtd that never loads iser never maps libibverbs or librdmacm (seed 000).
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { RdmaDevice, RdmaProvider } from './rdma-provider-api.js';
import { findAddon as findNativeAddon } from '../../native/find-addon.js';

export * from './rdma-provider-api.js';

/** The provider interface version this LLD speaks; the addon exports its own as `providerVersion`. */
export const RDMA_PROVIDER_VERSION = 2;

/** What an addon of RDMA_PROVIDER_VERSION must export as functions. */
const PROVIDER_FUNCTIONS = ['listDevices', 'cmProbe', 'createEndpoint'] as const;

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
  return findNativeAddon(ADDON_RELATIVE, 'STGT_RDMA_ADDON', fromDir, env);
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

/**
 * Checks what `require` returned: an object of this interface version with every function.
 * Returns '' or why not (the version first: a v1 addon lacks createEndpoint, and "rebuild it" is
 * the useful answer, not "not a provider").
 */
export function checkProvider(x: unknown, path: string): string {
  if (x === null || typeof x !== 'object') return `${path} is not an RDMA provider`;
  const o = x as Record<string, unknown>;
  if (typeof o['providerVersion'] !== 'number') return `${path} is not an RDMA provider (no providerVersion)`;
  if (o['providerVersion'] !== RDMA_PROVIDER_VERSION) {
    return `RDMA addon has provider version ${String(o['providerVersion'])}, this iser LLD needs ${RDMA_PROVIDER_VERSION} (rebuild: npm run build:native)`;
  }
  const missing = PROVIDER_FUNCTIONS.filter((f) => typeof o[f] !== 'function');
  if (missing.length > 0) return `${path} is not an RDMA provider (missing ${missing.join(', ')})`;
  return '';
}

/** Requires the addon at `path` and checks it; throws RdmaUnavailable with the reason. */
export function loadRdmaProvider(path: string, requireAddon: (path: string) => unknown): RdmaProvider {
  let provider: unknown;
  try {
    provider = requireAddon(path);
  } catch (e) {
    // Typically the addon was built but rdma-core's runtime libraries are gone.
    throw new RdmaUnavailable(`cannot load RDMA addon ${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const why = checkProvider(provider, path);
  if (why !== '') throw new RdmaUnavailable(why);
  return provider as RdmaProvider;
}

/**
 * Loads the provider and checks that RDMA is usable; throws RdmaUnavailable with the reason.
 * Cheap checks first, so a machine without RDMA hardware never maps the verbs libraries.
 */
export function probeRdma(deps: ProbeDeps): ProbeResult {
  if (deps.addonPath === null) throw new RdmaUnavailable(`RDMA addon not built (${BUILD_HINT})`);
  if (deps.sysfs().length === 0) throw new RdmaUnavailable(NO_DEVICE);
  const provider = loadRdmaProvider(deps.addonPath, deps.requireAddon);
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
