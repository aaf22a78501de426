// What the management handlers need of the daemon (implemented by daemon/tgtd.ts; tests build fakes).

import type { LldDriver, LldStatus } from '../lld/api.js';
import type { Target } from '../scsi/target.js';
import type { AccountStore } from './accounts.js';

export type ModuleState = 'uninitialized' | 'ready' | 'error' | 'stopped';

/** One LLD as the management layer sees it. */
export interface LldHandle {
  readonly name: string;
  readonly state: ModuleState;
  readonly error: string | null;
  /** The running driver, when state is 'ready'. */
  readonly driver: LldDriver | null;
}

export interface BsHandle {
  readonly name: string;
  readonly state: ModuleState;
  readonly error: string | null;
  readonly oflagsSupported: { sync: boolean; direct: boolean } | null;
}

export interface SystemState {
  state: 'ready' | 'offline';
  debug: boolean;
}

export interface LuCreateOptions {
  lun: number;
  /** Device type name (tgtadm's `Type:` word): disk, cd/dvd, tape, changer. */
  deviceType: string;
  bstype: string | null;
  path: string;
  bsopts: string;
  oflags: { sync: boolean; direct: boolean };
  /** `--blocksize`, or null when it was not given or not valid (a disk then has 512-byte blocks). */
  blockSize: number | null;
}

/**
 * How a target creation or removal went: 'exists' (the tid or the name is taken), 'active' (it has
 * sessions and removal was not forced), or the driver's own status (LldStatus; 'no-target' also
 * when the daemon has no such tid). The handlers turn it into tgtadm's code.
 */
export type TargetResult = LldStatus | 'exists' | 'active';

/**
 * How adding or removing a LU went: 'no-target', 'no-lun', 'exists' (the LUN is taken), 'active'
 * (commands in flight), 'invalid' (the store is not loaded or refuses the device or its flags).
 */
export type LuResult = 'ok' | 'no-target' | 'no-lun' | 'exists' | 'active' | 'invalid';

export interface MgmtHost {
  readonly targets: Map<number, Target>;
  readonly accounts: AccountStore;
  readonly system: SystemState;
  /** Loaded LLDs in load order (index 0 is the default driver when tgtadm sends no --lld). */
  llds(): LldHandle[];
  /** Loaded backing stores in load order. */
  bstores(): BsHandle[];
  loadModule(kind: 'lld' | 'bs', name: string): Promise<void>;
  unloadModule(kind: 'lld' | 'bs', name: string): Promise<void>;
  startLld(name: string): Promise<void>;
  stopLld(name: string): Promise<void>;
  /** Build target `tid` on LLD `lldName` (the name is already validated), tell the driver, count the use. */
  createTarget(tid: number, name: string, lldName: string): TargetResult;
  /** Remove a target: refused while sessions exist unless forced; its LUs go, the driver and stores are released. */
  destroyTarget(tid: number, force: boolean): Promise<TargetResult>;
  /**
   * Open the backing device, build the LU and add it to target `tid` (a disk without a path on
   * rdwr is an empty removable drive); 'invalid' when the store refuses the device.
   */
  addLogicalUnit(tid: number, opts: LuCreateOptions): Promise<LuResult>;
  /** Remove a LU: refused while it has commands in flight; closes its device and releases its store. */
  deleteLogicalUnit(tid: number, lun: number): Promise<LuResult>;
  /**
   * `--op update --params path=FILE` of a removable LU (cd, tape): opens FILE on the LU's store and
   * makes it the medium. Refused ('invalid') while the LU is online with a medium (tgt: take it
   * offline first), or when the store cannot open FILE.
   */
  changeMedium(tid: number, lun: number, path: string): Promise<LuResult>;
  /**
   * A changer LU's `--params` from the first pair on (tgt smc.c smc_lu_config): the result, or null
   * when the LU is not a changer (its parameters are the LU's own).
   */
  configureChanger?(tid: number, lun: number, pairs: [string, string][]): 'ok' | 'invalid' | 'unknown-param' | null;
  /** Begin daemon shutdown after the current reply is sent. */
  requestShutdown(): void;
}
