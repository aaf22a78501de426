// Test harness for the SCSI engine: a Target with a memory-backed disk LU and helpers to run CDBs.
import { DataDir, TaskAttr } from '../api.js';
import type { ItNexus, ScsiTask } from '../api.js';
import { LogicalUnit } from '../logical-unit.js';
import { Target } from '../target.js';
import { MemoryDevice } from './memory-device.js';
import type { MemoryDeviceOptions } from './memory-device.js';

export function nexus(id: number, isid = id): ItNexus {
  const name = `iqn.2024-01.test:init${id}`;
  return { id, initiatorName: name, initiatorPort: `${name},i,0x${isid.toString(16).padStart(12, '0')}` };
}

export function makeTask(n: ItNexus, lun: number, cdb: number[] | Buffer, opts: RunOptions = {}): ScsiTask {
  const c = Buffer.alloc(16);
  Buffer.from(cdb).copy(c);
  const out = opts.dataOut ? [opts.dataOut] : [];
  const outLen = opts.dataOut ? opts.dataOut.length : 0;
  return {
    nexus: n,
    lun,
    cdb: c,
    attr: opts.attr ?? TaskAttr.Simple,
    tag: opts.tag ?? 1,
    dir: opts.dataOut ? DataDir.Write : DataDir.Read,
    expectedLength: opts.dataOut ? outLen : (opts.expectedLength ?? 65536),
    expectedReadLength: 0,
    dataOut: out,
    dataOutLength: outLen,
    readBuffer: opts.readBuffer ?? null,
    status: -1,
    sense: null,
    dataIn: null,
    transferLength: -1,
    aborted: false,
  };
}

export interface RunOptions {
  dataOut?: Buffer;
  attr?: TaskAttr;
  tag?: number;
  expectedLength?: number;
  lun?: number;
  /** The transport's memory for the read data (ScsiTask.readBuffer). */
  readBuffer?: Buffer;
}

export interface Rig {
  target: Target;
  lu: LogicalUnit;
  dev: MemoryDevice;
  i1: ItNexus;
  i2: ItNexus;
  /** Runs a CDB from `n` (default i1) and resolves when `done` is called. */
  run(cdb: number[] | Buffer, opts?: RunOptions & { n?: ItNexus }): Promise<ScsiTask>;
  /** Clears the POWER ON unit attentions of both nexuses. */
  clearUa(): Promise<void>;
}

export function rig(opts: { blocks?: number; blockSize?: number; thin?: boolean; dev?: MemoryDeviceOptions } = {}): Rig {
  const bs = opts.blockSize ?? 512;
  const dev = new MemoryDevice((opts.blocks ?? 2048) * bs, opts.dev);
  const target = new Target({ tid: 1, name: 'iqn.2024-01.test:tgt1', lldName: 'iscsi' });
  const lu = new LogicalUnit({
    tid: 1, lun: 1, deviceType: 'disk', dev, bsName: 'rdwr', path: '/tmp/x.img',
    oflags: { sync: false, direct: false }, blockSize: bs,
  });
  if (opts.thin) lu.thinProvisioning = true;
  target.addLun(lu);
  const i1 = nexus(1);
  const i2 = nexus(2);
  target.addNexus(i1);
  target.addNexus(i2);
  const run = (cdb: number[] | Buffer, o: RunOptions & { n?: ItNexus } = {}): Promise<ScsiTask> =>
    new Promise((resolve) => target.execute(makeTask(o.n ?? i1, o.lun ?? 1, cdb, o), resolve));
  return {
    target, lu, dev, i1, i2, run,
    async clearUa() {
      for (const n of [i1, i2]) {
        for (const l of [0, 1]) {
          while ((await run([0, 0, 0, 0, 0, 0], { n, lun: l })).status !== 0) { /* drain */ }
        }
      }
    },
  };
}

/** Sense key / ASC / ASCQ of a fixed or descriptor sense buffer. */
export function senseOf(t: ScsiTask): [number, number, number] {
  const s = t.sense;
  if (!s) return [-1, -1, -1];
  if ((s[0]! & 0x7f) === 0x72) return [s[1]!, s[2]!, s[3]!];
  return [s[2]! & 0x0f, s[12]!, s[13]!];
}

export function cdb10(op: number, lba: number, blocks: number, b1 = 0): number[] {
  return [op, b1, (lba >>> 24) & 0xff, (lba >>> 16) & 0xff, (lba >>> 8) & 0xff, lba & 0xff, 0, (blocks >> 8) & 0xff, blocks & 0xff, 0];
}

export function cdb16(op: number, lba: number, blocks: number, b1 = 0): number[] {
  const c = Buffer.alloc(16);
  c[0] = op;
  c[1] = b1;
  c.writeUInt32BE(Math.floor(lba / 0x100000000), 2);
  c.writeUInt32BE(lba >>> 0, 6);
  c.writeUInt32BE(blocks, 10);
  return [...c];
}
