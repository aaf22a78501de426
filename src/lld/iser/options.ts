// `tgtd --iser port=N,nop=on|off,pool_sz_mb=N,buf_sz_kb=N,cq_vector=N`: the iser LLD's arguments (tgt-compat.md A1; tgt doc/README.iser).

export interface IserOptions {
  /** TCP port the RDMA CM listens on (tgt default 3260; wildcard IPv4/IPv6 addresses, no per-address portals). */
  port: number;
  /** Send NOP-In pings every 5 s. */
  nop: boolean;
  /** Size of the pre-registered buffer pool in MiB (tgt default 1024). */
  poolSizeMb: number;
  /** Size of one pool buffer in KiB (tgt default 512: the largest Linux initiator I/O). */
  bufSizeKb: number;
  /** Completion vector of the CQ, or -1 for the default. */
  cqVector: number;
}

export const ISER_DEFAULTS: Readonly<IserOptions> = { port: 3260, nop: false, poolSizeMb: 1024, bufSizeKb: 512, cqVector: -1 };

function uint(key: string, v: string, max: number): number {
  if (!/^\d+$/.test(v) || Number(v) > max) throw new Error(`--iser ${key}=${v}: not a number in 0..${max}`);
  return Number(v);
}

/** Parses the comma-separated argument string; throws on an unknown key or a bad value. */
export function parseIserArgs(args: string): IserOptions {
  const o: IserOptions = { ...ISER_DEFAULTS };
  for (const part of args.split(',')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    const v = eq < 0 ? '' : part.slice(eq + 1);
    switch (key) {
      case 'port':
        o.port = uint(key, v, 65535);
        break;
      case 'nop':
        if (v !== 'on' && v !== 'off') throw new Error(`--iser nop=${v}: expected on or off`);
        o.nop = v === 'on';
        break;
      case 'pool_sz_mb':
        o.poolSizeMb = uint(key, v, 1 << 20);
        break;
      case 'buf_sz_kb':
        o.bufSizeKb = uint(key, v, 1 << 20);
        break;
      case 'cq_vector':
        o.cqVector = uint(key, v, 1 << 16);
        break;
      default:
        throw new Error(`--iser: unknown argument '${key}'`);
    }
  }
  return o;
}
