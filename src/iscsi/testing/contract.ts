// The connection contract (RFC 7143 connection base over any transport): every transport's test file runs these tests.
//
// `connectionContract(make)` registers, with node:test, the byte-exact tests of the behaviour the
// shared engine promises whatever moves the bytes: login phase, R2T/Data-Out windows, Data-In sequencing,
// the CmdSN window, NOP/Text/Logout/TMF, teardown and back-pressure. A transport supplies a
// `MakeConnection` that builds its connection on the given host and exposes what it sent.

import { describe } from 'node:test';
import type { MakeConnection } from './capture-connection.js';
import { r2tContract } from './contract-r2t.js';
import { dataInContract } from './contract-data-in.js';
import { cmdSNContract } from './contract-cmdsn.js';
import { sessionContract } from './contract-session.js';
import { backPressureContract } from './contract-backpressure.js';
import { teardownContract } from './contract-teardown.js';
import { loginContract } from './contract-login.js';

export interface ContractOptions {
  name?: string;
  /**
   * The transport moves SCSI data as R2T / Data-Out / Data-In PDUs (TCP). A transport that moves
   * it otherwise (iSER: RDMA READ/WRITE) sets false and runs its own data-movement tests; the
   * rest of the contract (numbering, non-command PDUs, teardown) still applies to it.
   */
  dataPdus?: boolean;
}

export function connectionContract(make: MakeConnection, opts: ContractOptions = {}): void {
  describe(opts.name ?? 'connection contract', () => {
    loginContract(make);
    if (opts.dataPdus !== false) {
      r2tContract(make);
      dataInContract(make);
    }
    const dataPdus = opts.dataPdus !== false;
    cmdSNContract(make, dataPdus);
    sessionContract(make, dataPdus);
    teardownContract(make, dataPdus);
    backPressureContract(make);
  });
}
