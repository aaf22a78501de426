// SAM-5 8.6 Task set management: SIMPLE / ORDERED / HEAD OF QUEUE ordering of one logical unit's tasks.
import { TaskAttr } from './api.js';

/** What the task set needs to know of a queued command. */
export interface TaskSetEntry {
  attr: number;
  /** Runs alone: an ORDERED task, or an atomic read-modify-write (COMPARE AND WRITE, ORWRITE). */
  exclusive: boolean;
  started: boolean;
}

/**
 * Tasks of one LU in arrival order. SAM-5 8.6.2-8.6.4: a HEAD OF QUEUE task starts at once; an
 * ORDERED task starts when every earlier task has completed; a SIMPLE task starts when no earlier
 * ORDERED task remains.
 */
export class TaskSet<T extends TaskSetEntry> {
  readonly list: T[] = [];
  /** Exclusive tasks in the list: with none, a SIMPLE task starts without a scan. */
  private exclusives = 0;
  /** Tasks in the list not started yet: with none, a completion starts nothing, without a scan. */
  private waiting = 0;

  /**
   * Adds `t`; returns true when it may start now (the caller then marks it started). HEAD OF
   * QUEUE tasks go to the front.
   */
  add(t: T): boolean {
    if (t.exclusive) this.exclusives++;
    if (t.attr === TaskAttr.HeadOfQueue) {
      this.list.unshift(t);
      return true;
    }
    this.list.push(t);
    // As enabled(): an exclusive task waits for every earlier one, any task for an earlier exclusive one.
    const may = t.exclusive ? this.list.length === 1 : this.exclusives === 0;
    if (!may) this.waiting++;
    return may;
  }

  private enabled(i: number): boolean {
    const t = this.list[i]!;
    if (t.attr === TaskAttr.HeadOfQueue) return true;
    for (let j = 0; j < i; j++) {
      const o = this.list[j]!;
      if (t.exclusive) return false;
      if (o.exclusive) return false;
    }
    return true;
  }

  /** Removes `t` and returns the waiting tasks that may start now (in order). */
  remove(t: T): T[] {
    const i = this.list.indexOf(t);
    if (i >= 0) {
      this.list.splice(i, 1);
      if (t.exclusive) this.exclusives--;
      if (!t.started) this.waiting--;
    }
    if (this.waiting === 0) return EMPTY;
    let ready: T[] | null = null;
    for (let j = 0; j < this.list.length; j++) {
      const o = this.list[j]!;
      if (!o.started && this.enabled(j)) {
        (ready ??= []).push(o);
        o.started = true;
        this.waiting--;
      }
    }
    return ready ?? EMPTY;
  }
}

const EMPTY: never[] = [];
