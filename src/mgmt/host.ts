// What the management handlers need of the daemon (implemented by daemon/tgtd.ts; tests build fakes).

import type { LldDriver } from '../lld/api.js';
import type { Target } from '../scsi/target.js';
import type { LogicalUnit } from '../scsi/logical-unit.js';
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
  bstype: string | null;
  path: string;
  bsopts: string;
  oflags: { sync: boolean; direct: boolean };
  blockSize: number;
}

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
  /** Count a use of a module (a target on an LLD, a LU on a store). */
  acquire(kind: 'lld' | 'bs', name: string): void;
  release(kind: 'lld' | 'bs', name: string): void;
  /** Open the backing device and build the LU (not yet added to the target). Throws TgtadmError. */
  createLogicalUnit(target: Target, opts: LuCreateOptions): Promise<LogicalUnit>;
  /** Close the LU's backing device. */
  closeLogicalUnit(lu: LogicalUnit): Promise<void>;
  /** Begin daemon shutdown after the current reply is sent. */
  requestShutdown(): void;
}
