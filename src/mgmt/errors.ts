// tgtadm error codes and their messages (tgt usr/tgtadm_error.h numbering; tgt-compat.md A3).
//
// The numbers travel on the wire in `struct tgtadm_rsp.err`, and the strings are what tgtadm prints
// after "tgtadm: " on stderr. Scripts (Cinder, tgt-admin) match substrings of them, so both the
// numbering and the text are part of the interface and must never change.

import { TgtadmErr } from '../scsi/tgtadm-codes.js';

export const TGTADM_SUCCESS = TgtadmErr.Success;
export const TGTADM_UNKNOWN_ERR = TgtadmErr.UnknownErr;
export const TGTADM_NOMEM = TgtadmErr.NoMem;
export const TGTADM_NO_DRIVER = TgtadmErr.NoDriver;
export const TGTADM_NO_TARGET = TgtadmErr.NoTarget;
export const TGTADM_NO_LUN = TgtadmErr.NoLun;
export const TGTADM_NO_SESSION = TgtadmErr.NoSession;
export const TGTADM_NO_CONNECTION = TgtadmErr.NoConnection;
export const TGTADM_NO_BINDING = TgtadmErr.NoBinding;
export const TGTADM_TARGET_EXIST = TgtadmErr.TargetExist;
export const TGTADM_LUN_EXIST = TgtadmErr.LunExist;
export const TGTADM_BINDING_EXIST = TgtadmErr.BindingExist;
export const TGTADM_ACL_EXIST = TgtadmErr.AclExist;
export const TGTADM_ACL_NOEXIST = TgtadmErr.AclNoExist;
export const TGTADM_USER_EXIST = TgtadmErr.UserExist;
export const TGTADM_NO_USER = TgtadmErr.NoUser;
export const TGTADM_TOO_MANY_USER = TgtadmErr.TooManyUser;
export const TGTADM_INVALID_REQUEST = TgtadmErr.InvalidRequest;
export const TGTADM_OUTACCOUNT_EXIST = TgtadmErr.OutAccountExist;
export const TGTADM_TARGET_ACTIVE = TgtadmErr.TargetActive;
export const TGTADM_LUN_ACTIVE = TgtadmErr.LunActive;
export const TGTADM_DRIVER_ACTIVE = TgtadmErr.DriverActive;
export const TGTADM_UNSUPPORTED_OPERATION = TgtadmErr.UnsupportedOperation;
export const TGTADM_UNKNOWN_PARAM = TgtadmErr.UnknownParam;
export const TGTADM_PREVENT_REMOVAL = TgtadmErr.PreventRemoval;

/** Message per code, verbatim from tgtadm's strerror table. */
const MESSAGES: Readonly<Record<number, string>> = {
  [TGTADM_SUCCESS]: 'success',
  [TGTADM_UNKNOWN_ERR]: 'unknown error',
  [TGTADM_NOMEM]: 'out of memory',
  [TGTADM_NO_DRIVER]: "can't find the driver",
  [TGTADM_NO_TARGET]: "can't find the target",
  [TGTADM_NO_LUN]: "can't find the logical unit",
  [TGTADM_NO_SESSION]: "can't find the session",
  [TGTADM_NO_CONNECTION]: "can't find the connection",
  [TGTADM_NO_BINDING]: "can't find the binding",
  [TGTADM_TARGET_EXIST]: 'this target already exists',
  [TGTADM_BINDING_EXIST]: 'this binding already exists',
  [TGTADM_LUN_EXIST]: 'this logical unit number already exists',
  [TGTADM_ACL_EXIST]: 'this access control rule already exists',
  [TGTADM_ACL_NOEXIST]: 'this access control rule does not exist',
  [TGTADM_USER_EXIST]: 'this account already exists',
  [TGTADM_NO_USER]: "can't find the account",
  [TGTADM_TOO_MANY_USER]: 'too many accounts',
  [TGTADM_INVALID_REQUEST]: 'invalid request',
  [TGTADM_OUTACCOUNT_EXIST]: 'this target already has an outgoing account',
  [TGTADM_TARGET_ACTIVE]: 'this target is still active',
  [TGTADM_LUN_ACTIVE]: 'this logical unit is still active',
  [TGTADM_DRIVER_ACTIVE]: 'this driver is busy',
  [TGTADM_UNSUPPORTED_OPERATION]: "this operation isn't supported",
  [TGTADM_UNKNOWN_PARAM]: 'unknown parameter',
  [TGTADM_PREVENT_REMOVAL]: 'this device has Prevent Removal set',
};

/** tgtadm's text for a code; codes outside the table print like tgt does. */
export function tgtadmStrerror(code: number): string {
  return MESSAGES[code] ?? '(unknown tgtadm_errno)';
}

/**
 * An Error carrying a tgtadm code, thrown by daemon-side code (registry, handlers) so the management
 * server can answer with the right number without string matching.
 */
export class TgtadmError extends Error {
  readonly code: number;
  constructor(code: number, detail?: string) {
    super(detail ?? tgtadmStrerror(code));
    this.name = 'TgtadmError';
    this.code = code;
  }
}

/** The tgtadm code of any thrown value: TgtadmError keeps its own, anything else is "unknown error". */
export function tgtadmCodeOf(err: unknown): number {
  return err instanceof TgtadmError ? err.code : TGTADM_UNKNOWN_ERR;
}
