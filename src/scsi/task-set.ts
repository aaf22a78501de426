// SAM-5 8.6 Task set management: SIMPLE / ORDERED / HEAD OF QUEUE ordering of one logical unit's tasks.
import { TaskAttr } from './api.js';

/** What the task set needs to know of a queued command. */
export interface TaskSetEntry {
  attr: number;
  /** Waits for every older task and holds back every newer one: an ORDERED task, or an atomic one. */
  exclusive: boolean;
  /** Runs alone (COMPARE AND WRITE, ORWRITE, WRITE ATOMIC): also not beside a HEAD OF QUEUE task. */
  atomic?: boolean;
  started: boolean;
}

/**
 * Tasks of one LU in arrival order (SAM-5 8.6): a HEAD OF QUEUE task is enabled at once; an
 * ORDERED task when every older task has ended; a SIMPLE task when every older ORDERED and older
 * HEAD OF QUEUE task has ended. Untagged and ACA tasks count as SIMPLE. An atomic task
 * (COMPARE AND WRITE, ORWRITE, WRITE ATOMIC) is enabled as an ORDERED one and also runs alone: it waits for newer HEAD OF QUEUE tasks already running, and a HEAD OF
 * QUEUE task arriving while it runs waits for it (the atomicity SBC-4 4.15 asks for comes first).
 */
export class TaskSet<T extends TaskSetEntry> {
  readonly list: T[] = [];
  /** Exclusive tasks in the list: with none (and no head of queue), a SIMPLE task starts without a scan. */
  private exclusives = 0;
  /** HEAD OF QUEUE tasks in the list. */
  private heads = 0;
  /** Tasks in the list not started yet: with none, a completion starts nothing, without a scan. */
  private waiting = 0;

  /** Adds `t`; returns true when it may start now (the caller then marks it started). */
  add(t: T): boolean {
    const older = this.list.length;
    if (t.exclusive) this.exclusives++;
    this.list.push(t);
    let may: boolean;
    if (t.attr === TaskAttr.HeadOfQueue) {
      this.heads++;
      may = this.exclusives === 0 || !this.atomicRunning();
    } else if (t.exclusive) may = older === 0;
    else may = this.exclusives === 0 && this.heads === 0;
    if (!may) this.waiting++;
    return may;
  }

  private atomicRunning(): boolean {
    for (const o of this.list) if (o.started && o.atomic === true) return true;
    return false;
  }

  private enabled(i: number): boolean {
    const t = this.list[i]!;
    if (t.attr === TaskAttr.HeadOfQueue) return !this.atomicRunning();
    if (t.exclusive) {
      if (i > 0) return false;
      return t.atomic !== true || !this.list.some((o) => o.started);
    }
    for (let j = 0; j < i; j++) {
      const o = this.list[j]!;
      if (o.exclusive || o.attr === TaskAttr.HeadOfQueue) return false;
    }
    return true;
  }

  /** Removes `t` and returns the waiting tasks that may start now (in order). */
  remove(t: T): T[] {
    const i = this.list.indexOf(t);
    if (i >= 0) {
      this.list.splice(i, 1);
      if (t.exclusive) this.exclusives--;
      if (t.attr === TaskAttr.HeadOfQueue) this.heads--;
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
