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
//
// The shared state is written only if nobody changed it since this gateway last read it
// (SharedState.set answers 'stale' otherwise, after reading the new one): the PR OUT then runs again
// on the fresh state, so two gateways' PR OUTs at once are serialised and neither is lost. With each
// state goes the notice of the change that made it (the unit attentions SPC-4 5.13.11 requires and
// the registrations PREEMPT AND ABORT aborts, `seq` numbered, the last NOTICES_KEPT kept), so the
// other gateways raise the same unit attentions on their own I_T nexuses.
import { readFileSync, statSync } from 'node:fs';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { isPrState } from './persistent-reservations.js';
import type { PrOutEffects, PrState, Registration } from './persistent-reservations.js';
import { Reason } from './sense.js';
import type { SenseReason } from './sense.js';
import type { SharedState } from '../bs/api.js';

/** Where a LU's persistent reservation state is kept. */
export interface PrStateStore {
  /** True: every change is written and other gateways' changes arrive via onChange; false: only the APTPL state is kept. */
  readonly shared: boolean;
  /** The saved state, or null when there is none or it cannot be read as one (reported by `onBad`). */
  load(onBad: (why: string) => void): PrState | null;
  /**
   * Writes `state` (null: nothing is to be kept), made by a PR OUT with effects `fx`; calls back once
   * it is on stable storage. 'stale' (shared only): another gateway changed the state first, nothing
   * was written, and onChange has already delivered the new state: run the PR OUT again.
   */
  write(state: PrState | null, cb: (err: Error | 'stale' | null) => void, fx?: PrOutEffects): void;
  /** `fn` runs when another gateway changed the state (null: there is none), with the effects its changes have here. */
  onChange(fn: (state: PrState | null, fx: PrOutEffects) => void): void;
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

/** How many changes' notices a shared state carries (a gateway that misses more loses their unit attentions). */
export const NOTICES_KEPT = 16;

/** A registration as the state keeps it (PrState.registrations). */
type RegJson = PrState['registrations'][number];

/** One change's effects on other gateways, as JSON: [registration, sense reason name] pairs, registrations whose tasks are aborted. */
interface Notice {
  seq: number;
  ua: [RegJson, string][];
  abort: RegJson[];
}

/** A shared state as kept: a PrState (what isPrState checks) with the change counter and the recent notices. */
interface SharedPrValue extends PrState {
  seq?: number;
  notices?: Notice[];
}

const REASONS: ReadonlyMap<string, SenseReason> = new Map(Object.values(Reason).map((r) => [r.name, r]));

function isRegJson(v: unknown): v is RegJson {
  const r = v as RegJson;
  return typeof r === 'object' && r !== null && typeof r.port === 'string' && typeof r.key === 'string' && /^[0-9a-f]{1,16}$/.test(r.key) &&
    typeof r.allTgPt === 'boolean' && (r.relPort === undefined || Number.isInteger(r.relPort));
}

function isNotice(v: unknown): v is Notice {
  const n = v as Notice;
  return typeof n === 'object' && n !== null && Number.isInteger(n.seq) && Array.isArray(n.ua) && Array.isArray(n.abort) &&
    n.ua.every((u) => Array.isArray(u) && isRegJson(u[0]) && REASONS.has(u[1])) && n.abort.every(isRegJson);
}

const toJson = (r: Registration): RegJson => ({ port: r.port, key: r.key.toString(16), allTgPt: r.allTgPt, relPort: r.relPort });
const fromJson = (r: RegJson): Registration => ({ port: r.port, key: BigInt('0x' + r.key), allTgPt: r.allTgPt, relPort: r.relPort ?? 1 });

/** The state kept with a device several gateways export (BackingDevice.shared). */
export class SharedPrStore implements PrStateStore {
  readonly shared = true;
  /** The change counter of the state this gateway last read or wrote. */
  private seq = 0;
  /** The notices of that state (carried on, with the next change's, by the next write). */
  private notices: Notice[] = [];

  constructor(private readonly state: SharedState, private readonly onBad: (why: string) => void) {}

  private read(onBad: (why: string) => void): SharedPrValue | null {
    const text = this.state.get(SHARED_KEY);
    const v = text === null ? null : parseState(text, 'shared persistent reservation state', onBad) as SharedPrValue | null;
    this.seq = v !== null && Number.isInteger(v.seq) ? v.seq! : 0;
    this.notices = v !== null && Array.isArray(v.notices) ? v.notices.filter(isNotice) : [];
    return v;
  }

  load(onBad: (why: string) => void): PrState | null {
    return plain(this.read(onBad));
  }

  write(state: PrState | null, cb: (err: Error | 'stale' | null) => void, fx?: PrOutEffects): void {
    const seq = this.seq + 1;
    const notice: Notice = { seq, ua: (fx?.ua ?? []).map(([reg, r]) => [toJson(reg), r.name]), abort: (fx?.abort ?? []).map(toJson) };
    const notices = [...this.notices, notice].slice(-NOTICES_KEPT);
    // null (nothing to keep) is kept as the empty state, so the counter and the notice survive it.
    const value: SharedPrValue = { ...(state ?? NO_PR_STATE), seq, notices };
    this.state.set(SHARED_KEY, JSON.stringify(value), (err) => {
      if (err === null) {
        this.seq = seq;
        this.notices = notices;
      }
      cb(err);
    });
  }

  onChange(fn: (state: PrState | null, fx: PrOutEffects) => void): void {
    this.state.onChange((key) => {
      if (key !== SHARED_KEY) return;
      const last = this.seq;
      const v = this.read(this.onBad);
      const fx: PrOutEffects = { ua: [], abort: [] };
      const fresh = this.notices.filter((n) => n.seq > last);
      if (fresh.length > 0 && fresh[0]!.seq > last + 1 && last > 0) {
        this.onBad(`shared persistent reservation state: missed the notices of changes ${last + 1}..${fresh[0]!.seq - 1}`);
      }
      for (const n of fresh) {
        for (const [reg, name] of n.ua) fx.ua.push([fromJson(reg), REASONS.get(name)!]);
        fx.abort.push(...n.abort.map(fromJson));
      }
      fn(plain(v), fx);
    });
  }
}

/** The PrState part of a shared value (without the counter and the notices). */
function plain(v: SharedPrValue | null): PrState | null {
  if (v === null) return null;
  const { seq: _seq, notices: _notices, ...state } = v;
  return state;
}
