// SAM-5 5.14 Unit attention conditions: a per-LU, per-I_T-nexus queue of pending unit attentions.
import { Reason } from './sense.js';
import type { SenseReason } from './sense.js';

/** SAM-5 5.14: a power on / reset condition supersedes every other pending unit attention. */
function isReset(r: SenseReason): boolean {
  return r.asc === 0x29;
}

/** Pending unit attentions of one logical unit, keyed by I_T nexus id. */
export class UnitAttentions {
  private readonly pending = new Map<number, SenseReason[]>();
  /** Bound on each queue: SPC-4 lets a device server drop old conditions when it runs out of room. */
  static readonly MAX = 8;

  /** Queue `reason` for one nexus (duplicates collapse). */
  add(nexusId: number, reason: SenseReason): void {
    let q = this.pending.get(nexusId);
    if (!q) {
      q = [];
      this.pending.set(nexusId, q);
    }
    if (isReset(reason)) {
      q.length = 0;
      q.push(reason);
      return;
    }
    if (q.includes(reason)) return;
    if (q.length >= UnitAttentions.MAX) q.shift();
    q.push(reason);
  }

  /** Queue `reason` for every nexus in `ids` except `except`. */
  addAll(ids: Iterable<number>, reason: SenseReason, except = -1): void {
    for (const id of ids) if (id !== except) this.add(id, reason);
  }

  /** The oldest pending unit attention for the nexus, without clearing it. */
  peek(nexusId: number): SenseReason | null {
    const q = this.pending.get(nexusId);
    return q && q.length > 0 ? q[0]! : null;
  }

  /** Removes and returns the oldest pending unit attention. */
  take(nexusId: number): SenseReason | null {
    const q = this.pending.get(nexusId);
    if (!q || q.length === 0) return null;
    return q.shift()!;
  }

  /** Clears one specific condition (REPORT LUNS clears REPORTED LUNS DATA HAS CHANGED, SPC-4 6.33). */
  clear(nexusId: number, reason: SenseReason): void {
    const q = this.pending.get(nexusId);
    if (!q) return;
    const i = q.indexOf(reason);
    if (i >= 0) q.splice(i, 1);
  }

  drop(nexusId: number): void {
    this.pending.delete(nexusId);
  }

  count(nexusId: number): number {
    return this.pending.get(nexusId)?.length ?? 0;
  }
}

export { Reason as UaReason };
