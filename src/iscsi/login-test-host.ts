// Test fixture: an in-memory LoginHost (RFC 7143 6 login collaborators) used by the login/text/corpus tests.
import { TargetParams } from './target-params.js';
import type { LoginHost, LoginTarget, LoginResult } from './login.js';
import { encodeText } from './text-keys.js';
import type { LoginRequest } from './login.js';

export class FakeHost implements LoginHost {
  targetList: LoginTarget[] = [];
  incoming = new Map<number | null, string[]>();
  outgoing = new Map<number | null, string>();
  passwords = new Map<string, string>();
  denied = new Set<string>();
  bound: LoginResult[] = [];
  bindAnswer: { tsih: number } | { statusClass: number; statusDetail: number } = { tsih: 1 };
  portalGroupTag?: (tid: number, localAddress: string, localPort: number) => number;

  addTarget(tid: number, name: string): LoginTarget {
    const t: LoginTarget = { tid, name, params: new TargetParams(), ready: true };
    this.targetList.push(t);
    return t;
  }
  findTarget(name: string): LoginTarget | null {
    return this.targetList.find((t) => t.name === name) ?? null;
  }
  isAllowed(tid: number, initiatorName: string): boolean {
    return !this.denied.has(`${tid}:${initiatorName}`);
  }
  incomingUsers(tid: number | null): string[] {
    return this.incoming.get(tid) ?? [];
  }
  outgoingUser(tid: number | null): string | null {
    return this.outgoing.get(tid) ?? null;
  }
  password(user: string): string | null {
    return this.passwords.get(user) ?? null;
  }
  targets(): LoginTarget[] {
    return this.targetList;
  }
  bindSession(r: LoginResult): { tsih: number } | { statusClass: number; statusDetail: number } {
    this.bound.push(r);
    return this.bindAnswer;
  }
}

export const ISID = Buffer.from('400001370000', 'hex');

/** A Login Request as an initiator would send it. */
export function loginReq(
  csg: number, nsg: number, transit: boolean, keys: [string, string][], extra: Partial<LoginRequest> = {},
): LoginRequest {
  return {
    transit, cont: false, csg, nsg, versionMax: 0, versionMin: 0, isid: ISID, tsih: 0, itt: 1, cid: 0,
    cmdSN: 1, expStatSN: 0, data: encodeText(keys), ...extra,
  };
}

/** Decodes reply text into a Map (tests only). */
export function keysOf(data: Buffer): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of data.toString('utf8').split('\0')) {
    if (e === '') continue;
    const i = e.indexOf('=');
    m.set(e.slice(0, i), e.slice(i + 1));
  }
  return m;
}
