// SPC-4 Table 140 peripheral device types: a type's identity and per-LU state (its commands: command-table.ts).
// A leaf: LogicalUnit imports it, so it must not reach the command handlers (which import the LU).

/** What an LU takes from its device type. */
export interface DeviceIdentity {
  /** The tgtadm `Type:` word (tgt's names: disk, cd, tape, changer, controller, passthrough). */
  readonly name: string;
  /** SPC-4 Table 140 PERIPHERAL DEVICE TYPE (00h disk, 01h tape, 05h cd, 08h changer, 0Ch controller). */
  readonly peripheralType: number;
  /** Default INQUIRY PRODUCT IDENTIFICATION. */
  readonly productId: string;
  /** The type has no logical blocks (the LUN 0 controller): its capacity is 0 whatever the store. */
  readonly noMedium?: boolean;
}

/** LUN 0 of every target: a storage array controller (SCC-2) with no medium, tgt's "controller". */
export const CONTROLLER_IDENTITY: DeviceIdentity = { name: 'controller', peripheralType: 0x0c, productId: 'Controller', noMedium: true };
/** A direct-access block device (SBC-4), tgt's "disk". */
export const DISK_IDENTITY: DeviceIdentity = { name: 'disk', peripheralType: 0x00, productId: 'VIRTUAL-DISK' };

/** A DVD drive (MMC-6) over an ISO image or a DVD+R file, tgt's "cd/dvd" (`--device-type cd`). */
export const CD_IDENTITY: DeviceIdentity = { name: 'cd/dvd', peripheralType: 0x05, productId: 'VIRTUAL-CDROM' };
/** A tape drive (SSC-3) over tgt's virtual tape files, tgt's "tape". */
export const TAPE_IDENTITY: DeviceIdentity = { name: 'tape', peripheralType: 0x01, productId: 'VIRTUAL-TAPE' };
/** A media changer (SMC-3) whose drives are tape LUs, tgt's "changer". */
export const CHANGER_IDENTITY: DeviceIdentity = { name: 'changer', peripheralType: 0x08, productId: 'VIRTUAL-CHANGER' };

/**
 * A host SCSI device passed through (tgt's "passthrough", `--device-type pt` on the sg/bsg stores):
 * INQUIRY is the device's, so the type and product here show nowhere but in this table.
 */
export const PASSTHROUGH_IDENTITY: DeviceIdentity = { name: 'passthrough', peripheralType: 0x1f, productId: 'PASSTHROUGH', noMedium: true };

/** Built-in identities by name, for `new LogicalUnit({ deviceType: 'disk' })`; a new type adds its line. */
export const BUILTIN_IDENTITIES: ReadonlyMap<string, DeviceIdentity> = new Map(
  [CONTROLLER_IDENTITY, DISK_IDENTITY, CD_IDENTITY, TAPE_IDENTITY, CHANGER_IDENTITY, PASSTHROUGH_IDENTITY].map((t) => [t.name, t]),
);

/**
 * Per-LU state a device type keeps (a tape's position, a changer's slots): a key made once in the
 * type's file; `lu.state(key)` creates the state on first use and returns the same object after.
 */
export class DeviceState<S> {
  constructor(
    readonly name: string,
    readonly create: () => S,
  ) {}
}
