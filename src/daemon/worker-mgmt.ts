// tgtd --workers: where each management request runs, the main thread, the target's worker or both, so tgtadm gets the same bytes as without workers (docs/multicore.md "Management").
//
// The main thread keeps a copy of every target without LUs (discovery's target list, ACLs, CHAP
// bindings, `--mode lld --op show`, `--mode system --op delete`'s "no target left" check); the
// worker owning the target has the real one. A request that changes a target runs in its worker
// first (which knows about sessions and LUs) and, when that worked, on the copy.
import {
  GLOBAL_TID, MODE_ACCOUNT, MODE_CONNECTION, MODE_DEVICE, MODE_LLD, MODE_SESSION, MODE_SYSTEM, MODE_TARGET,
  OP_BIND, OP_DELETE, OP_NEW, OP_SHOW, OP_START, OP_STATS, OP_STOP, OP_UNBIND, OP_UPDATE, type IpcRequest,
} from '../mgmt/ipc.js';
import { executeRequest } from '../mgmt/handlers.js';
import { targetShowTexts } from '../mgmt/handle-target.js';
import { statHeader, targetStatTexts } from '../mgmt/stat.js';
import { OP_BSLOAD, OP_BSUNLOAD, OP_LLDLOAD, OP_LLDUNLOAD, type MgmtReply } from '../mgmt/reply.js';
import type { MgmtHost } from '../mgmt/host.js';

/** The only LLD whose targets go to workers (iSER's RDMA provider stays single-threaded: docs/multicore.md). */
export const WORKER_LLD = 'iscsi';

export type Route =
  /** The main thread only: system show/delete, portals, lld show, account show, discovery account binds. */
  | 'main'
  /** target new: the main thread's copy first (it validates), then the next worker in turn. */
  | 'new'
  /** The owning worker answers: LUs, sessions, connections, show/stat of one target. */
  | 'owner'
  /** The owning worker answers; when it succeeded the main thread's copy follows (delete, ACL bind/unbind, update). */
  | 'owner+main'
  /** The main thread answers; when it succeeded the owning worker follows (an account bound to a target). */
  | 'main+owner'
  /** The main thread answers; when it succeeded every worker follows (accounts, module loads, lld start/stop, system update). */
  | 'main+all'
  /** Every worker first, then the main thread, only if all agreed (module unloads: a store may be in use in one worker). */
  | 'all+main'
  | 'show-all'
  | 'stat-all'
  /** system update debug: the main thread's logger, then each worker's flag (one "set debug to" line). */
  | 'debug';

export function routeOf(req: IpcRequest): Route {
  switch (req.mode) {
    case MODE_TARGET:
      if (req.op === OP_NEW) return 'new';
      if (req.op === OP_SHOW && req.tid < 0) return 'show-all';
      if (req.op === OP_DELETE || req.op === OP_BIND || req.op === OP_UNBIND || req.op === OP_UPDATE) return 'owner+main';
      return 'owner';
    case MODE_DEVICE:
    case MODE_SESSION:
    case MODE_CONNECTION:
      return 'owner';
    case MODE_ACCOUNT:
      if (req.op === OP_NEW || req.op === OP_DELETE) return 'main+all';
      if ((req.op === OP_BIND || req.op === OP_UNBIND) && req.tid !== GLOBAL_TID) return 'main+owner';
      return 'main';
    case MODE_SYSTEM:
      if (req.op === OP_STATS) return 'stat-all';
      if (req.op === OP_UPDATE) return req.payload.startsWith('debug=') ? 'debug' : 'main+all';
      if (req.op === OP_LLDLOAD || req.op === OP_BSLOAD) return 'main+all';
      if (req.op === OP_LLDUNLOAD || req.op === OP_BSUNLOAD) return 'all+main';
      return 'main';
    case MODE_LLD:
      return req.op === OP_START || req.op === OP_STOP ? 'main+all' : 'main';
    default:
      return 'main'; // portals: the main thread listens
  }
}

/** What the management side needs of the worker pool (WorkerPool; unit tests fake it). */
export interface WorkerRequests {
  nextWorker(): number;
  place(tid: number, name: string, worker: number): void;
  forget(tid: number): void;
  ownerOf(tid: number): number | undefined;
  request(worker: number, req: IpcRequest): Promise<MgmtReply>;
  broadcast(req: IpcRequest): Promise<MgmtReply[]>;
  texts(what: 'show' | 'stat'): Promise<[number, string][]>;
  setDebug(on: boolean): void;
}

/** The LLD a request is about, as executeRequest resolves it ('' when none is loaded). */
function lldOf(host: MgmtHost, req: IpcRequest): string {
  return req.lld !== '' ? req.lld : host.llds()[0]?.name ?? '';
}

/** Whether workers take part in a module or LLD request: stores always, LLDs only the one they run. */
function involvesWorkers(host: MgmtHost, req: IpcRequest): boolean {
  if (req.mode === MODE_SYSTEM && (req.op === OP_BSLOAD || req.op === OP_BSUNLOAD)) return true;
  if (req.mode === MODE_SYSTEM && (req.op === OP_LLDLOAD || req.op === OP_LLDUNLOAD)) return req.lld === WORKER_LLD;
  if (req.mode === MODE_LLD) return lldOf(host, req) === WORKER_LLD;
  return true;
}

/** The request that undoes a module unload in the workers that did it, when another refused. */
function reloadOf(req: IpcRequest): IpcRequest {
  return { ...req, op: req.op === OP_LLDUNLOAD ? OP_LLDLOAD : OP_BSLOAD };
}

/** The main thread's own targets (not on a worker: another LLD's, --demo's) and the workers', in tid order. */
function merged(own: [number, string][], theirs: [number, string][]): string {
  return [...own, ...theirs].sort((a, b) => a[0] - b[0]).map(([, t]) => t).join('');
}

/** Per pool, the end of the chain of management requests running in turn. */
const turns = new WeakMap<WorkerRequests, Promise<unknown>>();

/**
 * Runs one management request with workers, after every request that came before it has been
 * answered. A request here waits for the main thread and a worker in turn (`new` creates the copy,
 * then the worker's target, then records the owner; `delete` the reverse), so two of them
 * interleaved at those waits would leave the copy, the worker and the owner map disagreeing: the
 * management fuzz with --workers 2 left a target that `--op show` listed and `--op delete` could not
 * find (NO_TARGET). tgt runs its management requests one at a time as well.
 */
export function executeWithWorkers(
  host: MgmtHost, pool: WorkerRequests, req: IpcRequest, log: (level: 'info' | 'warn', msg: string) => void,
): Promise<MgmtReply> {
  const before = turns.get(pool) ?? Promise.resolve();
  const mine = before.then(() => runWithWorkers(host, pool, req, log));
  // the next request waits for this one however it ends
  turns.set(pool, mine.catch(() => undefined));
  return mine;
}

async function runWithWorkers(
  host: MgmtHost, pool: WorkerRequests, req: IpcRequest, log: (level: 'info' | 'warn', msg: string) => void,
): Promise<MgmtReply> {
  const warn = (msg: string): void => log('warn', msg);
  const differs = (what: string, r: MgmtReply): void => {
    if (r.err !== 0) warn(`workers: ${what} answered ${r.err} in a worker (mode ${req.mode} op ${req.op} tid ${req.tid})`);
  };
  const route = routeOf(req);
  const owner = pool.ownerOf(req.tid);
  switch (route) {
    case 'main':
      return executeRequest(host, req);
    case 'new': {
      const lld = lldOf(host, req);
      const r = await executeRequest(host, req);
      if (r.err !== 0 || lld !== WORKER_LLD) return r;
      const name = host.targets.get(req.tid)!.name;
      const w = pool.nextWorker();
      const rw = await pool.request(w, req);
      if (rw.err !== 0) {
        await host.destroyTarget(req.tid, true);
        return rw;
      }
      pool.place(req.tid, name, w);
      log('info', `tid ${req.tid} (${name}) runs in worker ${w}`);
      return r;
    }
    case 'owner':
      return owner === undefined ? executeRequest(host, req) : pool.request(owner, req);
    case 'owner+main': {
      if (owner === undefined) return executeRequest(host, req);
      const r = await pool.request(owner, req);
      if (r.err !== 0) return r;
      const copy = await executeRequest(host, req);
      if (copy.err !== 0) warn(`workers: the main thread's copy of tid ${req.tid} refused what its worker did (${copy.err})`);
      if (req.mode === MODE_TARGET && req.op === OP_DELETE) pool.forget(req.tid);
      return r;
    }
    case 'main+owner': {
      const r = await executeRequest(host, req);
      if (r.err === 0 && owner !== undefined) differs('an account binding', await pool.request(owner, req));
      return r;
    }
    case 'main+all': {
      const r = await executeRequest(host, req);
      if (r.err === 0 && involvesWorkers(host, req)) for (const rw of await pool.broadcast(req)) differs('a request', rw);
      return r;
    }
    case 'all+main': {
      if (!involvesWorkers(host, req)) return executeRequest(host, req);
      const rs = await pool.broadcast(req);
      const refused = rs.find((x) => x.err !== 0);
      const r = refused ?? (await executeRequest(host, req));
      if (r.err !== 0) {
        // Put the module back where it was unloaded, so every thread keeps the same set.
        await Promise.all(rs.map((x, i) => (x.err === 0 ? pool.request(i, reloadOf(req)) : null)));
      }
      return r;
    }
    case 'show-all':
    case 'stat-all': {
      // The main thread resolves the driver as without workers (an unknown --lld is refused the same way).
      const r = await executeRequest(host, req);
      if (r.err !== 0) return r;
      const what = route === 'show-all' ? 'show' : 'stat';
      const own = what === 'show'
        ? targetShowTexts(host).filter(([tid]) => pool.ownerOf(tid) === undefined)
        : targetStatTexts(host.targets).filter(([tid]) => pool.ownerOf(tid) === undefined);
      const text = merged(own, await pool.texts(what));
      return { err: 0, text: what === 'show' ? text : statHeader() + text };
    }
    case 'debug': {
      const r = await executeRequest(host, req);
      if (r.err === 0) pool.setDebug(host.system.debug);
      return r;
    }
  }
}
