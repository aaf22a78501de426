// Unit tests of stgt's tgtadm module ops: --mode system --op lldload|lldunload|bsload|bsunload (seed 000; handlers.ts OP_* 9..12).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planTgtadm } from './tgtadm-args.js';
import { OP_BSLOAD, OP_BSUNLOAD, OP_LLDLOAD, OP_LLDUNLOAD } from './tgtadm-options.js';
import * as handlers from '../mgmt/reply.js';
import * as ipc from '../mgmt/ipc.js';

const plan = (...a: string[]) => planTgtadm(['tgtadm', ...a], { env: {} });

test('op numbers are the daemon handlers\' numbers', () => {
  assert.equal(OP_LLDLOAD, handlers.OP_LLDLOAD);
  assert.equal(OP_LLDUNLOAD, handlers.OP_LLDUNLOAD);
  assert.equal(OP_BSLOAD, handlers.OP_BSLOAD);
  assert.equal(OP_BSUNLOAD, handlers.OP_BSUNLOAD);
});

test('lldload / lldunload send the name in tgtadm_req.lld, with an empty payload', () => {
  for (const [op, num] of [['lldload', 9], ['lldunload', 10]] as const) {
    const p = plan('--mode', 'system', '--op', op, '--lld', 'iser', '-C', '7');
    assert.equal(p.kind, 'send');
    if (p.kind !== 'send') continue;
    assert.equal(p.req.mode, ipc.MODE_SYSTEM);
    assert.equal(p.req.op, num);
    assert.equal(p.req.lld, 'iser');
    assert.equal(p.req.payload, '');
    assert.equal(p.controlPort, 7);
    // Byte-exact on the wire: op@4 = 9/10, lld[64]@8 = "iser\0...".
    const wire = ipc.encodeRequest(p.req);
    assert.equal(wire.readInt32LE(4), num);
    assert.equal(wire.subarray(8, 13).toString('latin1'), 'iser\0');
  }
});

test('bsload / bsunload send "bstype=NAME" as the payload; paths are not length-limited', () => {
  const path = `/opt/stgt-modules/${'x'.repeat(80)}/index.js`;
  for (const [op, num] of [['bsload', 11], ['bsunload', 12]] as const) {
    const p = plan('--mode', 'sys', '--op', op, '--bstype', path);
    assert.equal(p.kind, 'send');
    if (p.kind !== 'send') continue;
    assert.equal(p.req.op, num);
    assert.equal(p.req.payload, `bstype=${path}`);
  }
  const q = plan('-m', 'system', '-o', 'bsload', '-E', 'null');
  assert.ok(q.kind === 'send' && q.req.payload === 'bstype=null');
});

test('missing names and stray options are refused with exit 22', () => {
  const cases: [string[], string][] = [
    [['--mode', 'system', '--op', 'lldload'], "tgtadm: lldload operation requires the 'lld' option\n"],
    [['--mode', 'system', '--op', 'bsunload'], "tgtadm: bsunload operation requires the 'bstype' option\n"],
    [['--mode', 'system', '--op', 'bsload', '--bstype', ''], "tgtadm: bsload operation requires the 'bstype' option\n"],
    [['--mode', 'system', '--op', 'lldload', '--lld', 'iser', '--tid', '1'], "tgtadm: system mode: option '-t' is not allowed/supported\n"],
    [['--mode', 'system', '--op', 'bsload', '--bstype', 'null', '-b', '/x'], "tgtadm: system mode: option '-b' is not allowed/supported\n"],
    [['--mode', 'system', '--op', 'lldload', '--lld', `/${'m'.repeat(70)}.js`], `tgtadm: lld name too long (max 63 bytes): /${'m'.repeat(70)}.js\n`],
  ];
  for (const [args, stderr] of cases) {
    assert.deepEqual(plan(...args), { kind: 'exit', code: 22, stdout: '', stderr }, args.join(' '));
  }
});

test('outside system mode the new ops get the errors tgtadm gives any unsupported op', () => {
  assert.deepEqual(plan('--mode', 'target', '--op', 'bsload', '--tid', '1'), {
    kind: 'exit', code: 22, stdout: '', stderr: 'tgtadm: operation bsload not supported in target mode\n',
  });
  assert.deepEqual(plan('--mode', 'lld', '--op', 'lldload', '--lld', 'iser'), {
    kind: 'exit', code: 22, stdout: '', stderr: 'tgtadm: option 9 not supported in lld mode\n',
  });
  assert.deepEqual(plan('--mode', 'portal', '--op', 'lldunload'), {
    kind: 'exit', code: 22, stdout: '', stderr: 'tgtadm: operation lldunload not supported in portal mode\n',
  });
});

test('tgt\'s own --mode lld --op start|stop|show still pass', () => {
  for (const [op, num] of [['start', ipc.OP_START], ['stop', ipc.OP_STOP], ['show', ipc.OP_SHOW]] as const) {
    const p = plan('--mode', 'lld', '--op', op, '--lld', 'iser');
    assert.ok(p.kind === 'send' && p.req.op === num && p.req.lld === 'iser');
  }
});
