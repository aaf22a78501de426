// Whether this checkout's native/io addon is built with what tgtd --workers needs (ReadWatch, native/io/src/peek.cc); tests of --workers skip without it.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { repoRoot } from './daemon.js';

export function haveReadWatch(): boolean {
  const path = join(repoRoot(), 'native', 'io', 'build', 'Release', 'stgt_io.node');
  if (!existsSync(path)) return false;
  try {
    return typeof (createRequire(import.meta.url)(path) as { ReadWatch?: unknown }).ReadWatch === 'function';
  } catch {
    return false;
  }
}
