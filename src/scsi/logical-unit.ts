// SAM-5 4.6 Logical unit: identity, SPC/SBC attributes tgtadm sets, mode pages, UAs, reservations, counters.
import type { BackingDevice } from '../bs/api.js';
import type { IoLatency } from '../metrics/latency.js';
import { BUILTIN_IDENTITIES } from './device-type.js';
import type { DeviceIdentity, DeviceState } from './device-type.js';
import { ModePages } from './mode-pages.js';
import { PersistentReservations } from './persistent-reservations.js';
import type { PrStateStore } from './pr-store.js';
import { TaskSet } from './task-set.js';
import type { TaskSetEntry } from './task-set.js';
import { UnitAttentions } from './unit-attention.js';

/** What LogicalUnit.updateParams says of a parameter list (the management layer maps it to tgtadm's codes). */
export type LuParamResult = 'ok' | 'invalid' | 'unknown-param';

export interface LogicalUnitOptions {
  tid: number;
  lun: number;
  /** A device type (a DeviceType of command-table.ts is one), or the name of a built-in one ('disk', 'controller'). */
  deviceType: DeviceIdentity | string;
  dev: BackingDevice;
  bsName: string;
  path: string | null;
  oflags: { sync: boolean; direct: boolean };
  blockSize: number;
}

/** SBC-4 4.11 sanitize state of an LU (sbc-sanitize.ts runs the operation). */
export interface SanitizeStatus {
  /** The operation is running: commands but a few answer SANITIZE IN PROGRESS. */
  running: boolean;
  /** Bytes written of `total` (progress indication). */
  done: number;
  total: number;
  /** It ended with an error: sanitize failure mode until a SANITIZE succeeds (or EXIT FAILURE MODE, with AUSE). */
  failed: boolean;
  /** AUSE of the SANITIZE that started it. */
  ause: boolean;
  /**
   * Stops a running operation before the LU's device is closed: no write starts after this call,
   * `cb` runs once the one in flight has called back (at once when none is running).
   */
  stop(cb: () => void): void;
}

/** Per-LU I/O counters shown by `tgtadm --op stat` (tgt's rd_subm/rd_done/wr_subm/wr_done/errs). */
export class LuStats {
  rdSubmBytes = 0;
  rdSubmCmds = 0;
  rdDoneBytes = 0;
  rdDoneCmds = 0;
  wrSubmBytes = 0;
  wrSubmCmds = 0;
  wrDoneBytes = 0;
  wrDoneCmds = 0;
  errs = 0;
}

function addStats(into: LuStats, s: LuStats): void {
  into.rdSubmBytes += s.rdSubmBytes;
  into.rdSubmCmds += s.rdSubmCmds;
  into.rdDoneBytes += s.rdDoneBytes;
  into.rdDoneCmds += s.rdDoneCmds;
  into.wrSubmBytes += s.wrSubmBytes;
  into.wrSubmCmds += s.wrSubmCmds;
  into.wrDoneBytes += s.wrDoneBytes;
  into.wrDoneCmds += s.wrDoneCmds;
  into.errs += s.errs;
}

function pad(s: string, n: number): string {
  return s.length >= n ? s.slice(0, n) : s + ' '.repeat(n - s.length);
}

function parseBool(v: string): boolean | null {
  const t = v.trim().toLowerCase();
  if (t === '1' || t === 'yes' || t === 'on' || t === 'true') return true;
  if (t === '0' || t === 'no' || t === 'off' || t === 'false') return false;
  return null;
}

function parseUint(v: string, max: number): number | null {
  const t = v.trim();
  if (!/^(0x[0-9a-f]+|\d+)$/i.test(t)) return null;
  const n = Number(t);
  return Number.isSafeInteger(n) && n <= max ? n : null;
}

export class LogicalUnit {
  readonly tid: number;
  readonly lun: number;
  /** The device type's identity (its commands: the Target's device type of the same name). */
  readonly type: DeviceIdentity;
  /** The device type's name, e.g. "disk" or "controller" (the tgtadm `Type:` line). */
  readonly typeName: string;
  /** SPC-4 Table 140 PERIPHERAL DEVICE TYPE: 00h disk, 0Ch storage array controller. */
  readonly peripheralType: number;
  dev: BackingDevice;
  bsName: string;
  path: string | null;
  oflags: { sync: boolean; direct: boolean };
  blockSize: number;
  /**
   * What `--op show` prints as "Block size" (tgt's `1 << blk_shift`): the block size, except for
   * types that keep theirs to themselves (cd, tape, changer print 1 unless --blocksize was given).
   */
  shownBlockSize: number;
  /** Capacity in bytes (whole blocks). */
  size: number;

  scsiId: string;
  scsiSn: string;
  /** INQUIRY T10 VENDOR IDENTIFICATION (8), PRODUCT IDENTIFICATION (16), PRODUCT REVISION LEVEL (4). */
  vendorId = 'IET';
  productId: string;
  productRev = '0001';
  online = true;
  removable = false;
  /** I_T nexuses that prevent medium removal (SPC-4 6.13: removal is prevented while any does). */
  readonly preventedBy = new Set<number>();
  readonly = false;
  thinProvisioning = false;
  /** SBC-4 6.6.2 MEDIUM ROTATION RATE (1 = non-rotating). */
  rotationRate = 0;
  /** LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT, LOWEST ALIGNED LBA (READ CAPACITY(16)). */
  lbppbe = 0;
  laLba = 0;
  /**
   * Block Limits WSNZ (`--params wsnz=`): 1 refuses WRITE SAME with NUMBER OF LOGICAL BLOCKS zero,
   * 0 (the default, what tgt reports) takes it to mean "to the last LBA" (SBC-4 5.48), within
   * MAXIMUM WRITE SAME LENGTH like any WRITE SAME.
   */
  wsnz = false;
  /** Block limits VPD OPTIMAL TRANSFER LENGTH GRANULARITY / OPTIMAL TRANSFER LENGTH, in blocks. */
  optimalXferGran = 0;
  optimalXferLen = 0;

  readonly modePages = new ModePages();
  readonly ua = new UnitAttentions();
  readonly pr = new PersistentReservations();
  /** Where APTPL keeps `pr` (set when the LU joins its target); null: APTPL=1 is refused. */
  prStore: PrStateStore | null = null;
  /**
   * While a PR OUT's state write is in flight: the PR OUTs that arrived meanwhile, to run in
   * arrival order once it is durable (spc-reservations.ts); null when no write is in flight.
   */
  prOutWaiting: (() => void)[] | null = null;
  /** A sanitize operation running or failed (SBC-4 4.11), else null. It survives resets and aborts. */
  sanitize: SanitizeStatus | null = null;
  /** SPC-2 RESERVE(6/10) holder nexus id, or -1. */
  reservedBy = -1;
  /** Counters per I_T nexus (tgt keeps them per LU and nexus: `--op stat` rows). */
  private readonly nexusStats = new Map<number, LuStats>();
  /** Where commands of a nexus that has gone count (countersOf). */
  private readonly goneStats = new LuStats();
  /** The rows of the nexuses that have gone, summed when each was dropped (totals). */
  private readonly retiredStats = new LuStats();
  /** Read and write latency histograms, while tgtd serves metrics (null: commands are not timed). */
  latency: IoLatency | null = null;
  /** @internal the task set; entries are the engine's command records. */
  readonly taskSet = new TaskSet<TaskSetEntry>();
  /** Per-LU state of the device type (DeviceState keys), created on first use. */
  private readonly deviceStates = new Map<DeviceState<unknown>, unknown>();

  constructor(opts: LogicalUnitOptions) {
    this.tid = opts.tid;
    this.lun = opts.lun;
    const type = typeof opts.deviceType === 'string' ? BUILTIN_IDENTITIES.get(opts.deviceType) : opts.deviceType;
    if (type === undefined) throw new Error(`unknown device type ${String(opts.deviceType)}`);
    this.type = type;
    this.typeName = type.name;
    this.peripheralType = type.peripheralType;
    this.dev = opts.dev;
    this.bsName = opts.bsName;
    this.path = opts.path;
    this.oflags = opts.oflags;
    this.blockSize = opts.blockSize > 0 ? opts.blockSize : 512;
    this.shownBlockSize = this.blockSize;
    this.size = type.noMedium === true ? 0 : Math.floor(opts.dev.size / this.blockSize) * this.blockSize;
    // tgt defaults: "IET     " + %04x tid + %04x lun, and "beaf" + tid + lun in decimal
    this.scsiId = 'IET     ' + hex4(opts.tid) + hex4(opts.lun);
    this.scsiSn = 'beaf' + String(opts.tid) + String(opts.lun);
    this.productId = type.productId;
  }

  /** The device type's state `key` of this LU (made by key.create on first use). */
  state<S>(key: DeviceState<S>): S {
    if (!this.deviceStates.has(key)) this.deviceStates.set(key, key.create());
    return this.deviceStates.get(key) as S;
  }

  /** The counters of this LU for one I_T nexus (created on first use). */
  statsFor(nexusId: number): LuStats {
    let st = this.nexusStats.get(nexusId);
    if (st === undefined) {
      st = new LuStats();
      this.nexusStats.set(nexusId, st);
    }
    return st;
  }

  dropStats(nexusId: number): void {
    const st = this.nexusStats.get(nexusId);
    if (st !== undefined) addStats(this.retiredStats, st);
    this.nexusStats.delete(nexusId);
  }

  /** Everything this LU counted since it was created, gone nexuses included (monotonic: metrics counters). */
  totals(): LuStats {
    const t = new LuStats();
    addStats(t, this.retiredStats);
    addStats(t, this.goneStats);
    for (const st of this.nexusStats.values()) addStats(t, st);
    return t;
  }

  /**
   * The counters a command counts into: its nexus's, or a sink no `--op stat` row shows when the
   * nexus is gone (a read or write still in the backing store when its session ended completes
   * after removeNexus; creating its row again would show a session that no longer exists).
   */
  countersOf(nexusId: number): LuStats {
    return this.nexusStats.get(nexusId) ?? this.goneStats;
  }

  /** [nexus id, counters] in the order the nexuses logged in. */
  statsByNexus(): Iterable<[number, LuStats]> {
    return this.nexusStats.entries();
  }

  /** Number of logical blocks. */
  get blocks(): number {
    return this.blockSize > 0 ? Math.floor(this.size / this.blockSize) : 0;
  }

  /** PREVENT ALLOW MEDIUM REMOVAL is in force (the tgtadm `Prevent removal:` line). */
  get preventRemoval(): boolean {
    return this.preventedBy.size > 0;
  }

  /** Control mode page SWP (software write protect). */
  get swp(): boolean {
    return this.modePages.swp;
  }

  /** Writes are refused: `readonly=1` or SWP set (SBC-4 4.12). */
  get writeProtected(): boolean {
    return this.readonly || this.modePages.swp;
  }

  /** Descriptor-format sense (sense_format=1 or D_SENSE set by MODE SELECT). */
  get descriptorSense(): boolean {
    return this.modePages.dSense;
  }

  /** Thin provisioning is usable only when asked for and the store can deallocate. */
  get thin(): boolean {
    return this.thinProvisioning && typeof this.dev.unmap === 'function';
  }

  /** Padded INQUIRY strings. */
  get vendorField(): string {
    return pad(this.vendorId, 8);
  }
  get productField(): string {
    return pad(this.productId, 16);
  }
  get revisionField(): string {
    return pad(this.productRev, 4);
  }

  /**
   * Re-reads the backing device size (e.g. after the file grew). Returns true when it changed, so the
   * caller can raise CAPACITY DATA HAS CHANGED.
   */
  refreshSize(): boolean {
    if (this.type.noMedium === true) return false;
    const raw = this.dev.resize ? this.dev.resize() : this.dev.size;
    const size = Math.floor(raw / this.blockSize) * this.blockSize;
    if (size === this.size) return false;
    this.size = size;
    return true;
  }

  /**
   * tgtadm `--op update --mode logicalunit --params k=v,...` (tgt spc.c lu_config tokens).
   * Returns 'ok', 'invalid' for a value the key refuses, or 'unknown-param' for a key it does not
   * know; keys the management layer owns (path, bsopts, bsoflags, blocksize...) are not handled here
   * and also give 'unknown-param'. mgmt/ turns the result into tgtadm's number.
   */
  updateParams(pairs: [string, string][]): LuParamResult {
    for (const [rawKey, value] of pairs) {
      const key = rawKey.trim();
      switch (key) {
        case 'scsi_id':
          this.scsiId = value.slice(0, 24);
          break;
        case 'scsi_sn':
          this.scsiSn = value.slice(0, 36);
          break;
        case 'vendor_id':
          this.vendorId = value.slice(0, 8);
          break;
        case 'product_id':
          this.productId = value.slice(0, 16);
          break;
        case 'product_rev':
          this.productRev = value.slice(0, 4);
          break;
        case 'sense_format': {
          const n = parseUint(value, 1);
          if (n === null) return 'invalid';
          this.modePages.dSense = n === 1;
          break;
        }
        case 'removable':
        case 'readonly':
        case 'online':
        case 'thin_provisioning':
        case 'wsnz': {
          const b = parseBool(value);
          if (b === null) return 'invalid';
          if (key === 'removable') this.removable = b;
          else if (key === 'readonly') this.readonly = b;
          else if (key === 'online') this.online = b;
          else if (key === 'wsnz') this.wsnz = b;
          else this.thinProvisioning = b;
          break;
        }
        case 'mode_page':
          if (!this.modePages.setFromParam(value)) return 'invalid';
          break;
        case 'rotation_rate':
        case 'lbppbe':
        case 'la_lba':
        case 'optimal_xfer_gran':
        case 'optimal_xfer_len': {
          const max = key === 'lbppbe' ? 15 : key === 'la_lba' ? 0x3fff : key === 'rotation_rate' ? 0xffff : 0xffffffff;
          const n = parseUint(value, max);
          if (n === null) return 'invalid';
          if (key === 'rotation_rate') this.rotationRate = n;
          else if (key === 'lbppbe') this.lbppbe = n;
          else if (key === 'la_lba') this.laLba = n;
          else if (key === 'optimal_xfer_gran') this.optimalXferGran = n;
          else this.optimalXferLen = n;
          break;
        }
        default:
          return 'unknown-param';
      }
    }
    return 'ok';
  }
}

function hex4(n: number): string {
  return (n & 0xffff).toString(16).padStart(4, '0');
}
