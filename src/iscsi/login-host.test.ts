// Unit tests of tgt's ACL rule (address ALL / exact / CIDR, or initiator name) used by login and SendTargets.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { aclAllows, addressMatches } from './login-host.js';
import { Target } from '../scsi/target.js';

test('addressMatches: ALL, exact, IPv4/IPv6 CIDR, brackets, mapped IPv4', () => {
  assert.equal(addressMatches('ALL', '10.1.2.3'), true);
  assert.equal(addressMatches('127.0.0.1', '127.0.0.1'), true);
  assert.equal(addressMatches('127.0.0.1', '127.0.0.2'), false);
  assert.equal(addressMatches('10.0.0.0/8', '10.200.3.4'), true);
  assert.equal(addressMatches('10.0.0.0/8', '11.0.0.1'), false);
  assert.equal(addressMatches('192.168.1.0/24', '::ffff:192.168.1.77'), true);
  assert.equal(addressMatches('[::1]', '::1'), true);
  assert.equal(addressMatches('fd00::/8', 'fd12:3456::1'), true);
  assert.equal(addressMatches('fd00::/8', '10.0.0.1'), false);
  assert.equal(addressMatches('10.0.0.0/8', 'fd00::1'), false);
  assert.equal(addressMatches('garbage/33', '10.0.0.1'), false);
});

test('aclAllows: an address rule or a name rule admits; nothing bound admits nobody', () => {
  const t = new Target({ tid: 1, name: 'iqn.2026-11.org.stgt.test:acl', lldName: 'iscsi' });
  assert.equal(aclAllows(t, 'iqn.x:a', '127.0.0.1'), false);
  t.aclNames.push('iqn.x:a');
  assert.equal(aclAllows(t, 'iqn.x:a', '10.9.9.9'), true);
  assert.equal(aclAllows(t, 'iqn.x:b', '10.9.9.9'), false);
  t.aclAddresses.push('10.9.0.0/16');
  assert.equal(aclAllows(t, 'iqn.x:b', '10.9.9.9'), true);
  assert.equal(aclAllows(t, 'iqn.x:b', '10.8.9.9'), false);
});
