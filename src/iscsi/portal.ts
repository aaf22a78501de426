// Portal addresses ("ADDR:PORT", IPv6 as "[ADDR]:PORT") and the `--iscsi` option string of tgtd.

export interface Portal {
  host: string;
  port: number;
}

export const ISCSI_PORT = 3260;

/** "127.0.0.1:3260", "[::1]:3260", "127.0.0.1" (default port), "::1" is taken as an IPv6 address. */
export function parsePortal(s: string): Portal | null {
  let host: string;
  let port = ISCSI_PORT;
  const v6 = /^\[([0-9a-fA-F:.%a-zA-Z]+)\](?::(\d+))?$/.exec(s);
  if (v6 !== null) {
    host = v6[1]!;
    if (v6[2] !== undefined) port = Number(v6[2]);
  } else if ((s.match(/:/g) ?? []).length > 1) {
    host = s; // bare IPv6 without a port
  } else {
    const i = s.lastIndexOf(':');
    host = i < 0 ? s : s.slice(0, i);
    if (i >= 0) {
      if (!/^\d+$/.test(s.slice(i + 1))) return null;
      port = Number(s.slice(i + 1));
    }
  }
  if (host === '' || !Number.isInteger(port) || port < 1 || port > 65535) return null;
  return { host, port };
}

/** As tgt prints it in `--mode portal --op show`: brackets around IPv6 addresses. */
export function formatPortal(p: Portal): string {
  return p.host.includes(':') ? `[${p.host}]:${p.port}` : `${p.host}:${p.port}`;
}

export interface IscsiLldArgs {
  portals: Portal[];
  nopInterval: number;
  nopCount: number;
  /** Seconds a connection may take to log in (stgt's `login_timeout`; 0 = no limit); null = default. */
  loginTimeout: number | null;
}

/**
 * `--iscsi portal=ADDR:PORT,nop_interval=N,nop_count=N,login_timeout=S` (the option may be given several times;
 * the daemon joins them with ','). Unknown keys are an error, as a typo should not go unnoticed.
 */
export function parseLldArgs(args: string): IscsiLldArgs {
  const out: IscsiLldArgs = { portals: [], nopInterval: 0, nopCount: 0, loginTimeout: null };
  for (const part of args.split(',')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const k = eq < 0 ? part : part.slice(0, eq);
    const v = eq < 0 ? '' : part.slice(eq + 1);
    if (k === 'portal') {
      const p = parsePortal(v);
      if (p === null) throw new Error(`bad portal '${v}'`);
      out.portals.push(p);
    } else if (k === 'nop_interval' || k === 'nop_count' || k === 'login_timeout') {
      const n = Number(v);
      if (!/^\d+$/.test(v) || !Number.isSafeInteger(n)) throw new Error(`bad ${k} '${v}'`);
      if (k === 'nop_interval') out.nopInterval = n;
      else if (k === 'nop_count') out.nopCount = n;
      else out.loginTimeout = n;
    } else {
      throw new Error(`unknown iscsi option '${k}'`);
    }
  }
  return out;
}
