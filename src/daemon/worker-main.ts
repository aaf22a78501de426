// tgtd --workers, one worker thread: its own Tgtd (registry, iscsi LLD without portals, backing stores) owning the targets the main thread places on it (docs/multicore.md).
//
// Nothing here is shared with the main thread but messages: management requests run through the
// same executeRequest as without workers, so answers are the same bytes; connections arrive as fds
// and are wrapped here (new net.Socket({ fd, onread }) in the iscsi LLD's acceptFd).
import { closeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { Tgtd } from './tgtd.js';
import { logUncaught, type Logger } from './log.js';
import { executeRequest } from '../mgmt/handlers.js';
import { targetShowTexts } from '../mgmt/handle-target.js';
import { targetStatTexts } from '../mgmt/stat.js';
import type { HandedConnection } from '../lld/iscsi/handoff.js';
import type { FromWorker, ToWorker, WorkerConfig } from './workers.js';

const port = parentPort!;
const config = workerData as WorkerConfig;
const post = (m: FromWorker): void => port.postMessage(m);

/** Lines go to the main thread's logger (one message per line: logins and errors, nothing per I/O). */
const log: Logger = {
  debug: config.debug,
  write(level: string, msg: string): void {
    if (level === 'debug' && !this.debug) return;
    post({ kind: 'log', level, msg });
  },
};

let take: ((c: HandedConnection) => void) | null = null;
const tgtd = new Tgtd({
  controlPort: 0,
  lldArgs: new Map(config.lldArgs),
  moduleDirs: config.moduleDirs,
  log,
  timing: config.timing,
  handoff: { adopt: (fn) => void (take = fn) },
});

// The same safety net as the main thread's: a bug must not take this worker's targets down.
logUncaught(log, `worker ${config.index}: `);

async function handle(m: ToWorker): Promise<void> {
  switch (m.kind) {
    case 'conn':
      // No iscsi driver here (unloaded meanwhile): the connection cannot be served.
      if (take === null) closeSync(m.conn.fd);
      else take(m.conn);
      return;
    case 'debug':
      log.debug = m.on;
      return;
    case 'mgmt':
      post({ kind: 'answer', id: m.id, reply: await executeRequest(tgtd, m.req) });
      return;
    case 'texts': {
      const texts = m.what === 'show' ? targetShowTexts(tgtd) : targetStatTexts(tgtd.targets);
      post({ kind: 'answer', id: m.id, texts });
      return;
    }
    case 'stop':
      try {
        await tgtd.stop();
      } finally {
        post({ kind: 'answer', id: m.id });
      }
      return;
  }
}

async function start(): Promise<void> {
  for (const [kind, names] of [['lld', config.llds], ['bs', config.bstypes]] as const) {
    for (const name of names) {
      try {
        await tgtd.registry.load(kind, name);
      } catch (e) {
        // Listed in state "error" with its reason, as in the main thread; the others go on.
        log.write('debug', `worker ${config.index}: ${kind} ${name}: ${(e as Error).message}`);
      }
    }
  }
  port.on('message', (m: ToWorker) => {
    handle(m).catch((e: unknown) => log.write('error', `worker ${config.index}: ${m.kind}: ${(e as Error).stack ?? String(e)}`));
  });
  post({ kind: 'ready' });
}

void start();
