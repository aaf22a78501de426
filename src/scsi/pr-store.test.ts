// Unit tests: the persistent reservation state stores behind PrStateStore (a file, a device's shared state).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NO_PR_STATE, PrStore, SharedPrStore } from './pr-store.js';
import type { PrState } from './persistent-reservations.js';
import type { IoError, SharedState } from '../bs/api.js';

const STATE: PrState = { version: 1, generation: 3, aptpl: false, registrations: [{ port: 'iqn.x,i,0x1', key: 'ab', allTgPt: false }],
  reservation: { holder: 'iqn.x,i,0x1', type: 1, scope: 0 } };

/** A SharedState in memory; `remote` plays another gateway's write. */
class FakeShared implements SharedState {
  values = new Map<string, string>();
  fail: IoError = null;
  private fns: ((key: string) => void)[] = [];
  get(key: string): string | null {
    return this.values.get(key) ?? null;
  }
  set(key: string, value: string | null, cb: (err: IoError) => void): void {
    if (this.fail) return cb(this.fail);
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
function written(s: PrStore | SharedPrStore, st: PrState | null): Promise<Error | null> {
  return new Promise((res) => s.write(st, res));
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
  assert.deepEqual(JSON.parse(sh.get('pr')!), STATE);
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
