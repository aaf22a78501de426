// Tests of the onread receive arenas (rx-arena.ts): when an exhausted arena may be reused, and when never.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ARENA_SIZE, RxArena } from './rx-arena.js';

/** Fills the current arena to its end (a read of all its room), growing to full-size arenas first. */
function fillFullArena(a: RxArena): Buffer {
  let b = a.space(ARENA_SIZE);
  a.commit(b.length);
  b = a.space(ARENA_SIZE);
  assert.equal(b.length, ARENA_SIZE, 'a full-size arena');
  return b;
}

test('an exhausted arena nobody pinned or holds is handed out again; one the framer holds at that moment is not', () => {
  const held = new Set<ArrayBufferLike>();
  const a = new RxArena((ab) => held.has(ab));
  const first = fillFullArena(a);
  a.commit(ARENA_SIZE);
  const again = a.space(ARENA_SIZE);
  assert.equal(again.buffer, first.buffer, 'all consumed: the same memory again');
  const before = a.reused;
  held.add(first.buffer);
  a.commit(ARENA_SIZE);
  const other = a.space(ARENA_SIZE);
  assert.notEqual(other.buffer, first.buffer, 'a view the framer holds keeps its arena out');
  held.clear();
  for (let i = 0; i < 6; i++) {
    a.commit(ARENA_SIZE);
    const b = a.space(ARENA_SIZE);
    assert.notEqual(b.buffer, first.buffer, 'held when it was retired: left to the GC for good');
    assert.equal(b.buffer, other.buffer);
  }
  assert.ok(a.reused > before);
});

/** The buffers of the next `n` arenas. */
function nextArenas(a: RxArena, n: number): ArrayBufferLike[] {
  const out: ArrayBufferLike[] = [];
  for (let i = 0; i < n; i++) {
    a.commit(ARENA_SIZE);
    out.push(a.space(ARENA_SIZE).buffer);
  }
  return out;
}

test('a pinned arena waits for its last unpin; one unpinned without dataOutTransient is never reused', () => {
  const held = new Set<ArrayBufferLike>();
  const a = new RxArena((ab) => held.has(ab));
  const first = fillFullArena(a);
  const s1 = a.slotOf(first.subarray(0, 100))!;
  a.pin(s1);
  a.pin(s1);
  assert.ok(!nextArenas(a, 3).includes(first.buffer), 'pinned twice');
  a.unpin(s1, true);
  assert.ok(!nextArenas(a, 3).includes(first.buffer), 'still pinned once');
  a.unpin(s1, true);
  // The arena in use meanwhile is held (a partial PDU in it): the next one must be the unpinned one.
  held.add(a.space(1).buffer);
  assert.deepEqual(nextArenas(a, 1), [first.buffer], 'free after the last unpin');

  const b = new RxArena(() => false);
  const kept = fillFullArena(b);
  const s2 = b.slotOf(kept)!;
  b.pin(s2);
  b.unpin(s2, false);
  assert.ok(!nextArenas(b, 6).includes(kept.buffer), 'a command may have kept a view');
});

test('after release nothing comes back, and a late unpin is ignored', () => {
  const a = new RxArena(() => false);
  const first = fillFullArena(a);
  const s = a.slotOf(first)!;
  a.pin(s);
  a.release();
  a.unpin(s, true);
  for (let i = 0; i < 8; i++) {
    const b = a.space(ARENA_SIZE);
    assert.notEqual(b.buffer, first.buffer);
    a.commit(b.length);
  }
  assert.equal(a.slotOf(Buffer.alloc(8)), null, 'a buffer of no arena');
});
