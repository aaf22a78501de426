// Unit tests: the persistent reservation state stores behind PrStateStore (a file, a device's shared state).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NO_PR_STATE, NOTICES_KEPT, PrStore, SharedPrStore } from './pr-store.js';
import type { PrOutEffects, PrState } from './persistent-reservations.js';
import { Reason } from './sense.js';
import type { IoError, SharedState } from '../bs/api.js';

const STATE: PrState = { version: 1, generation: 3, aptpl: false, registrations: [{ port: 'iqn.x,i,0x1', key: 'ab', allTgPt: false }],
  reservation: { holder: 'iqn.x,i,0x1', type: 1, scope: 0 } };

/** A SharedState in memory; `remote` plays another gateway's write; `beatNext` plays one that wins the race with our next set. */
class FakeShared implements SharedState {
  values = new Map<string, string>();
  fail: IoError = null;
  beatNext: string | null = null;
  private fns: ((key: string) => void)[] = [];
  get(key: string): string | null {
    return this.values.get(key) ?? null;
  }
  set(key: string, value: string | null, cb: (err: IoError | 'stale') => void): void {
    if (this.fail) return cb(this.fail);
    if (this.beatNext !== null) {
      const theirs = this.beatNext;
      this.beatNext = null;
      this.remote(key, theirs);
      return cb('stale');
    }
    if (value === null) this.values.delete(key);
    else this.values.set(key, value);
    cb(null);
  }
  onChange(fn: (key: string) => void): void {
    this.fns.push(fn);
  }
  remote(key: string, value: string | null): void {
    if (value === null) this.values.delete(key);
    else this.values.set(key, value);
    for (const fn of this.fns) fn(key);
  }
}

/** What write() called back with. */
function written(s: PrStore | SharedPrStore, st: PrState | null, fx?: PrOutEffects): Promise<Error | 'stale' | null> {
  return new Promise((res) => s.write(st, res, fx));
}

test('the file store writes and removes through write(), calls back later, and is not shared', async () => {
  const f = join(mkdtempSync(join(tmpdir(), 'stgt-pr-')), 'lu.stgt-pr');
  const s = new PrStore(f);
  assert.equal(s.shared, false);
  let called = false;
  const w = new Promise<Error | null>((res) => s.write(STATE, (e) => {
    called = true;
    res(e);
  }));
  assert.equal(called, false, 'the write runs off the event loop: no callback before write returns');
  assert.equal(await w, null);
  assert.deepEqual(JSON.parse(readFileSync(f, 'utf8')), STATE);
  assert.ok(!existsSync(f + '.tmp'), 'the temporary file was renamed over the state');
  assert.equal(await written(s, null), null);
  assert.ok(!existsSync(f));
  assert.equal(await written(s, null), null, 'removing what is not there is not an error');
  // A file under a file: the directory cannot be made.
  assert.ok((await written(new PrStore(join(f + 'x', 'y')), STATE)) === null);
  assert.ok((await written(new PrStore(join(f + 'x', 'y', 'z')), STATE)) instanceof Error);
});

test('the shared store keeps the state under "pr", reports bad text, and hears other gateways\' changes', async () => {
  const sh = new FakeShared();
  const bad: string[] = [];
  const s = new SharedPrStore(sh, (w) => bad.push(w));
  assert.equal(s.shared, true);
  assert.equal(s.load((w) => bad.push(w)), null);
  assert.equal(await written(s, STATE), null);
  assert.deepEqual(JSON.parse(sh.get('pr')!), { ...STATE, seq: 1, notices: [{ seq: 1, ua: [], abort: [] }] });
  assert.deepEqual(s.load((w) => bad.push(w)), STATE);
  const seen: (PrState | null)[] = [];
  s.onChange((st) => seen.push(st));
  sh.remote('other', 'x'); // not ours
  sh.remote('pr', JSON.stringify({ ...STATE, generation: 4 }));
  sh.remote('pr', null);
  sh.remote('pr', '{"version":2}');
  assert.deepEqual(seen, [{ ...STATE, generation: 4 }, null, null]);
  assert.equal(bad.length, 1);
  assert.match(bad[0]!, /not a persistent reservation state/);
  sh.fail = Object.assign(new Error('EIO'), { code: 'EIO' });
  assert.equal(await written(s, NO_PR_STATE), sh.fail);
});

test('the shared store carries each change\'s unit attentions and aborts to the other gateways, once each, and says stale when another gateway wrote first', async () => {
  const sh = new FakeShared();
  const a = new SharedPrStore(sh, () => {});
  const heard: [PrState | null, PrOutEffects][] = [];
  a.onChange((st, fx) => heard.push([st, fx]));
  // Gateway B (another store on what would be the same image) preempts: its notice names the preempted port.
  const b = new SharedPrStore(new FakeShared(), () => {});
  const rx = { port: 'iqn.x,i,0x1', relPort: 2, key: 0xabn, allTgPt: false };
  const ry = { port: 'iqn.y,i,0x2', relPort: 1, key: 0xcdn, allTgPt: true };
  const fx: PrOutEffects = { ua: [[rx, Reason.RegistrationsPreempted], [ry, Reason.ReservationsReleased]], abort: [rx] };
  let theirs = '';
  (b as unknown as { state: SharedState }).state.set = (_k, v, cb) => {
    theirs = v!;
    cb(null);
  };
  assert.equal(await written(b, STATE, fx), null);
  sh.remote('pr', theirs);
  assert.equal(heard.length, 1);
  assert.deepEqual(heard[0]![0], STATE, 'the state without the counter and notices');
  assert.deepEqual(heard[0]![1], fx);
  // The same value again (a re-read that found nothing new): no effects a second time.
  sh.remote('pr', theirs);
  assert.deepEqual(heard[1]![1], { ua: [], abort: [] });
  // Our next write counts on from theirs and keeps their notice with ours.
  assert.equal(await written(a, NO_PR_STATE), null);
  const v = JSON.parse(sh.get('pr')!) as { seq: number; notices: { seq: number }[] };
  assert.equal(v.seq, 2);
  assert.deepEqual(v.notices.map((n) => n.seq), [1, 2]);
  // Another gateway wins the race: nothing of ours is written, its state has been delivered first.
  const rz = { port: 'iqn.z,i,0x3', key: '1f', allTgPt: false, relPort: 3 };
  sh.beatNext = JSON.stringify({ ...STATE, generation: 9, seq: 3, notices: [{ seq: 3, ua: [[rz, 'RESERVATIONS PREEMPTED']], abort: [] }] });
  const before = heard.length;
  assert.equal(await written(a, STATE), 'stale');
  assert.equal(heard.length, before + 1);
  assert.equal(heard[before]![0]!.generation, 9);
  assert.deepEqual(heard[before]![1].ua, [[{ port: 'iqn.z,i,0x3', key: 0x1fn, allTgPt: false, relPort: 3 }, Reason.ReservationsPreempted]]);
  assert.equal(await written(a, STATE), null);
  assert.equal((JSON.parse(sh.get('pr')!) as { seq: number }).seq, 4);
  // Only NOTICES_KEPT notices travel with the state.
  for (let i = 0; i < NOTICES_KEPT + 3; i++) assert.equal(await written(a, STATE), null);
  assert.equal((JSON.parse(sh.get('pr')!) as { notices: unknown[] }).notices.length, NOTICES_KEPT);
});
