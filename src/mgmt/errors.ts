// tgtadm error codes and their messages (tgt usr/tgtadm_error.h numbering; tgt-compat.md A3).
//
// The numbers travel on the wire in `struct tgtadm_rsp.err`, and the strings are what tgtadm prints
// after "tgtadm: " on stderr. Scripts (Cinder, tgt-admin) match substrings of them, so both the
// numbering and the text are part of the interface and must never change.

import type { LldStatus } from '../lld/api.js';
import { ModuleError, type ModuleErrorReason } from '../modules/module-error.js';

// The only copy of the numbering: the layers below return their own results and the functions at
// the end of this file map them here (design.md section 1).
export const TGTADM_SUCCESS = 0;
export const TGTADM_UNKNOWN_ERR = 1;
export const TGTADM_NOMEM = 2;
export const TGTADM_NO_DRIVER = 3;
export const TGTADM_NO_TARGET = 4;
export const TGTADM_NO_LUN = 5;
export const TGTADM_NO_SESSION = 6;
export const TGTADM_NO_CONNECTION = 7;
export const TGTADM_NO_BINDING = 8;
export const TGTADM_TARGET_EXIST = 9;
export const TGTADM_LUN_EXIST = 10;
export const TGTADM_BINDING_EXIST = 11;
export const TGTADM_ACL_EXIST = 12;
export const TGTADM_ACL_NOEXIST = 13;
export const TGTADM_USER_EXIST = 14;
export const TGTADM_NO_USER = 15;
export const TGTADM_TOO_MANY_USER = 16;
export const TGTADM_INVALID_REQUEST = 17;
export const TGTADM_OUTACCOUNT_EXIST = 18;
export const TGTADM_TARGET_ACTIVE = 19;
export const TGTADM_LUN_ACTIVE = 20;
export const TGTADM_DRIVER_ACTIVE = 21;
export const TGTADM_UNSUPPORTED_OPERATION = 22;
export const TGTADM_UNKNOWN_PARAM = 23;
export const TGTADM_PREVENT_REMOVAL = 24;

/** Every code tgt defines (TGTADM_SUCCESS through TGTADM_PREVENT_REMOVAL). */
export const TGTADM_CODES: readonly number[] = Array.from({ length: TGTADM_PREVENT_REMOVAL + 1 }, (_, i) => i);

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

/** What each refusal of the module registry tells tgtadm (tgt: no driver, driver busy, unknown error). */
const MODULE_ERROR_CODES: Readonly<Record<ModuleErrorReason, number>> = {
  'not-found': TGTADM_NO_DRIVER,
  'not-ready': TGTADM_NO_DRIVER,
  'load-failed': TGTADM_NO_DRIVER,
  exists: TGTADM_DRIVER_ACTIVE,
  busy: TGTADM_DRIVER_ACTIVE,
  'init-failed': TGTADM_UNKNOWN_ERR,
};

/** Whether a thrown value is one this layer knows the tgtadm code of (tgtadmCodeOf). */
export function hasTgtadmCode(err: unknown): boolean {
  return err instanceof TgtadmError || err instanceof ModuleError;
}

/**
 * The tgtadm code of any thrown value: TgtadmError keeps its own, a registry ModuleError is mapped
 * by its reason, anything else is "unknown error".
 */
export function tgtadmCodeOf(err: unknown): number {
  if (err instanceof TgtadmError) return err.code;
  if (err instanceof ModuleError) return MODULE_ERROR_CODES[err.reason] ?? TGTADM_UNKNOWN_ERR;
  return TGTADM_UNKNOWN_ERR;
}

/** An LLD's status (lld/api.ts) as tgtadm's number. */
export function lldStatusCode(status: LldStatus): number {
  switch (status) {
    case 'ok':
      return TGTADM_SUCCESS;
    case 'no-target':
      return TGTADM_NO_TARGET;
    case 'no-session':
      return TGTADM_NO_SESSION;
    case 'no-connection':
      return TGTADM_NO_CONNECTION;
    case 'invalid':
      return TGTADM_INVALID_REQUEST;
    default:
      return TGTADM_UNKNOWN_ERR; // a JavaScript LLD answering outside its contract
  }
}
