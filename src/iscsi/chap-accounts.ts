// Which CHAP accounts a target (or discovery) is bound to: the part of tgt's account model iSCSI login reads (RFC 7143 12.1.3).
//
// The accounts themselves (user -> secret) and tgtadm's bind/unbind rules live with the management
// server (mgmt/accounts.ts); a login only reads the bindings, so they are iSCSI's own type.

/** The binding lists of one target (or of discovery). Empty string = a free incoming slot. */
export interface AccountBindings {
  incoming: string[];
  outgoing: string | null;
}

export function emptyBindings(): AccountBindings {
  return { incoming: [], outgoing: null };
}

/** Bound incoming users in slot order, skipping freed slots. */
export function incomingUsers(b: AccountBindings): string[] {
  return b.incoming.filter((u) => u !== '');
}
