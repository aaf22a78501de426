// Shared pieces of the device-type host tests: daemons and sessions closed after the file, tapes made with bin/tgtimg.
import { after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { haveDebianTgt, type CompatDaemon } from '../compat/daemons.js';
import type { ScsiClient } from '../helpers/scsi-client.js';

/** The shim scripts run (dist/test/devices -> bin/tgtimg). */
export const TGTIMG = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..', 'bin', 'tgtimg');
/** Debian's tgt is the oracle of these tests. */
export const skipWithoutTgt = haveDebianTgt ? false : 'Debian tgt is not installed';

/** Daemons and sessions a test file opens; stopped once the file's tests are done. */
export function cleanup(): { daemons: CompatDaemon[]; clients: ScsiClient[] } {
  const daemons: CompatDaemon[] = [];
  const clients: ScsiClient[] = [];
  after(async () => {
    for (const c of clients) c.close();
    for (const d of daemons) await d.stop();
  });
  return { daemons, clients };
}

/** A new data tape of `mb` MB at `file`, made by stgt's tgtimg. */
export function newTape(file: string, barcode: string, mb = 16): void {
  const r = spawnSync(process.execPath, [TGTIMG, '--op', 'new', '--device-type', 'tape', '--barcode', barcode, '--size', String(mb), '--type', 'data', '--file', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}
