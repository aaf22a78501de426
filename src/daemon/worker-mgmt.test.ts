// Unit tests: tgtd --workers management routing (docs/multicore.md "Management"): which thread answers, the main thread's target copies, show merged in tid order, unloads undone when a worker refuses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  emptyRequest, GLOBAL_TID, MODE_ACCOUNT, MODE_CONNECTION, MODE_DEVICE, MODE_LLD, MODE_PORTAL, MODE_SESSION, MODE_SYSTEM,
  MODE_TARGET, OP_BIND, OP_DELETE, OP_NEW, OP_SHOW, OP_START, OP_STATS, OP_UPDATE, type IpcRequest,
} from '../mgmt/ipc.js';
import { OP_BSLOAD, OP_BSUNLOAD, OP_LLDUNLOAD, type MgmtReply } from '../mgmt/reply.js';
import { TGTADM_TARGET_ACTIVE } from '../mgmt/errors.js';
import { AccountStore } from '../mgmt/accounts.js';
import type { MgmtHost, TargetResult } from '../mgmt/host.js';
import { Target } from '../scsi/target.js';
import { executeWithWorkers, routeOf, type WorkerRequests } from './worker-mgmt.js';

const req = (mode: number, op: number, o: Partial<IpcRequest> = {}): IpcRequest => ({ ...emptyRequest(), mode, op, ...o });

test('routeOf: what names a target goes to its worker; system, portal and account requests stay or are broadcast', () => {
  const cases: [IpcRequest, string][] = [
    [req(MODE_TARGET, OP_NEW, { tid: 1 }), 'new'],
    [req(MODE_TARGET, OP_SHOW), 'show-all'],
    [req(MODE_TARGET, OP_SHOW, { tid: 3 }), 'owner'],
    [req(MODE_TARGET, OP_STATS, { tid: 3 }), 'owner'],
    [req(MODE_TARGET, OP_DELETE, { tid: 3 }), 'owner+main'],
    [req(MODE_TARGET, OP_BIND, { tid: 3 }), 'owner+main'],
    [req(MODE_TARGET, OP_UPDATE, { tid: 3 }), 'owner+main'],
    [req(MODE_DEVICE, OP_NEW, { tid: 3 }), 'owner'],
    [req(MODE_SESSION, OP_SHOW, { tid: 3 }), 'owner'],
    [req(MODE_CONNECTION, OP_DELETE, { tid: 3 }), 'owner'],
    [req(MODE_ACCOUNT, OP_NEW), 'main+all'],
    [req(MODE_ACCOUNT, OP_DELETE), 'main+all'],
    [req(MODE_ACCOUNT, OP_BIND, { tid: 3 }), 'main+owner'],
    [req(MODE_ACCOUNT, OP_BIND, { tid: GLOBAL_TID }), 'main'],
    [req(MODE_ACCOUNT, OP_SHOW), 'main'],
    [req(MODE_SYSTEM, OP_SHOW), 'main'],
    [req(MODE_SYSTEM, OP_DELETE), 'main'],
    [req(MODE_SYSTEM, OP_STATS), 'stat-all'],
    [req(MODE_SYSTEM, OP_UPDATE, { payload: 'debug=on' }), 'debug'],
    [req(MODE_SYSTEM, OP_UPDATE, { payload: 'State=offline' }), 'main+all'],
    [req(MODE_SYSTEM, OP_BSLOAD), 'main+all'],
    [req(MODE_SYSTEM, OP_BSUNLOAD), 'all+main'],
    [req(MODE_SYSTEM, OP_LLDUNLOAD), 'all+main'],
    [req(MODE_LLD, OP_START), 'main+all'],
    [req(MODE_LLD, OP_SHOW), 'main'],
    [req(MODE_PORTAL, OP_NEW), 'main'],
  ];
  for (const [r, want] of cases) assert.equal(routeOf(r), want, `mode ${r.mode} op ${r.op} tid ${r.tid}`);
});

/** The main thread's side: targets without LUs on a ready iscsi LLD; module calls recorded. */
class FakeHost implements MgmtHost {
  readonly targets = new Map<number, Target>();
  readonly accounts = new AccountStore();
  readonly system = { state: 'ready' as const, debug: false };
  readonly calls: string[] = [];
  llds() {
    return [{ name: 'iscsi', state: 'ready' as const, error: null, driver: { exit: async () => {} } }];
  }
  bstores() {
    return [];
  }
  async loadModule(kind: string, name: string) {
    this.calls.push(`load ${kind} ${name}`);
  }
  async unloadModule(kind: string, name: string) {
    this.calls.push(`unload ${kind} ${name}`);
  }
  async startLld() {}
  async stopLld() {}
  createTarget(tid: number, name: string, lldName: string): TargetResult {
    if (this.targets.has(tid)) return 'exists';
    this.targets.set(tid, new Target({ tid, name, lldName }));
    return 'ok';
  }
  async destroyTarget(tid: number): Promise<TargetResult> {
    return this.targets.delete(tid) ? 'ok' : 'no-target';
  }
  async addLogicalUnit() {
    return 'invalid' as const;
  }
  async deleteLogicalUnit() {
    return 'invalid' as const;
  }
  async changeMedium() {
    return 'invalid' as const;
  }
  requestShutdown() {}
}

/** Two workers that answer from a script and record what they were asked. */
class FakePool implements WorkerRequests {
  readonly asked: [number, IpcRequest][] = [];
  readonly placed = new Map<number, number>();
  answer: (worker: number, r: IpcRequest) => MgmtReply = () => ({ err: 0, text: '' });
  showTexts: [number, string][] = [];
  private next = 0;
  nextWorker() {
    const w = this.next;
    this.next = (this.next + 1) % 2;
    return w;
  }
  place(tid: number, _name: string, worker: number) {
    this.placed.set(tid, worker);
  }
  forget(tid: number) {
    this.placed.delete(tid);
  }
  ownerOf(tid: number) {
    return this.placed.get(tid);
  }
  async request(worker: number, r: IpcRequest) {
    this.asked.push([worker, r]);
    return this.answer(worker, r);
  }
  broadcast(r: IpcRequest) {
    return Promise.all([0, 1].map((w) => this.request(w, r)));
  }
  async texts() {
    return this.showTexts;
  }
  setDebug() {}
}

const newTarget = (tid: number, name: string): IpcRequest => req(MODE_TARGET, OP_NEW, { tid, payload: `targetname=${name}` });

test('target new: a copy in the main thread, the target in the next worker in turn; a refusal there undoes the copy', async () => {
  const host = new FakeHost();
  const pool = new FakePool();
  const logs: string[] = [];
  const log = (_l: string, m: string): void => void logs.push(m);
  for (const tid of [1, 2, 3]) assert.equal((await executeWithWorkers(host, pool, newTarget(tid, `iqn.x:t${tid}`), log)).err, 0);
  assert.deepEqual([...pool.placed], [[1, 0], [2, 1], [3, 0]]);
  assert.deepEqual(logs, ['tid 1 (iqn.x:t1) runs in worker 0', 'tid 2 (iqn.x:t2) runs in worker 1', 'tid 3 (iqn.x:t3) runs in worker 0']);
  assert.deepEqual([...host.targets.keys()], [1, 2, 3]);
  // A bad name is refused by the main thread alone.
  assert.notEqual((await executeWithWorkers(host, pool, newTarget(4, 'bad name'), log)).err, 0);
  assert.equal(pool.asked.length, 3);
  pool.answer = () => ({ err: 17, text: '' });
  assert.equal((await executeWithWorkers(host, pool, newTarget(5, 'iqn.x:t5'), log)).err, 17);
  assert.equal(host.targets.has(5), false, 'the copy is gone');
  assert.equal(pool.ownerOf(5), undefined);
});

test('requests naming a target go to its worker with the same bytes back; delete reaches the copy only when the worker did it', async () => {
  const host = new FakeHost();
  const pool = new FakePool();
  const log = (): void => {};
  await executeWithWorkers(host, pool, newTarget(1, 'iqn.x:a'), log);
  await executeWithWorkers(host, pool, newTarget(2, 'iqn.x:b'), log);
  pool.answer = (w, r) => ({ err: 0, text: `worker ${w} mode ${r.mode}\n` });
  const lu = req(MODE_DEVICE, OP_UPDATE, { tid: 2, payload: 'vendor_id=X' });
  assert.deepEqual(await executeWithWorkers(host, pool, lu, log), { err: 0, text: 'worker 1 mode 2\n' });
  assert.equal(pool.asked.at(-1)![1], lu, 'the request itself is forwarded');

  pool.answer = () => ({ err: TGTADM_TARGET_ACTIVE, text: '' });
  const del = req(MODE_TARGET, OP_DELETE, { tid: 2 });
  assert.equal((await executeWithWorkers(host, pool, del, log)).err, TGTADM_TARGET_ACTIVE);
  assert.ok(host.targets.has(2), 'a refused delete keeps the copy');
  pool.answer = () => ({ err: 0, text: '' });
  assert.equal((await executeWithWorkers(host, pool, del, log)).err, 0);
  assert.equal(host.targets.has(2), false);
  assert.equal(pool.ownerOf(2), undefined);
});

test('show of all targets joins the workers\' blocks and the main thread\'s own in tid order', async () => {
  const host = new FakeHost();
  const pool = new FakePool();
  host.createTarget(2, 'iqn.x:main-only', 'iscsi'); // e.g. --demo's: never placed on a worker
  pool.placed.set(1, 0);
  pool.placed.set(3, 1);
  pool.showTexts = [[3, 'Target 3: c\n'], [1, 'Target 1: a\n']];
  const r = await executeWithWorkers(host, pool, req(MODE_TARGET, OP_SHOW), () => {});
  assert.equal(r.err, 0);
  assert.match(r.text, /^Target 1: a\nTarget 2: iqn\.x:main-only\n[^]*Target 3: c\n$/);
});

test('a store unload one worker refuses is undone where it happened, and the main thread keeps it', async () => {
  const host = new FakeHost();
  const pool = new FakePool();
  pool.answer = (w, r) => ({ err: w === 1 && r.op === OP_BSUNLOAD ? 22 : 0, text: '' });
  const unload = req(MODE_SYSTEM, OP_BSUNLOAD, { payload: 'bstype=memory' });
  assert.equal((await executeWithWorkers(host, pool, unload, () => {})).err, 22);
  assert.deepEqual(pool.asked.map(([w, r]) => [w, r.op]), [[0, OP_BSUNLOAD], [1, OP_BSUNLOAD], [0, OP_BSLOAD]]);
  assert.deepEqual(host.calls, []);
  pool.answer = () => ({ err: 0, text: '' });
  assert.equal((await executeWithWorkers(host, pool, unload, () => {})).err, 0);
  assert.deepEqual(host.calls, ['unload bs memory']);
});

test('requests run one after another: a delete sent while its target\'s new waits for the worker runs after it, so copy, worker and owner agree', async () => {
  const host = new FakeHost();
  let release = (): void => {};
  const gate = new Promise<void>((res) => (release = res));
  class GatedPool extends FakePool {
    override async request(worker: number, r: IpcRequest) {
      if (r.op === OP_NEW) await gate;
      return super.request(worker, r);
    }
  }
  const pool = new GatedPool();
  const log = (): void => {};
  const made = executeWithWorkers(host, pool, newTarget(7, 'iqn.x:racy'), log);
  const gone = executeWithWorkers(host, pool, req(MODE_TARGET, OP_DELETE, { tid: 7 }), log);
  // the delete must not touch the copy while the new is still waiting for its worker
  await new Promise((res) => setImmediate(res));
  assert.ok(host.targets.has(7), 'the copy was deleted under a new that had not finished');
  release();
  assert.equal((await made).err, 0);
  assert.equal((await gone).err, 0);
  assert.deepEqual(pool.asked.map(([w, r]) => [w, r.op]), [[0, OP_NEW], [0, OP_DELETE]], 'the delete went to the worker that has the target');
  assert.equal(host.targets.has(7), false);
  assert.equal(pool.ownerOf(7), undefined);
});
