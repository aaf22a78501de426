// `tgtd --demo`: one target with a sparse in-memory LUN, open to every initiator (README quick start).

import type { Tgtd } from './tgtd.js';
import type { Logger } from './log.js';
import { executeRequest } from '../mgmt/handlers.js';
import { emptyRequest, MODE_DEVICE, MODE_TARGET, OP_BIND, OP_NEW, type IpcRequest } from '../mgmt/ipc.js';

export const DEMO_IQN = 'iqn.2026-11.org.stgt:demo';

/** Configure the demo through the same request path tgtadm uses. */
export async function setupDemo(tgtd: Tgtd, size: string, log: Logger): Promise<void> {
  const req = (mode: number, op: number, payload: string, lun?: number): IpcRequest => ({
    ...emptyRequest(), mode, op, tid: 1, payload, lun: lun === undefined ? emptyRequest().lun : BigInt(lun),
  });
  const steps: IpcRequest[] = [
    req(MODE_TARGET, OP_NEW, `targetname=${DEMO_IQN}`),
    req(MODE_DEVICE, OP_NEW, `path=${size},bstype=memory`, 1),
    req(MODE_TARGET, OP_BIND, 'initiator-address=ALL'),
  ];
  for (const r of steps) {
    const rep = await executeRequest(tgtd, r);
    if (rep.err !== 0) log.write('error', `demo setup failed at mode ${r.mode} op ${r.op}: code ${rep.err}`);
  }
  log.write('info', `demo target ${DEMO_IQN} with a ${size} memory LUN 1`);
}
