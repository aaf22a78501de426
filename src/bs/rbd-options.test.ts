// Unit tests: the rbd store's path and bsopts parsing, and the addon checks (no librbd needed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cephxKey, clusterKey, parseRbdOpts, parseRbdPath } from './rbd-options.js';
import { checkRbdAddon, loadRbdAddon, RBD_ADDON_VERSION } from './rbd-addon.js';
import { errnoError } from './rbd.js';

test('[pool/]image[@snap]: pool defaults to rbd', () => {
  assert.deepEqual(parseRbdPath('vol1'), { pool: 'rbd', image: 'vol1', snap: '' });
  assert.deepEqual(parseRbdPath('tank/vol1'), { pool: 'tank', image: 'vol1', snap: '' });
  assert.deepEqual(parseRbdPath('tank/vol1@snap-1'), { pool: 'tank', image: 'vol1', snap: 'snap-1' });
  assert.deepEqual(parseRbdPath('vol1@s'), { pool: 'rbd', image: 'vol1', snap: 's' });
});

test('bad paths are refused with the expected form', () => {
  for (const p of ['', '  ', '/vol1', 'tank/', 'vol1@', 'a/b/c', 'v@s@t', '@snap']) {
    assert.throws(() => parseRbdPath(p), /rbd|expected/, p);
  }
});

test("bsopts: bs_rbd's keys separated by ';', unknown keys collected", () => {
  const o = parseRbdOpts('conf=/etc/ceph/x.conf;id=cinder;cluster=east; foo=bar ;cephx_key=AQB==');
  assert.equal(o.conf, '/etc/ceph/x.conf');
  assert.equal(o.id, 'cinder');
  assert.equal(o.cluster, 'east');
  assert.equal(o.cephxKey, 'AQB==');
  assert.deepEqual(o.unknown, ['foo=bar']);
  assert.deepEqual(parseRbdOpts('').unknown, []);
});

test('cache=: none by default, librbd on request, anything else refused', () => {
  assert.equal(parseRbdOpts('conf=/etc/ceph/ceph.conf').cache, 'none');
  assert.equal(parseRbdOpts('cache=none').cache, 'none');
  const o = parseRbdOpts('id=x; cache = librbd ');
  assert.equal(o.cache, 'librbd');
  assert.deepEqual(o.unknown, []);
  for (const bad of ['cache=', 'cache=true', 'cache=writeback', 'cache=LIBRBD']) {
    assert.throws(() => parseRbdOpts(bad), /bad rbd option cache=.*expected cache=none or cache=librbd/, bad);
  }
});

test('virsecretuuid and cephx_key together are refused; the libvirt secret file gives the key', () => {
  assert.throws(() => parseRbdOpts('virsecretuuid=0b1c2d3e-aaaa-bbbb-cccc-000000000000;cephx_key=AQB=='), /conflicting/);
  assert.throws(() => parseRbdOpts('virsecretuuid=../../etc/passwd'), /bad virsecretuuid/);
  const o = parseRbdOpts('virsecretuuid=0b1c2d3e-aaaa-bbbb-cccc-000000000000');
  let asked = '';
  assert.equal(cephxKey(o, (p) => ((asked = p), 'AQBkey==\n')), 'AQBkey==');
  assert.equal(asked, '/etc/libvirt/secrets/0b1c2d3e-aaaa-bbbb-cccc-000000000000.base64');
  assert.throws(() => cephxKey(o, () => { throw new Error('ENOENT'); }), /cannot read libvirt secret/);
  assert.equal(cephxKey(parseRbdOpts('id=x')), '');
  assert.notEqual(clusterKey(parseRbdOpts('id=a'), '', false), clusterKey(parseRbdOpts('id=b'), '', false));
  assert.notEqual(clusterKey(parseRbdOpts('id=a'), '', false), clusterKey(parseRbdOpts('id=a'), '', true), 'the client cache is a setting of the connection');
});

test('addon loader: not built, unloadable and wrong-version addons give the reason', () => {
  assert.throws(() => loadRbdAddon(null), /rbd addon not built \(apt-get install librbd-dev librados-dev/);
  assert.throws(() => loadRbdAddon('/x/stgt_rbd.node', () => { throw new Error('librbd.so.1: cannot open shared object file'); }),
    /cannot load rbd addon \/x\/stgt_rbd.node: librbd.so.1/);
  assert.match(checkRbdAddon({ addonVersion: 99 }), /interface version 99, this store needs 1/);
  assert.match(checkRbdAddon({ addonVersion: RBD_ADDON_VERSION, read() {} }), /lacks createContext/);
});

test('errno results become ErrnoExceptions with the code the SCSI layer maps', () => {
  assert.equal(errnoError(110, 'x').code, 'ETIMEDOUT');
  assert.equal(errnoError(30, 'x').code, 'EROFS');
  assert.equal(errnoError(28, 'x').code, 'ENOSPC');
  assert.equal(errnoError(99999, 'x').code, 'EIO');
});
