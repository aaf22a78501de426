// The host side of guest/iscsi-lib.sh's host_do: serves the guest's requests (req-NAME in a shared directory) with the test's actions, answering done-NAME or failed-NAME.
import fs from 'node:fs';
import path from 'node:path';

/**
 * Watches `dir` (a watcher, not a timer) and runs `actions[NAME]` once per request file req-NAME;
 * an unknown NAME fails. The guest's file is left alone (deleting it while the guest's 9p create
 * is still finishing fails the guest's write). Returns the names served so far and a stop function.
 */
export function serveHostRequests(dir: string, actions: Readonly<Record<string, () => Promise<void>>>, log: (msg: string) => void): {
  served: ReadonlySet<string>;
  stop: () => void;
} {
  const served = new Set<string>();
  const serve = (file: string | null): void => {
    if (file === null || !file.startsWith('req-')) return;
    const name = file.slice(4);
    if (served.has(name)) return;
    served.add(name);
    const act = actions[name];
    log(`host: ${name}`);
    (act ? act() : Promise.reject(new Error(`unknown request ${name}`))).then(
      () => fs.writeFileSync(path.join(dir, `done-${name}`), ''),
      (e: unknown) => fs.writeFileSync(path.join(dir, `failed-${name}`), String(e)),
    );
  };
  const watcher = fs.watch(dir, (_ev, f) => serve(f));
  return { served, stop: () => watcher.close() };
}
