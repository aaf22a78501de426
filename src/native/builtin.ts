// A node: built-in loaded when first used instead of at start-up: what only some calls need
// (net in tgtadm, crypto for CHAP and designators, child_process to daemonize) is not paid for by
// every tgtadm call or tgtd start (BENCHMARKS.md "Start-up"). Beside find-addon.ts: a leaf every
// layer may use; it imports nothing from src/.
import { createRequire } from 'node:module';

/** The built-in `id`, typed by the caller: `builtin<typeof import('node:net')>('node:net')` (process.getBuiltinModule, Node >= 20.16; require before that). */
export function builtin<T>(id: `node:${string}`): T {
  return (process.getBuiltinModule?.(id) ?? createRequire(import.meta.url)(id)) as T;
}
