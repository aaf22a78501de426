// SPC-4 5.13.5 APTPL: where a logical unit's persistent reservation state lives between daemon runs, written atomically.
//
// A file LU keeps it beside its backing file: "<path>.stgt-pr". Every other LU (no path, a block
// device, an rbd image, a null or memory store) keeps it under the state directory, named after the
// target and the LUN, which is how an administrator creates the LU again: "<dir>/<target
// name>,<lun>.stgt-pr" (the directory is TargetOptions.prStateDir, else STGT_PR_DIR, else
// /var/lib/stgt/pr). The state is JSON (registrations, reservation, PRgeneration, APTPL). A write
// goes to "<file>.tmp", is fsynced, renamed over the file, and the directory is fsynced, so a crash
// leaves the old state or the new one, never a torn file.
//
// A device that several gateways export (BackingDevice.shared: an RBD image) keeps the state with
// the device instead (SharedPrStore): every change is written there, APTPL or not, and a change made
// through another gateway arrives through onChange, so a reservation taken through one gateway is
// enforced by the others (issue 12 part 3). Both kinds sit behind PrStateStore.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { isPrState } from './persistent-reservations.js';
import type { PrState } from './persistent-reservations.js';
import type { SharedState } from '../bs/api.js';

/** Where a LU's persistent reservation state is kept. */
export interface PrStateStore {
  /** True: every change is written and other gateways' changes arrive via onChange; false: only the APTPL state is kept. */
  readonly shared: boolean;
  /** The saved state, or null when there is none or it cannot be read as one (reported by `onBad`). */
  load(onBad: (why: string) => void): PrState | null;
  /** Writes `state` (null: nothing is to be kept); calls back once it is on stable storage. */
  write(state: PrState | null, cb: (err: Error | null) => void): void;
  /** `fn` runs when another gateway changed the state (null: there is none). */
  onChange(fn: (state: PrState | null) => void): void;
}

function parseState(text: string, where: string, onBad: (why: string) => void): PrState | null {
  try {
    const v: unknown = JSON.parse(text);
    if (isPrState(v)) return v;
    onBad(`${where}: not a persistent reservation state`);
  } catch (e) {
    onBad(`${where}: ${(e as Error).message}`);
  }
  return null;
}

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

export class PrStore implements PrStateStore {
  readonly shared = false;

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
    return parseState(text, this.file, onBad);
  }

  /** save or remove, synchronously (the callback runs before write returns). */
  write(state: PrState | null, cb: (err: Error | null) => void): void {
    try {
      if (state === null) this.remove();
      else this.save(state);
    } catch (e) {
      return cb(e as Error);
    }
    cb(null);
  }

  /** A file is this daemon's alone. */
  onChange(): void {}

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

/** No registration, no reservation (what another gateway's removal of the state leaves). */
export const NO_PR_STATE: PrState = { version: 1, generation: 0, aptpl: false, registrations: [], reservation: null };

/** Metadata key of the state in the device's shared state (RBD: "stgt.pr"). */
const SHARED_KEY = 'pr';

/** The state kept with a device several gateways export (BackingDevice.shared). */
export class SharedPrStore implements PrStateStore {
  readonly shared = true;

  constructor(private readonly state: SharedState, private readonly onBad: (why: string) => void) {}

  load(onBad: (why: string) => void): PrState | null {
    const text = this.state.get(SHARED_KEY);
    return text === null ? null : parseState(text, 'shared persistent reservation state', onBad);
  }

  write(state: PrState | null, cb: (err: Error | null) => void): void {
    this.state.set(SHARED_KEY, state === null ? null : JSON.stringify(state), cb);
  }

  onChange(fn: (state: PrState | null) => void): void {
    this.state.onChange((key) => {
      if (key === SHARED_KEY) fn(this.load(this.onBad));
    });
  }
}
