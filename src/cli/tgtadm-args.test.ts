// Unit tests for tgtadm argument handling (getopt_long semantics, C number parsing, request building).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planTgtadm } from './tgtadm-args.js';
import { strToInt, EINVAL, ERANGE } from './tgtadm-numbers.js';
import { GetoptLong } from './getopt.js';
import { LONG_OPTIONS, SHORT_OPTIONS } from './tgtadm-options.js';
import * as ipc from '../mgmt/ipc.js';

const plan = (...a: string[]) => planTgtadm(['tgtadm', ...a], { env: {} });

test('C number conversions', () => {
  assert.deepEqual(strToInt('12abc', 'int32', 0n), [0, 12n]);
  assert.deepEqual(strToInt('0x10', 'int32', 0n), [0, 16n]);
  assert.deepEqual(strToInt('010', 'int32', 0n), [0, 8n]);
  assert.equal(strToInt('abc', 'int32', 0n)[0], EINVAL);
  assert.equal(strToInt('-1', 'int32', 0n)[0], EINVAL);
  assert.equal(strToInt('-2', 'int32', 0n)[0], ERANGE);
  assert.equal(strToInt('4294967296', 'int32', 0n)[0], ERANGE);
  assert.equal(strToInt('32768', 'int16', 0n)[0], ERANGE);
  assert.equal(strToInt('18446744073709551616', 'uint64')[0], EINVAL);
  assert.equal(strToInt('-2', 'uint32')[0], ERANGE);
});

test('getopt: prefixes, permutation, clusters', () => {
  const g = new GetoptLong(['p', 'x', '--mo=sys', '-dt5', '--', '-y'], SHORT_OPTIONS, LONG_OPTIONS);
  const evs = [];
  for (let e = g.next(); e !== null; e = g.next()) evs.push(e);
  assert.deepEqual(evs, [
    { kind: 'opt', ch: 'm', arg: 'sys' },
    { kind: 'opt', ch: 'd', arg: null },
    { kind: 'opt', ch: 't', arg: '5' },
  ]);
  assert.deepEqual(g.operands, ['x', '-y']);
  const amb = new GetoptLong(['p', '--bs'], SHORT_OPTIONS, LONG_OPTIONS).next();
  assert.deepEqual(amb, { kind: 'error', message: "p: option '--bs' is ambiguous; possibilities: '--bstype' '--bsopts' '--bsoflags'\n" });
});

test('builds the request like tgtadm', () => {
  const p = plan('--lld', 'iscsi', '--mode', 'lu', '--op', 'new', '--tid=1', '-l2', '-b', '/x.img', '-Y', 'tape', '-f', 'sync');
  assert.equal(p.kind, 'send');
  if (p.kind !== 'send') return;
  assert.equal(p.req.mode, ipc.MODE_DEVICE);
  assert.equal(p.req.lun, 2n);
  assert.equal(p.req.deviceType, 1);
  assert.equal(p.req.payload, 'path=/x.img,bstype=ssc,bsoflags=sync');
  const acct = plan('-m', 'account', '-o', 'bind', '-u', 'bob', '--outgoing');
  assert.ok(acct.kind === 'send' && acct.req.tid === -1 && acct.req.acDir === 1);
  // --params before --mode portal is taken as targetOps, so portal new then lacks its portal.
  const early = plan('--params', 'portal=1.2.3.4:3260', '--mode', 'pt', '--op', 'new');
  assert.equal(early.kind === 'exit' && early.stderr, 'tgtadm: you must specify --param portal=<portal>\n');
  const portal = plan('--mode', 'pt', '--op', 'new', '--params', 'portal=1.2.3.4:3260');
  assert.ok(portal.kind === 'send' && portal.req.payload === 'portalOps portal=1.2.3.4:3260,');
});

test('errors and exit codes', () => {
  assert.deepEqual(plan('--op', 'x'), { kind: 'exit', code: 1, stdout: '', stderr: 'tgtadm: unknown operation: x\n' });
  assert.deepEqual(plan('-t', 'abc'), {
    kind: 'exit', code: 22, stdout: '',
    stderr: "-t argument value 'abc' invalid\nTry `tgtadm --help' for more information.\n",
  });
  const r = plan('--mode', 'target', '--op', 'new', '--tid', '1', '-T', 'x', '-b', 'y');
  assert.equal(r.kind === 'exit' && r.stderr, "tgtadm: target mode: option '-b' is not allowed/supported\n");
  const l = plan('--mode', 'lld', '--op', 'new');
  assert.equal(l.kind === 'exit' && l.stderr, 'tgtadm: option 0 not supported in lld mode\n');
});
