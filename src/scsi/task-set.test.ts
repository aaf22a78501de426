// TaskSet (SAM-5 8.6): SIMPLE, ORDERED, HEAD OF QUEUE and exclusive tasks start in the right order, with or without a scan.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TaskAttr } from './api.js';
import { TaskSet, type TaskSetEntry } from './task-set.js';

interface E extends TaskSetEntry {
  name: string;
}
const e = (name: string, attr: number, atomic = false): E => ({ name, attr, exclusive: atomic || attr === TaskAttr.Ordered, atomic, started: false });

/** Adds like target.ts does: started when add says it may start. */
function add(s: TaskSet<E>, t: E): boolean {
  const may = s.add(t);
  if (may) t.started = true;
  return may;
}

test('SIMPLE tasks start at once; an ORDERED one waits for the earlier ones and holds back the later ones', () => {
  const s = new TaskSet<E>();
  const a = e('a', TaskAttr.Simple);
  const b = e('b', TaskAttr.Simple);
  const o = e('o', TaskAttr.Ordered);
  const c = e('c', TaskAttr.Simple);
  assert.equal(add(s, a), true);
  assert.equal(add(s, b), true);
  assert.equal(add(s, o), false);
  assert.equal(add(s, c), false);
  assert.deepEqual(s.remove(b).map((x) => x.name), [], 'a is still running');
  assert.deepEqual(s.remove(a).map((x) => x.name), ['o']);
  assert.deepEqual(s.remove(o).map((x) => x.name), ['c']);
  assert.deepEqual(s.remove(c), []);
  assert.equal(s.list.length, 0);
  // Empty again: nothing exclusive and nothing waiting is left over.
  assert.equal(add(s, e('d', TaskAttr.Simple)), true);
});

test('HEAD OF QUEUE starts at once even behind an ORDERED task; an exclusive SIMPLE (atomic) task runs alone', () => {
  const s = new TaskSet<E>();
  const o = e('o', TaskAttr.Ordered);
  assert.equal(add(s, o), true, 'first in an empty set');
  const h = e('h', TaskAttr.HeadOfQueue);
  assert.equal(add(s, h), true);
  const x = e('x', TaskAttr.Simple, true);
  const y = e('y', TaskAttr.Simple);
  assert.equal(add(s, x), false);
  assert.equal(add(s, y), false);
  assert.deepEqual(s.remove(h), []);
  assert.deepEqual(s.remove(o).map((t) => t.name), ['x']);
  assert.deepEqual(s.remove(x).map((t) => t.name), ['y']);
});

test('a waiting task removed before it started (aborted) is no longer counted', () => {
  const s = new TaskSet<E>();
  const o = e('o', TaskAttr.Ordered);
  const w = e('w', TaskAttr.Simple);
  assert.equal(add(s, o), true);
  assert.equal(add(s, w), false);
  assert.deepEqual(s.remove(w), [], 'aborted while waiting');
  assert.deepEqual(s.remove(o), []);
  assert.equal(add(s, e('z', TaskAttr.Simple)), true);
});

test('SAM-5 8.6: a SIMPLE task waits for an older HEAD OF QUEUE task, not for a newer one; an ORDERED one for every older task', () => {
  const s = new TaskSet<E>();
  const a = e('a', TaskAttr.Simple);
  const h = e('h', TaskAttr.HeadOfQueue);
  const b = e('b', TaskAttr.Simple);
  const u = e('u', TaskAttr.Untagged);
  assert.equal(add(s, a), true);
  assert.equal(add(s, h), true, 'HEAD OF QUEUE is enabled at once, beside the running SIMPLE task');
  assert.equal(add(s, b), false, 'b is newer than h');
  assert.equal(add(s, u), false, 'untagged counts as SIMPLE');
  const o = e('o', TaskAttr.Ordered);
  assert.equal(add(s, o), false);
  assert.deepEqual(s.remove(a), [], 'h still runs');
  assert.deepEqual(s.remove(h).map((t) => t.name), ['b', 'u'], 'o waits for b and u');
  const h2 = e('h2', TaskAttr.HeadOfQueue);
  assert.equal(add(s, h2), true, 'a HEAD OF QUEUE task also starts while an ORDERED one waits');
  assert.deepEqual(s.remove(b), []);
  assert.deepEqual(s.remove(u).map((t) => t.name), ['o'], 'o is older than h2 and does not wait for it');
  const c = e('c', TaskAttr.Simple);
  assert.equal(add(s, c), false, 'c waits for o and h2');
  assert.deepEqual(s.remove(o), [], 'h2 still runs');
  assert.deepEqual(s.remove(h2).map((t) => t.name), ['c']);
});

test('an atomic task runs alone: not beside a newer HEAD OF QUEUE task, and one arriving waits for it', () => {
  const s = new TaskSet<E>();
  const x = e('x', TaskAttr.Simple, true);
  assert.equal(add(s, x), true);
  const h = e('h', TaskAttr.HeadOfQueue);
  assert.equal(add(s, h), false, 'the atomic task is running');
  assert.deepEqual(s.remove(x).map((t) => t.name), ['h']);
  const y = e('y', TaskAttr.Simple, true);
  assert.equal(add(s, y), false, 'h runs: y is not alone');
  assert.deepEqual(s.remove(h).map((t) => t.name), ['y']);
  // an ORDERED task is not atomic: a HEAD OF QUEUE task runs beside it
  assert.deepEqual(s.remove(y), []);
  const o = e('o', TaskAttr.Ordered);
  assert.equal(add(s, o), true);
  assert.equal(add(s, e('h3', TaskAttr.HeadOfQueue)), true);
});
