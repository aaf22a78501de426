// Unit tests: the command table — every row of every built-in device type is complete and agrees with REPORT SUPPORTED OPERATION CODES.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ParsedCdb } from './cdb-fields.js';
import { CommandSet, accessOf, availableOn, defineDeviceType } from './command-table.js';
import type { OpInfo, OpRow } from './command-table.js';
import { DeviceState } from './device-type.js';
import { BUILTIN_DEVICE_TYPES, CONTROLLER, DISK } from './device-types.js';
import { LogicalUnit } from './logical-unit.js';
import { ALL_OP_FLAGS, Op, OpFlag } from './opcodes.js';
import { Access } from './persistent-reservations.js';
import { Reason } from './sense.js';
import { Target } from './target.js';
import { makeTask, nexus, rig, senseOf } from './testing/harness.js';
import { MemoryDevice } from './testing/memory-device.js';

/** SPC-4 4.2.5.1: the GROUP CODE (opcode bits 7:5) fixes the CDB length. */
function groupLength(op: number): number {
  return [6, 10, 10, -1, 16, 12, -1, -1][op >> 5]!;
}

function cdbOf(info: OpInfo, len = info.cdbLen): Buffer {
  const c = Buffer.alloc(len);
  c[0] = info.op;
  if (info.sa >= 0) c[1] = info.sa;
  return c;
}

const ACCESS_VALUES = new Set<number>(Object.values(Access));

test('every row of every device type is complete and consistent', () => {
  assert.deepEqual([...BUILTIN_DEVICE_TYPES.keys()].sort(), ['cd/dvd', 'changer', 'controller', 'disk', 'passthrough', 'tape']);
  for (const type of BUILTIN_DEVICE_TYPES.values()) {
    assert.ok(type.commands.all.length === type.rows.length, `${type.name}: every row is in the table`);
    for (const info of type.commands.all) {
      const what = `${type.name} ${info.name}`;
      assert.match(info.name, /^[A-Z]/, what);
      assert.equal(info.cdbLen, groupLength(info.op), `${what}: CDB length follows the group code`);
      assert.ok(info.usage.every((u) => Number.isInteger(u) && u >= 0 && u <= 0xff), `${what}: usage bytes`);
      assert.equal(info.usage[0], info.op, `${what}: usage byte 0 is the opcode`);
      assert.equal(info.usage[info.cdbLen - 1], 0x07, `${what}: CONTROL byte NACA/obsolete bits`);
      if (info.sa >= 0) {
        assert.ok(info.sa <= 0x1f, `${what}: service action fits byte 1 bits 4:0`);
        assert.ok((info.usage[1]! & 0x1f) === info.sa || (info.usage[1]! & 0x1f) === 0x1f, `${what}: usage byte 1 shows the SA`);
        assert.ok(type.commands.saOpcodes.has(info.op), what);
      } else assert.ok(!type.commands.saOpcodes.has(info.op), what);
      assert.equal(typeof info.parse, 'function', what);
      assert.equal(typeof info.exec, 'function', what);
      assert.equal(info.flags & ~ALL_OP_FLAGS, 0, `${what}: only known flags`);
      if ((info.flags & OpFlag.NoLu) !== 0) assert.ok((info.flags & OpFlag.UaExempt) !== 0, `${what}: answered without an LU, so UA-exempt`);
      // the parser accepts a CDB of the row's length and records the row; a shorter one is refused
      const p = new ParsedCdb();
      assert.equal(type.commands.parse(cdbOf(info), p), null, what);
      assert.equal(p.info, info, what);
      assert.ok(ACCESS_VALUES.has(accessOf(info, p)), `${what}: access class`);
      if (info.cdbLen > 6) assert.equal(type.commands.parse(cdbOf(info, info.cdbLen - 1), p), Reason.InvalidFieldInCdb, what);
    }
  }
});

test('the controller is the SPC core; the disk adds SBC; flags as SPC-4 / SAM-5 say', () => {
  const names = (t: typeof DISK): string[] => t.commands.all.map((i) => i.name);
  assert.deepEqual(names(CONTROLLER), ['TEST UNIT READY', 'REQUEST SENSE', 'INQUIRY', 'SEND DIAGNOSTIC', 'REPORT LUNS', 'REPORT TARGET PORT GROUPS', 'REPORT SUPPORTED OPERATION CODES', 'REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS', 'SET TARGET PORT GROUPS']);
  for (const n of names(CONTROLLER)) assert.ok(names(DISK).includes(n), n);
  const row = (op: number, sa = 0): OpInfo => DISK.commands.lookup(op, sa)!;
  assert.equal(row(Op.Inquiry).flags & OpFlag.UaExempt, OpFlag.UaExempt);
  assert.equal(row(Op.Read10).flags & OpFlag.UaExempt, 0);
  assert.equal(row(Op.CompareAndWrite).flags & OpFlag.Atomic, OpFlag.Atomic);
  assert.equal(row(Op.Write16).flags & OpFlag.Atomic, 0);
  const p = new ParsedCdb();
  p.prevent = 1;
  assert.equal(accessOf(row(Op.PreventAllow), p), Access.Write);
  p.prevent = 0;
  assert.equal(accessOf(row(Op.PreventAllow), p), Access.Always);
  assert.equal(accessOf(row(Op.ServiceActionIn16, 0x10), p), Access.Always);
  assert.equal(accessOf(row(Op.ServiceActionIn16, 0x12), p), Access.Read);
  // unknown service actions: PR IN/OUT a field error, SERVICE ACTION IN(16) an unknown command
  assert.equal(DISK.commands.parse(Buffer.from([Op.PrIn, 0x1f, 0, 0, 0, 0, 0, 0, 0, 0]), p), Reason.InvalidFieldInCdb);
  assert.equal(DISK.commands.parse(Buffer.from([Op.ServiceActionIn16, 0x1f, ...Buffer.alloc(14)]), p), Reason.InvalidOpcode);
  assert.equal(CONTROLLER.commands.parse(Buffer.from([Op.Read10, 0, 0, 0, 0, 0, 0, 0, 0, 0]), p), Reason.InvalidOpcode);
});

test('RSOC lists exactly the rows of the LU\'s type, in table order, and each one-command answer is its row', async () => {
  const r = rig();
  await r.clearUa();
  for (const [lun, type] of [[1, DISK], [0, CONTROLLER]] as const) {
    // the rows this LU has (OpRow.available: BLOCK ERASE needs a thin LU with an allocation map)
    const lu = r.target.luns.get(lun)!;
    const rows = type.commands.all.filter((i) => availableOn(i, lu));
    for (const rctd of [false, true]) {
      const t = await r.run([0xa3, 0x0c, rctd ? 0x80 : 0, 0, 0, 0, 0, 0x01, 0, 0, 0, 0], { lun });
      assert.equal(t.status, 0);
      const d = t.dataIn!;
      const dlen = rctd ? 20 : 8;
      assert.equal(d.readUInt32BE(0), dlen * rows.length);
      rows.forEach((info, i) => {
        const o = 4 + dlen * i;
        assert.equal(d[o], info.op, info.name);
        assert.equal(d.readUInt16BE(o + 2), Math.max(info.sa, 0), info.name);
        assert.equal(d[o + 5]! & 0x01, info.sa >= 0 ? 1 : 0, `${info.name} SERVACTV`);
        assert.equal((d[o + 5]! & 0x02) !== 0, rctd, `${info.name} CTDP`);
        assert.equal(d.readUInt16BE(o + 6), info.cdbLen, info.name);
      });
    }
    for (const info of type.commands.all) {
      const opts = info.sa >= 0 ? 0x02 : 0x01;
      const t = await r.run([0xa3, 0x0c, opts, info.op, 0, Math.max(info.sa, 0), 0, 0, 0x01, 0, 0, 0], { lun });
      assert.equal(t.status, 0, info.name);
      const d = t.dataIn!;
      if (!rows.includes(info)) {
        assert.equal(d[1]! & 0x07, 0x01, `${info.name}: not supported on this LU`);
        continue;
      }
      assert.equal(d[1]! & 0x07, 0x03, `${info.name}: supported`);
      assert.equal(d.readUInt16BE(2), info.cdbLen, info.name);
      const usage = [...info.usage];
      if (info.sa >= 0) usage[1] = (usage[1]! & 0xe0) | info.sa;
      assert.deepEqual([...d.subarray(4, 4 + info.cdbLen)], usage, info.name);
    }
  }
  // a disk command on the controller: not supported there, and not run there either
  const t = await r.run([0xa3, 0x0c, 0x01, Op.Read10, 0, 0, 0, 0, 0x01, 0, 0, 0], { lun: 0 });
  assert.equal(t.dataIn![1]! & 0x07, 0x01);
  const rd = await r.run([Op.Read10, 0, 0, 0, 0, 0, 0, 0, 1, 0], { lun: 0 });
  assert.deepEqual(senseOf(rd), [0x05, 0x20, 0x00]);
});

test('a table with a row given twice, or an opcode with and without service actions, is refused', () => {
  const base = DISK.commands.lookup(Op.TestUnitReady, 0)!;
  const row: OpRow = { op: 0x00, name: 'TEST UNIT READY', usage: '00 00 00 00 00 07', parse: base.parse, exec: base.exec, access: Access.Always, flags: 0 };
  assert.throws(() => new CommandSet([row, row]), /given twice/);
  assert.throws(() => new CommandSet([row, { ...row, sa: 1 }]), /with and without/);
});

test('a device type plugs in as rows plus per-LU state', async () => {
  let made = 0;
  const COUNTER = new DeviceState('test counter', () => ({ n: ++made }));
  const tur = CONTROLLER.commands.lookup(Op.TestUnitReady, 0)!;
  const EXAMPLE = defineDeviceType({ name: 'example', peripheralType: 0x1f, productId: 'EXAMPLE' }, [
    ...CONTROLLER.rows,
    {
      op: 0xc0, name: 'VENDOR COUNT', usage: 'c0 00 00 00 00 00 00 00 00 00 00 07', parse: tur.parse, access: Access.Always, flags: 0,
      exec: (c) => {
        c.lu!.state(COUNTER).n += 10;
        c.good();
      },
    },
  ]);
  const target = new Target({ tid: 1, name: 'iqn.2024-01.test:tgt1', lldName: 'iscsi', deviceTypes: [EXAMPLE] });
  const opts = { tid: 1, dev: new MemoryDevice(1 << 20), bsName: 'rdwr', path: null, oflags: { sync: false, direct: false }, blockSize: 512 };
  const lu = new LogicalUnit({ ...opts, lun: 2, deviceType: EXAMPLE });
  target.addLun(lu);
  target.addLun(new LogicalUnit({ ...opts, lun: 1, deviceType: 'disk' }));
  assert.equal(lu.typeName, 'example');
  assert.equal(lu.peripheralType, 0x1f);
  assert.equal(lu.productId, 'EXAMPLE');
  const i1 = nexus(1);
  target.addNexus(i1);
  const run = (lun: number, cdb: number[]): Promise<ReturnType<typeof makeTask>> =>
    new Promise((resolve) => target.execute(makeTask(i1, lun, cdb), resolve));
  for (const lun of [1, 2]) while ((await run(lun, [0, 0, 0, 0, 0, 0])).status !== 0) { /* drain the unit attentions */ }
  const vendor = [0xc0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
  assert.equal((await run(2, vendor)).status, 0);
  assert.equal((await run(2, vendor)).status, 0);
  assert.equal(lu.state(COUNTER).n, 21);
  assert.equal(made, 1);
  // RSOC on the new type lists its rows; its opcode does not exist on a disk
  const t = await run(2, [0xa3, 0x0c, 0x01, 0xc0, 0, 0, 0, 0, 0x01, 0, 0, 0]);
  assert.equal(t.dataIn![1]! & 0x07, 0x03);
  assert.deepEqual(senseOf(await run(1, vendor)), [0x05, 0x20, 0x00]);
  // an unknown type name, or a type the target was not given, is a programming error
  assert.throws(() => new LogicalUnit({ ...opts, lun: 3, deviceType: 'bogus' }), /unknown device type/);
  assert.throws(() => new Target({ tid: 2, name: 'iqn.2024-01.test:tgt2', lldName: 'iscsi' }).addLun(new LogicalUnit({ ...opts, lun: 4, deviceType: EXAMPLE })), /no device type example/);
});
