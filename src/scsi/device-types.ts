// The built-in device types: the LUN 0 controller (SCC-2) and the disk (SBC-4), each a set of command rows.
import { defineDeviceType } from './command-table.js';
import type { DeviceType } from './command-table.js';
import { CD_IDENTITY, CHANGER_IDENTITY, CONTROLLER_IDENTITY, DISK_IDENTITY, PASSTHROUGH_IDENTITY, TAPE_IDENTITY } from './device-type.js';
import { PASSTHROUGH_OTHERWISE } from './passthrough.js';
import { SMC_ROWS, setupChangerLu } from './smc.js';
import { SSC_ROWS, setupTapeLu, tapeMediumChanged } from './ssc.js';
import { MMC_ROWS, mmcMediumChanged, setupCdLu } from './mmc.js';
import { SBC_DEVICE_ROWS } from './sbc-device.js';
import { SBC_IO_ROWS } from './sbc-io.js';
import { SBC_MEDIUM_ROWS } from './sbc-medium.js';
import { SBC_PROVISIONING_ROWS } from './sbc-provisioning.js';
import { SBC_SANITIZE_ROWS } from './sbc-sanitize.js';
import { SPC_ALUA_ROWS } from './spc-alua.js';
import { SPC_INQUIRY_ROWS } from './spc-inquiry.js';
import { SPC_MISC_ROWS, SPC_REPORT_LUNS_ROW } from './spc-misc.js';
import { SPC_MODE_ROWS } from './spc-mode.js';
import { SPC_RESERVATION_ROWS } from './spc-reservations.js';
import { SPC_XCOPY_ROWS } from './spc-xcopy.js';

/** SPC-4 commands every device type answers, the controller's whole set. */
export const SPC_CORE_ROWS = [...SPC_MISC_ROWS, ...SPC_INQUIRY_ROWS, ...SPC_ALUA_ROWS];

export const CONTROLLER = defineDeviceType(CONTROLLER_IDENTITY, SPC_CORE_ROWS);

export const DISK = defineDeviceType(DISK_IDENTITY, [
  ...SPC_CORE_ROWS,
  ...SPC_MODE_ROWS,
  ...SPC_RESERVATION_ROWS,
  ...SBC_IO_ROWS,
  ...SBC_DEVICE_ROWS,
  ...SBC_MEDIUM_ROWS,
  ...SBC_PROVISIONING_ROWS,
  ...SBC_SANITIZE_ROWS,
  ...SPC_XCOPY_ROWS,
]);

/** cd/dvd (MMC-6 as tgt's mmc.c): SPC, MODE, reservations and the MMC rows (reads and writes of 2048-byte blocks among them). */
export const CD = defineDeviceType(CD_IDENTITY, [...SPC_CORE_ROWS, ...SPC_MODE_ROWS, ...SPC_RESERVATION_ROWS, ...MMC_ROWS], {
  init: setupCdLu,
  mediumChanged: mmcMediumChanged,
});

/** tape (SSC-3 as tgt's ssc.c over its virtual tape files): SPC, reservations and the SSC rows (its own MODE SENSE/SELECT among them). */
export const TAPE = defineDeviceType(TAPE_IDENTITY, [...SPC_CORE_ROWS, ...SPC_RESERVATION_ROWS, ...SSC_ROWS], {
  init: setupTapeLu,
  mediumChanged: tapeMediumChanged,
});

/** changer (SMC-3 as tgt's smc.c): SPC, MODE, reservations and the SMC rows; its drives are tape LUs. */
export const CHANGER = defineDeviceType(CHANGER_IDENTITY, [...SPC_CORE_ROWS, ...SPC_MODE_ROWS, ...SPC_RESERVATION_ROWS, ...SMC_ROWS], {
  init: setupChangerLu,
});

/** passthrough (tgt's pt over the sg/bsg stores): REPORT LUNS is the target's, every other command the device's. */
export const PASSTHROUGH = defineDeviceType(PASSTHROUGH_IDENTITY, [SPC_REPORT_LUNS_ROW], { otherwise: PASSTHROUGH_OTHERWISE });

/** The device types every Target knows, by name (TargetOptions.deviceTypes adds more); a new type adds its line. */
export const BUILTIN_DEVICE_TYPES: ReadonlyMap<string, DeviceType> = new Map([CONTROLLER, DISK, CD, TAPE, CHANGER, PASSTHROUGH].map((t) => [t.name, t]));
