// The rbd store's arguments in tgt's syntax: `-b [pool/]image[@snap]` and `--bsopts "conf=...;id=...;cluster=...;virsecretuuid=...;cephx_key=...;cache=..."`.
//
// Pure parsing, unit-tested in rbd-options.test.ts. tgt's bs_rbd splits bsopts on ';', ignores
// (and logs) keys it does not know, and refuses virsecretuuid together with cephx_key; the pool
// defaults to "rbd", as rbd(8) does. `cache=` is ours (tgt has no such key): `none` (the default)
// or `librbd`, librbd's client cache as ceph.conf configures it, for an image one gateway serves
// alone (README "rbd": two caches behind two ports of one LU are not coherent).
import { readFileSync } from 'node:fs';

export interface RbdPath {
  pool: string;
  image: string;
  /** '' when the LU is the image itself. */
  snap: string;
}

export interface RbdOpts {
  conf: string;
  /** Ceph user id without "client." ('' = Ceph's default, admin). */
  id: string;
  cluster: string;
  virsecretuuid: string;
  cephxKey: string;
  /** `librbd`: keep librbd's client cache; `none` (default): rbd_cache=false whatever ceph.conf says. */
  cache: RbdCache;
  /** Keys given that this store does not know (logged, ignored: tgt does the same). */
  unknown: string[];
}

export type RbdCache = 'none' | 'librbd';
const CACHE_VALUES: readonly string[] = ['none', 'librbd'] satisfies RbdCache[];

export const DEFAULT_POOL = 'rbd';

/** Parses `[pool/]image[@snap]`; throws with the reason when it is not one. */
export function parseRbdPath(path: string): RbdPath {
  const p = path.trim();
  if (p === '') throw new Error('rbd needs a backing-store path: [pool/]image[@snap]');
  const slash = p.indexOf('/');
  const pool = slash >= 0 ? p.slice(0, slash) : DEFAULT_POOL;
  const rest = slash >= 0 ? p.slice(slash + 1) : p;
  const at = rest.indexOf('@');
  const image = at >= 0 ? rest.slice(0, at) : rest;
  const snap = at >= 0 ? rest.slice(at + 1) : '';
  if (pool === '' || image === '' || (at >= 0 && snap === '') || rest.includes('/') || snap.includes('@')) {
    throw new Error(`bad rbd backing-store path "${path}": expected [pool/]image[@snap]`);
  }
  return { pool, image, snap };
}

/** Parses tgt's bs_rbd bsopts. */
export function parseRbdOpts(bsopts: string): RbdOpts {
  const o: RbdOpts = { conf: '', id: '', cluster: '', virsecretuuid: '', cephxKey: '', cache: 'none', unknown: [] };
  for (const raw of bsopts.split(';')) {
    const part = raw.trim();
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = eq >= 0 ? part.slice(0, eq).trim() : part;
    const value = eq >= 0 ? part.slice(eq + 1).trim() : '';
    switch (key) {
      case 'conf': o.conf = value; break;
      case 'id': o.id = value; break;
      case 'cluster': o.cluster = value; break;
      case 'virsecretuuid': o.virsecretuuid = value; break;
      case 'cephx_key': o.cephxKey = value; break;
      case 'cache':
        // A typo must not leave an admin with a cache they did not ask for (or without one they did).
        if (!CACHE_VALUES.includes(value)) throw new Error(`bad rbd option cache=${value}: expected cache=none or cache=librbd`);
        o.cache = value as RbdCache;
        break;
      default: o.unknown.push(part);
    }
  }
  if (o.virsecretuuid !== '' && o.cephxKey !== '') {
    throw new Error(`conflicting rbd options virsecretuuid=${o.virsecretuuid} and cephx_key=...: give one`);
  }
  if (o.virsecretuuid !== '' && !/^[0-9a-fA-F-]{8,64}$/.test(o.virsecretuuid)) {
    throw new Error(`bad virsecretuuid "${o.virsecretuuid}"`);
  }
  return o;
}

/** Where libvirt keeps a secret's value (base64 of the value, which for Ceph is the key itself). */
export const LIBVIRT_SECRETS = '/etc/libvirt/secrets';

/** The cephx key: cephx_key=, or the libvirt secret named by virsecretuuid=, or '' (use the keyring). */
export function cephxKey(o: RbdOpts, readFile: (p: string) => string = (p) => readFileSync(p, 'utf8')): string {
  if (o.cephxKey !== '') return o.cephxKey;
  if (o.virsecretuuid === '') return '';
  const file = `${LIBVIRT_SECRETS}/${o.virsecretuuid}.base64`;
  let text: string;
  try {
    text = readFile(file);
  } catch (e) {
    throw new Error(`cannot read libvirt secret ${file}: ${(e as Error).message}`);
  }
  const key = text.trim();
  if (key === '') throw new Error(`libvirt secret ${file} is empty`);
  return key;
}

/** Identity of a rados client: LUs with equal keys share one connection (the client cache is a setting of the connection). */
export function clusterKey(o: RbdOpts, key: string, rbdCache: boolean): string {
  return JSON.stringify([o.cluster, o.id, o.conf, key, rbdCache]);
}
