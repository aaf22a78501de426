// Test helper: RdmaHandlers that record CM events and completions, and promises that wait for a state (never a sleep).
import {
  WC_BYTE_LEN, WC_CONN, WC_VENDOR_ERR, WC_OPCODE, WC_STATUS, WC_STRIDE, type CmEvent, type CompletionBatch, type ConnHandle, type RdmaHandlers,
} from '../rdma-provider-api.js';

export interface Wc {
  wrId: number;
  conn: ConnHandle;
  opcode: number;
  status: number;
  byteLen: number;
  vendorErr: number;
}

interface Waiter {
  check: () => boolean;
  fail: (e: Error) => void;
}

export class Recorder implements RdmaHandlers {
  readonly events: CmEvent[] = [];
  readonly wcs: Wc[] = [];
  /** Size of every completion batch delivered. */
  readonly batches: number[] = [];
  /** Runs synchronously for each event, inside onCmEvents (e.g. post receives on 'route-resolved'). */
  onEvent: ((ev: CmEvent) => void) | null = null;
  /** Runs synchronously for each completion, inside onCompletions (e.g. close the endpoint there). */
  onCompletion: ((wc: Wc) => void) | null = null;
  private waiters: Waiter[] = [];

  /** `timeoutMs`: how long waitFor/event/completion wait by default before failing with what was seen. */
  constructor(
    readonly name = 'endpoint',
    readonly timeoutMs = 20_000,
  ) {}

  onCmEvents(events: readonly CmEvent[]): void {
    for (const ev of events) {
      this.events.push(ev);
      this.onEvent?.(ev);
    }
    this.poke();
  }

  onCompletions(b: CompletionBatch): void {
    for (let i = 0; i < b.count; i++) {
      const f = i * WC_STRIDE;
      const wc: Wc = {
        wrId: b.wrId[i]!, conn: b.fields[f + WC_CONN]!, opcode: b.fields[f + WC_OPCODE]!,
        status: b.fields[f + WC_STATUS]!, byteLen: b.fields[f + WC_BYTE_LEN]!, vendorErr: b.fields[f + WC_VENDOR_ERR]!,
      };
      this.wcs.push(wc);
      this.onCompletion?.(wc);
    }
    this.batches.push(b.count);
    this.poke();
  }

  /** Resolves with the first truthy value of `probe`, checked now and after every delivery. */
  waitFor<T>(probe: () => T | undefined | null | false, what: string, timeoutMs = this.timeoutMs): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`${this.name}: timed out after ${timeoutMs} ms waiting for ${what}; events: ${
          this.events.map((e) => `${e.type}(${e.conn})`).join(' ')}; completions: ${this.wcs.length}`));
      }, timeoutMs);
      const waiter: Waiter = {
        check: () => {
          const v = probe();
          if (v === undefined || v === null || v === false) return false;
          clearTimeout(timer);
          resolve(v);
          return true;
        },
        fail: reject,
      };
      if (!waiter.check()) this.waiters.push(waiter);
    });
  }

  /** The first recorded event of `type` (for `conn` when given). */
  event<K extends CmEvent['type']>(type: K, conn?: ConnHandle): Promise<Extract<CmEvent, { type: K }>> {
    return this.waitFor(
      () => this.events.find((e): e is Extract<CmEvent, { type: K }> => e.type === type && (conn === undefined || e.conn === conn)),
      `CM event ${type}${conn === undefined ? '' : ` on conn ${conn}`}`,
    );
  }

  /** The completion of `wrId` (the first one; a chained post completes once, for its Send). */
  completion(wrId: number): Promise<Wc> {
    return this.waitFor(() => this.wcs.find((w) => w.wrId === wrId), `completion of wrId ${wrId}`);
  }

  private poke(): void {
    this.waiters = this.waiters.filter((w) => !w.check());
  }
}
