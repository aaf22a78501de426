// `--mode account`: new, delete, bind, unbind, show (tgt target.c account_* / mgmt.c account_mgmt).

import { ACCOUNT_TYPE_OUTGOING, GLOBAL_TID, OP_BIND, OP_DELETE, OP_NEW, OP_SHOW, OP_UNBIND } from './ipc.js';
import { TGTADM_INVALID_REQUEST, TGTADM_UNSUPPORTED_OPERATION } from './errors.js';
import { fail, ok, type MgmtReply, type MgmtRequest } from './reply.js';

export function accountMgmt({ req, host }: MgmtRequest): MgmtReply {
  if (req.op === OP_SHOW) return ok(host.accounts.showText());
  if (req.op !== OP_NEW && req.op !== OP_DELETE && req.op !== OP_BIND && req.op !== OP_UNBIND) {
    return fail(TGTADM_UNSUPPORTED_OPERATION);
  }
  // tgt finds "user=" and, for new, takes everything up to the next ',' as the user and the text
  // after "password=" as the password (which may itself contain commas).
  const p = req.payload;
  const u = p.indexOf('user=');
  if (u < 0) return fail(TGTADM_INVALID_REQUEST);
  const rest = p.slice(u + 5);
  if (req.op === OP_NEW) {
    const comma = rest.indexOf(',');
    if (comma < 0) return fail(TGTADM_INVALID_REQUEST);
    const user = rest.slice(0, comma);
    const password = rest.slice(comma + 1).replace(/^password=/, '');
    return fail(host.accounts.add(user, password));
  }
  const comma = rest.indexOf(',');
  const user = comma < 0 ? rest : rest.slice(0, comma);
  const all = [...host.targets.values()].map((t) => t.accounts);
  if (req.op === OP_DELETE) return fail(host.accounts.delete(user, all));
  const bindings = req.tid === GLOBAL_TID ? host.accounts.discovery : host.targets.get(req.tid)?.accounts ?? null;
  return fail(host.accounts.control(bindings, user, req.acDir === ACCOUNT_TYPE_OUTGOING, req.op === OP_BIND));
}
