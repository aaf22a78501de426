// Test fixture: a ConnectionHost (RFC 7143 connection collaborators) over a real SessionTable and SCSI target with a memory disk.
//
// Transport-neutral: a TCP or iSER connection under test is built on this host exactly as its
// driver would build it. Logins are accepted (no CHAP, no ACL); sessions bind through the real
// SessionTable, so reinstatement and teardown are the production code paths.

import type { ConnectionHost, IscsiConnection } from '../connection.js';
import { SessionTable } from '../session-table.js';
import type { IscsiSession } from '../session.js';
import type { LoginResult, LoginTarget } from '../login.js';
import { TargetParams } from '../target-params.js';
import { FakeHost } from '../login-test-host.js';
import type { ScsiTargetPort } from '../../scsi/api.js';
import { Target } from '../../scsi/target.js';
import { LogicalUnit } from '../../scsi/logical-unit.js';
import { MemoryDevice } from '../../scsi/testing/memory-device.js';

export const TEST_TARGET = 'iqn.2024-01.test:conn-target';
export const TEST_INITIATOR = 'iqn.2024-01.test:conn-initiator';
export const BLOCK = 512;

/** LoginHost of one connection: accepts everything and binds through the host's SessionTable. */
class TestLoginHost extends FakeHost {
  constructor(private readonly host: TestConnectionHost, private readonly conn: IscsiConnection) {
    super();
    this.targetList = [host.loginTarget];
  }

  override bindSession(r: LoginResult): { tsih: number } | { statusClass: number; statusDetail: number } {
    this.bound.push(r);
    const discovery = r.sessionType === 'Discovery';
    const b = this.host.sessions.bind(
      {
        discovery, initiatorName: r.initiatorName, initiatorAlias: r.initiatorAlias, isid: r.isid, tsih: r.tsih,
        cid: r.cid, target: discovery ? null : this.host.target, targetName: r.targetName,
        cmdSN: this.conn.loginCmdSNValue, maxConnections: r.params.maxConnections,
        queueDepth: discovery ? 128 : this.host.queueDepth(r.tid), conn: this.conn, portalGroupTag: 1,
      },
      (s) => this.host.sessionClosed(s),
    );
    if (!('session' in b)) return b;
    this.conn.sessionBound(b.session);
    return { tsih: b.session.tsih };
  }
}

export interface TestHostOptions {
  /** Disk size in 512-byte blocks (default 4096: 2 MiB). */
  blocks?: number;
  /** Complete backing-store I/O on a later event-loop turn, like a real store (default true). */
  asyncDevice?: boolean;
}

export class TestConnectionHost implements ConnectionHost {
  readonly sessions = new SessionTable((msg) => this.log('error', msg));
  readonly dev: MemoryDevice;
  readonly target: Target;
  /** Per-target iSCSI settings (tgtadm --op update): set them before the login. */
  readonly params = new TargetParams();
  readonly loginTarget: LoginTarget;
  /** The target's MaxQueueCmd: the CmdSN window of new sessions. */
  depth = 128;
  readonly logs: { level: string; msg: string }[] = [];
  readonly closedConnections: IscsiConnection[] = [];
  readonly closedSessions: IscsiSession[] = [];
  /** Backing-store reads and writes started and not yet completed (wait for 0 to let the engine settle). */
  ioInFlight = 0;

  constructor(opts: TestHostOptions = {}) {
    this.dev = new MemoryDevice((opts.blocks ?? 4096) * BLOCK, { async: opts.asyncDevice ?? true });
    this.target = new Target({ tid: 1, name: TEST_TARGET, lldName: 'iscsi' });
    this.target.addLun(new LogicalUnit({
      tid: 1, lun: 1, deviceType: 'disk', dev: this.dev, bsName: 'memory', path: null,
      oflags: { sync: false, direct: false }, blockSize: BLOCK,
    }));
    this.loginTarget = { tid: 1, name: TEST_TARGET, params: this.params, ready: true };
    const dev = this.dev;
    const read = dev.read.bind(dev);
    const write = dev.write.bind(dev);
    dev.read = (offset, into, cb) => {
      this.ioInFlight++;
      read(offset, into, (err) => {
        this.ioInFlight--;
        cb(err);
      });
    };
    dev.write = (offset, data, cb) => {
      this.ioInFlight++;
      write(offset, data, (err) => {
        this.ioInFlight--;
        cb(err);
      });
    };
  }

  loginHostFor(conn: IscsiConnection): FakeHost {
    return new TestLoginHost(this, conn);
  }

  scsiTarget(tid: number): ScsiTargetPort | null {
    return tid === 1 ? this.target : null;
  }

  queueDepth(_tid: number): number {
    return this.depth;
  }

  connectionClosed(conn: IscsiConnection): void {
    this.closedConnections.push(conn);
  }

  sessionClosed(s: IscsiSession): void {
    this.closedSessions.push(s);
  }

  log(level: 'debug' | 'info' | 'warn' | 'error', msg: string): void {
    this.logs.push({ level, msg });
  }

  /** Log lines at warn or error (an internal error in a connection is logged at error). */
  problems(): string[] {
    return this.logs.filter((l) => l.level === 'error' || l.level === 'warn').map((l) => l.msg);
  }

  /** Forget the POWER ON unit attentions a new nexus gets, so the first command is not CHECK CONDITION. */
  clearUnitAttentions(s: IscsiSession): void {
    for (const lu of this.target.luns.values()) lu.ua.drop(s.tsih);
  }
}
