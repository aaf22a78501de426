// TaskSet (SAM-5 8.6): SIMPLE, ORDERED, HEAD OF QUEUE and exclusive tasks start in the right order, with or without a scan.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TaskAttr } from './api.js';
import { TaskSet, type TaskSetEntry } from './task-set.js';

interface E extends TaskSetEntry {
  name: string;
}
const e = (name: string, attr: number, exclusive = attr === TaskAttr.Ordered): E => ({ name, attr, exclusive, started: false });

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
