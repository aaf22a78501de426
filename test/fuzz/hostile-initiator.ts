// The project's hostile iSCSI initiator (issue 9): rounds of many connections sending mutated, lying and abrupt PDUs, then invariants of tgtd checked.
//
// A round runs a few worker slots until its PDU budget is spent. Each slot keeps opening work:
// sessions of one connection or several (same ISID+TSIH, MaxConnections > 1), with or without
// CRC32C digests, a discovery session, short hostile logins, raw garbage; a few connections stop
// reading on purpose. Hostile PDUs are written in pipelined bursts and never waited for; what the
// target sends back is counted and thrown away. After every round all its connections are cut
// and the invariants are checked (see checkRound). Everything random comes from one seed.

import net from 'node:net';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type { RunResult } from '../helpers/daemon.js';
import { MiniInitiator } from '../helpers/mini-initiator.js';
import { Rand } from './rand.js';
import { FfpFuzzer, TagRing, type ConnLimits, type SessionCtx } from './hostile-ffp.js';
import { LoginFuzzer } from './hostile-login.js';
import { frame, logout, nopOut } from './initiator-pdus.js';
import { cleanSession, nexusCount } from './clean-session.js';
import { Tally, tallyListener } from './response-tally.js';

/** The daemon under attack: how to reach it and how to look at it. */
export interface HostileTarget {
  host: string;
  port: number;
  /** Target (tid 1) without authentication, LUN 1 a disk of `blocks` 512-byte blocks. */
  iqn: string;
  blocks: number;
  /** Target that requires CHAP (tid 2). */
  chapIqn: string;
  chapUser: string;
  chapSecret: string;
  pid: number;
  alive(): boolean;
  /** Everything tgtd wrote to stderr so far. */
  stderr(): string;
  tgtadm(...args: string[]): Promise<RunResult>;
}

export interface HostileOptions {
  seed: number;
  /** Stop after this many PDUs (the last round may overshoot by a burst per connection). */
  pdus: number;
  /** PDU budget of one round. Default 20000. */
  roundPdus?: number;
  /** Concurrent workers in a round. Default 6. */
  slots?: number;
  /** tgtd VmRSS must stay below this. Default 300 MiB. */
  rssLimitMiB?: number;
  /** ... and not grow past the first rounds' highest by more than this. Default 128 MiB. */
  rssGrowthMiB?: number;
  /** Deadline for the I_T nexuses of a round to disappear. Default 15 s. */
  nexusDeadlineMs?: number;
  /** Progress lines (one per round). */
  log?: (line: string) => void;
}

export interface HostileStats {
  rounds: number;
  pdus: number;
  /** TCP connections opened. */
  connections: number;
  /** Successful logins (each connection of a multi-connection session counts). */
  logins: number;
  loginFailures: number;
  /** Connections the target closed before we did. */
  targetClosed: number;
  /** How connection scripts ended: quota, fatal PDU, closed by the target, round over, stalled. */
  ends: Record<string, number>;
  /** Sync pings answered (each one proves the target read everything before it). */
  syncs: number;
  /** Sync pings with neither an answer nor a close within 10 s (a connection the target stopped serving). */
  stalls: number;
  elapsedMs: number;
  /** tgtd VmRSS after each round, MiB. */
  rssMiB: number[];
}

export interface HostileResult {
  stats: HostileStats;
  /** What tgtd answered the logged-in hostile connections, by opcode. */
  answers: Tally;
  failures: string[];
}

/** Lines in tgtd's stderr that mean a bug, whatever else happened. */
export const BAD_LOG = /uncaught|TypeError|RangeError|ReferenceError|SyntaxError|heap out of memory|FATAL ERROR/;

/** One round's shared state. */
class Round {
  readonly socks = new Set<net.Socket>();
  readonly live: SessionCtx[] = [];
  readonly tags = new TagRing();
  pdus = 0;
  stopping = false;
  sessions = 0;

  constructor(readonly n: number, readonly budget: number, readonly stats: HostileStats) {}

  count(n: number): void {
    this.pdus += n;
    this.stats.pdus += n;
    if (this.pdus >= this.budget) this.stopping = true;
  }

  track(s: net.Socket): void {
    this.socks.add(s);
    s.once('close', () => this.socks.delete(s));
  }
}

const yieldTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Resolves on 'drain' or 'close', or after `ms` (false). */
function drained(s: net.Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (ok: boolean): void => {
      clearTimeout(t);
      s.off('drain', onDrain);
      s.off('close', onClose);
      resolve(ok);
    };
    const onDrain = (): void => done(true);
    const onClose = (): void => done(false);
    const t = setTimeout(() => done(false), ms);
    s.once('drain', onDrain);
    s.once('close', onClose);
  });
}

interface HConn {
  m: MiniInitiator;
  f: FfpFuzzer;
  sess: SessionCtx;
  cid: number;
  weClosed: boolean;
  /** Sync pings sent and not yet answered, by ITT. */
  pings: Map<number, () => void>;
  nextPing: number;
}

/** ITTs of sync pings (the fuzzer's own tags start below 0x7fff0000 and rarely get here). */
const PING_ITT = 0xfffe0000;

/**
 * An immediate NOP-Out the target must answer (RFC 7143 11.18): its NOP-In comes after the answers
 * to everything sent before it on the connection, so it tells how far the target has read.
 */
function syncPing(c: HConn): { bytes: Buffer; answered: Promise<boolean> } {
  const itt = (PING_ITT + (c.nextPing++ & 0xffff)) >>> 0;
  const answered = new Promise<boolean>((resolve) => {
    if (c.m.closed) return resolve(false);
    const onClose = (): void => resolve(false);
    c.m.sock.once('close', onClose);
    c.pings.set(itt, () => {
      c.m.sock.off('close', onClose);
      resolve(true);
    });
  });
  const bytes = frame(nopOut({ immediate: true, lun: 0, itt, ttt: 0xffffffff, cmdSN: c.sess.cmdSN, expStatSN: 0, data: null }), c.f.dig);
  return { bytes, answered };
}

/** Waits for a ping's answer or the connection's close; false after `ms` without either. */
function within(p: Promise<boolean>, ms: number): Promise<boolean | 'timeout'> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve('timeout'), ms);
    void p.then((v) => {
      clearTimeout(t);
      resolve(v);
    });
  });
}

export class HostileInitiator {
  readonly stats: HostileStats = {
    rounds: 0, pdus: 0, connections: 0, logins: 0, loginFailures: 0, targetClosed: 0, ends: {}, syncs: 0, stalls: 0, elapsedMs: 0,
    rssMiB: [],
  };
  readonly failures: string[] = [];
  readonly answers = new Tally();
  private stderrSeen = 0;
  /** tgtd's open sockets before the first round (portal, management socket). */
  private baseSockets = -1;

  constructor(private readonly t: HostileTarget, private readonly o: HostileOptions) {}

  async run(): Promise<HostileResult> {
    const t0 = Date.now();
    const top = new Rand(this.o.seed);
    const roundPdus = this.o.roundPdus ?? 20000;
    this.baseSockets = socketCount(this.t.pid);
    try {
      while (this.stats.pdus < this.o.pdus && this.failures.length === 0) {
        const budget = Math.min(roundPdus, this.o.pdus - this.stats.pdus);
        const round = new Round(++this.stats.rounds, budget, this.stats);
        await this.runRound(round, top.fork());
        await this.checkRound(round, top.fork());
        this.stats.elapsedMs = Date.now() - t0;
        this.o.log?.(
          `round ${round.n}: ${round.pdus} PDUs, ${round.sessions} sessions; total ${this.stats.pdus} PDUs, ` +
          `${this.stats.connections} connections, tgtd RSS ${this.stats.rssMiB.at(-1) ?? '?'} MiB, ` +
          `${Math.round(this.stats.pdus / Math.max(1, this.stats.elapsedMs / 1000))} PDU/s`,
        );
      }
    } catch (e) {
      this.failures.push(`hostile initiator failed: ${(e as Error).stack ?? String(e)}`);
    }
    this.stats.elapsedMs = Date.now() - t0;
    return { stats: this.stats, answers: this.answers, failures: this.failures };
  }

  // ------------------------------------------------------------------ one round

  private async runRound(round: Round, r: Rand): Promise<void> {
    const slots = this.o.slots ?? 6;
    const work: Array<Promise<void>> = [];
    // Connections that stop reading: they ask for answers and never take them.
    for (let i = 0; i < 1 + r.int(2); i++) work.push(this.session(round, r.fork(), { conns: 1, nonReader: true }));
    for (let i = 0; i < slots; i++) work.push(this.slot(round, r.fork()));
    await Promise.all(work);
    // Cut whatever is still open, as a crashing initiator would (FIN or RST).
    for (const s of [...round.socks]) {
      if (r.chance(0.5)) s.destroy();
      else s.resetAndDestroy();
    }
  }

  private async slot(round: Round, r: Rand): Promise<void> {
    const kinds = [4, 3, 1.5, 0.7, 0.5];
    const total = kinds.reduce((a, b) => a + b, 0);
    while (!round.stopping) {
      switch (r.weighted(kinds, total)) {
        case 0: await this.session(round, r.fork(), { conns: 1 }); break;
        case 1: await this.session(round, r.fork(), { conns: r.range(2, 4) }); break;
        case 2: await this.logins(round, r.fork()); break;
        case 3: await this.garbage(round, r.fork()); break;
        default: await this.session(round, r.fork(), { conns: 1, discovery: true });
      }
    }
  }

  /** A session of `conns` connections, each driven with hostile full-feature PDUs. */
  private async session(round: Round, r: Rand, o: { conns: number; nonReader?: boolean; discovery?: boolean }): Promise<void> {
    const reinstate = round.live.length > 0 && r.chance(0.04) ? r.pick(round.live) : null;
    const sess: SessionCtx = {
      cmdSN: r.u32(), tsih: 0, cids: [],
      isid: reinstate?.isid ?? Buffer.from([0x80 | r.int(0x40), r.byte(), r.byte(), r.byte(), r.byte(), r.byte()]),
      initiatorName: reinstate?.initiatorName ?? `iqn.2026-11.org.stgt.fuzz:r${round.n}-${r.int(1e6)}`,
      discovery: o.discovery === true,
    };
    const conns: HConn[] = [];
    for (let i = 0; i < o.conns && !round.stopping; i++) {
      // Now and then a CID already in use: connection reinstatement closes the older one (RFC 7143 6.3.4).
      const cid = i > 0 && r.chance(0.08) ? r.int(i) : i;
      const c = await this.connectAndLogin(round, r, sess, cid, o.conns);
      if (c === null) break;
      conns.push(c);
      if (i === 0) {
        round.live.push(sess);
        round.sessions++;
      }
    }
    if (o.nonReader) for (const c of conns) c.m.sock.pause();
    await Promise.all(conns.map((c) => this.drive(round, r.fork(), c, o.nonReader ? r.range(300, 1500) : r.range(50, 1500))));
    const i = round.live.indexOf(sess);
    if (i >= 0 && conns.every((c) => c.m.closed)) round.live.splice(i, 1);
  }

  private async connectAndLogin(round: Round, r: Rand, sess: SessionCtx, cid: number, maxConns: number): Promise<HConn | null> {
    const t = this.t;
    let m: MiniInitiator;
    try {
      m = await MiniInitiator.connect(t.port, t.host);
    } catch {
      return null;
    }
    this.stats.connections++;
    round.track(m.sock);
    m.isid = Buffer.from(sess.isid);
    m.tsih = sess.tsih;
    m.cid = cid;
    m.cmdSN = sess.cmdSN;
    m.itt = r.u32();
    const digests = { header: !sess.discovery && r.chance(0.25), data: !sess.discovery && r.chance(0.25) };
    // Unusual but legal values most of the time: small segments, bursts, R2T and ERL choices.
    const extra: Record<string, string> = {
      MaxConnections: String(maxConns),
      HeaderDigest: digests.header ? r.pick(['CRC32C', 'CRC32C,None']) : 'None',
      DataDigest: digests.data ? r.pick(['CRC32C', 'CRC32C,None']) : 'None',
    };
    if (r.chance(0.4)) {
      extra.MaxRecvDataSegmentLength = r.pick(['512', '1024', '4096', '8192', '65536', '16777215']);
      extra.MaxBurstLength = r.pick(['512', '8192', '65536', '262144', '16777215']);
      extra.FirstBurstLength = r.pick(['512', '4096', '65536', '262144']);
      extra.MaxOutstandingR2T = r.pick(['1', '2', '8', '65535']);
      extra.InitialR2T = r.pick(['Yes', 'No', 'No']);
      extra.ImmediateData = r.pick(['Yes', 'Yes', 'No']);
      extra.ErrorRecoveryLevel = r.pick(['0', '1', '2']);
    }
    let answers: Map<string, string>;
    try {
      answers = await m.login(sess.discovery ? null : t.iqn, sess.initiatorName, extra);
    } catch {
      this.stats.loginFailures++;
      m.sock.destroy();
      return null;
    }
    this.stats.logins++;
    if (cid === 0) sess.tsih = m.tsih;
    if (!sess.cids.includes(cid)) sess.cids.push(cid);
    const dig = { header: answers.get('HeaderDigest') === 'CRC32C', data: answers.get('DataDigest') === 'CRC32C' };
    // From here on answers are only counted (the socket keeps flowing) and dropped.
    const pings = new Map<number, () => void>();
    m.sock.removeAllListeners('data');
    m.sock.on('data', tallyListener(this.answers, dig, (itt) => {
      const done = pings.get(itt);
      if (done !== undefined) {
        pings.delete(itt);
        done();
      }
    }));
    const lim: ConnLimits = {
      maxRecv: Number(answers.get('MaxRecvDataSegmentLength') ?? 8192) || 8192,
      firstBurst: answers.get('InitialR2T') === 'No' ? Number(answers.get('FirstBurstLength') ?? 65536) || 0 : 0,
      blocks: t.blocks,
    };
    const f = new FfpFuzzer(r.fork(), sess, cid, dig, lim, m.expStatSN, round.tags);
    return { m, f, sess, cid, weClosed: false, pings, nextPing: 0 };
  }

  /**
   * Write `quota` PDUs in bursts without waiting for answers, then leave the connection somehow.
   * Every `window` PDUs a sync ping goes out, and the writer never runs more than two windows
   * ahead of what the target has answered: PDUs counted as sent are PDUs the target has read
   * (not bytes that a reset at the round's end throws away). Connections that stop reading on
   * purpose (`c.m.sock.isPaused()`) get no pings.
   */
  private async drive(round: Round, r: Rand, c: HConn, quota: number): Promise<void> {
    const sock = c.m.sock;
    const reading = !sock.isPaused();
    const window = r.range(20, 120);
    const outstanding: Array<Promise<boolean>> = [];
    let sent = 0;
    let sinceSync = 0;
    const settle = async (keep: number): Promise<boolean> => {
      while (outstanding.length > keep) {
        const v = await within(outstanding.shift()!, 10_000);
        if (v === 'timeout') {
          this.stats.stalls++;
          return false;
        }
        if (!v) return false;
        this.stats.syncs++;
      }
      return true;
    };
    while (!c.m.closed && !round.stopping && sent < quota) {
      const parts: Buffer[] = [];
      let n = 0;
      let fatal = false;
      const burst = r.range(4, 40);
      while (n < burst && sent + n < quota) {
        const e = c.f.emit();
        parts.push(e.bytes);
        n += e.pdus;
        if (e.fatal) {
          fatal = true;
          break;
        }
      }
      sinceSync += n;
      let ping: Promise<boolean> | null = null;
      if (reading && !fatal && sinceSync >= window) {
        const p = syncPing(c);
        parts.push(p.bytes);
        ping = p.answered;
        sinceSync = 0;
        n++;
      }
      if (c.m.closed) break;
      const ok = sock.write(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
      round.count(n);
      sent += n;
      if (fatal) return this.ended('fatal'); // the target drops the connection; the round's end cuts it otherwise
      if (ping !== null) {
        outstanding.push(ping);
        if (!(await settle(1))) break;
      }
      if (!ok) {
        if (!(await drained(sock, 5000))) break;
      } else await yieldTurn();
    }
    if (reading && !c.m.closed && sent > 0) {
      // A last ping: everything this connection sent has been read before it is left.
      const p = syncPing(c);
      sock.write(p.bytes);
      round.count(1);
      outstanding.push(p.answered);
      await settle(0);
    }
    if (c.m.closed) {
      if (!c.weClosed) this.stats.targetClosed++;
      return this.ended('closed by target');
    }
    if (round.stopping) return this.ended('round over');
    this.ended('quota');
    c.weClosed = true;
    const k = r.int(20);
    if (k < 7) return; // left open until the round's end
    if (k < 11) sock.destroy();
    else if (k < 14) sock.resetAndDestroy();
    else if (k < 16) {
      // Cut in the middle of a PDU.
      const e = c.f.emit();
      sock.write(e.bytes.subarray(0, r.int(e.bytes.length)));
      round.count(1);
      sock.destroy();
    } else if (k < 18) {
      sock.write(frame(logout({ immediate: true, reason: 0, itt: r.u32(), cid: c.cid, cmdSN: c.sess.cmdSN, expStatSN: 0 }), c.f.dig));
      round.count(1);
      sock.end();
    } else sock.end();
  }

  private ended(how: string): void {
    this.stats.ends[how] = (this.stats.ends[how] ?? 0) + 1;
  }

  /** A few hostile logins at once (they are short; some wait for one answer). */
  private async logins(round: Round, r: Rand): Promise<void> {
    const t = this.t;
    const env = {
      host: t.host, port: t.port, iqn: t.iqn, chapIqn: t.chapIqn, chapUser: t.chapUser, chapSecret: t.chapSecret,
      live: round.live, track: (s: net.Socket) => round.track(s), opened: () => this.stats.connections++,
    };
    const n = r.range(2, 6);
    const batch: Array<Promise<number>> = [];
    for (let i = 0; i < n; i++) batch.push(new LoginFuzzer(r.fork(), env, `${round.n}-${r.int(1e6)}`).run());
    for (const p of await Promise.all(batch)) round.count(p);
  }

  /** Raw bytes on a fresh connection: noise, a cut header, or nothing at all. */
  private async garbage(round: Round, r: Rand): Promise<void> {
    const t = this.t;
    const s = net.connect({ host: t.host, port: t.port });
    s.on('error', () => undefined);
    s.on('data', () => undefined);
    const up = await new Promise<boolean>((res) => {
      s.once('connect', () => res(true));
      s.once('error', () => res(false));
    });
    if (!up) return;
    this.stats.connections++;
    round.track(s);
    const k = r.int(4);
    if (k === 0) s.write(r.bytes(r.range(1, 4096)));
    else if (k === 1) s.write(r.bytes(r.range(1, 47)));
    else if (k === 2) {
      // Headers that claim a login with a huge or lying data segment.
      const b = r.bytes(48);
      b[0] = 0x43;
      b[4] = r.int(4);
      b.writeUIntBE(r.pick([0, 8192, 8193, 0xffffff, r.int(0x1000000)]), 5, 3);
      s.write(Buffer.concat([b, r.bytes(r.int(512))]));
    }
    round.count(1);
    const e = r.int(3);
    if (e === 0) s.destroy();
    else if (e === 1) s.resetAndDestroy();
    else s.end();
  }

  // ------------------------------------------------------------------ invariants

  /**
   * After a round: tgtd alive, nothing alarming in its stderr, no I_T nexus and no socket left once
   * every round connection is gone (polled, with a deadline), RSS bounded and not creeping up, and
   * a clean session writes and reads back random blocks.
   */
  private async checkRound(round: Round, r: Rand): Promise<void> {
    const t = this.t;
    const fail = (msg: string): void => {
      this.failures.push(`round ${round.n} (seed ${this.o.seed}): ${msg}`);
    };
    this.checkAlive(fail);
    if (!t.alive()) return;
    const left = await this.waitNoNexus(this.o.nexusDeadlineMs ?? 15000);
    if (left !== null) fail(`I_T nexuses left after every connection closed:\n${left}`);
    // Every connection of the round is gone on our side: tgtd must have let go of its sockets too.
    const socks = await this.waitSockets(this.o.nexusDeadlineMs ?? 15000);
    if (socks !== null) fail(`tgtd still holds ${socks} sockets (${this.baseSockets} before the first round)`);
    const rss = rssMiB(t.pid);
    this.stats.rssMiB.push(rss);
    const limit = this.o.rssLimitMiB ?? 300;
    if (rss > limit) fail(`tgtd RSS ${rss} MiB > ${limit} MiB`);
    const warm = this.stats.rssMiB.slice(0, 3);
    const growth = this.o.rssGrowthMiB ?? 128;
    if (this.stats.rssMiB.length > 3 && rss > Math.max(...warm) + growth) {
      fail(`tgtd RSS grew from ${Math.max(...warm)} MiB (first rounds) to ${rss} MiB`);
    }
    const bad = await cleanSession(t, r);
    if (bad !== null) fail(`clean session: ${bad}`);
    this.checkAlive(fail);
  }

  private checkAlive(fail: (m: string) => void): void {
    const t = this.t;
    if (!t.alive()) fail('tgtd is not running');
    const all = t.stderr();
    const fresh = all.slice(this.stderrSeen);
    this.stderrSeen = all.length;
    const lines = fresh.split('\n').filter((l) => BAD_LOG.test(l));
    if (lines.length > 0) fail(`tgtd stderr:\n${lines.slice(0, 20).join('\n')}`);
  }

  /** null once tgtd holds no more sockets than before the first round, else how many it holds. */
  private async waitSockets(deadlineMs: number): Promise<number | null> {
    const end = Date.now() + deadlineMs;
    for (;;) {
      const n = socketCount(this.t.pid);
      if (n <= this.baseSockets) return null;
      if (Date.now() > end) return n;
      await new Promise((res) => setTimeout(res, 100));
    }
  }

  /** null once no I_T nexus is listed, else the last `target show` output after the deadline. */
  async waitNoNexus(deadlineMs: number): Promise<string | null> {
    const end = Date.now() + deadlineMs;
    let last = '';
    for (;;) {
      const { count, text } = await nexusCount(this.t);
      if (count === 0) return null;
      last = text;
      if (Date.now() > end) return last;
      await new Promise((res) => setTimeout(res, 100));
    }
  }
}

/** Open sockets of a process (its /proc/PID/fd links to socket:[inode]); -1 when it is gone. */
export function socketCount(pid: number): number {
  try {
    let n = 0;
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) n++;
      } catch {
        // closed while we looked
      }
    }
    return n;
  } catch {
    return -1;
  }
}

/** VmRSS of a process in MiB (0 when it is gone). */
export function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? 0 : Math.round(Number(m[1]) / 1024);
  } catch {
    return 0;
  }
}

/** Runs the hostile initiator against `t` with options `o`. */
export function runHostileInitiator(t: HostileTarget, o: HostileOptions): Promise<HostileResult> {
  return new HostileInitiator(t, o).run();
}
