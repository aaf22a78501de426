// Tests for tgtadm --json's conversion of tgt's show text (tgtadm-json.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { camelKey, showJson } from './tgtadm-json.js';
import { MODE_CONNECTION, MODE_TARGET } from '../mgmt/ipc.js';

test('keys in camelCase', () => {
  assert.equal(camelKey('Backing store type'), 'backingStoreType');
  assert.equal(camelKey('SCSI ID'), 'scsiId');
  assert.equal(camelKey('I_T nexus information'), 'itNexusInformation');
  assert.equal(camelKey('IP Address'), 'ipAddress');
});

test('conn show: sessions and connections as arrays with numeric ids; an empty target show is an empty list', () => {
  const text = 'Session: 3\n    Connection: 0\n        Initiator: iqn.x\n        IP Address: 127.0.0.1\n';
  assert.deepEqual(JSON.parse(showJson(MODE_CONNECTION, text)), {
    sessions: [{ sid: 3, connections: [{ cid: 0, initiator: 'iqn.x', ipAddress: '127.0.0.1' }] }],
  });
  assert.deepEqual(JSON.parse(showJson(MODE_TARGET, '')), { targets: [] });
  assert.ok(showJson(MODE_TARGET, '').endsWith('}\n'));
});
