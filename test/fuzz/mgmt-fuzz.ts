// Management socket fuzzer: seeded random, mutated, lying, truncated, split and abandoned tgtadm IPC requests against a real tgtd (tgt usr/tgtadm.h wire format).
//
// Request i is built from its own stream (seed and i), so a failing seed replays the same bytes
// whatever the interleaving of the concurrent workers. Kinds: a valid-looking request from a
// template of every mode and op; the same with mutated fields, payload or header bytes; a length
// field that lies (short, long, below the header, above 8 KiB); truncated and over-long payloads;
// pure noise; all sent in one write or in pieces, and with or without a half-close. A pool of
// half-open connections (nothing, part of a header, a header promising more) stays open the whole
// run. Invariants: every complete, well-sized request is answered with a well-formed response
// (8-byte header whose len is what arrived, a known error code, text only on success, NUL at its
// end); tgtd stays up, logs no uncaught error and no thrown handler; afterwards, with the half-open
// connections still open, tgtadm answers correctly and every target and account the fuzz made can
// be listed and deleted, leaving tgtd empty.

import net from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestDaemon } from '../helpers/daemon.js';
import { Rand } from './rand.js';
import { BAD_LOG } from './hostile-initiator.js';
import { decodeRequestHeader, emptyRequest, encodeRequest, type IpcRequest, MAX_MGT_BUFSIZE, REQ_HDR_LEN, RSP_HDR_LEN } from '../../src/mgmt/ipc.js';
import { TGTADM_CODES } from '../../src/mgmt/errors.js';

export interface MgmtFuzzOptions {
  seed: number;
  /** Requests to send. */
  requests: number;
  /** Connections sending at once (default 12). */
  concurrency?: number;
  /** Half-open connections held for the whole run (default 48). */
  halfOpen?: number;
  /** A complete, well-sized request must be answered, and any other closed, within this (default 15 s). */
  answerTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface MgmtFuzzStats {
  requests: number;
  /** Requests that must get an answer, and did. */
  mustAnswer: number;
  answered: number;
  /** Connections the client closed before its request was complete. */
  abandoned: number;
  /** Requests sent in more than one write. */
  split: number;
  halfOpen: number;
  kinds: Record<string, number>;
  /** Answers per tgtadm error code. */
  codes: Record<number, number>;
  targetsLeft: number;
  accountsLeft: number;
  elapsedMs: number;
}

export interface MgmtFuzzResult {
  stats: MgmtFuzzStats;
  failures: string[];
}

const KNOWN_CODES = new Set<number>(TGTADM_CODES);
const LLD_NAMES = ['', 'iscsi', 'iser', 'nosuch', 'x'.repeat(80)];
const INTERESTING = [-1, 0, 1, 2, 3, 7, 8, 9, 64, 255, 256, 0x3fff, 0x4000, 0x7fffffff, -0x80000000, -2];

/** One generated request: its bytes, how they are sent, and whether an answer is owed. */
export interface Planned {
  kind: string;
  bytes: Buffer;
  /** Byte offsets at which the bytes are cut into separate writes (ascending). */
  cuts: number[];
  /** Close the socket right after the last write, before any answer. */
  abandon: boolean;
  /** Half-close (end) after writing. */
  end: boolean;
}

/** Stream for request i: depends only on the seed and i. */
function streamFor(seed: number, i: number): Rand {
  const r = new Rand((Math.imul(seed ^ 0x5bd1e995, 0x9e3779b1) + Math.imul(i + 1, 0x85ebca6b)) >>> 0 || 1);
  for (let k = 0; k < 4; k++) r.float(); // decorrelate neighbouring seeds
  return r;
}

function word(r: Rand, n: number): string {
  const abc = 'abcdefghijklmnopqrstuvwxyz0123456789';
  let s = '';
  for (let i = 0; i < n; i++) s += abc[r.int(abc.length)];
  return s;
}

/** A valid-looking request of some mode and op, with fields in the ranges tgtadm sends. */
function template(r: Rand, disk: string): IpcRequest {
  const q = emptyRequest();
  const tid = r.range(1, 24);
  const lun = BigInt(r.range(0, 8));
  const user = `u${r.int(12)}`;
  const iqn = `iqn.2026-12.org.stgt.fuzz:t${r.chance(0.8) ? tid : word(r, 5)}`;
  const pick = r.int(30);
  const set = (mode: number, op: number, payload = '', more: Partial<IpcRequest> = {}): IpcRequest =>
    Object.assign(q, { mode, op, payload }, more);
  switch (pick) {
    case 0: return set(0, 2);
    case 1: return set(0, 6);
    case 2: return set(0, 5, r.pick(['debug=on', 'debug=off', 'State=ready', 'State=offline', 'State=ready', 'nosuch=1']));
    case 3: case 4: case 5: return set(1, 0, `targetname=${iqn}`, { tid });
    case 6: case 7: return set(1, 1, '', { tid, force: r.int(2) });
    case 8: return set(1, 2);
    case 9: return set(1, 2, '', { tid });
    case 10: case 11: {
      const acl = r.pick(['initiator-address=ALL', 'initiator-address=127.0.0.1', 'initiator-address=10.0.0.0/8',
        'initiator-address=::1', `initiator-name=iqn.2026-12.fuzz:i${r.int(4)}`, 'initiator-address=300.1.1.1']);
      return set(1, r.pick([3, 4]), acl, { tid });
    }
    case 12: {
      const p = r.pick(['MaxRecvDataSegmentLength=65536', 'HeaderDigest=CRC32C,None', 'InitialR2T=No', 'MaxConnections=4',
        'state=offline', 'state=ready', 'nop_interval=5', 'MaxBurstLength=abc', 'NoSuchKey=1']);
      return set(1, 5, p, { tid });
    }
    case 13: return set(1, 6, '', { tid });
    case 14: case 15: case 16: {
      const bs = r.pick(['rdwr', 'null', 'memory', 'rdwr', 'nosuch']);
      const path = bs === 'memory' ? r.pick(['1M', '4M', '0', 'x']) : r.pick([disk, disk, '/nonexistent/x.img', '']);
      let p = `path=${path},bstype=${bs}`;
      if (r.chance(0.3)) p += `,bsoflags=${r.pick(['sync', 'direct', 'sync:direct', 'bogus'])}`;
      if (r.chance(0.2)) p += `,blocksize=${r.pick(['4096', '512', '3', '0x1000'])}`;
      return set(2, 0, p, { tid, lun, deviceType: r.chance(0.9) ? 0 : r.pick([5, 1, 12]) });
    }
    case 17: return set(2, 1, '', { tid, lun });
    case 18: {
      const p = r.pick(['vendor_id=VEND', 'product_id=PROD', 'readonly=1', 'removable=1', 'online=0', 'online=1',
        'scsi_sn=sn1', 'mode_page=8:0:18:0x10:0:0xff:0xff:0:0:0xff:0xff:0xff:0xff:0x80:0x14:0:0:0:0:0:0', 'bogus=1']);
      return set(2, 5, r.chance(0.5) ? `targetOps ${p},` : p, { tid, lun });
    }
    case 19: return set(2, 6, '', { tid, lun });
    case 20: return set(3, 2);
    case 21: return set(3, 1, r.pick(['portal=127.0.0.1:1', 'portal=[::1]:1', 'portal=bad']));
    case 22: return set(4, 2, '', { lld: r.pick(['', 'iscsi', 'iser']) });
    case 23: return set(4, 7, '', { lld: r.pick(['iscsi', 'iser', 'nosuch']) });
    case 24: return set(5, 2, '', { tid, sid: BigInt(r.int(3)) });
    case 25: return set(6, r.pick([1, 2]), '', { tid, sid: BigInt(r.int(3)), cid: r.int(2) });
    case 26: return set(7, 0, `user=${user},password=pass${word(r, 8)}`);
    case 27: return set(7, 1, `user=${user}`);
    case 28: return set(7, r.pick([3, 4]), `user=${user}`, { tid: r.chance(0.2) ? -1 : tid, acDir: r.int(2) });
    default: return set(7, 2);
  }
}

/** Payload mutations: cut, repeat, odd separators, long values, non-UTF-8, NULs. */
function mutatePayload(r: Rand, p: string): string {
  switch (r.int(9)) {
    case 0: return p.slice(0, r.int(p.length + 1));
    case 1: return p + ',' + p;
    case 2: {
      const at = r.int(p.length + 1);
      return p.slice(0, at) + r.pick([',', '=', ',,', '==', ' ', '\0', '%s%n', '\u00ff\u00fe', '\\', '"', '\n']) + p.slice(at);
    }
    case 3: return p.replace(/=[^,]*/, '=' + 'A'.repeat(r.range(1, MAX_MGT_BUFSIZE - 200)));
    case 4: return p.replace(/=/g, '');
    case 5: return r.pick(['targetname', 'path', 'bstype', 'user', 'password', 'initiator-address', 'portal', 'State']) + '=' + p;
    case 6: return r.bytes(r.int(300)).toString('latin1');
    case 7: return `targetOps ${p}`;
    default: return `${p},${r.pick(['targetname', 'path', 'bsoflags', 'user', 'name'])}=${word(r, r.int(20))}`;
  }
}

/** Sets one header field to an interesting or random value. */
function mutateField(r: Rand, q: IpcRequest): void {
  const v = r.chance(0.6) ? r.pick(INTERESTING) : r.u32() | 0;
  switch (r.int(10)) {
    case 0: q.mode = v; break;
    case 1: q.op = v; break;
    case 2: q.tid = v; break;
    case 3: q.lun = r.chance(0.5) ? BigInt.asUintN(64, BigInt(v)) : BigInt(r.u32()) << 32n | BigInt(r.u32()); break;
    case 4: q.sid = BigInt.asUintN(64, BigInt(v)); break;
    case 5: q.cid = v >>> 0; break;
    case 6: q.deviceType = v >>> 0; break;
    case 7: q.acDir = v >>> 0; break;
    case 8: q.force = v >>> 0; break;
    default: q.lld = r.chance(0.5) ? r.pick(LLD_NAMES) : r.bytes(r.int(64)).toString('latin1');
  }
}

/**
 * Keeps the fuzz from doing legitimate things that end the run rather than test it: stopping the
 * daemon (system delete), stopping or unloading modules, loading modules by arbitrary names, and
 * opening portals on addresses other than loopback (portal new). Those become a show.
 */
function tame(bytes: Buffer): void {
  if (bytes.length < 8) return;
  const mode = bytes.readInt32LE(0);
  const op = bytes.readInt32LE(4);
  const stop = (mode === 0 && (op === 1 || (op >= 9 && op <= 12))) || (mode === 4 && op === 8) || (mode === 3 && op === 0);
  if (stop) bytes.writeInt32LE(2, 4);
}

function plan(r: Rand, disk: string): Planned {
  const q = template(r, disk);
  let kind: string;
  let bytes: Buffer;
  const roll = r.int(100);
  if (roll < 30) {
    kind = 'valid';
    bytes = encodeRequest(q);
  } else if (roll < 50) {
    kind = 'field';
    const n = r.range(1, 3);
    for (let k = 0; k < n; k++) mutateField(r, q);
    bytes = encodeRequest(q);
  } else if (roll < 65) {
    kind = 'payload';
    q.payload = mutatePayload(r, q.payload);
    bytes = encodeRequest(q);
    if (bytes.length - REQ_HDR_LEN > MAX_MGT_BUFSIZE) kind = 'over-long';
  } else if (roll < 72) {
    kind = 'header-bytes';
    bytes = encodeRequest(q);
    const n = r.range(1, 6);
    for (let k = 0; k < n; k++) {
      // Leave the length alone here (that is 'lying-len'): flip bytes elsewhere in the header.
      let at = r.int(REQ_HDR_LEN);
      if (at >= 72 && at < 76) at = r.int(72);
      bytes[at] = r.byte();
    }
  } else if (roll < 82) {
    kind = 'lying-len';
    bytes = encodeRequest(q);
    const actual = bytes.length;
    const len = r.pick([0, 1, REQ_HDR_LEN - 1, REQ_HDR_LEN, actual - 1, actual + 1, actual + r.range(2, 1000),
      REQ_HDR_LEN + MAX_MGT_BUFSIZE, REQ_HDR_LEN + MAX_MGT_BUFSIZE + 1, 0xffffffff, r.u32()]);
    bytes.writeUInt32LE(len >>> 0, 72);
  } else if (roll < 88) {
    kind = 'truncated';
    const full = encodeRequest(q);
    bytes = full.subarray(0, r.int(full.length));
  } else if (roll < 92) {
    kind = 'over-long';
    q.payload = 'targetname=iqn.x:' + 'y'.repeat(r.range(MAX_MGT_BUFSIZE - 20, MAX_MGT_BUFSIZE + 4000));
    bytes = encodeRequest(q);
  } else if (roll < 96) {
    kind = 'trailing';
    bytes = Buffer.concat([encodeRequest(q), r.bytes(r.range(1, 600))]);
  } else {
    kind = 'noise';
    bytes = r.bytes(r.int(r.chance(0.5) ? 130 : 2000));
  }
  bytes = Buffer.from(bytes);
  tame(bytes);
  const cuts: number[] = [];
  if (bytes.length > 1 && r.chance(0.25)) {
    const n = r.range(1, 4);
    for (let k = 0; k < n; k++) cuts.push(r.range(1, bytes.length - 1));
    cuts.sort((a, b) => a - b);
  }
  const abandon = r.chance(0.05);
  if (abandon) kind = `${kind}+abandoned`;
  const p: Planned = { kind, bytes, cuts: [...new Set(cuts)], abandon, end: false };
  // An incomplete request is ended or abandoned: tgtd (like tgt) waits for the rest of a request
  // for as long as the client keeps its socket open (the half-open pool covers that).
  p.end = !abandon && (r.chance(0.4) || !mustAnswer(p));
  return p;
}

/** Request `i` of a run with `seed`, as the fuzz sends it (for replaying a failure). */
export function planRequest(seed: number, i: number, disk: string): Planned {
  return plan(streamFor(seed, i), disk);
}

/** Sends one planned request on a new connection; resolves with what came back. */
export function sendPlanned(path: string, p: Planned, timeoutMs = 15_000): Promise<{ rsp: Buffer; timedOut: boolean }> {
  return send(path, p, timeoutMs);
}

/** Whether tgtd owes an answer: a whole header, a length within bounds, all its bytes sent. */
function mustAnswer(p: Planned): boolean {
  if (p.abandon || p.bytes.length < REQ_HDR_LEN) return false;
  const len = decodeRequestHeader(p.bytes).len;
  return len >= REQ_HDR_LEN && len - REQ_HDR_LEN <= MAX_MGT_BUFSIZE && p.bytes.length >= len;
}

/** Checks one response; returns what is wrong with it, or null. */
export function checkResponse(rsp: Buffer): string | null {
  if (rsp.length < RSP_HDR_LEN) return `a ${rsp.length}-byte response (the header is 8 bytes)`;
  const err = rsp.readUInt32LE(0);
  const len = rsp.readUInt32LE(4);
  if (len !== rsp.length) return `response len field ${len}, ${rsp.length} bytes arrived`;
  if (!KNOWN_CODES.has(err)) return `unknown error code ${err}`;
  if (err !== 0 && len !== RSP_HDR_LEN) return `error ${err} with ${len - RSP_HDR_LEN} bytes of text`;
  if (len > RSP_HDR_LEN && rsp[len - 1] !== 0) return 'response text without its NUL';
  return null;
}

interface Outcome {
  rsp: Buffer;
  timedOut: boolean;
}

function send(path: string, p: Planned, timeoutMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let finished = false;
    const s = net.connect(path);
    const finish = (timedOut: boolean): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ rsp: Buffer.concat(chunks), timedOut });
    };
    const timer = setTimeout(() => finish(true), timeoutMs);
    s.on('error', () => finish(false));
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('close', () => finish(false));
    s.on('connect', () => {
      const bounds = [0, ...p.cuts, p.bytes.length];
      let k = 0;
      const next = (): void => {
        if (finished) return;
        if (k === bounds.length - 1) {
          if (p.abandon) finish(false);
          else if (p.end) s.end();
          return;
        }
        const piece = p.bytes.subarray(bounds[k]!, bounds[k + 1]!);
        k++;
        // Pieces go out on later turns, so tgtd sees them as separate reads.
        s.write(piece, () => setImmediate(next));
      };
      next();
    });
  });
}

/** Opens the half-open connections: nothing sent, part of a header, or a header promising more. */
async function openHalf(path: string, n: number, r: Rand): Promise<net.Socket[]> {
  const socks: net.Socket[] = [];
  for (let i = 0; i < n; i++) {
    const s = net.connect(path);
    s.on('error', () => undefined);
    await new Promise<void>((res) => {
      s.once('connect', () => res());
      s.once('error', () => res());
    });
    const q = emptyRequest();
    q.mode = 1;
    q.op = 2;
    q.payload = 'targetname=iqn.x:half';
    const b = encodeRequest(q);
    switch (i % 3) {
      case 0: break;
      case 1: s.write(b.subarray(0, r.range(1, REQ_HDR_LEN - 1))); break;
      default: b.writeUInt32LE(b.length + 100, 72); s.write(b); break;
    }
    socks.push(s);
  }
  return socks;
}

/** Raw request (for tids tgtadm cannot spell, such as negative ones). */
async function raw(path: string, q: IpcRequest): Promise<{ err: number; text: string } | null> {
  const o = await send(path, { kind: 'cleanup', bytes: encodeRequest(q), cuts: [], abandon: false, end: false }, 15_000);
  if (checkResponse(o.rsp) !== null) return null;
  return { err: o.rsp.readUInt32LE(0), text: o.rsp.subarray(RSP_HDR_LEN, Math.max(RSP_HDR_LEN, o.rsp.length - 1)).toString('utf8') };
}

function tail(s: string, n = 3000): string {
  return s.length > n ? `...${s.slice(-n)}` : s;
}

/** Fuzzes the management socket of `d` (a running stgt tgtd) and checks the invariants. */
export async function runMgmtFuzz(d: TestDaemon, o: MgmtFuzzOptions): Promise<MgmtFuzzResult> {
  const t0 = Date.now();
  const log = o.log ?? (() => undefined);
  const path = `${d.socketBase}.${d.controlPort}`;
  const disk = join(d.dir, 'mgmt-fuzz.img');
  writeFileSync(disk, Buffer.alloc(1 << 20));
  const failures: string[] = [];
  const fail = (m: string): void => {
    if (failures.length < 50) failures.push(m);
  };
  const stats: MgmtFuzzStats = {
    requests: 0, mustAnswer: 0, answered: 0, abandoned: 0, split: 0, halfOpen: 0, kinds: {}, codes: {},
    targetsLeft: 0, accountsLeft: 0, elapsedMs: 0,
  };
  const stderrAt = d.stderr.length;
  const half = await openHalf(path, o.halfOpen ?? 48, new Rand(o.seed ^ 0x4a1f));
  stats.halfOpen = half.length;
  try {
    let nextIndex = 0;
    const worker = async (): Promise<void> => {
      for (;;) {
        const i = nextIndex++;
        if (i >= o.requests || !d.running) return;
        const p = plan(streamFor(o.seed, i), disk);
        const owed = mustAnswer(p);
        stats.requests++;
        stats.kinds[p.kind] = (stats.kinds[p.kind] ?? 0) + 1;
        if (p.cuts.length > 0) stats.split++;
        if (p.abandon) stats.abandoned++;
        const out = await send(path, p, o.answerTimeoutMs ?? 15_000);
        const what = `request ${i} (seed 0x${o.seed.toString(16)}, ${p.kind}, ${p.bytes.length} bytes ${p.bytes.subarray(0, 16).toString('hex')}...)`;
        // An abandoned request's client hangs up at once: whatever part of an answer it caught
        // before closing is cut short by the client, not by tgtd (a long show answer shows it).
        if (out.rsp.length > 0 && !p.abandon) {
          const bad = checkResponse(out.rsp);
          if (bad !== null) fail(`${what}: ${bad}`);
          else {
            stats.answered++;
            const err = out.rsp.readUInt32LE(0);
            stats.codes[err] = (stats.codes[err] ?? 0) + 1;
          }
        }
        if (owed) {
          stats.mustAnswer++;
          if (out.rsp.length === 0) fail(`${what}: no answer${out.timedOut ? ' (timed out)' : ' (closed)'}`);
        } else if (out.timedOut && !p.abandon) {
          fail(`${what}: tgtd neither answered nor closed within ${o.answerTimeoutMs ?? 15_000} ms`);
        }
        if ((i + 1) % 5000 === 0) log(`${i + 1} requests, ${stats.answered} answered`);
      }
    };
    await Promise.all(Array.from({ length: o.concurrency ?? 12 }, () => worker()));

    if (!d.running) {
      fail(`tgtd is not running after the fuzz:\n${tail(d.stderr)}`);
      return { stats, failures };
    }
    const fresh = d.stderr.slice(stderrAt);
    const bad = fresh.split('\n').filter((l) => BAD_LOG.test(l) || /management handler failed|unhandled/i.test(l));
    if (bad.length > 0) fail(`tgtd stderr:\n${bad.slice(0, 20).join('\n')}`);

    // With the half-open connections still open: tgtadm answers, and does what it is told.
    await checkTgtadm(d, fail);
    await cleanUp(d, path, stats, fail);
  } finally {
    for (const s of half) s.destroy();
    stats.elapsedMs = Date.now() - t0;
  }
  return { stats, failures };
}

async function checkTgtadm(d: TestDaemon, fail: (m: string) => void): Promise<void> {
  const r = await d.tgtadm('--mode', 'sys', '--op', 'update', '--name', 'State', '-v', 'ready');
  if (r.code !== 0) fail(`tgtadm system update State=ready exited ${String(r.code)}: ${r.stderr}`);
  const sys = await d.tgtadm('--mode', 'sys', '--op', 'show');
  if (sys.code !== 0 || !/^System:\n {4}State: ready\n/.test(sys.stdout)) fail(`tgtadm sys show: ${sys.code} ${sys.stdout} ${sys.stderr}`);
  const tid = '4000';
  const iqn = 'iqn.2026-12.org.stgt.fuzz:after';
  for (const args of [
    ['--mode', 'target', '--op', 'new', '--tid', tid, '-T', iqn],
    ['--mode', 'logicalunit', '--op', 'new', '--tid', tid, '--lun', '1', '-b', '1M', '--bstype', 'memory'],
    ['--mode', 'target', '--op', 'bind', '--tid', tid, '-I', 'ALL'],
  ]) {
    const x = await d.tgtadm(...args);
    if (x.code !== 0) fail(`tgtadm ${args.join(' ')} exited ${String(x.code)}: ${x.stderr}`);
  }
  const show = await d.tgtadm('--mode', 'target', '--op', 'show');
  const block = new RegExp(`^Target ${tid}: ${iqn}\\n(?: {4}.*\\n)*? {8}LUN: 1\\n(?: {4}.*\\n)*? {12}Backing store type: memory\\n(?: {4}.*\\n)*? {8}ALL\\n`, 'm');
  if (!block.test(show.stdout)) fail(`the target made after the fuzz does not show as made:\n${show.stdout}`);
  const del = await d.tgtadm('--mode', 'target', '--op', 'delete', '--tid', tid);
  if (del.code !== 0) fail(`tgtadm target delete ${tid} exited ${String(del.code)}: ${del.stderr}`);
}

/** Deletes every target and account the fuzz left (raw requests: tids may be negative). */
async function cleanUp(d: TestDaemon, path: string, stats: MgmtFuzzStats, fail: (m: string) => void): Promise<void> {
  const show = await d.tgtadm('--mode', 'target', '--op', 'show');
  if (show.code !== 0) return fail(`tgtadm target show exited ${String(show.code)}: ${show.stderr}`);
  const tids = [...show.stdout.matchAll(/^Target (-?\d+): /gm)].map((m) => Number(m[1]));
  stats.targetsLeft = tids.length;
  for (const tid of tids) {
    const q = emptyRequest();
    Object.assign(q, { mode: 1, op: 1, tid, force: 1 });
    const a = await raw(path, q);
    if (a === null || a.err !== 0) fail(`deleting target ${tid} the fuzz made: ${a === null ? 'bad answer' : `error ${a.err}`}`);
  }
  const accounts = await d.tgtadm('--mode', 'account', '--op', 'show');
  const users = accounts.stdout.split('\n').slice(1).filter((l) => l.startsWith('    ')).map((l) => l.slice(4));
  stats.accountsLeft = users.length;
  for (const user of users) {
    const q = emptyRequest();
    Object.assign(q, { mode: 7, op: 1, payload: `user=${user}` });
    const a = await raw(path, q);
    if (a === null || a.err !== 0) fail(`deleting account ${JSON.stringify(user)} the fuzz made: ${a === null ? 'bad answer' : `error ${a.err}`}`);
  }
  const after = await d.tgtadm('--mode', 'target', '--op', 'show');
  if (after.stdout !== '') fail(`targets left after deleting them all:\n${after.stdout}`);
  const acc = await d.tgtadm('--mode', 'account', '--op', 'show');
  if (acc.stdout !== '' && acc.stdout !== 'Account list:\n') fail(`accounts left after deleting them all:\n${acc.stdout}`);
}
