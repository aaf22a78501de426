// Where an optional native addon (native/<name>/build/Release/<file>.node, built by npm run build:native) is found at run time.
//
// A leaf every layer may use: the modules that load an addon (lld/iser, bs/rbd) call it; it
// imports nothing from src/.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * `env[envVar]` when set (null if that file does not exist), else `relative` (e.g.
 * native/rdma/build/Release/stgt_rdma.node) in the nearest ancestor of `fromDir` that has it,
 * so the same code works from src/ and from dist/src/.
 */
export function findAddon(
  relative: string, envVar: string, fromDir: string, env: Readonly<Record<string, string | undefined>> = process.env,
): string | null {
  const override = env[envVar];
  if (override !== undefined && override !== '') return existsSync(override) ? override : null;
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const p = join(dir, relative);
    if (existsSync(p)) return p;
    if (dirname(dir) === dir) return null;
  }
}

/**
 * '' when `o` is the `name` addon of interface `version` with every function in `functions`, else
 * why not, in the words the module reports (`user`: "this store", "this LLD").
 */
export function checkAddon(o: unknown, name: string, version: number, user: string, functions: readonly string[]): string {
  if (o === null || typeof o !== 'object') return `${name} addon exports no object`;
  const a = o as Record<string, unknown>;
  if (a['addonVersion'] !== version) {
    return `${name} addon has interface version ${String(a['addonVersion'])}, ${user} needs ${version} (rebuild: npm run build:native)`;
  }
  const missing = functions.filter((f) => typeof a[f] !== 'function');
  if (missing.length > 0) return `${name} addon lacks ${missing.join(', ')} (rebuild: npm run build:native)`;
  return '';
}
