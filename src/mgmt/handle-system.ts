// `--mode system`: show, update, delete, stat, and stgt's lldload/lldunload/bsload/bsunload.

import { OP_DELETE, OP_SHOW, OP_STATS, OP_UPDATE, parsePayload } from './ipc.js';
import { lldStatusCode, TGTADM_INVALID_REQUEST, TGTADM_SUCCESS } from './errors.js';
import { oflagsText } from './show.js';
import { statHeader, targetStatTexts } from './stat.js';
import { incomingUsers } from '../iscsi/chap-accounts.js';
import { fail, ok, OP_BSLOAD, OP_BSUNLOAD, OP_LLDLOAD, OP_LLDUNLOAD, type MgmtReply, type MgmtRequest } from './reply.js';
import type { MgmtHost } from './host.js';
import { BUILTIN_DEVICE_TYPES } from '../scsi/device-types.js';

/** Device types stgt emulates, in tgt's registration order (the order `--mode system --op show` lists them). */
const DEVICE_TYPES = ['disk', 'cd/dvd', 'osd', 'controller', 'changer', 'tape', 'passthrough'].filter((t) => BUILTIN_DEVICE_TYPES.has(t));

export async function systemMgmt(m: MgmtRequest): Promise<MgmtReply> {
  const { req, host, lld } = m;
  switch (req.op) {
    case OP_SHOW:
      return ok(systemShow(host) + (lld.driver?.systemShow?.() ?? ''));
    case OP_UPDATE:
      return fail(systemUpdate(m));
    case OP_STATS: {
      return ok(statHeader() + targetStatTexts(host.targets).map(([, text]) => text).join(''));
    }
    case OP_DELETE:
      // tgt stops only when no target is left ("is_system_inactive").
      if (host.targets.size > 0) return fail(TGTADM_INVALID_REQUEST);
      host.requestShutdown();
      return ok();
    case OP_LLDLOAD:
      await host.loadModule('lld', req.lld);
      return ok();
    case OP_LLDUNLOAD:
      await host.unloadModule('lld', req.lld);
      return ok();
    case OP_BSLOAD:
    case OP_BSUNLOAD: {
      const name = parsePayload(req.payload).pairs.find(([k]) => k === 'bstype')?.[1];
      if (name === undefined || name === '') return fail(TGTADM_INVALID_REQUEST);
      if (req.op === OP_BSLOAD) await host.loadModule('bs', name);
      else await host.unloadModule('bs', name);
      return ok();
    }
    default:
      return fail(TGTADM_INVALID_REQUEST);
  }
}

function systemUpdate({ req, host, lld }: MgmtRequest): number {
  const eq = req.payload.indexOf('=');
  if (eq < 0) return TGTADM_INVALID_REQUEST;
  const name = req.payload.slice(0, eq);
  const value = req.payload.slice(eq + 1);
  if (name === 'debug') {
    // tgt compares prefixes: "on..." / "off..."
    if (value.startsWith('on')) host.system.debug = true;
    else if (value.startsWith('off')) host.system.debug = false;
    else return TGTADM_INVALID_REQUEST;
    return TGTADM_SUCCESS;
  }
  if (name === 'State') {
    if (value !== 'ready' && value !== 'offline') return TGTADM_INVALID_REQUEST;
    host.system.state = value;
    return TGTADM_SUCCESS;
  }
  const r = lld.driver?.systemUpdate?.(name, value);
  return r === undefined ? TGTADM_INVALID_REQUEST : lldStatusCode(r.status);
}

/** The part of `--mode system --op show` the daemon itself prints (tgt target.c system_show). */
export function systemShow(host: MgmtHost): string {
  let s = `System:\n    State: ${host.system.state}\n    debug: ${host.system.debug ? 'on' : 'off'}\n`;
  s += 'LLDs:\n';
  for (const l of host.llds()) s += `    ${l.name}: ${l.state}\n`;
  s += 'Backing stores:\n';
  // tgt lists stores newest-registered first.
  for (const b of host.bstores().filter((x) => x.state === 'ready').reverse()) {
    const f = b.oflagsSupported;
    s += f !== null && (f.sync || f.direct) ? `    ${b.name} (bsoflags ${oflagsText(f)})\n` : `    ${b.name}\n`;
  }
  s += 'Device types:\n';
  for (const d of DEVICE_TYPES) s += `    ${d}\n`;
  const d = host.accounts.discovery;
  const inc = incomingUsers(d);
  if (inc.length > 0) {
    // tgt prints this heading with an extra newline (a "%s\n" of a string ending in "\n").
    s += '    Account information:\n\n';
    for (const u of inc) s += `    ${u}\n`;
    if (d.outgoing !== null) s += `    ${d.outgoing} (outgoing)\n`;
  }
  return s;
}
