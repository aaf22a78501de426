// Module registry: load/unload, API-version check, states and use counts of LLDs and backing stores (design.md §2; seed 000_8f5109d86dea3ca1).
//
// Every module, built-in or third-party, is a plain object `{ kind, apiVersion, name, init(ctx) }`
// exported as `default`. Loading imports it (so its heavy dependencies are only loaded then),
// checks kind and apiVersion, and runs init. States are tgt's words: uninitialized, ready, error,
// stopped. A failed init leaves the entry in 'error' with its reason, and a later load or start
// retries it with a fresh import, so an admin can fix the cause without restarting tgtd.
import { createRequire } from 'node:module';
import { basename, extname, isAbsolute, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BS_API_VERSION } from '../bs/api.js';
import { adaptV1Store } from '../bs/adapt-v1.js';
import { LLD_API_VERSION } from '../lld/api.js';
import { ModuleError } from './module-error.js';

export { ModuleError, type ModuleErrorReason } from './module-error.js';

export type ModuleKind = 'lld' | 'bs';
export type ModuleState = 'uninitialized' | 'ready' | 'error' | 'stopped';

export interface ModuleEntry {
  kind: ModuleKind;
  /** The module's declared name (what `--lld` / `--bstype` use). */
  name: string;
  /** Where it came from: "builtin:NAME", a resolved file path. */
  source: string;
  state: ModuleState;
  /** Why the last load/init failed (null when it did not). */
  error: string | null;
  /** What init returned (LldDriver / BackingStore), null unless ready. */
  instance: unknown | null;
  /** The module object (default export), null if the import itself failed. */
  module: unknown | null;
  /** Targets (LLD) or LUs (bs) using it; unload/stop are refused while > 0. */
  useCount: number;
}

export type Importer = () => Promise<unknown>;

export interface RegistryOptions {
  /** Lazy imports of the built-in modules by name, e.g. { bs: { rdwr: () => import('../bs/rdwr.js') } }. */
  builtins: { lld: Record<string, Importer>; bs: Record<string, Importer> };
  /** Directories npm package names resolve from (node_modules lookup starts in each). */
  moduleDirs: string[];
  /** The ctx passed to init (LldContext / BsContext), built by the daemon. */
  makeContext: (kind: ModuleKind, name: string) => unknown;
  log?: (level: 'debug' | 'info' | 'warn' | 'error', msg: string) => void;
  /** API versions this daemon speaks (defaults: the contracts' current versions). */
  apiVersions?: { lld: number; bs: number };
  /**
   * Older contract versions still loaded, each with the function that wraps what its init returns
   * into the current contract (default: backing-store v1 through bs/adapt-v1.ts).
   */
  olderVersions?: { lld: Record<number, (instance: unknown) => unknown>; bs: Record<number, (instance: unknown) => unknown> };
}

interface ModuleShape {
  kind: string;
  apiVersion: number;
  name: string;
  init(ctx: unknown): unknown;
}

const errText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export class ModuleRegistry {
  private readonly entries = { lld: new Map<string, ModuleEntry>(), bs: new Map<string, ModuleEntry>() };
  /** How many times each source was imported: the next import of a file gets `?v=N` to bypass the cache. */
  private readonly importCount = new Map<string, number>();
  /** Serialises operations per kind+name so a load never races an unload of the same module. */
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly versions: { lld: number; bs: number };
  private readonly older: NonNullable<RegistryOptions['olderVersions']>;

  constructor(private readonly opts: RegistryOptions) {
    this.versions = opts.apiVersions ?? { lld: LLD_API_VERSION, bs: BS_API_VERSION };
    this.older = opts.olderVersions ?? { lld: {}, bs: { 1: adaptV1Store } };
  }

  get(kind: ModuleKind, name: string): ModuleEntry | undefined {
    return this.entries[kind].get(name);
  }

  /** Entries in load order. */
  list(kind: ModuleKind): ModuleEntry[] {
    return [...this.entries[kind].values()];
  }

  /**
   * Loads a module by built-in name, npm package name, or absolute .js/.mjs path, and inits it.
   * Already ready: returns the entry. Failure: the entry stays with state 'error' and the promise
   * rejects with a ModuleError ('load-failed' for import/contract problems, 'exists' for a name
   * clash, 'init-failed' for init).
   */
  load(kind: ModuleKind, nameOrPath: string): Promise<ModuleEntry> {
    const key = this.keyFor(kind, nameOrPath);
    return this.serial(kind, key, async () => {
      const resolved = this.resolveSource(kind, nameOrPath);
      const existing = this.findBySourceOrName(kind, resolved, key);
      if (existing !== undefined && existing.state === 'ready') return existing;
      return this.importAndInit(kind, key, existing?.source ?? resolved, existing);
    });
  }

  /** `--mode lld --op start`: re-imports and inits unless already ready. */
  start(kind: ModuleKind, name: string): Promise<ModuleEntry> {
    return this.serial(kind, name, async () => {
      const e = this.require(kind, name);
      if (e.state === 'ready') return e;
      return this.importAndInit(kind, name, e.source, e);
    });
  }

  /** `--mode lld --op stop`: exit() and mark 'stopped'; refused while in use ('busy', tgt's TGTADM_DRIVER_ACTIVE). */
  stop(kind: ModuleKind, name: string): Promise<ModuleEntry> {
    return this.serial(kind, name, async () => {
      const e = this.require(kind, name);
      if (e.useCount > 0) throw new ModuleError('busy');
      if (e.state === 'ready') {
        await this.exitInstance(e);
        e.state = 'stopped';
      }
      return e;
    });
  }

  /** bsunload / lldunload: exit() and forget the module; refused while in use. */
  unload(kind: ModuleKind, name: string): Promise<void> {
    return this.serial(kind, name, async () => {
      const e = this.require(kind, name);
      if (e.useCount > 0) throw new ModuleError('busy');
      if (e.state === 'ready') await this.exitInstance(e);
      this.entries[kind].delete(name);
    });
  }

  /** Takes a reference for a target/LU; only a ready module can be used (tgt: "can't find the driver"). */
  acquire(kind: ModuleKind, name: string): ModuleEntry {
    const e = this.entries[kind].get(name);
    if (e === undefined) throw new ModuleError('not-found');
    if (e.state !== 'ready') throw new ModuleError('not-ready');
    e.useCount++;
    return e;
  }

  release(kind: ModuleKind, name: string): void {
    const e = this.entries[kind].get(name);
    if (e !== undefined && e.useCount > 0) e.useCount--;
  }

  // ---- internals ----

  private require(kind: ModuleKind, name: string): ModuleEntry {
    const e = this.entries[kind].get(name);
    if (e === undefined) throw new ModuleError('not-found');
    return e;
  }

  private serial<T>(kind: ModuleKind, name: string, fn: () => Promise<T>): Promise<T> {
    const q = `${kind}:${name}`;
    const prev = this.queues.get(q) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.queues.set(q, tail);
    void tail.then(() => {
      if (this.queues.get(q) === tail) this.queues.delete(q);
    });
    return run;
  }

  /** The provisional registry key before the module has told its name: a path's basename. */
  private keyFor(kind: ModuleKind, nameOrPath: string): string {
    if (Object.prototype.hasOwnProperty.call(this.opts.builtins[kind], nameOrPath)) return nameOrPath;
    if (isAbsolute(nameOrPath)) return basename(nameOrPath, extname(nameOrPath));
    return nameOrPath;
  }

  private findBySourceOrName(kind: ModuleKind, source: string, key: string): ModuleEntry | undefined {
    for (const e of this.entries[kind].values()) if (e.source === source) return e;
    return this.entries[kind].get(key);
  }

  private resolveSource(kind: ModuleKind, nameOrPath: string): string {
    if (Object.prototype.hasOwnProperty.call(this.opts.builtins[kind], nameOrPath)) return `builtin:${nameOrPath}`;
    if (isAbsolute(nameOrPath)) return nameOrPath;
    for (const dir of this.opts.moduleDirs) {
      try {
        return createRequire(join(dir, 'noop.js')).resolve(nameOrPath);
      } catch {
        // not in this directory; try the next
      }
    }
    return `unresolved:${nameOrPath}`;
  }

  private async importSource(kind: ModuleKind, source: string): Promise<unknown> {
    if (source.startsWith('builtin:')) {
      const thunk = this.opts.builtins[kind][source.slice('builtin:'.length)];
      if (thunk === undefined) throw new Error(`no built-in ${kind} module ${source.slice(8)}`);
      return thunk();
    }
    if (source.startsWith('unresolved:')) {
      throw new Error(`cannot find ${kind} module ${source.slice(11)} (searched ${this.opts.moduleDirs.join(', ') || 'nothing'})`);
    }
    const n = this.importCount.get(source) ?? 0;
    this.importCount.set(source, n + 1);
    const url = pathToFileURL(source).href + (n > 0 ? `?v=${n}` : '');
    return import(url);
  }

  private validate(kind: ModuleKind, ns: unknown, source: string): ModuleShape {
    let m = (ns as { default?: unknown } | null)?.default;
    // A module compiled to CommonJS (TypeScript, Babel: `exports.default` beside `__esModule`), as
    // the installed tgtd's own built-in ones are, has module.exports as import()'s default.
    const cjs = m as { __esModule?: unknown; default?: unknown } | null | undefined;
    if (cjs !== null && typeof cjs === 'object' && cjs.__esModule === true && cjs.default !== null && typeof cjs.default === 'object') m = cjs.default;
    if (m === null || typeof m !== 'object') throw new Error(`${source} has no default export module object`);
    const o = m as Partial<ModuleShape>;
    if (typeof o.name !== 'string' || o.name.length === 0 || typeof o.init !== 'function') {
      throw new Error(`${source} is not a module: it needs a name and an init function`);
    }
    if (o.kind !== kind) throw new Error(`module ${o.name} is a ${String(o.kind)} module, not ${kind}`);
    if (o.apiVersion !== this.versions[kind] && this.older[kind][o.apiVersion as number] === undefined) {
      const all = [...Object.keys(this.older[kind]).map(Number), this.versions[kind]].sort((a, b) => a - b);
      throw new Error(`module ${o.name} has API version ${String(o.apiVersion)}, this tgtd supports ${all.join(' and ')}`);
    }
    return o as ModuleShape;
  }

  private async importAndInit(
    kind: ModuleKind,
    key: string,
    source: string,
    existing: ModuleEntry | undefined,
  ): Promise<ModuleEntry> {
    const map = this.entries[kind];
    const entry: ModuleEntry = existing ?? {
      kind, name: key, source, state: 'uninitialized', error: null, instance: null, module: null, useCount: 0,
    };
    if (existing === undefined) map.set(key, entry);
    let mod: ModuleShape;
    try {
      mod = this.validate(kind, await this.importSource(kind, source), source);
    } catch (e) {
      entry.state = 'error';
      entry.error = errText(e);
      entry.instance = null;
      this.opts.log?.('error', `${kind} ${entry.name}: ${entry.error}`);
      throw new ModuleError('load-failed', entry.error);
    }
    // Re-key a path load under the name the module declares.
    if (mod.name !== entry.name) {
      const clash = map.get(mod.name);
      if (clash !== undefined && clash !== entry) {
        if (existing === undefined) map.delete(key);
        throw new ModuleError('exists', `a ${kind} module named ${mod.name} is already loaded`);
      }
      map.delete(entry.name);
      entry.name = mod.name;
      map.set(mod.name, entry);
    }
    entry.module = mod;
    entry.state = 'uninitialized';
    try {
      const instance = await mod.init(this.opts.makeContext(kind, mod.name));
      const adapt = mod.apiVersion === this.versions[kind] ? undefined : this.older[kind][mod.apiVersion];
      entry.instance = adapt === undefined ? instance : adapt(instance);
      entry.state = 'ready';
      entry.error = null;
      this.opts.log?.('info', `${kind} ${mod.name} ready`);
      return entry;
    } catch (e) {
      entry.state = 'error';
      entry.error = errText(e);
      entry.instance = null;
      this.opts.log?.('error', `${kind} ${mod.name}: init failed: ${entry.error}`);
      throw new ModuleError('init-failed', entry.error);
    }
  }

  private async exitInstance(e: ModuleEntry): Promise<void> {
    const inst = e.instance as { exit?: () => unknown } | null;
    e.instance = null;
    try {
      await inst?.exit?.();
    } catch (err) {
      this.opts.log?.('warn', `${e.kind} ${e.name}: exit failed: ${errText(err)}`);
    }
  }
}
