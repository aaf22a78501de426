// tgt usr/tgtadm_error.h: management error codes returned in tgtadm_rsp.err, with tgtadm's message for each.
//
// The numbering is positional in tgt's enum and is part of the IPC wire format (the stock tgtadm
// prints tgtadm_strerror(err)), so it must never be renumbered. The integrator may move this
// table to mgmt/ later; iscsi/ uses it for TargetParams.set().

export const TgtadmErr = {
  Success: 0,
  UnknownErr: 1,
  NoMem: 2,
  NoDriver: 3,
  NoTarget: 4,
  NoLun: 5,
  NoSession: 6,
  NoConnection: 7,
  NoBinding: 8,
  TargetExist: 9,
  LunExist: 10,
  BindingExist: 11,
  AclExist: 12,
  AclNoExist: 13,
  UserExist: 14,
  NoUser: 15,
  TooManyUser: 16,
  InvalidRequest: 17,
  OutAccountExist: 18,
  TargetActive: 19,
  LunActive: 20,
  DriverActive: 21,
  UnsupportedOperation: 22,
  UnknownParam: 23,
  PreventRemoval: 24,
} as const;
export type TgtadmErr = (typeof TgtadmErr)[keyof typeof TgtadmErr];

/** tgtadm's text for each code (tgtadm.c tgtadm_strerror), index = code. */
export const TGTADM_MESSAGES: readonly string[] = [
  'success',
  'unknown error',
  'out of memory',
  "can't find the driver",
  "can't find the target",
  "can't find the logical unit",
  "can't find the session",
  "can't find the connection",
  "can't find the binding",
  'this target already exists',
  'this logical unit number already exists',
  'this binding already exists',
  'this access control rule already exists',
  'this access control rule does not exist',
  'this account already exists',
  "can't find the account",
  'too many accounts',
  'invalid request',
  'this target already has an outgoing account',
  'this target is still active',
  'this logical unit is still active',
  'this driver is busy',
  "this operation isn't supported",
  'unknown parameter',
  'this device has Prevent Removal set',
];

export function tgtadmMessage(code: number): string {
  return TGTADM_MESSAGES[code] ?? '(unknown tgtadm_errno)';
}
