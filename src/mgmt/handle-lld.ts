// `--mode lld|portal|session|connection`: requests the transport driver answers (tgt mgmt.c).

import { OP_DELETE, OP_NEW, OP_SHOW, OP_START, OP_STATS, OP_STOP, parsePayload } from './ipc.js';
import { lldStatusCode, TGTADM_INVALID_REQUEST } from './errors.js';
import { fail, ok, type MgmtReply, type MgmtRequest } from './reply.js';
import type { LldMgmtResult } from '../lld/api.js';

/** A driver's answer as tgtadm's: its text when 'ok', else its status as a tgtadm code; no answer is invalid. */
const reply = (r: LldMgmtResult | undefined): MgmtReply =>
  r === undefined ? fail(TGTADM_INVALID_REQUEST) : r.status === 'ok' ? ok(r.text ?? '') : fail(lldStatusCode(r.status));

export async function lldMgmt({ req, host, lld }: MgmtRequest): Promise<MgmtReply> {
  switch (req.op) {
    case OP_START:
      await host.startLld(lld.name);
      return ok();
    case OP_STOP:
      await host.stopLld(lld.name);
      return ok();
    case OP_SHOW: {
      let s = 'LLDs:\n';
      for (const l of host.llds()) {
        s += `    ${l.name}: ${l.state}\n`;
        for (const tid of [...host.targets.keys()].sort((a, b) => a - b)) {
          const t = host.targets.get(tid)!;
          if (t.lldName === l.name) s += `        Target ${t.tid}: ${t.name}\n`;
        }
      }
      return ok(s);
    }
    default:
      return fail(TGTADM_INVALID_REQUEST);
  }
}

/**
 * tgt keeps portals on a list it adds to at the head, so `--mode portal --op show` prints the
 * newest first; the driver lists them in creation order.
 */
function newestFirst(text: string): string {
  const lines = text.split('\n').filter((l) => l !== '');
  return lines.length === 0 ? '' : lines.reverse().join('\n') + '\n';
}

export async function portalMgmt({ req, lld }: MgmtRequest): Promise<MgmtReply> {
  const d = lld.driver;
  switch (req.op) {
    case OP_SHOW:
      return d?.portalShow === undefined ? fail(TGTADM_INVALID_REQUEST) : ok(newestFirst(d.portalShow()));
    case OP_NEW:
    case OP_DELETE: {
      // tgtadm sends `--param portal=A:P` as "portalOps portal=A:P," (tgt mgmt.c portal_mgmt).
      const parsed = parsePayload(req.payload);
      const arg = [...parsed.ops, ...parsed.pairs].find(([k]) => k === 'portal')?.[1];
      if (arg === undefined) return fail(TGTADM_INVALID_REQUEST);
      const fn = req.op === OP_NEW ? d?.portalCreate : d?.portalDestroy;
      if (fn === undefined) return fail(TGTADM_INVALID_REQUEST);
      return reply(await fn.call(d, arg));
    }
    default:
      return fail(TGTADM_INVALID_REQUEST);
  }
}

export function sessionMgmt({ req, lld }: MgmtRequest): MgmtReply {
  // tgt answers only stat here; stgt also answers show (tgt documents it but returns "invalid request").
  if (req.op === OP_STATS || req.op === OP_SHOW) {
    return reply(lld.driver?.sessionShow?.(req.tid, Number(req.sid), req.op === OP_STATS));
  }
  return fail(TGTADM_INVALID_REQUEST);
}

export function connectionMgmt({ req, lld }: MgmtRequest): MgmtReply {
  switch (req.op) {
    case OP_SHOW:
      return reply(lld.driver?.connShow?.(req.tid));
    case OP_DELETE:
      return reply(lld.driver?.connDelete?.(req.tid, Number(req.sid), req.cid));
    case OP_STATS:
      return reply(lld.driver?.connStat?.(req.tid, Number(req.sid), req.cid));
    default:
      return fail(TGTADM_INVALID_REQUEST);
  }
}
