// Management request dispatch (tgt mgmt.c mtask_execute semantics): driver resolution, then mode x op.

import type { IpcRequest } from './ipc.js';
import {
  MODE_ACCOUNT, MODE_CONNECTION, MODE_DEVICE, MODE_LLD, MODE_PORTAL, MODE_SESSION, MODE_SYSTEM,
  MODE_TARGET,
} from './ipc.js';
import { hasTgtadmCode, TGTADM_INVALID_REQUEST, TGTADM_NO_DRIVER, tgtadmCodeOf } from './errors.js';
import type { LldHandle, MgmtHost } from './host.js';
import { fail, OP_BSUNLOAD, OP_LLDLOAD, type MgmtReply, type MgmtRequest } from './reply.js';
import { targetMgmt } from './handle-target.js';
import { deviceMgmt } from './handle-device.js';
import { accountMgmt } from './handle-account.js';
import { systemMgmt } from './handle-system.js';
import { lldMgmt, connectionMgmt, portalMgmt, sessionMgmt } from './handle-lld.js';

const byMode: Record<number, (m: MgmtRequest) => Promise<MgmtReply> | MgmtReply> = {
  [MODE_SYSTEM]: systemMgmt,
  [MODE_TARGET]: targetMgmt,
  [MODE_DEVICE]: deviceMgmt,
  [MODE_PORTAL]: portalMgmt,
  [MODE_LLD]: lldMgmt,
  [MODE_SESSION]: sessionMgmt,
  [MODE_CONNECTION]: connectionMgmt,
  [MODE_ACCOUNT]: accountMgmt,
};

/** Module load/unload names a driver that need not exist (or be ready) yet: no driver check. */
function isModuleOp(req: IpcRequest): boolean {
  return req.mode === MODE_SYSTEM && req.op >= OP_LLDLOAD && req.op <= OP_BSUNLOAD;
}

export async function executeRequest(host: MgmtHost, req: IpcRequest): Promise<MgmtReply> {
  try {
    const llds = host.llds();
    let lld: LldHandle | undefined;
    if (isModuleOp(req)) {
      lld = { name: req.lld, state: 'uninitialized', error: null, driver: null };
    } else if (req.lld === '') {
      lld = llds[0];
      if (lld === undefined) {
        // With every LLD unloaded, the daemon still answers system and lld requests.
        if (req.mode !== MODE_SYSTEM && req.mode !== MODE_LLD) return fail(TGTADM_NO_DRIVER);
        lld = { name: '', state: 'uninitialized', error: null, driver: null };
      }
    } else {
      lld = llds.find((l) => l.name === req.lld);
      // tgt: a driver that is not ready only answers `--mode lld` requests.
      if (lld === undefined || (lld.state !== 'ready' && req.mode !== MODE_LLD)) return fail(TGTADM_NO_DRIVER);
    }
    const handler = byMode[req.mode];
    if (handler === undefined) return fail(TGTADM_INVALID_REQUEST);
    return await handler({ req, lld, host });
  } catch (e) {
    // Refusals with a known code (TgtadmError, the registry's ModuleError) keep it; anything else is invalid.
    if (hasTgtadmCode(e)) return fail(tgtadmCodeOf(e));
    return fail(TGTADM_INVALID_REQUEST);
  }
}
