// SBC-4 5.x / SPC-4 6.x CDB parsing through a device type's command table (the rows say how each CDB decodes).
import { ParsedCdb } from './cdb-fields.js';
import { DISK } from './device-types.js';
import type { CommandSet } from './command-table.js';
import type { SenseReason } from './sense.js';

export { ParsedCdb };

/**
 * Decodes `cdb` into `p` with the rows of `commands` (default: the disk's). Returns null on
 * success, else the sense reason the command fails with (CommandSet.parse).
 */
export function parseCdb(cdb: Buffer, p: ParsedCdb, commands: CommandSet = DISK.commands): SenseReason | null {
  return commands.parse(cdb, p);
}
