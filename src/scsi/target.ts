// SAM-5 4.6 SCSI target device: LUs, I_T nexuses, command dispatch, task sets, unit attentions, task management.
import { DataDir, Status, TaskAttr, Tmf, TmfResponse } from './api.js';
import type { ItNexus, ScsiTargetPort, ScsiTask } from './api.js';
import type { BackingDevice } from '../bs/api.js';
import { Cmd } from './command.js';
import type { CopyScopeTarget, EngineContext, TmfWait } from './command.js';
import { accessOf, availableOn } from './command-table.js';
import type { CommandSet, DeviceType } from './command-table.js';
import { AluaGroups, AluaStatus } from './alua.js';
import type { AluaChangeError, AluaState, TargetPortGroup } from './alua.js';
import { BUILTIN_DEVICE_TYPES, CONTROLLER } from './device-types.js';
import { LogicalUnit } from './logical-unit.js';
import { OpFlag } from './opcodes.js';
import type { PrNexus, Registration } from './persistent-reservations.js';
import { DEFAULT_PR_STATE_DIR, NO_PR_STATE, PrStore, prStatePath, SharedPrStore } from './pr-store.js';
import { aluaRefusal } from './spc-alua.js';
import { dropCopyResults } from './spc-xcopy.js';
import { Reason, buildSense, progressIndication } from './sense.js';
import type { SenseReason } from './sense.js';

export interface TargetOptions {
  tid: number;
  name: string;
  lldName: string;
  /**
   * Largest data transfer per command in bytes (default 64 MiB: 128 Ki blocks of 512 bytes, enough
   * for libiscsi's 65536-block WRITE(16)/READ(16) in WriteSame16.Unmap, which ignores MAXIMUM
   * TRANSFER LENGTH; Linux sizes its requests from the Block Limits VPD anyway).
   */
  maxXferBytes?: number;
  /**
   * Where APTPL keeps the persistent reservations of LUs that have no backing file of their own
   * (pr-store.ts; default STGT_PR_DIR, else /var/lib/stgt/pr).
   */
  prStateDir?: string;
  /** Reports a persistent reservation state file that could not be restored (default: a process warning). */
  warn?: (msg: string) => void;
  /** Device types beyond the built-in ones (device-types.ts), found by the name of an LU's type. */
  deviceTypes?: readonly DeviceType[];
  /** Every target of the daemon, this one included: where EXTENDED COPY finds its copy targets (default: this target only). */
  peers?: () => Iterable<CopyScopeTarget>;
}

/** The LUN 0 controller's device: no medium at all. */
function nullDevice(): BackingDevice {
  return {
    size: 0,
    read: (_o, into, cb) => {
      into.fill(0);
      cb(null);
    },
    write: (_o, _d, cb) => cb(null),
    flush: (cb) => cb(null),
    close: (cb) => cb(null),
  };
}

export class Target implements ScsiTargetPort, EngineContext {
  readonly tid: number;
  name: string;
  readonly lldName: string;
  state: 'ready' | 'offline' = 'ready';
  readonly luns = new Map<number, LogicalUnit>();
  readonly nexuses = new Map<number, ItNexus>();
  aclAddresses: string[] = [];
  aclNames: string[] = [];
  accounts: { incoming: string[]; outgoing: string | null } = { incoming: [], outgoing: null };
  readonly maxXferBytes: number;
  private readonly prStateDir: string;
  private readonly warn: (msg: string) => void;

  /** SPC-4 5.16: the target's port groups and the portals in each. */
  readonly alua = new AluaGroups();
  /** Each nexus's target port group, found when it logs in and when portals move. */
  private readonly nexusGroups = new Map<number, TargetPortGroup>();
  private readonly deviceTypes: Map<string, DeviceType>;
  private readonly peers: () => Iterable<CopyScopeTarget>;
  private readonly pool: Cmd[] = [];
  /** Commands in flight (in some LU's task set), for task management. */
  private readonly live = new Set<Cmd>();

  constructor(opts: TargetOptions) {
    this.tid = opts.tid;
    this.name = opts.name;
    this.lldName = opts.lldName;
    this.maxXferBytes = opts.maxXferBytes ?? 64 * 1024 * 1024;
    this.prStateDir = opts.prStateDir ?? process.env['STGT_PR_DIR'] ?? DEFAULT_PR_STATE_DIR;
    this.warn = opts.warn ?? ((m) => process.emitWarning(m, 'PersistentReservationWarning'));
    this.deviceTypes = new Map(BUILTIN_DEVICE_TYPES);
    for (const t of opts.deviceTypes ?? []) this.deviceTypes.set(t.name, t);
    this.peers = opts.peers ?? (() => [this]);
    const lu0 = new LogicalUnit({
      tid: opts.tid,
      lun: 0,
      deviceType: CONTROLLER,
      dev: nullDevice(),
      bsName: 'null',
      path: null,
      oflags: { sync: false, direct: false },
      blockSize: 1,
    });
    lu0.blockSize = 1;
    this.luns.set(0, lu0);
  }

  // ---- management

  addLun(lu: LogicalUnit): void {
    if (!this.deviceTypes.has(lu.typeName)) throw new Error(`target ${this.name}: no device type ${lu.typeName}`);
    // SPC-4 5.13.5: a LU created again finds the persistent reservations APTPL kept for it.
    if (lu.typeName !== 'controller') {
      const store = lu.dev.shared !== undefined ? new SharedPrStore(lu.dev.shared, this.warn)
        : new PrStore(prStatePath(this.name, lu.lun, lu.path, this.prStateDir));
      lu.prStore = store;
      // A shared state is the other gateways' current one, APTPL or not (pr-store.ts).
      const saved = store.load(this.warn);
      if (saved !== null && (saved.aptpl || store.shared)) lu.pr.restore(saved);
      // Another gateway's PR OUT: its unit attentions go to our nexuses of the registrations it named,
      // and PREEMPT AND ABORT aborts their tasks here too (SPC-4 5.13.11.2.6 covers every target port).
      store.onChange((state, fx) => {
        lu.pr.restore(state ?? NO_PR_STATE);
        for (const [reg, reason] of fx.ua) for (const id of this.nexusIdsOf(reg)) lu.ua.add(id, reason);
        if (fx.abort.length > 0) this.abortForRegistrations(lu, fx.abort, null);
      });
    }
    const ids = [...this.nexuses.keys()];
    for (const other of this.luns.values()) other.ua.addAll(ids, Reason.ReportedLunsChanged);
    for (const id of ids) {
      lu.ua.add(id, Reason.PowerOnReset);
      lu.statsFor(id);
    }
    this.luns.set(lu.lun, lu);
  }

  removeLun(lun: number): void {
    const lu = this.luns.get(lun);
    if (!lu) return;
    this.abortCmds(this.cmdsOf(lu, null), null);
    this.luns.delete(lun);
    const ids = [...this.nexuses.keys()];
    for (const other of this.luns.values()) other.ua.addAll(ids, Reason.ReportedLunsChanged);
  }

  sortedLuns(): LogicalUnit[] {
    return [...this.luns.values()].sort((a, b) => a.lun - b.lun);
  }

  /** The iSCSI portal group tag of the portal at a target-side address: its target port group's (alua.ts). */
  portalGroupTag(localAddress: string, localPort: number): number {
    return this.alua.groupOf({ localAddress, localPort }).portalGroupTag;
  }

  /** The target port group `nexus` came in through (SPC-4 5.16.2). */
  portGroupOf(nexus: ItNexus): TargetPortGroup {
    return this.nexusGroups.get(nexus.id) ?? this.alua.groupOf(nexus);
  }

  /**
   * `--params alua_state=[<group>:]<state>` (implicit transition, SPC-4 5.16.2.7) or SET TARGET PORT
   * GROUPS from nexus `by` (explicit, 5.16.2.8): moves group `id` to `state`. Every I_T nexus but
   * `by` gets ASYMMETRIC ACCESS STATE CHANGED on every LU: the REPORT TARGET PORT GROUPS data
   * changed for all of them, whichever group they use.
   */
  setAluaState(state: AluaState, id = 1, by: ItNexus | null = null): AluaChangeError | null {
    const r = this.alua.setState(id, state, by === null ? AluaStatus.AlteredImplicitly : AluaStatus.AlteredBySet);
    if (typeof r === 'string') return r;
    if (r) for (const lu of this.luns.values()) lu.ua.addAll(this.nexuses.keys(), Reason.AsymmetricAccessStateChanged, by?.id);
    return null;
  }

  /**
   * `--params alua_group=<group>:<portal>`: the portal now belongs to that group (created
   * active/optimized). A nexus whose group this changes is told INQUIRY DATA HAS CHANGED (its VPD
   * 83h designators changed) and every nexus ASYMMETRIC ACCESS STATE CHANGED (RTPG changed).
   */
  assignAluaPortal(id: number, portal: string): AluaChangeError | null {
    const err = this.alua.assign(id, portal);
    if (err !== null) return err;
    for (const n of this.nexuses.values()) {
      const g = this.alua.groupOf(n);
      if (this.nexusGroups.get(n.id) !== g) {
        this.nexusGroups.set(n.id, g);
        for (const lu of this.luns.values()) lu.ua.add(n.id, Reason.InquiryDataChanged);
      }
    }
    for (const lu of this.luns.values()) lu.ua.addAll(this.nexuses.keys(), Reason.AsymmetricAccessStateChanged);
    return null;
  }

  /** `--params alua_explicit=0|1`: INQUIRY TPGS 11b and SET TARGET PORT GROUPS, or TPGS 01b. */
  setAluaExplicit(on: boolean): void {
    if (this.alua.explicit === on) return;
    this.alua.explicit = on;
    for (const lu of this.luns.values()) lu.ua.addAll(this.nexuses.keys(), Reason.InquiryDataChanged);
  }

  /**
   * A medium went into LU `lun` from outside the initiators' commands (tgtadm `path=`, a changer's
   * MOVE MEDIUM into its drive): every I_T nexus gets NOT READY TO READY CHANGE, MEDIUM MAY HAVE
   * CHANGED (SAM-5 5.14 unit attention; SPC-4 ASC/ASCQ 28h/00h), which is how an initiator
   * (Linux sr and st) learns that what it knew of the medium is stale. tgt raises none.
   */
  mediumLoaded(lun: number): void {
    this.luns.get(lun)?.ua.addAll(this.nexuses.keys(), Reason.MediumMayHaveChanged);
  }

  /** After the backing store grew or shrank: re-read the size, raise CAPACITY DATA HAS CHANGED. */
  capacityChanged(lun: number): boolean {
    const lu = this.luns.get(lun);
    if (!lu || !lu.refreshSize()) return false;
    lu.ua.addAll(this.nexuses.keys(), Reason.CapacityDataChanged);
    return true;
  }

  /** EngineContext: the commands of the LU's device type (addLun made sure there is one). */
  commandsOf(lu: LogicalUnit): CommandSet {
    return this.deviceTypes.get(lu.typeName)?.commands ?? CONTROLLER.commands;
  }

  /** EngineContext: where EXTENDED COPY looks for copy targets. */
  copyScope(): Iterable<CopyScopeTarget> {
    return this.peers();
  }

  nexusIds(): Iterable<number> {
    return this.nexuses.keys();
  }

  /** EngineContext: the I_T nexus for PR, its target port being its port group's (alua.ts: one port per group). */
  prNexus(nexus: ItNexus): PrNexus {
    return { port: nexus.initiatorPort, relPort: this.portGroupOf(nexus).relativePorts[0]! };
  }

  isTargetPort(relPort: number): boolean {
    for (const g of this.alua.groups.values()) if (g.relativePorts.includes(relPort)) return true;
    return false;
  }

  /** Whether `nexus` is one of registration `reg`'s I_T nexuses (its initiator port, or any port of an initiator named alone; its target port unless ALL_TG_PT). */
  private ofRegistration(nexus: ItNexus, reg: Registration): boolean {
    const byName = !reg.port.includes(',i,0x');
    if (byName ? nexus.initiatorName !== reg.port : nexus.initiatorPort !== reg.port) return false;
    return reg.allTgPt || this.portGroupOf(nexus).relativePorts.includes(reg.relPort);
  }

  nexusIdsOf(reg: Registration): number[] {
    const out: number[] = [];
    for (const n of this.nexuses.values()) if (this.ofRegistration(n, reg)) out.push(n.id);
    return out;
  }

  // ---- ScsiTargetPort

  addNexus(nexus: ItNexus): void {
    this.nexuses.set(nexus.id, nexus);
    this.nexusGroups.set(nexus.id, this.alua.groupOf(nexus));
    for (const lu of this.luns.values()) {
      lu.ua.add(nexus.id, Reason.PowerOnReset);
      lu.statsFor(nexus.id); // tgt lists every I_T nexus of a LU in `--op stat`, idle or not
    }
  }

  removeNexus(nexus: ItNexus): void {
    try {
      for (const lu of this.luns.values()) {
        this.abortCmds(this.cmdsOf(lu, nexus.id), null);
        lu.ua.drop(nexus.id);
        lu.dropStats(nexus.id);
        this.nexusLost(lu, nexus.id);
      }
    } finally {
      this.nexuses.delete(nexus.id);
      this.nexusGroups.delete(nexus.id);
    }
  }

  /**
   * SAM-5 6.3.4 I_T nexus loss (the session ended, or I_T NEXUS RESET): what the nexus held on
   * `lu` goes. SPC-2 reservations do not survive it (SPC-2 5.5.1); PR registrations do (SPC-4
   * 5.13.1); SPC-4 6.13: it ends that nexus's prevention of medium removal; its LIST ID results go.
   */
  private nexusLost(lu: LogicalUnit, nexusId: number): void {
    if (lu.reservedBy === nexusId) lu.reservedBy = -1;
    lu.preventedBy.delete(nexusId);
    dropCopyResults(lu, nexusId);
  }

  execute(task: ScsiTask, done: (task: ScsiTask) => void): void {
    let c: Cmd | null = null;
    try {
      task.status = Status.Good;
      task.sense = null;
      task.dataIn = null;
      task.transferLength = -1;
      task.aborted = false;
      task.dataOutTransient = false;
      if (this.state !== 'ready') {
        // tgt's target_cmd_queue answers -EBUSY ("service delivery or target failure") when the
        // target is not ready: the command is refused with BUSY so the initiator retries later.
        task.status = Status.Busy;
        done(task);
        return;
      }
      const lu = this.luns.get(task.lun) ?? null;
      c = this.pool.pop() ?? new Cmd(this);
      c.init(task, done, lu);
      if (lu !== null && lu.latency !== null) c.t0 = performance.now();
      this.live.add(c);
      // The LU's device type decides which commands exist (a LUN with no LU: the controller's set).
      const commands = lu ? this.commandsOf(lu) : CONTROLLER.commands;
      let bad = commands.parse(task.cdb, c.p);
      const info = c.p.info;
      if (!lu) return this.noLun(c, bad);
      // A row that some LUs of the type lack (OpRow.available): a command this LU does not have.
      if (!bad && !availableOn(commands.lookup(c.p.opcode, c.p.sa)!, lu)) bad = commands.missing(c.p.opcode);
      if (bad) {
        const ua = info !== undefined && (info.flags & OpFlag.UaExempt) !== 0 ? null : lu.ua.take(task.nexus.id);
        return c.fail(ua ?? bad);
      }
      c.atomic = (info!.flags & OpFlag.Atomic) !== 0;
      c.exclusive = task.attr === TaskAttr.Ordered || c.atomic;
      c.inSet = true;
      if (lu.taskSet.add(c)) {
        c.started = true;
        this.run(c);
      }
    } catch (e) {
      if (c && c.task === task) c.internalError(e);
      else {
        try {
          task.status = Status.CheckCondition;
          task.sense = buildSense(Reason.InternalTargetFailure, false);
          done(task);
        } catch {
          /* the transport's own callback failed: nothing left to report to */
        }
      }
    }
  }

  /** A LUN with no logical unit: INQUIRY reports "no device", REPORT LUNS works, the rest fail. */
  private noLun(c: Cmd, bad: SenseReason | null): void {
    const info = c.p.info;
    if (!bad && info !== undefined && (info.flags & OpFlag.NoLu) !== 0) return CONTROLLER.commands.lookup(info.op, info.sa)!.exec(c);
    c.fail(Reason.LunNotSupported);
  }

  /** Runs a command the task set has enabled: UA, readiness and reservation checks, then its handler. */
  private run(c: Cmd): void {
    try {
      if (c.abortRequested) return this.finish(c);
      const lu = c.lu!;
      const p = c.p;
      const nexus = c.task.nexus;
      const info = this.commandsOf(lu).lookup(p.opcode, p.sa)!;
      const flags = info.flags;
      if ((flags & OpFlag.UaExempt) === 0) {
        const ua = lu.ua.take(nexus.id);
        if (ua) return c.fail(ua);
      }
      // SPC-4 5.16.2.4: the target port group's ALUA state
      const refused = aluaRefusal(this.portGroupOf(nexus), flags);
      if (refused !== null) return c.fail(refused);
      // SBC-4 4.11: while a sanitize runs, or after it failed, commands but a few are refused.
      // A pending unit attention comes first (SAM-5 5.14), as for any other condition.
      const san = lu.sanitize;
      if (san !== null && (flags & OpFlag.SanitizeOk) === 0) {
        if (san.running) return c.fail(Reason.SanitizeInProgress, -1, progressIndication(san.done, san.total));
        if ((flags & OpFlag.SanitizeRecovery) === 0) return c.fail(Reason.SanitizeFailed);
      }
      if (!lu.online) {
        // An offline removable LU has no medium (tgt: "online == media is present"): only the
        // medium commands fail. Any other offline LU answers little but INQUIRY and REPORT LUNS.
        if (lu.removable) {
          if ((flags & OpFlag.NeedsMedium) !== 0) return c.fail(Reason.MediumNotPresent);
        } else if ((flags & OpFlag.OfflineOk) === 0) return c.fail(Reason.NotReadyManualIntervention);
      }
      if (lu.reservedBy !== -1 && lu.reservedBy !== nexus.id && (flags & OpFlag.Spc2ReservationOk) === 0) return c.conflict();
      if (lu.pr.reserved && lu.pr.conflicts(this.prNexus(nexus), accessOf(info, p))) return c.conflict();
      info.exec(c);
    } catch (e) {
      c.internalError(e);
    }
  }

  /** EngineContext: the command is complete. Reports it, starts what the task set now allows. */
  finish(c: Cmd): void {
    if (!this.live.has(c)) return; // finished twice: a bug, ignored rather than reporting twice
    this.live.delete(c);
    const task = c.task;
    const lu = c.lu;
    let ready: Cmd[] | null = null;
    if (c.inSet && lu) {
      c.inSet = false;
      ready = lu.taskSet.remove(c) as Cmd[];
    }
    if (c.abortRequested) {
      task.aborted = true;
      task.status = Status.TaskAborted;
      task.sense = null;
      task.dataIn = null;
    } else if (task.status === Status.CheckCondition && lu) {
      c.stats.errs++;
    }
    if (c.ioKind !== 0 && lu !== null && lu.latency !== null) lu.latency.record(c.ioKind, performance.now() - c.t0);
    const done = c.done;
    const waits = c.tmfWaits.length > 0 ? c.tmfWaits.splice(0) : null;
    c.release();
    this.pool.push(c);
    try {
      done(task);
    } catch {
      /* a transport callback threw: the engine stays consistent */
    }
    if (waits) for (const w of waits) if (--w.remaining === 0) w.onDrained();
    if (ready) for (const r of ready) this.run(r);
  }

  // ---- task management (SAM-5 7)

  /** The task of `nexus` with tag `tag` in some LU's task set. */
  private taskOf(nexus: ItNexus, tag: number): Cmd | undefined {
    let found: Cmd | undefined;
    for (const c of this.live) if (c.inSet && c.task.nexus.id === nexus.id && c.task.tag === tag) found = c;
    return found;
  }

  private cmdsOf(lu: LogicalUnit, nexusId: number | null): Cmd[] {
    const out: Cmd[] = [];
    for (const c of this.live) {
      if (c.lu === lu && c.inSet && (nexusId === null || c.task.nexus.id === nexusId)) out.push(c);
    }
    return out;
  }

  /**
   * Aborts `cmds`: queued ones complete at once as aborted; running ones (in the backing store)
   * complete first and are then reported aborted. `onDrained` runs when all are done.
   */
  private abortCmds(cmds: Cmd[], onDrained: (() => void) | null): ScsiTask[] {
    const tasks = cmds.map((c) => c.task);
    for (const c of cmds) c.abortRequested = true;
    const w: TmfWait = { remaining: 1, onDrained: onDrained ?? (() => {}) };
    cmds.forEach((c, i) => {
      if (c.task !== tasks[i] || !this.live.has(c)) return; // already finished meanwhile
      if (!c.started) this.finish(c);
      else {
        w.remaining++;
        c.tmfWaits.push(w);
        const release = c.onAbort;
        c.onAbort = null;
        if (release !== null) release();
      }
    });
    if (--w.remaining === 0) w.onDrained();
    return tasks;
  }

  /** EngineContext: PREEMPT AND ABORT (SPC-4 5.13.11.2.6) aborts the preempted nexuses' tasks. */
  abortForRegistrations(lu: LogicalUnit, regs: readonly Registration[], by: Cmd | null): void {
    const victims = this.cmdsOf(lu, null).filter((c) => c !== by && regs.some((r) => this.ofRegistration(c.task.nexus, r)));
    this.abortCmds(victims, null);
  }

  /**
   * SAM-5 6.3.3 logical unit reset: clears SPC-2 reservations and prevent-removal (PR registrations
   * survive) and raises a unit attention for the initiator port of every I_T nexus, the one that
   * asked for the reset included: SAM-5 excepts the issuing nexus for CLEAR TASK SET and MODE
   * SELECT, not for a reset. LIO (target_tmr_work -> target_dev_ua_allocate) and tgt
   * (target_mgmt_request) do the same; libiscsi's MultipathIO.Reset checks it on both paths.
   */
  private resetLu(lu: LogicalUnit, reason: typeof Reason.BusDeviceReset): void {
    lu.reservedBy = -1;
    lu.preventedBy.clear();
    lu.ua.addAll(this.nexuses.keys(), reason);
  }

  taskMgmt(
    nexus: ItNexus,
    fn: Tmf,
    lun: number,
    refTag: number,
    done: (response: TmfResponse, aborted: readonly ScsiTask[], info?: number) => void,
  ): void {
    try {
      const lu = this.luns.get(lun);
      let aborted: ScsiTask[] = [];
      const finish = (resp: TmfResponse, info?: number): void => {
        try {
          done(resp, aborted, info);
        } catch {
          /* transport callback failure */
        }
      };
      switch (fn) {
        case Tmf.AbortTask: {
          const victim = this.taskOf(nexus, refTag);
          // No such task here: it completed already (or never reached the engine). RFC 7143 11.6.1
          // c) answers "Task does not exist" for a RefCmdSN outside the CmdSN window (already
          // received); b) "Function complete" for one inside it (not yet received) is the
          // transport's call, as only it knows the window (libiscsi iSCSITMF.AbortTaskSimpleAsync
          // expects WRITE good + "Task does not exist" when the write finished first).
          if (!victim) return finish(TmfResponse.TaskDoesNotExist);
          aborted = [victim.task];
          this.abortCmds([victim], () => finish(TmfResponse.Complete));
          return;
        }
        case Tmf.AbortTaskSet:
        case Tmf.ClearTaskSet:
        case Tmf.LogicalUnitReset: {
          if (!lu) return finish(TmfResponse.LunDoesNotExist);
          const all = fn !== Tmf.AbortTaskSet;
          const cmds = this.cmdsOf(lu, all ? null : nexus.id);
          if (fn === Tmf.ClearTaskSet) {
            // SAM-5 7.4: other nexuses whose tasks were cleared get COMMANDS CLEARED BY ANOTHER INITIATOR
            const others = new Set<number>();
            for (const c of cmds) if (c.task.nexus.id !== nexus.id) others.add(c.task.nexus.id);
            for (const id of others) lu.ua.add(id, Reason.CommandsCleared);
          }
          if (fn === Tmf.LogicalUnitReset) this.resetLu(lu, Reason.BusDeviceReset);
          aborted = cmds.map((c) => c.task);
          this.abortCmds(cmds, () => finish(TmfResponse.Complete));
          return;
        }
        case Tmf.TargetWarmReset:
        case Tmf.TargetColdReset: {
          const cmds: Cmd[] = [];
          // RFC 7143 11.5.1: both are SAM-2's TARGET RESET, a hard reset (SAM-5 6.3.2); the cold
          // one is also a power on event. SAM-5 has no code for a target reset: the warm one reports
          // the generic POWER ON, RESET, OR BUS DEVICE RESET OCCURRED (what tgt reports for every
          // reset, and the one reset code libiscsi's RESERVE(6) helpers retry on), the cold one
          // POWER ON OCCURRED. Every I_T nexus gets it, as for a logical unit reset.
          const reason = fn === Tmf.TargetColdReset ? Reason.PowerOnOccurred : Reason.PowerOnReset;
          for (const l of this.luns.values()) {
            cmds.push(...this.cmdsOf(l, null));
            this.resetLu(l, reason);
          }
          aborted = cmds.map((c) => c.task);
          this.abortCmds(cmds, () => finish(TmfResponse.Complete));
          return;
        }
        case Tmf.QueryTask:
          // SAM-5 7.9: FUNCTION SUCCEEDED when the task is in the task set (enabled or not), else FUNCTION COMPLETE
          return finish(this.taskOf(nexus, refTag) !== undefined ? TmfResponse.FunctionSucceeded : TmfResponse.Complete);
        case Tmf.QueryTaskSet:
          // SAM-5 7.10: any task of this I_T nexus in the LU's task set
          if (!lu) return finish(TmfResponse.LunDoesNotExist);
          return finish(this.cmdsOf(lu, nexus.id).length > 0 ? TmfResponse.FunctionSucceeded : TmfResponse.Complete);
        case Tmf.QueryAsyncEvent: {
          // SAM-5 7.11: the oldest pending unit attention for this I_T nexus (left pending), in the
          // ADDITIONAL RESPONSE INFORMATION: UADE DEPTH (01b one condition, 10b more than one; no
          // deferred errors here), SENSE KEY, ASC, ASCQ.
          if (!lu) return finish(TmfResponse.LunDoesNotExist);
          const ua = lu.ua.peek(nexus.id);
          if (ua === null) return finish(TmfResponse.Complete);
          const depth = lu.ua.count(nexus.id) > 1 ? 0b10 : 0b01;
          return finish(TmfResponse.FunctionSucceeded, (((depth << 4) | ua.key) << 16) | (ua.asc << 8) | ua.ascq);
        }
        case Tmf.ItNexusReset: {
          // SAM-5 7.7 / 6.3.4: an I_T nexus loss for this nexus on every LU: its tasks are aborted,
          // what it held goes (nexusLost), and it gets I_T NEXUS LOSS OCCURRED; other nexuses see
          // nothing. The nexus itself stays (the transport decides whether its session goes on).
          const cmds: Cmd[] = [];
          for (const l of this.luns.values()) {
            cmds.push(...this.cmdsOf(l, nexus.id));
            this.nexusLost(l, nexus.id);
            l.ua.add(nexus.id, Reason.ItNexusLossOccurred);
          }
          aborted = cmds.map((c) => c.task);
          this.abortCmds(cmds, () => finish(TmfResponse.Complete));
          return;
        }
        default:
          // CLEAR ACA (stgt never establishes an ACA condition), TASK REASSIGN (ERL 0)
          return finish(TmfResponse.NotSupported);
      }
    } catch {
      try {
        done(TmfResponse.Rejected, []);
      } catch {
        /* nothing more to do */
      }
    }
  }
}

/** Re-exported for transports that want to name the direction of a task. */
export { DataDir };
