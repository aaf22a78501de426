// `--mode target`: new, delete, show, bind, unbind, update, stat (tgt target.c / mgmt.c target_mgmt).

import { parseAluaGroupParam, parseAluaStateParam } from '../scsi/alua.js';
import { OP_BIND, OP_DELETE, OP_NEW, OP_SHOW, OP_STATS, OP_UNBIND, OP_UPDATE, parsePayload } from './ipc.js';
import {
  lldStatusCode, TGTADM_ACL_EXIST, TGTADM_ACL_NOEXIST, TGTADM_INVALID_REQUEST, TGTADM_NO_TARGET, TGTADM_SUCCESS,
  TGTADM_TARGET_ACTIVE, TGTADM_TARGET_EXIST, TGTADM_UNSUPPORTED_OPERATION,
} from './errors.js';
import { showTarget } from './show.js';
import { statHeader, statTarget } from './stat.js';
import { fail, ok, type MgmtReply, type MgmtRequest } from './reply.js';
import type { MgmtHost, TargetResult } from './host.js';

/** tgt accepts target names of [A-Za-z0-9:.-] only. */
const TARGET_NAME = /^[A-Za-z0-9:.-]+$/;

export async function targetMgmt(m: MgmtRequest): Promise<MgmtReply> {
  const { req, host } = m;
  switch (req.op) {
    case OP_NEW:
      return fail(createTarget(m));
    case OP_DELETE:
      return fail(targetResultCode(await host.destroyTarget(req.tid, req.force !== 0)));
    case OP_SHOW:
      if (req.tid < 0) return ok(showAllTargets(host));
      return showParams(m);
    case OP_BIND:
    case OP_UNBIND:
      return fail(bindAcl(host, req.tid, req.payload, req.op === OP_BIND));
    case OP_UPDATE:
      return fail(updateTarget(m));
    case OP_STATS: {
      const t = host.targets.get(req.tid);
      if (t === undefined) return fail(TGTADM_NO_TARGET);
      return ok(statHeader() + statTarget(t));
    }
    default:
      return fail(TGTADM_INVALID_REQUEST);
  }
}

function createTarget({ req, lld, host }: MgmtRequest): number {
  const name = parsePayload(req.payload).pairs.find(([k]) => k === 'targetname')?.[1];
  if (name === undefined || !TARGET_NAME.test(name)) return TGTADM_INVALID_REQUEST;
  return targetResultCode(host.createTarget(req.tid, name, lld.name));
}

/** The daemon's answer about a target as tgtadm's code. */
function targetResultCode(r: TargetResult): number {
  if (r === 'exists') return TGTADM_TARGET_EXIST;
  if (r === 'active') return TGTADM_TARGET_ACTIVE;
  return lldStatusCode(r);
}

export function showAllTargets(host: MgmtHost): string {
  return targetShowTexts(host).map(([, text]) => text).join('');
}

/** Each target's block of `--mode target --op show`, in tid order (tgtd --workers joins the workers' lists). */
export function targetShowTexts(host: MgmtHost): [number, string][] {
  const llds = host.llds();
  const out: [number, string][] = [];
  for (const tid of [...host.targets.keys()].sort((a, b) => a - b)) {
    const t = host.targets.get(tid)!;
    const drv = llds.find((l) => l.name === t.lldName)?.driver ?? null;
    out.push([tid, showTarget(t, {
      systemLines: drv?.targetSystemLines?.(tid) ?? '',
      nexusLines: drv?.showNexus?.(tid) ?? '',
      showAccounts: drv?.showsAccounts ?? false,
    })]);
  }
  return out;
}

function showParams({ req, lld, host }: MgmtRequest): MgmtReply {
  if (!host.targets.has(req.tid)) return fail(TGTADM_NO_TARGET);
  const r = lld.driver?.targetShowParams?.(req.tid);
  if (r === undefined) return fail(TGTADM_INVALID_REQUEST);
  return r.status === 'ok' ? ok(r.text ?? '') : fail(lldStatusCode(r.status));
}

function bindAcl(host: MgmtHost, tid: number, payload: string, bind: boolean): number {
  const t = host.targets.get(tid);
  if (t === undefined) return TGTADM_NO_TARGET;
  const pairs = parsePayload(payload).pairs;
  let err: number = TGTADM_INVALID_REQUEST;
  for (const [k, v] of pairs) {
    const list = k === 'initiator-address' ? t.aclAddresses : k === 'initiator-name' ? t.aclNames : null;
    if (list === null) continue;
    const i = list.indexOf(v);
    if (bind) {
      if (i >= 0) return TGTADM_ACL_EXIST;
      list.push(v);
    } else {
      if (i < 0) return TGTADM_ACL_NOEXIST;
      list.splice(i, 1);
    }
    err = TGTADM_SUCCESS;
  }
  return err;
}

/**
 * `--name K --value V` arrives as "K=V". tgt's tgtadm refuses `--params` for targets although the
 * man page documents it; stgt's tgtadm sends it as "targetOps k=v,k=v" and every pair is applied.
 */
function updateTarget({ req, lld, host }: MgmtRequest): number {
  const t = host.targets.get(req.tid);
  if (t === undefined) return TGTADM_NO_TARGET;
  const parsed = parsePayload(req.payload);
  const pairs = parsed.opsKind === 'targetOps' ? parsed.ops : parsed.pairs.slice(0, 1);
  if (pairs.length === 0) return TGTADM_UNSUPPORTED_OPERATION;
  for (const [name, value] of pairs) {
    if (name === 'state') {
      if (value !== 'ready' && value !== 'offline') return TGTADM_INVALID_REQUEST;
      t.state = value;
      continue;
    }
    // SPC-4 5.16 ALUA (stgt; tgt has none): README "ALUA"
    if (name === 'alua_state') {
      const a = parseAluaStateParam(value);
      if (typeof a === 'string' || t.setAluaState(a.state, a.id) !== null) return TGTADM_INVALID_REQUEST;
      continue;
    }
    if (name === 'alua_group') {
      const a = parseAluaGroupParam(value);
      if (typeof a === 'string' || t.assignAluaPortal(a.id, a.portal) !== null) return TGTADM_INVALID_REQUEST;
      continue;
    }
    if (name === 'alua_explicit') {
      if (value !== '0' && value !== '1') return TGTADM_INVALID_REQUEST;
      t.setAluaExplicit(value === '1');
      continue;
    }
    const r = lld.driver?.targetUpdate?.(req.tid, name, value);
    if (r === undefined) return TGTADM_UNSUPPORTED_OPERATION;
    if (r.status !== 'ok') return lldStatusCode(r.status);
  }
  return TGTADM_SUCCESS;
}
