// tgtd's log (tgt usr/log.c): stderr with -f, the journal's priority prefixes under systemd, syslog(3) as LOG_DAEMON otherwise.
//
// tgt logs to stderr with -f and through syslog (openlog("tgtd", 0, LOG_DAEMON)) with -D and when it
// daemonizes; debug lines (dprintf) only while debug is on (-d 1, or tgtadm --mode system --op
// update --name debug --value on). stgt does the same, and when its stderr is the journal
// (systemd sets JOURNAL_STREAM to that stream's "device:inode", systemd.exec(5)) it marks each line
// with the sd-daemon(3) "<N>" prefix so the journal records the level.
//
// Syslog goes through libc's own openlog/syslog via koffi (already a dependency, loaded only here
// and only for this sink): Node cannot open the AF_UNIX datagram socket /dev/log, and libc keeps
// the connection, reconnects after a syslog daemon restart and formats the header as every other
// daemon's. Spawning logger(1) per line would fork for each message; a long-lived logger child
// would be one more process to supervise. syslog(3) is a short blocking send to a local socket,
// as tgt's own logger process does it; without koffi or libc the lines go to stderr.
import fs from 'node:fs';

export type Level = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  /** Debug lines are written while this is on (tgt's is_debug). */
  debug: boolean;
  write(level: string, msg: string): void;
}

export type LogSink = 'stderr' | 'journal' | 'syslog';

/** syslog(3) priorities of the levels (LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG). */
const PRIORITY: Readonly<Record<string, number>> = { error: 3, warn: 4, info: 6, debug: 7 };
const LOG_DAEMON = 3 << 3;

export function priorityOf(level: string): number {
  return PRIORITY[level] ?? 6;
}

/**
 * Where tgtd logs: syslog unless -f (tgt: -D keeps the logger, only -f writes to stderr); with
 * -f, the journal's format when stderr is the stream JOURNAL_STREAM names.
 */
export function chooseSink(foreground: boolean, journalStream: string | undefined, stderrId: { dev: number; ino: number } | null): LogSink {
  if (!foreground) return 'syslog';
  if (journalStream === undefined || stderrId === null) return 'stderr';
  const m = /^(\d+):(\d+)$/.exec(journalStream);
  return m !== null && Number(m[1]) === stderrId.dev && Number(m[2]) === stderrId.ino ? 'journal' : 'stderr';
}

/** One line as each stream sink writes it. */
export function formatLine(sink: 'stderr' | 'journal', level: string, msg: string): string {
  // Every line of a multi-line message (a stack) keeps the prefix, so none loses its level.
  if (sink === 'journal') return msg.split('\n').map((l) => `<${priorityOf(level)}>${level}: ${l}\n`).join('');
  return `tgtd: ${level}: ${msg}\n`;
}

function streamLogger(sink: 'stderr' | 'journal', debug: boolean): Logger {
  return {
    debug,
    write(level: string, msg: string): void {
      if (level === 'debug' && !this.debug) return;
      if (process.stderr.destroyed || !process.stderr.writable) return;
      process.stderr.write(formatLine(sink, level, msg));
    },
  };
}

export function stderrLogger(debug: boolean): Logger {
  return streamLogger('stderr', debug);
}

interface Koffi {
  load(path: string): { func(signature: string): (...args: unknown[]) => unknown };
}

/** libc's syslog(3) with tgt's openlog; null (and why) when koffi or libc cannot be loaded. */
async function openSyslog(ident: string): Promise<{ send(prio: number, msg: string): void } | string> {
  try {
    const spec = 'koffi'; // a variable: only a daemon that logs to syslog loads it
    const k = ((await import(spec)) as { default: Koffi }).default;
    let libc: ReturnType<Koffi['load']> | null = null;
    let why = '';
    for (const name of ['libc.so.6', 'libc.so']) {
      try {
        libc = k.load(name);
        break;
      } catch (e) {
        why = (e as Error).message;
      }
    }
    if (libc === null) return why;
    const openlog = libc.func('void openlog(void *ident, int option, int facility)');
    const syslog = libc.func('void syslog(int priority, const char *format, ...)');
    // openlog keeps the pointer: the buffer lives as long as this closure.
    const identBuf = Buffer.from(`${ident}\0`);
    openlog(identBuf, 0, LOG_DAEMON);
    return {
      send(prio: number, msg: string): void {
        void identBuf;
        syslog(prio, '%s', 'str', msg);
      },
    };
  } catch (e) {
    return (e as Error).message;
  }
}

/** The logger for `sink` (syslog falls back to stderr, saying so, where libc's syslog is out of reach). */
export async function openLogger(sink: LogSink, debug: boolean): Promise<Logger> {
  if (sink !== 'syslog') return streamLogger(sink, debug);
  const s = await openSyslog('tgtd');
  if (typeof s === 'string') {
    const l = streamLogger('stderr', debug);
    l.write('warn', `cannot log to syslog (${s}): logging to stderr`);
    return l;
  }
  const logger: Logger = {
    debug,
    write(level: string, msg: string): void {
      if (level === 'debug' && !this.debug) return;
      // syslog(3) sends one datagram per call: one per line, so a stack keeps every line's level.
      for (const line of msg.split('\n')) s.send(priorityOf(level), `${level}: ${line}`);
    },
  };
  return logger;
}

/** stderr's device and inode (for JOURNAL_STREAM), or null when it is closed. */
export function stderrIdentity(): { dev: number; ino: number } | null {
  try {
    const st = fs.fstatSync(2);
    return { dev: st.dev, ino: st.ino };
  } catch {
    return null;
  }
}

/**
 * The last-resort net for an exception nothing caught (design.md §4: a bug in one request must not
 * take the storage down; it is logged as `uncaught`, which is itself a bug to fix). Log writes can
 * fail too (stderr closed under a dead parent, a worker's port gone): never an error-logging loop.
 */
export function logUncaught(log: Logger, prefix = ''): void {
  let inHandler = false;
  process.on('uncaughtException', (e) => {
    if (inHandler) return;
    inHandler = true;
    try {
      log.write('error', `${prefix}uncaught: ${e.stack ?? String(e)}`);
    } catch {
      // nowhere left to report it
    } finally {
      inHandler = false;
    }
  });
}
