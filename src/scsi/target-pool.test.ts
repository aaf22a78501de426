// Unit test: the engine's pool of finished commands holds no reference to their tasks or transport callbacks (a closed connection's 64 MiB read stays collectable).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Status } from './api.js';
import type { ScsiTask } from './api.js';
import { cdb10, makeTask, rig } from './testing/harness.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

test('a finished command returned to the pool keeps neither its task nor its done callback alive', async () => {
  const r = rig({ dev: { async: true } });
  await r.clearUa();
  let taskRef: WeakRef<ScsiTask> | null = null;
  let connRef: WeakRef<object> | null = null;
  await (async () => {
    // A stand-in for the transport's connection, reachable only from the done callback.
    const conn = { big: Buffer.alloc(1 << 20) };
    connRef = new WeakRef(conn);
    const task = makeTask(r.i1, 1, cdb10(0x28, 0, 64));
    taskRef = new WeakRef(task);
    const status = await new Promise<number>((resolve) => r.target.execute(task, (t) => resolve(conn.big.length > 0 ? t.status : -1)));
    assert.equal(status, Status.Good);
    assert.equal(task.dataIn?.length, 64 * 512);
  })();
  await tick();
  gc();
  await tick();
  gc();
  assert.equal(taskRef!.deref(), undefined, 'the task (and its Data-In buffer) was collected');
  assert.equal(connRef!.deref(), undefined, 'what the done callback captured was collected');
  // The pooled command is reused as before.
  assert.equal((await r.run(cdb10(0x28, 0, 1))).status, Status.Good);
});
