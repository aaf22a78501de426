// SPC-4 6.15/6.16 PERSISTENT RESERVE IN/OUT and SPC-2 RESERVE/RELEASE(6/10) handlers.
import { parseNoFields, parsePrIn, parsePrOut } from './cdb-fields.js';
import { Op, OpFlag } from './opcodes.js';
import type { OpRow } from './command-table.js';
import { Access } from './persistent-reservations.js';
import { Reason } from './sense.js';
import type { Cmd } from './command.js';
import type { LogicalUnit } from './logical-unit.js';
import type { PrOutEffects } from './persistent-reservations.js';

function prIn(c: Cmd): void {
  const lu = c.lu!;
  c.task.transferLength = c.p.allocLen;
  const r = lu.pr.in(c.p.sa);
  if (!Buffer.isBuffer(r)) return c.fail(r);
  c.dataIn(r, c.p.allocLen);
}

/** Longest PERSISTENT RESERVE OUT parameter list taken (24 bytes + TransportIDs for SPEC_I_PT or REGISTER AND MOVE). */
const MAX_PR_OUT_PARAM = 64 * 1024;

/**
 * SPC-4 5.13.5: with APTPL the PR OUT's GOOD comes after its state is on stable storage. While
 * one LU's write is in flight its later PR OUTs wait and then run in arrival order, so the file
 * always holds the last GOOD's state and a failed write undoes only its own change. A waiting PR
 * OUT that a task management function aborts leaves the queue at once.
 */
function prOut(c: Cmd): void {
  const lu = c.lu!;
  const q = lu.prOutWaiting;
  if (q === null) return prOutNow(c);
  const run = (): void => {
    c.onAbort = null;
    prOutNow(c);
  };
  q.push(run);
  c.onAbort = () => {
    const w = lu.prOutWaiting;
    const i = w === null ? -1 : w.indexOf(run);
    if (i >= 0) w!.splice(i, 1);
    c.good(); // reported TASK ABORTED (Target.finish)
  };
}

/** The write of one PR OUT is durable (or failed): run the PR OUTs that waited, until one writes again. */
function prOutWritten(lu: LogicalUnit): void {
  const q = lu.prOutWaiting ?? [];
  lu.prOutWaiting = null;
  while (q.length > 0 && lu.prOutWaiting === null) q.shift()!();
  if (q.length > 0) lu.prOutWaiting!.unshift(...q);
}

/** How often a PR OUT runs again after another gateway changed the shared state under it, before it fails. */
const MAX_STALE_RETRIES = 16;

/**
 * Another gateway changed the shared state first (its change is now in lu.pr): the PR OUT runs
 * again on it, ahead of the PR OUTs that wait, and they keep waiting while it writes again.
 */
function prOutAgain(c: Cmd, attempt: number): void {
  const lu = c.lu!;
  const q = lu.prOutWaiting ?? [];
  lu.prOutWaiting = null;
  prOutNow(c, attempt);
  const writing = lu.prOutWaiting as (() => void)[] | null; // set again if it writes again
  if (writing !== null) writing.push(...q);
  else {
    lu.prOutWaiting = q;
    prOutWritten(lu);
  }
}

function prOutNow(c: Cmd, attempt = 0): void {
  const lu = c.lu!;
  const p = c.p;
  c.task.transferLength = p.paramLen;
  // SPC-4 6.16.3/6.16.4: at least the 24-byte header; the service action checks the exact length
  if (p.paramLen < 24) return c.fail(Reason.ParamListLengthError);
  if (p.paramLen > MAX_PR_OUT_PARAM) return c.fail(Reason.InsufficientRegistrationResources);
  const data = c.dataOutFlat(p.paramLen);
  if (!data) return c.fail(Reason.InvalidFieldInIu);
  const pr = lu.pr;
  const store = lu.prStore;
  pr.persistCapable = store !== null;
  const before = store !== null ? pr.snapshot() : null;
  const fx: PrOutEffects = { ua: [], abort: [] };
  const ctx = c.ctx;
  const r = pr.out(ctx.prNexus(c.nexus), p.sa, p.prScope, p.prType, data, fx, (rel) => ctx.isTargetPort(rel));
  if (r === 'conflict') return c.conflict();
  if (r) return c.fail(r);
  const done = (): void => {
    for (const [reg, reason] of fx.ua) for (const id of ctx.nexusIdsOf(reg)) lu.ua.add(id, reason);
    if (fx.abort.length > 0) ctx.abortForRegistrations(lu, fx.abort, c);
    c.good();
  };
  if (store === null || before === null) return done();
  // SPC-4 5.13.5: with APTPL active every change is on stable storage before GOOD; a REGISTER
  // with APTPL=0 ends persistence. A store shared by several gateways takes every change (the
  // other gateways enforce it). If the state cannot be written, nothing changed; if another gateway
  // changed it first, its state is now ours and the PR OUT runs again on it (no lost update).
  const next = store.shared || pr.aptpl ? pr.snapshot() : before.aptpl ? null : undefined;
  if (next === undefined) return done();
  lu.prOutWaiting = [];
  store.write(next, (err) => {
    if (err === 'stale' && attempt < MAX_STALE_RETRIES) return prOutAgain(c, attempt + 1);
    if (err === null) done();
    else {
      if (err !== 'stale') pr.restore(before);
      c.fail(Reason.InsufficientRegistrationResources);
    }
    prOutWritten(lu);
  }, fx);
}

function reserve(c: Cmd): void {
  const lu = c.lu!;
  c.task.transferLength = 0;
  // SPC-4 5.13.3: RESERVE conflicts while persistent reservation registrations exist
  if (lu.pr.regs.length > 0 || lu.pr.reserved) return c.conflict();
  if (lu.reservedBy !== -1 && lu.reservedBy !== c.nexus.id) return c.conflict();
  lu.reservedBy = c.nexus.id;
  c.good();
}

function release(c: Cmd): void {
  const lu = c.lu!;
  c.task.transferLength = 0;
  // SPC-2 7.17: releasing a reservation held by another initiator is GOOD and changes nothing
  if (lu.reservedBy === c.nexus.id) lu.reservedBy = -1;
  c.good();
}

const PR_IN_USAGE = '5e 1f 00 00 00 00 00 ff ff 07';
const PR_IN_NAMES = ['READ KEYS', 'READ RESERVATION', 'REPORT CAPABILITIES', 'READ FULL STATUS'];
/** An unknown service action of PERSISTENT RESERVE IN/OUT is INVALID FIELD IN CDB (SPC-4 6.15/6.16); both run in standby (5.16.2.4.4). */
const PR = OpFlag.BadSaIsFieldError | OpFlag.AluaStandbyOk;

/**
 * PERSISTENT RESERVE IN/OUT (SPC-4 Table 63: always allowed; PR OUT checks its own conflicts) and
 * SPC-2 RESERVE/RELEASE: RELEASE runs under another nexus's SPC-2 reservation and changes nothing
 * there (SPC-2 5.5.1); RESERVE conflicts with a persistent reservation (class "other").
 */
export const SPC_RESERVATION_ROWS: readonly OpRow[] = [
  { op: Op.Reserve6, name: 'RESERVE(6)', usage: '16 00 00 00 00 07', parse: parseNoFields, exec: reserve, access: Access.Other, flags: 0 },
  { op: Op.Release6, name: 'RELEASE(6)', usage: '17 00 00 00 00 07', parse: parseNoFields, exec: release, access: Access.Always, flags: OpFlag.Spc2ReservationOk },
  { op: Op.Reserve10, name: 'RESERVE(10)', usage: '56 00 00 00 00 00 00 00 00 07', parse: parseNoFields, exec: reserve, access: Access.Other, flags: 0 },
  { op: Op.Release10, name: 'RELEASE(10)', usage: '57 00 00 00 00 00 00 00 00 07', parse: parseNoFields, exec: release, access: Access.Always, flags: OpFlag.Spc2ReservationOk },
  ...PR_IN_NAMES.map((n, sa): OpRow => ({ op: Op.PrIn, sa, name: `PERSISTENT RESERVE IN / ${n}`, usage: PR_IN_USAGE, parse: parsePrIn, exec: prIn, access: Access.Always, flags: PR })),
  ...[0, 1, 2, 3, 4, 5, 6, 7].map((sa): OpRow => ({ op: Op.PrOut, sa, name: 'PERSISTENT RESERVE OUT', usage: '5f 1f ff 00 00 ff ff ff ff 07', parse: parsePrOut, exec: prOut, access: Access.Always, flags: PR })),
];
