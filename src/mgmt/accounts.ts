// CHAP accounts and their bindings to targets and to discovery (tgt target.c account_* semantics).
//
// tgt keeps one global list of accounts (newest first: `--mode account --op show` lists the
// most recently added first), binds incoming accounts to a target in slots that are reused after an
// unbind, and allows one outgoing account per target. Discovery accounts are bound to the "global
// target" (tid -1 on the wire).

import {
  TGTADM_INVALID_REQUEST,
  TGTADM_NO_TARGET,
  TGTADM_NO_USER,
  TGTADM_OUTACCOUNT_EXIST,
  TGTADM_SUCCESS,
  TGTADM_USER_EXIST,
} from './errors.js';
import { emptyBindings, type AccountBindings } from '../iscsi/chap-accounts.js';

/** C0 control characters and DEL. */
const CONTROL = /[\x00-\x1f\x7f]/;

export class AccountStore {
  /** user -> password, in insertion order; shown newest first. */
  private readonly users = new Map<string, string>();
  /** Bindings for discovery sessions (tgt's global target). */
  readonly discovery: AccountBindings = emptyBindings();

  add(user: string, password: string): number {
    // A name with a control character (a newline, a NUL from a raw request) would be listed by
    // `--op show` as another name, or split across lines, and then could not be deleted or dumped
    // by tgt-admin by the name shown. tgt 1.0.85 stores it; stgt refuses it as an invalid request.
    if (CONTROL.test(user)) return TGTADM_INVALID_REQUEST;
    if (this.users.has(user)) return TGTADM_USER_EXIST;
    this.users.set(user, password);
    return TGTADM_SUCCESS;
  }

  password(user: string): string | null {
    return this.users.get(user) ?? null;
  }

  /** Delete an account and every binding of it (`all` = the bindings of every target). */
  delete(user: string, all: Iterable<AccountBindings>): number {
    if (!this.users.has(user)) return TGTADM_NO_USER;
    for (const b of [...all, this.discovery]) {
      unbindFrom(b, user, false);
      unbindFrom(b, user, true);
    }
    this.users.delete(user);
    return TGTADM_SUCCESS;
  }

  /** Bind or unbind `user` on `b` (null = target not found). */
  control(b: AccountBindings | null, user: string, outgoing: boolean, bind: boolean): number {
    if (b === null) return TGTADM_NO_TARGET;
    if (!this.users.has(user)) return TGTADM_NO_USER;
    if (!bind) return unbindFrom(b, user, outgoing) ? TGTADM_SUCCESS : TGTADM_NO_USER;
    if (outgoing) {
      if (b.outgoing !== null) return TGTADM_OUTACCOUNT_EXIST;
      b.outgoing = user;
      return TGTADM_SUCCESS;
    }
    if (b.incoming.includes(user)) return TGTADM_USER_EXIST;
    const free = b.incoming.indexOf('');
    if (free >= 0) b.incoming[free] = user;
    else b.incoming.push(user);
    return TGTADM_SUCCESS;
  }

  /** `tgtadm --mode account --op show`: nothing at all when there is no account. */
  showText(): string {
    if (this.users.size === 0) return '';
    const names = [...this.users.keys()].reverse();
    return 'Account list:\n' + names.map((u) => `    ${u}\n`).join('');
  }
}

function unbindFrom(b: AccountBindings, user: string, outgoing: boolean): boolean {
  if (outgoing) {
    if (b.outgoing !== user) return false;
    b.outgoing = null;
    return true;
  }
  const i = b.incoming.indexOf(user);
  if (i < 0) return false;
  b.incoming[i] = '';
  return true;
}
