// tgtd --workers, main thread: the worker threads that own the targets, their placement (round robin at `--op new`) and the request/answer messages (docs/multicore.md "target sharding").
//
// Each worker runs its own Tgtd (worker-main.ts) with the iscsi LLD and the backing stores; the
// main thread keeps management, the portals and a copy of every target without LUs (for
// discovery, ACLs and CHAP bindings). A connection reaches a worker as an fd number: descriptors
// are process-wide, a net.Socket is not (worker.postMessage cannot carry one).
import { Worker } from 'node:worker_threads';
import type { IpcRequest } from '../mgmt/ipc.js';
import type { MgmtReply } from '../mgmt/reply.js';
import { TGTADM_INVALID_REQUEST } from '../mgmt/errors.js';
import type { HandedConnection } from '../lld/iscsi/handoff.js';
import type { Logger } from './log.js';
import { closeSync } from 'node:fs';

/** What a worker is started with (worker-main.ts). */
export interface WorkerConfig {
  index: number;
  /** LLDs to load (only iscsi runs in workers; iSER stays in the main thread). */
  llds: string[];
  bstypes: string[];
  lldArgs: [string, string][];
  moduleDirs: string[];
  debug: boolean;
  timing: boolean;
}

/** Main thread to worker. Those with an id are answered with the same id. */
export type ToWorker =
  | { kind: 'mgmt'; id: number; req: IpcRequest }
  | { kind: 'texts'; id: number; what: 'show' | 'stat' }
  | { kind: 'stop'; id: number }
  | { kind: 'conn'; conn: HandedConnection }
  | { kind: 'debug'; on: boolean };

/** Worker to main thread. */
export type FromWorker =
  | { kind: 'ready' }
  | { kind: 'log'; level: string; msg: string }
  | { kind: 'answer'; id: number; reply?: MgmtReply; texts?: [number, string][] };

interface Slot {
  worker: Worker;
  alive: boolean;
  /** Ended by stop() (terminate() exits with status 1: not worth an error line). */
  stopping: boolean;
  pending: Map<number, (m: FromWorker & { kind: 'answer' }) => void>;
}

export class WorkerPool {
  private readonly slots: Slot[] = [];
  private nextId = 1;
  private nextPlace = 0;
  /** tid -> worker index, and TargetName -> worker index, of the targets the workers own. */
  private readonly byTid = new Map<number, number>();
  private readonly byName = new Map<string, number>();
  private readonly names = new Map<number, string>();

  private constructor(private readonly log: Logger) {}

  /** Starts `n` workers and resolves once each has loaded its modules (or rejects if one fails to start). */
  static async start(n: number, config: Omit<WorkerConfig, 'index'>, log: Logger): Promise<WorkerPool> {
    const pool = new WorkerPool(log);
    const ready: Promise<void>[] = [];
    for (let index = 0; index < n; index++) {
      const worker = new Worker(new URL('./worker-main.js', import.meta.url), { workerData: { ...config, index } satisfies WorkerConfig });
      const slot: Slot = { worker, alive: true, stopping: false, pending: new Map() };
      pool.slots.push(slot);
      ready.push(new Promise<void>((resolve, reject) => {
        worker.on('message', (m: FromWorker) => {
          if (m.kind === 'ready') resolve();
          else if (m.kind === 'log') log.write(m.level, m.msg);
          else slot.pending.get(m.id)?.(m);
        });
        worker.on('error', (e) => {
          log.write('error', `worker ${index}: ${e.stack ?? e.message}`);
          reject(e);
        });
        worker.on('exit', (code) => {
          slot.alive = false;
          // Requests in flight get tgtadm's "invalid request" rather than no answer at all.
          for (const done of slot.pending.values()) done({ kind: 'answer', id: 0, reply: { err: TGTADM_INVALID_REQUEST, text: '' }, texts: [] });
          slot.pending.clear();
          if (code !== 0 && !slot.stopping) log.write('error', `worker ${index} exited with status ${code}`);
          reject(new Error(`worker ${index} exited with status ${code}`));
        });
      }));
    }
    try {
      await Promise.all(ready);
    } catch (e) {
      await pool.terminate();
      throw e;
    }
    return pool;
  }

  get size(): number {
    return this.slots.length;
  }

  /** The worker a new target goes to: round robin, so the targets of a busy host spread. */
  nextWorker(): number {
    const i = this.nextPlace;
    this.nextPlace = (this.nextPlace + 1) % this.slots.length;
    return i;
  }

  place(tid: number, name: string, worker: number): void {
    this.byTid.set(tid, worker);
    this.byName.set(name, worker);
    this.names.set(tid, name);
  }

  forget(tid: number): void {
    const name = this.names.get(tid);
    if (name !== undefined) this.byName.delete(name);
    this.names.delete(tid);
    this.byTid.delete(tid);
  }

  ownerOf(tid: number): number | undefined {
    return this.byTid.get(tid);
  }

  /** Worker indexes owning a target, for `show` (each worker once). */
  owners(): number[] {
    return [...new Set(this.byTid.values())].sort((a, b) => a - b);
  }

  /**
   * ConnectionHandoff.route: posts the connection to the worker owning `targetName`. A target whose
   * worker is gone cannot be served anywhere: its connection is closed (true: taken care of).
   */
  route(targetName: string, conn: HandedConnection): boolean {
    const i = this.byName.get(targetName);
    if (i === undefined) return false;
    const slot = this.slots[i]!;
    if (!slot.alive) {
      closeSync(conn.fd);
      return true;
    }
    slot.worker.postMessage({ kind: 'conn', conn } satisfies ToWorker);
    return true;
  }

  /** Runs a management request in worker `i`; its answer (tgtadm's code and text). */
  request(i: number, req: IpcRequest): Promise<MgmtReply> {
    return this.ask(i, (id) => ({ kind: 'mgmt', id, req })).then((a) => a.reply ?? { err: TGTADM_INVALID_REQUEST, text: '' });
  }

  /** Every worker's per-target texts (`--op show` blocks or `--op stat` lines), joined in tid order. */
  async texts(what: 'show' | 'stat'): Promise<[number, string][]> {
    const all = await Promise.all(this.slots.map((_, i) => this.ask(i, (id) => ({ kind: 'texts', id, what }))));
    return all.flatMap((a) => a.texts ?? []);
  }

  /** Runs `req` in every worker; their answers in worker order. */
  broadcast(req: IpcRequest): Promise<MgmtReply[]> {
    return Promise.all(this.slots.map((_, i) => this.request(i, req)));
  }

  setDebug(on: boolean): void {
    for (const s of this.slots) if (s.alive) s.worker.postMessage({ kind: 'debug', on } satisfies ToWorker);
  }

  /** Orderly stop: each worker destroys its targets and unloads its modules, then ends. */
  async stop(): Promise<void> {
    await Promise.all(this.slots.map((_, i) => this.ask(i, (id) => ({ kind: 'stop', id }))));
    await this.terminate();
  }

  private async terminate(): Promise<void> {
    for (const s of this.slots) s.stopping = true;
    await Promise.all(this.slots.map((s) => (s.alive ? s.worker.terminate() : Promise.resolve(0))));
  }

  private ask(i: number, msg: (id: number) => ToWorker): Promise<FromWorker & { kind: 'answer' }> {
    const slot = this.slots[i]!;
    if (!slot.alive) return Promise.resolve({ kind: 'answer', id: 0, reply: { err: TGTADM_INVALID_REQUEST, text: '' }, texts: [] });
    const id = this.nextId++;
    return new Promise((resolve) => {
      slot.pending.set(id, (m) => {
        slot.pending.delete(id);
        resolve(m);
      });
      slot.worker.postMessage(msg(id));
    });
  }
}
