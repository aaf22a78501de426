// tgtd entry point: options, daemonizing, start order, signals, systemd notify (tgt-compat.md A1, A5).

import { builtin } from '../native/builtin.js';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseDaemonArgs, parseListen, USAGE, UsageError, type DaemonOptions } from './options.js';
import type { MetricsServer } from '../metrics/server.js';
import { Tgtd } from './tgtd.js';
import { chooseSink, logUncaught, openLogger, stderrIdentity, type Logger } from './log.js';
import { IpcServer } from '../mgmt/ipc-server.js';
import { executeRequest } from '../mgmt/handlers.js';
import { setupDemo } from './demo.js';
import { SdNotifier } from './sd-notify.js';
import type { IpcRequest } from '../mgmt/ipc.js';
import type { HandedConnection } from '../lld/iscsi/handoff.js';
import { loadIoAddon } from '../lld/iscsi/native-listener.js';
import { WorkerPool } from './workers.js';
import { executeWithWorkers, WORKER_LLD } from './worker-mgmt.js';

export const VERSION = '1.0.85-stgt0.1';

export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  let opts: DaemonOptions;
  try {
    opts = parseDaemonArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`${e.message}\nTry \`tgtd --help' for more information.\n`);
      process.exit(e.status);
    }
    throw e;
  }
  if (opts.action === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  if (opts.action === 'version') {
    process.stdout.write(`${VERSION}\n`);
    return;
  }
  if (!opts.foreground && !opts.nodaemonize) return daemonize(argv);
  await run(opts);
}

/** tgt daemonizes with daemon(3); Node cannot fork, so start a detached copy and leave. */
function daemonize(argv: string[]): void {
  // The script this process runs (bin/tgtd, from a checkout or an installed package).
  const script = process.argv[1] ?? fileURLToPath(new URL('../../../bin/tgtd', import.meta.url));
  // node:child_process only here: loading it costs every foreground start (systemd's) CPU for nothing.
  const { spawn } = builtin<typeof import('node:child_process')>('node:child_process');
  const child = spawn(process.execPath, [script, ...argv, '--nodaemonize'], { detached: true, stdio: 'ignore' });
  child.unref();
}

async function run(opts: DaemonOptions): Promise<void> {
  // Logging must never kill or spin the daemon when stderr goes away (EPIPE under a dead parent).
  process.stderr.on('error', () => {});
  process.stdout.on('error', () => {});
  const log = await openLogger(chooseSink(opts.foreground, process.env['JOURNAL_STREAM'], stderrIdentity()), opts.debug);
  // --workers N (docs/multicore.md): started before the management socket answers, so every target
  // created is placed on a worker. Without it (the default) nothing of this exists.
  const pool = opts.workers > 0 ? await startWorkers(opts, log) : null;
  const tgtd = new Tgtd({
    controlPort: opts.controlPort, lldArgs: opts.lldArgs, moduleDirs: opts.moduleDirs, log, timing: opts.metrics !== null,
    ...(pool !== null ? { handoff: { route: (name: string, conn: HandedConnection) => pool.route(name, conn) } } : {}),
  });
  const execute = pool === null
    ? (req: IpcRequest) => executeRequest(tgtd, req)
    : (req: IpcRequest) => executeWithWorkers(tgtd, pool, req, (level, m) => log.write(level, m));
  let ipc: IpcServer;
  try {
    ipc = await IpcServer.start({
      controlPort: opts.controlPort,
      handler: (req, reply) => {
        void execute(req).then((r) => reply(r.err, r.text));
      },
      log: (level, msg) => log.write(level, msg),
    });
  } catch (e) {
    log.write('error', (e as Error).message);
    process.exit(1);
  }
  for (const name of opts.llds) {
    try {
      await tgtd.registry.load('lld', name);
    } catch (e) {
      // The LLD stays listed in state "error" with its reason (the registry logged it); the others go on.
      log.write('debug', `lld ${name}: ${(e as Error).message}`);
    }
  }
  for (const name of opts.bstypes) {
    try {
      await tgtd.registry.load('bs', name);
    } catch (e) {
      log.write('debug', `backing store ${name}: ${(e as Error).message}`);
    }
  }
  if (opts.pidFile !== null) fs.writeFileSync(opts.pidFile, `${process.pid}\n`);
  if (opts.demo !== null) await setupDemo(tgtd, opts.demo, log);

  let metrics: MetricsServer | null = null;
  if (opts.metrics !== null) {
    // Imported only when asked for: a daemon without --metrics loads no HTTP code.
    const { startMetricsServer } = await import('../metrics/server.js');
    const { collectMetrics } = await import('../metrics/collect.js');
    const where = parseListen(opts.metrics)!;
    try {
      metrics = await startMetricsServer(where.host, where.port, () => collectMetrics(tgtd));
      log.write('info', `metrics at http://${opts.metrics}/metrics`);
      if (pool !== null) log.write('warn', '--metrics with --workers: the figures are the main thread\'s only (docs/multicore.md)');
    } catch (e) {
      log.write('error', `--metrics ${opts.metrics}: ${(e as Error).message}`);
      ipc.close();
      process.exit(1);
    }
  }

  const systemd = new SdNotifier(process.env, (m) => log.write('warn', m));
  let stopping = false;
  const shutdown = async (why: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.write('info', `shutting down (${why})`);
    // Under systemd: the unit is deactivating from here on, whoever asked for the stop.
    await systemd.notify(`STOPPING=1\nSTATUS=shutting down (${why})`);
    try {
      await tgtd.stop();
      await pool?.stop();
      await metrics?.close();
    } finally {
      ipc.close();
      if (opts.pidFile !== null) fs.rmSync(opts.pidFile, { force: true });
      process.exit(0);
    }
  };
  tgtd.onShutdown(() => void shutdown('tgtadm --op delete --mode system'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  logUncaught(log);
  // Type=notify: systemd runs ExecStartPost (tgt-admin -e) only after this, so the management
  // socket must already answer and the LLDs listen.
  await systemd.notify(`READY=1\nSTATUS=ready, control port ${opts.controlPort}`);
  log.write('info', `tgtd ready, control port ${opts.controlPort}`);
}

/**
 * --workers N: the pool, or exit 1 with the reason. Connections are routed by the fd the daemon's
 * own accept loop gives and the first Login PDU peeked from it, which only native/io can do: without
 * it (not built, STGT_NATIVE_IO=0) --workers is refused rather than silently running one loop.
 */
async function startWorkers(opts: DaemonOptions, log: Logger): Promise<WorkerPool> {
  const io = loadIoAddon();
  const why = io.addon === null ? io.reason : io.addon.ReadWatch === undefined ? 'io addon lacks ReadWatch (rebuild: npm run build:native)' : '';
  if (why !== '') {
    log.write('error', `--workers ${opts.workers} needs the native/io addon: ${why}`);
    process.exit(1);
  }
  try {
    return await WorkerPool.start(opts.workers, {
      llds: opts.llds.filter((n) => n === WORKER_LLD),
      bstypes: opts.bstypes,
      lldArgs: [...opts.lldArgs],
      moduleDirs: opts.moduleDirs,
      debug: opts.debug,
      timing: opts.metrics !== null,
    }, log);
  } catch (e) {
    log.write('error', `--workers ${opts.workers}: ${(e as Error).message}`);
    process.exit(1);
  }
}
