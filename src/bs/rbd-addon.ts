// The rbd store's view of its native addon (native/rbd, interface v1): finding it, loading it, checking its version.
//
// Only src/bs/rbd.ts imports this, and only inside the module's init, so a daemon that never loads
// the rbd store never maps librbd. Without the addon (librbd-dev missing at build time) or without
// librbd at run time, loading fails with a reason that names the fix.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { checkAddon, findAddon } from '../native/find-addon.js';

/** The addon interface this store speaks (native/rbd/src/common.h kAddonVersion). */
export const RBD_ADDON_VERSION = 1;

export const RBD_ADDON_RELATIVE = join('native', 'rbd', 'build', 'Release', 'stgt_rbd.node');

export const RBD_BUILD_HINT = 'apt-get install librbd-dev librados-dev, then npm run build:native';

/** Opaque handles the addon hands out (napi externals with a type tag). */
export type AddonContext = { readonly __brand: 'rbd-context' };
export type AddonCluster = { readonly __brand: 'rbd-cluster' };
export type AddonImage = { readonly __brand: 'rbd-image' };

/** Failure of a control call: the librados/librbd step and its errno. */
export interface AddonError extends Error {
  errno?: number;
  step?: string;
}

export interface ConnectOptions {
  /** Cluster name (bsopts cluster=), '' for "ceph". */
  cluster: string;
  /** Entity name, "client.<id>". */
  name: string;
  /** ceph.conf path, '' for Ceph's default search ($CEPH_CONF, /etc/ceph/$cluster.conf, ...). */
  conf: string;
  /** cephx secret (bsopts cephx_key= or the libvirt secret), '' to use the keyring. */
  key: string;
  /** [option, value Ceph ships, ours]: ours is set only where the configuration kept Ceph's value. */
  defaults: [string, string, string][];
  /** Options always set. */
  set: [string, string][];
}

export interface RbdAddon {
  addonVersion: number;
  stride: number;
  batch: number;
  librbdVersion: string;
  /** True when this build has the submission thread (createContext's third argument); older v1 builds lack it. */
  submitThread?: boolean;
  createContext(handler: (n: number) => void, batch: Float64Array, submitThread?: boolean): AddonContext;
  closeContext(ctx: AddonContext): void;
  connect(opts: ConnectOptions, cb: (err: AddonError | null, cluster?: AddonCluster) => void): void;
  shutdown(cluster: AddonCluster, cb: (err: AddonError | null) => void): void;
  open(
    ctx: AddonContext,
    cluster: AddonCluster,
    opts: { pool: string; image: string; snap: string; readOnly: boolean; token: number },
    cb: (err: AddonError | null, r?: { image: AddonImage; size: number; objectSize: number }) => void,
  ): void;
  close(image: AddonImage, cb: (err: AddonError | null) => void): void;
  size(image: AddonImage, cb: (err: AddonError | null, bytes?: number) => void): void;
  /** 0 or -errno. */
  watch(image: AddonImage): number;
  /** Image metadata whose keys start with `prefix`, as [key, value, key, value...]. */
  metaList?(image: AddonImage, prefix: string, cb: (err: AddonError | null, kv?: string[]) => void): void;
  /**
   * Sets `key` to `value` (null: removes it) and `key`.version to `next` if the header's version of
   * `key` is `expect` ('' for none), atomically; else fails with errno ECANCELED and writes nothing.
   * Then notifies the image's watchers (a header update).
   */
  metaSwap?(image: AddonImage, key: string, expect: string, next: string, value: string | null, cb: (err: AddonError | null) => void): void;
  /** The data extents in [offset, offset + length) as [offset, length, ...], in order (rbd_diff_iterate2). Absent in older builds. */
  extents?(image: AddonImage, offset: number, length: number, cb: (err: AddonError | null, ext?: number[]) => void): void;
  /** 0 (queued) or -errno (refused, no completion will come). */
  read(image: AddonImage, offset: number, into: Buffer, id: number): number;
  write(image: AddonImage, offset: number, data: readonly Buffer[], id: number): number;
  discard(image: AddonImage, offset: number, length: number, id: number): number;
  flush(image: AddonImage, id: number): number;
}

/** Completion kinds in a batch (common.h Kind). */
export const KIND_IO_DONE = 0;
export const KIND_IMAGE_UPDATED = 1;

const FUNCTIONS = ['createContext', 'closeContext', 'connect', 'shutdown', 'open', 'close', 'size', 'watch', 'read', 'write',
  'discard', 'flush'] as const;


/** $STGT_RBD_ADDON, else native/rbd/build/Release/stgt_rbd.node in the nearest ancestor of `fromDir` holding one. */
export function findRbdAddon(fromDir: string, env: Readonly<Record<string, string | undefined>> = process.env): string | null {
  return findAddon(RBD_ADDON_RELATIVE, 'STGT_RBD_ADDON', fromDir, env);
}

/** '' when `o` is an addon of this interface version, else why not. */
export function checkRbdAddon(o: unknown): string {
  return checkAddon(o, 'rbd', RBD_ADDON_VERSION, 'this store', FUNCTIONS);
}

/** Loads and checks the addon; throws an Error whose message is the reason (becomes `rbd: error`). */
export function loadRbdAddon(path: string | null, requireAddon: (p: string) => unknown = createRequire(import.meta.url)): RbdAddon {
  if (path === null) throw new Error(`rbd addon not built (${RBD_BUILD_HINT})`);
  let mod: unknown;
  try {
    mod = requireAddon(path);
  } catch (e) {
    // Typically built here but librbd1/librados2 are gone at run time.
    throw new Error(`cannot load rbd addon ${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const why = checkRbdAddon(mod);
  if (why !== '') throw new Error(why);
  return mod as RbdAddon;
}
