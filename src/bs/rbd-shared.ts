// State an RBD image carries for every gateway that exports it (issue 12 part 3): image metadata under "stgt.", versioned, re-read on librbd's header-update notice.
//
// Each key "stgt.K" has a version "stgt.K.version" beside it. A set is one atomic RADOS write on the
// image's header object (addon metaSwap): it compares the header's xattr "stgt.K.version" with the
// version this gateway last saw, and only then writes the value and the next version; another
// gateway's write in between makes it fail with ECANCELED, and the caller gets 'stale' after the
// new value has been read and reported. The write is followed by an empty notify on the header,
// which every gateway's librbd takes for a header update (measured: ~0.1 s on loopback); each then
// re-reads the "stgt." keys and reports the keys whose version moved. A re-read never goes back to an
// older version than one this gateway already has, and a version this gateway wrote is not reported
// (our own notify comes back to us too). Several notices while a re-read runs cost one more re-read.
import type { IoError, SharedState } from './api.js';
import type { AddonError, AddonImage, RbdAddon } from './rbd-addon.js';

/** Metadata key prefix of the shared state (a key "pr" is kept as "stgt.pr"). */
export const SHARED_PREFIX = 'stgt.';
/** Suffix of a key's version key ("stgt.pr.version"). */
export const VERSION_SUFFIX = '.version';

/** errno of a RADOS compare that failed (another gateway's write came first). */
const ECANCELED = 125;

/** Runs one control call of a device, which keeps the device open until `done` (RbdDevice.control). */
export type ControlRunner = (start: (done: () => void) => void) => void;

function versionOf(m: ReadonlyMap<string, string>, k: string): number {
  const v = Number(m.get(k + VERSION_SUFFIX) ?? 0);
  return Number.isSafeInteger(v) && v >= 0 ? v : 0;
}

export class RbdSharedState implements SharedState {
  private values = new Map<string, string>();
  /**
   * Versions and values this gateway is writing or wrote, per key: a re-read that finds one of them
   * is our own change. Both must match: a gateway whose write lost may have asked for the same
   * version as the one that won.
   */
  private readonly mine = new Map<string, Map<number, string | null>>();
  private readonly listeners: ((key: string) => void)[] = [];
  private reading = false;
  private again = false;
  /** Called after the next re-read that starts from now on (a stale set waits for it). */
  private waiting: (() => void)[] = [];

  constructor(
    private readonly addon: Required<Pick<RbdAddon, 'metaList' | 'metaSwap'>>,
    private readonly image: AddonImage,
    private readonly control: ControlRunner,
    /** False once the device is closing: no re-read starts then (the image goes away). */
    private readonly isOpen: () => boolean,
    private readonly toError: (err: AddonError) => NodeJS.ErrnoException,
    private readonly log: (msg: string) => void,
  ) {}

  /** Reads every key (before the device is handed out). */
  load(cb: (err: AddonError | null) => void): void {
    this.control((done) => this.addon.metaList(this.image, SHARED_PREFIX, (err, kv) => {
      done();
      if (err === null && kv !== undefined) this.values = pairs(kv);
      cb(err);
    }));
  }

  get(key: string): string | null {
    return this.values.get(SHARED_PREFIX + key) ?? null;
  }

  set(key: string, value: string | null, cb: (err: IoError | 'stale') => void): void {
    const k = SHARED_PREFIX + key;
    const seen = versionOf(this.values, k);
    const next = seen + 1;
    let own = this.mine.get(k);
    if (own === undefined) this.mine.set(k, (own = new Map()));
    own.set(next, value);
    this.control((done) => this.addon.metaSwap(this.image, k, seen === 0 ? '' : String(seen), String(next), value, (err) => {
      done();
      if (err !== null) {
        own.delete(next);
        if (err.errno !== ECANCELED) return cb(this.toError(err));
        // Another gateway wrote first: read its value (the listeners hear of it), then say so.
        return this.refresh(() => cb('stale'));
      }
      if (versionOf(this.values, k) < next) {
        if (value === null) this.values.delete(k);
        else this.values.set(k, value);
        this.values.set(k + VERSION_SUFFIX, String(next));
      }
      cb(null);
    }));
  }

  onChange(fn: (key: string) => void): void {
    this.listeners.push(fn);
  }

  /** The image's header changed (maybe another gateway's set): re-read, tell about changed keys; then `after`. */
  refresh(after?: () => void): void {
    if (after !== undefined) this.waiting.push(after);
    if (!this.isOpen()) return this.flushWaiting(this.waiting.splice(0));
    if (this.reading) {
      this.again = true;
      return;
    }
    this.reading = true;
    const mustWait = this.waiting.splice(0);
    this.control((done) => this.addon.metaList(this.image, SHARED_PREFIX, (err, kv) => {
      done();
      this.reading = false;
      if (err !== null || kv === undefined) this.log(`cannot re-read the shared state: ${err?.message ?? 'no answer'}`);
      else this.apply(pairs(kv));
      this.flushWaiting(mustWait);
      if (this.again) {
        this.again = false;
        this.refresh();
      }
    }));
  }

  private flushWaiting(fns: (() => void)[]): void {
    for (const fn of fns) fn();
  }

  /** Takes what a re-read found, key by key, where its version is newer than ours; reports the other gateways' changes. */
  private apply(next: Map<string, string>): void {
    const keys = new Set([...this.values.keys(), ...next.keys()].filter((k) => !k.endsWith(VERSION_SUFFIX)));
    const changed: string[] = [];
    for (const k of keys) {
      const v = versionOf(next, k);
      const ours = versionOf(this.values, k);
      if (v < ours || (v === ours && (this.values.get(k) ?? null) === (next.get(k) ?? null))) continue;
      const value = next.get(k);
      if (value === undefined) this.values.delete(k);
      else this.values.set(k, value);
      this.values.set(k + VERSION_SUFFIX, String(v));
      const own = this.mine.get(k);
      const echo = own !== undefined && own.has(v) && own.get(v) === (value ?? null);
      if (own !== undefined) for (const x of [...own.keys()]) if (x <= v) own.delete(x);
      if (!echo) changed.push(k); // else our own write coming back
    }
    for (const k of changed) {
      for (const fn of this.listeners) {
        try {
          fn(k.slice(SHARED_PREFIX.length));
        } catch (e) {
          // A bug above the store; the other listeners still hear of the change.
          this.log(`shared state listener threw: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
        }
      }
    }
  }
}

function pairs(kv: readonly string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i + 1 < kv.length; i += 2) m.set(kv[i]!, kv[i + 1]!);
  return m;
}
