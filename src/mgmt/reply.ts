// What every management handler returns and takes: the reply, the resolved request, stgt's extra ops (a leaf module, so handlers and the dispatcher do not import each other).

import type { IpcRequest } from './ipc.js';
import type { LldHandle, MgmtHost } from './host.js';

/** The answer to one request: a tgtadm code and, on success, the text tgtadm prints. */
export interface MgmtReply {
  err: number;
  text: string;
}

export const ok = (text = ''): MgmtReply => ({ err: 0, text });
export const fail = (err: number): MgmtReply => ({ err, text: '' });

/** A request with its resolved driver. */
export interface MgmtRequest {
  req: IpcRequest;
  lld: LldHandle;
  host: MgmtHost;
}

/**
 * Ops stgt adds to tgt's enum tgtadm_op (which ends at OP_STOP = 8): run-time module load/unload
 * (seed 000_8f5109d86dea3ca1). Stock tgtadm never sends them.
 */
export const OP_LLDLOAD = 9;
export const OP_LLDUNLOAD = 10;
export const OP_BSLOAD = 11;
export const OP_BSUNLOAD = 12;

