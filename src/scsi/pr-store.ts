// SPC-4 5.13.5 APTPL: where a logical unit's persistent reservation state lives between daemon runs, written atomically.
//
// A file LU keeps it beside its backing file: "<path>.stgt-pr". Every other LU (no path, a block
// device, an rbd image, a null or memory store) keeps it under the state directory, named after the
// target and the LUN, which is how an administrator creates the LU again: "<dir>/<target
// name>,<lun>.stgt-pr" (the directory is TargetOptions.prStateDir, else STGT_PR_DIR, else
// /var/lib/stgt/pr). The state is JSON (registrations, reservation, PRgeneration, APTPL). A write
// goes to "<file>.tmp", is fsynced, renamed over the file, and the directory is fsynced, so a crash
// leaves the old state or the new one, never a torn file. The steps run off the event loop (libuv's
// pool), so a slow disk delays only the PR OUT that waits for them; PR OUTs of one LU are run one
// at a time by their handler (spc-reservations.ts), so two writes never overlap.
//
// A device that several gateways export (BackingDevice.shared: an RBD image) keeps the state with
// the device instead (SharedPrStore): every change is written there, APTPL or not, and a change made
// through another gateway arrives through onChange, so a reservation taken through one gateway is
// enforced by the others (issue 12 part 3). Both kinds sit behind PrStateStore.
import { readFileSync, statSync } from 'node:fs';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
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

/** fsyncs a directory (after a rename or unlink in it). Some filesystems cannot: the rename is still atomic. */
async function fsyncDir(dir: string): Promise<void> {
  let fh;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch {
    /* cannot fsync a directory here */
  } finally {
    await fh?.close().catch(() => {});
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

  /** Saves or removes; `cb` runs once that is on stable storage (never before write returns). */
  write(state: PrState | null, cb: (err: Error | null) => void): void {
    (state === null ? this.remove() : this.save(state)).then(() => cb(null), (e: unknown) => cb(e as Error));
  }

  /** A file is this daemon's alone. */
  onChange(): void {}

  /** Writes `state` atomically: write "<file>.tmp", fsync it, rename it over the file, fsync the directory. */
  async save(state: PrState): Promise<void> {
    const dir = dirname(this.file);
    await mkdir(dir, { recursive: true });
    const tmp = this.file + '.tmp';
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(JSON.stringify(state) + '\n');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, this.file);
    await fsyncDir(dir);
  }

  /** APTPL was turned off: nothing is to survive a restart. */
  async remove(): Promise<void> {
    try {
      await unlink(this.file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    await fsyncDir(dirname(this.file));
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
