// The daemon's composition root: registry, targets, accounts, management server (design.md §1, §2).

import { ModuleRegistry, type ModuleEntry } from '../modules/registry.js';
import type { BackingStore, BackingStoreModule, BackingDevice } from '../bs/api.js';
import type { LldContext, LldDriver } from '../lld/api.js';
import { Target } from '../scsi/target.js';
import { LogicalUnit } from '../scsi/logical-unit.js';
import { AccountStore } from '../mgmt/accounts.js';
import type { BsHandle, LldHandle, LuCreateOptions, LuResult, MgmtHost, SystemState, TargetResult } from '../mgmt/host.js';
import type { Logger } from './log.js';
import { IoLatency } from '../metrics/latency.js';
import { noMediumDevice, noMediumLogicalUnit } from './no-medium.js';
import type { DeviceEnv, DeviceType } from '../scsi/command-table.js';
import { BUILTIN_DEVICE_TYPES, CD, CHANGER, PASSTHROUGH } from '../scsi/device-types.js';
import { configureChanger } from '../scsi/smc.js';
import { stopCopiesUsing } from '../scsi/spc-xcopy.js';
import { MMC_BLOCK_SIZE } from '../scsi/mmc-media.js';
import type { ConnectionHandoff } from '../lld/iscsi/handoff.js';

/** The store tgt forces for a device type (its lu_init), whatever --bstype says. */
const FORCED_STORE: Readonly<Record<string, string>> = { 'cd/dvd': 'mmc', tape: 'ssc', changer: 'smc' };
/** Types tgt creates without a backing path, as an empty removable drive. */
const REMOVABLE_WITHOUT_PATH = new Set(['disk', 'cd/dvd', 'tape']);
/** A LU to open: the store and block size settled. */
type LuOpenOptions = Omit<LuCreateOptions, 'blockSize'> & { blockSize: number };

/** Built-in modules: imported only when loaded, so their dependencies stay out of other daemons. */
const BUILTIN_LLDS: Record<string, () => Promise<unknown>> = {
  iscsi: () => import('../lld/iscsi/module.js'),
  iser: () => import('../lld/iser/module.js'),
};
const BUILTIN_BS: Record<string, () => Promise<unknown>> = {
  rdwr: () => import('../bs/rdwr.js'),
  null: () => import('../bs/null.js'),
  memory: () => import('../bs/memory.js'),
  // tgt's stores of the cd, changer and tape device types (rdwr file I/O under tgt's names).
  mmc: () => import('../bs/mmc.js'),
  smc: () => import('../bs/smc.js'),
  ssc: () => import('../bs/ssc.js'),
  // tgt's name for its libaio store (Longhorn asks for it); rdwr's I/O path underneath.
  aio: () => import('../bs/aio.js'),
  // tgt's SCSI passthrough stores (SG_IO on /dev/sgN, /dev/bsg/H:C:T:L); koffi loads with the first device.
  sg: () => import('../bs/sg.js'),
  bsg: () => import('../bs/bsg.js'),
  // Not in tgtd's default --bstype list: loading it maps librbd (bsload rbd or --bstype ...,rbd).
  rbd: () => import('../bs/rbd.js'),
};

export interface TgtdOptions {
  controlPort: number;
  /** Per-LLD argument strings (`--iscsi portal=...`). */
  lldArgs: Map<string, string>;
  /** Directories third-party modules (npm package names) resolve from. */
  moduleDirs: string[];
  log: Logger;
  /** Time each LU's reads and writes into latency histograms (`--metrics`). */
  timing?: boolean;
  /** `--workers`: how the iscsi LLD moves connections between this daemon's threads (daemon/workers.ts). */
  handoff?: ConnectionHandoff;
}

/** Services the daemon offers LLDs (LldContext.services); the iscsi LLD types what it uses. */
export interface DaemonServices {
  readonly targets: Map<number, Target>;
  readonly accounts: AccountStore;
  readonly system: SystemState;
  /** Absent without --workers. */
  readonly handoff?: ConnectionHandoff;
}

export class Tgtd implements MgmtHost, DaemonServices {
  readonly targets = new Map<number, Target>();
  readonly accounts = new AccountStore();
  readonly system: SystemState;
  readonly registry: ModuleRegistry;
  readonly handoff?: ConnectionHandoff;
  private shutdownHook: (() => void) | null = null;

  constructor(private readonly opts: TgtdOptions) {
    if (opts.handoff !== undefined) this.handoff = opts.handoff;
    // tgt's is_debug is one flag: -d sets it, tgtadm's debug=on|off turns the log's debug lines on and off.
    const log = opts.log;
    this.system = {
      state: 'ready',
      get debug(): boolean {
        return log.debug;
      },
      set debug(v: boolean) {
        log.debug = v;
        log.write('info', `set debug to: ${v ? 1 : 0}`);
      },
    };
    this.registry = new ModuleRegistry({
      builtins: { lld: BUILTIN_LLDS, bs: BUILTIN_BS },
      moduleDirs: opts.moduleDirs,
      makeContext: (kind: 'lld' | 'bs', name: string) => (kind === 'lld' ? this.lldContext(name) : this.bsContext(name)),
      log: (level: string, msg: string) => opts.log.write(level, msg),
    });
  }

  private lldContext(name: string): LldContext {
    return {
      args: this.opts.lldArgs.get(name) ?? '',
      log: (level, msg) => this.opts.log.write(level, `${name}: ${msg}`),
      services: this satisfies DaemonServices,
    };
  }

  private bsContext(name: string): { log(level: 'debug' | 'info' | 'warn' | 'error', msg: string): void } {
    return { log: (level, msg) => this.opts.log.write(level, `${name}: ${msg}`) };
  }

  onShutdown(fn: () => void): void {
    this.shutdownHook = fn;
  }

  requestShutdown(): void {
    setImmediate(() => this.shutdownHook?.());
  }

  llds(): LldHandle[] {
    return this.registry.list('lld').map((e: ModuleEntry) => ({
      name: e.name,
      state: e.state,
      error: e.error,
      driver: e.state === 'ready' ? (e.instance as LldDriver) : null,
    }));
  }

  bstores(): BsHandle[] {
    return this.registry.list('bs').map((e: ModuleEntry) => ({
      name: e.name,
      state: e.state,
      error: e.error,
      oflagsSupported: (e.module as BackingStoreModule | null)?.oflagsSupported ?? null,
    }));
  }

  async loadModule(kind: 'lld' | 'bs', name: string): Promise<void> {
    const e = await this.registry.load(kind, name);
    if (e.state !== 'ready') throw new Error(e.error ?? 'init failed');
  }

  async unloadModule(kind: 'lld' | 'bs', name: string): Promise<void> {
    await this.registry.unload(kind, name);
  }

  async startLld(name: string): Promise<void> {
    await this.registry.start('lld', name);
  }

  async stopLld(name: string): Promise<void> {
    await this.registry.stop('lld', name);
  }

  private acquire(kind: 'lld' | 'bs', name: string): void {
    this.registry.acquire(kind, name);
  }

  private release(kind: 'lld' | 'bs', name: string): void {
    this.registry.release(kind, name);
  }

  private driverOf(lldName: string): LldDriver | null {
    return this.llds().find((l) => l.name === lldName)?.driver ?? null;
  }

  // ------------------------------------------------------------------ targets and LUs (tgt target.c)

  createTarget(tid: number, name: string, lldName: string): TargetResult {
    if (this.targets.has(tid)) return 'exists';
    for (const t of this.targets.values()) if (t.name === name) return 'exists';
    const target = new Target({ tid, name, lldName, peers: () => this.targets.values() });
    const r = this.driverOf(lldName)?.targetCreate?.(tid);
    if (r !== undefined && r.status !== 'ok') return r.status;
    this.targets.set(tid, target);
    this.acquire('lld', lldName);
    return 'ok';
  }

  /** LUNs go first, LUN 0 last. */
  async destroyTarget(tid: number, force: boolean): Promise<TargetResult> {
    const t = this.targets.get(tid);
    if (t === undefined) return 'no-target';
    if (!force && t.nexuses.size > 0) return 'active';
    const r = this.driverOf(t.lldName)?.targetDestroy?.(tid, force);
    if (r !== undefined && r.status !== 'ok') return r.status;
    this.targets.delete(tid);
    for (const lu of t.sortedLuns().slice().reverse()) {
      t.removeLun(lu.lun);
      if (lu.lun !== 0) {
        await this.closeLogicalUnit(lu);
        this.release('bs', lu.bsName);
      }
    }
    this.release('lld', t.lldName);
    return 'ok';
  }

  async addLogicalUnit(tid: number, o: LuCreateOptions): Promise<LuResult> {
    const target = this.targets.get(tid);
    if (target === undefined) return 'no-target';
    if (target.luns.has(o.lun)) return 'exists';
    const type = BUILTIN_DEVICE_TYPES.get(o.deviceType);
    if (type === undefined) return 'invalid';
    // tgt's cd, tape and changer always use their own store (mmc.c, ssc.c, smc.c lu_init), and a
    // DVD drive has 2048-byte blocks (MMC-6 4.2.2.1). tgt shows `1 << blk_shift`: the --blocksize
    // given, else what the type's lu_init sets: 512 for a disk (sbc.c), nothing (so 1) for the
    // others, which keep their block sizes to themselves.
    const forced = FORCED_STORE[o.deviceType];
    const shownBlockSize = o.blockSize ?? (forced === undefined ? 512 : 1);
    const opts: LuOpenOptions = {
      ...o,
      bstype: forced ?? o.bstype,
      blockSize: o.deviceType === CD.name ? MMC_BLOCK_SIZE : shownBlockSize,
    };
    const lu = await this.newLogicalUnit(target, type, opts, forced !== undefined);
    if (typeof lu === 'string') return lu;
    lu.shownBlockSize = shownBlockSize;
    // The device was opened asynchronously: the LUN (or the whole target) may have gone meanwhile.
    if (target.luns.has(o.lun) || this.targets.get(tid) !== target) {
      await this.closeLogicalUnit(lu);
      return 'exists';
    }
    this.acquire('bs', lu.bsName);
    target.addLun(lu);
    return 'ok';
  }

  /** The LU `addLogicalUnit` adds, its device open and its type set up, or why not. */
  private async newLogicalUnit(target: Target, type: DeviceType, o: LuOpenOptions, forcedStore: boolean): Promise<LogicalUnit | LuResult> {
    const tid = target.tid;
    if (o.path === '' && REMOVABLE_WITHOUT_PATH.has(o.deviceType) && (o.bstype === null || o.bstype === 'rdwr' || forcedStore)) {
      // tgt creates a disk, cd or tape without -b as an empty removable drive that is offline (no
      // medium): it prints "Backing store path: None".
      const bsName = o.bstype ?? 'rdwr';
      if (!this.bstores().some((b) => b.name === bsName && b.state === 'ready')) return 'invalid';
      const lu = noMediumLogicalUnit(tid, o.lun, o.deviceType, bsName, o.oflags, o.blockSize);
      try {
        await type.init?.(lu, this.deviceEnv);
      } catch {
        return 'invalid';
      }
      return lu;
    }
    let lu: LogicalUnit;
    try {
      lu = await this.createLogicalUnit(target, o);
    } catch {
      return 'invalid'; // the store refused: no such store, bsoflags it lacks, no path, open failed
    }
    try {
      await type.init?.(lu, this.deviceEnv);
    } catch (e) {
      this.opts.log.write('warn', `tid=${tid} lun=${o.lun}: ${(e as Error).message}`);
      await this.closeLogicalUnit(lu);
      return 'invalid'; // e.g. a tape file that is not in tgt's format
    }
    return lu;
  }

  configureChanger(tid: number, lun: number, pairs: [string, string][]): 'ok' | 'invalid' | 'unknown-param' | null {
    const lu = this.targets.get(tid)?.luns.get(lun);
    return lu === undefined || lu.typeName !== CHANGER.name ? null : configureChanger(lu, pairs);
  }

  /** What device types may ask of the daemon (a changer loading its drives). */
  private readonly deviceEnv: DeviceEnv = {
    findLu: (tid, lun) => this.targets.get(tid)?.luns.get(lun),
    changeMedium: async (tid, lun, path) => {
      if (path !== null) return (await this.changeMedium(tid, lun, path)) === 'ok';
      const lu = this.targets.get(tid)?.luns.get(lun);
      if (lu === undefined) return false;
      await this.removeMedium(lu);
      return true;
    },
  };

  /** Takes an LU's medium out: no path, offline, an empty device (the old one closed). */
  private async removeMedium(lu: LogicalUnit): Promise<void> {
    await new Promise<void>((resolve) => stopCopiesUsing(lu, resolve));
    const old = lu.dev;
    lu.dev = noMediumDevice();
    lu.path = null;
    lu.size = 0;
    lu.online = false;
    await BUILTIN_DEVICE_TYPES.get(lu.typeName)?.mediumChanged?.(lu);
    await new Promise<void>((resolve) => old.close(() => resolve()));
  }

  async changeMedium(tid: number, lun: number, path: string): Promise<LuResult> {
    const target = this.targets.get(tid);
    if (target === undefined) return 'no-target';
    const lu = target.luns.get(lun);
    if (lu === undefined) return 'no-lun';
    // tgt_device_path_update: a medium in an online LU must be taken out (online=0) first.
    if (lu.path !== null && lu.online) return 'invalid';
    const type = BUILTIN_DEVICE_TYPES.get(lu.typeName);
    let dev: BackingDevice;
    try {
      dev = await this.openDevice(lu.bsName, { path, bsopts: '', oflags: lu.oflags, blockSize: lu.blockSize, readonly: false });
    } catch {
      return 'invalid';
    }
    if (target.luns.get(lun) !== lu) {
      await new Promise<void>((resolve) => dev.close(() => resolve()));
      return 'no-lun';
    }
    // An EXTENDED COPY using the old medium ends before the medium changes under it.
    await new Promise<void>((resolve) => stopCopiesUsing(lu, resolve));
    const old = lu.dev;
    lu.dev = dev;
    lu.path = path;
    lu.size = Math.floor(dev.size / lu.blockSize) * lu.blockSize;
    lu.online = true;
    try {
      await type?.mediumChanged?.(lu);
    } catch (e) {
      this.opts.log.write('warn', `tid=${tid} lun=${lun}: ${path}: ${(e as Error).message}`);
      lu.dev = old;
      lu.path = null;
      lu.size = 0;
      lu.online = false;
      await type?.mediumChanged?.(lu);
      await new Promise<void>((resolve) => dev.close(() => resolve()));
      return 'invalid';
    }
    target.mediumLoaded(lun);
    await new Promise<void>((resolve) => old.close(() => resolve()));
    return 'ok';
  }

  async deleteLogicalUnit(tid: number, lun: number): Promise<LuResult> {
    const target = this.targets.get(tid);
    if (target === undefined) return 'no-target';
    const lu = target.luns.get(lun);
    if (lu === undefined) return 'no-lun';
    if (lu.taskSet.list.length > 0) return 'active'; // commands in flight
    target.removeLun(lu.lun);
    await this.closeLogicalUnit(lu);
    this.release('bs', lu.bsName);
    return 'ok';
  }

  /** Opens a device on store `bsName`; throws with the store's reason. */
  private async openDevice(bsName: string, opts: Parameters<BackingStore['open']>[0]): Promise<BackingDevice> {
    const entry = this.registry.get('bs', bsName);
    if (entry === undefined || entry.state !== 'ready') throw new Error(`no backing store ${bsName}`);
    const store = entry.instance as BackingStore;
    return new Promise<BackingDevice>((resolve, reject) => {
      store.open(opts, (err, d) => (err !== null || d === undefined ? reject(new Error(err?.message ?? 'open failed')) : resolve(d)));
    });
  }

  /** Open the backing device and build the LU (not yet added to the target); throws with the store's reason. */
  private async createLogicalUnit(target: Target, o: LuOpenOptions): Promise<LogicalUnit> {
    const bsName = o.bstype ?? 'rdwr';
    const entry = this.registry.get('bs', bsName);
    if (entry === undefined || entry.state !== 'ready') throw new Error(`no backing store ${bsName}`);
    const mod = entry.module as BackingStoreModule;
    // tgt: "Must set device type to pt for bsg/sg bstype" and the converse (both invalid request).
    if ((mod.passthrough === true) !== (o.deviceType === PASSTHROUGH.name)) throw new Error(`${bsName}: device type ${o.deviceType}`);
    if ((o.oflags.sync && !mod.oflagsSupported?.sync) || (o.oflags.direct && !mod.oflagsSupported?.direct)) {
      throw new Error(`${bsName} does not support these bsoflags`);
    }
    if (o.path === '' && mod.pathOptional !== true) throw new Error('path required');
    let lu: LogicalUnit | null = null;
    // A store that sees its device resized (rbd): the LU re-reads the size and raises the UA, as
    // long as this LU is still the target's (not deleted, not replaced).
    const sizeChanged = (): void => {
      if (lu !== null && target.luns.get(o.lun) === lu) target.capacityChanged(o.lun);
    };
    const dev = await this.openDevice(bsName, { path: o.path, bsopts: o.bsopts, oflags: o.oflags, blockSize: o.blockSize, readonly: false, sizeChanged });
    lu = new LogicalUnit({
      tid: target.tid,
      lun: o.lun,
      deviceType: o.deviceType,
      dev,
      bsName,
      path: o.path,
      oflags: o.oflags,
      blockSize: o.blockSize,
    });
    if (this.opts.timing === true) lu.latency = new IoLatency();
    // A read-only device (a snapshot) is write-protected to initiators (MODE SENSE WP), not only refused per write.
    if (dev.readOnly === true) lu.readonly = true;
    return lu;
  }

  private async closeLogicalUnit(lu: LogicalUnit): Promise<void> {
    // A SANITIZE with IMMED keeps writing after its status: no write may reach a closed fd.
    const s = lu.sanitize;
    if (s !== null) await new Promise<void>((resolve) => s.stop(resolve));
    // Nor an EXTENDED COPY reading or writing it (from this LU's copy manager or another's).
    await new Promise<void>((resolve) => stopCopiesUsing(lu, resolve));
    await new Promise<void>((resolve) => lu.dev.close(() => resolve()));
  }

  /** Orderly stop: every target (forced), then every LLD and store module. */
  async stop(): Promise<void> {
    for (const tid of [...this.targets.keys()]) await this.destroyTarget(tid, true);
    for (const kind of ['lld', 'bs'] as const) {
      for (const e of this.registry.list(kind).reverse()) {
        try {
          await this.registry.unload(kind, e.name);
        } catch (err) {
          this.opts.log.write('warn', `unload ${kind} ${e.name}: ${(err as Error).message}`);
        }
      }
    }
  }
}
