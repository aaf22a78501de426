// SPC-4 5.13.5 APTPL: where a logical unit's persistent reservation state lives between daemon runs, written atomically.
//
// A file LU keeps it beside its backing file: "<path>.stgt-pr". Every other LU (no path, a block
// device, an rbd image, a null or memory store) keeps it under the state directory, named after the
// target and the LUN, which is how an administrator creates the LU again: "<dir>/<target
// name>,<lun>.stgt-pr" (the directory is TargetOptions.prStateDir, else STGT_PR_DIR, else
// /var/lib/stgt/pr). The state is JSON (registrations, reservation, PRgeneration, APTPL). A write
// goes to "<file>.tmp", is fsynced, renamed over the file, and the directory is fsynced, so a crash
// leaves the old state or the new one, never a torn file.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { isPrState } from './persistent-reservations.js';
import type { PrState } from './persistent-reservations.js';

export const DEFAULT_PR_STATE_DIR = '/var/lib/stgt/pr';
const SUFFIX = '.stgt-pr';

/** Where the state of LUN `lun` of target `targetName`, backed by `path`, is kept. */
export function prStatePath(targetName: string, lun: number, path: string | null, stateDir: string): string {
  if (path !== null) {
    try {
      if (statSync(path).isFile()) return join(dirname(path), basename(path) + SUFFIX);
    } catch {
      /* not a file we can see: fall back to the state directory */
    }
  }
  // One flat name per target and LUN; '/' cannot occur in it and NUL is not allowed in IQNs.
  const safe = targetName.replace(/[^A-Za-z0-9.:_-]/g, (c) => '%' + c.charCodeAt(0).toString(16).padStart(2, '0'));
  return join(stateDir, `${safe},${lun}${SUFFIX}`);
}

function fsyncDir(dir: string): void {
  let fd = -1;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    /* some filesystems cannot fsync a directory; the rename is still atomic */
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

export class PrStore {
  constructor(readonly file: string) {}

  /** The saved state, or null when there is none or it cannot be read as one (reported by `onBad`). */
  load(onBad: (why: string) => void): PrState | null {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') onBad(`${this.file}: ${(e as Error).message}`);
      return null;
    }
    try {
      const v: unknown = JSON.parse(text);
      if (isPrState(v)) return v;
      onBad(`${this.file}: not a persistent reservation state`);
    } catch (e) {
      onBad(`${this.file}: ${(e as Error).message}`);
    }
    return null;
  }

  /** Writes `state` atomically (write, fsync, rename, fsync the directory). Throws on failure. */
  save(state: PrState): void {
    const dir = dirname(this.file);
    mkdirSync(dir, { recursive: true });
    const tmp = this.file + '.tmp';
    const fd = openSync(tmp, 'w', 0o600);
    try {
      const data = Buffer.from(JSON.stringify(state) + '\n');
      let off = 0;
      while (off < data.length) off += writeSync(fd, data, off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
    fsyncDir(dir);
  }

  /** APTPL was turned off: nothing is to survive a restart. */
  remove(): void {
    try {
      unlinkSync(this.file);
      fsyncDir(dirname(this.file));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
}
