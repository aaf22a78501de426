// `tgtd --iser port=N,portal=ADDR[:PORT],nop=on|off,pool_sz_mb=N,buf_sz_kb=N,cq_vector=N,post_thread=auto|on|off`: the iser LLD's arguments (tgt-compat.md A1; tgt doc/README.iser).

import { parsePortal, type Portal } from '../../iscsi/portal.js';

export interface IserOptions {
  /** Port the RDMA CM listens on when no portal is given (tgt default 3260, wildcard IPv4 and IPv6). */
  port: number;
  /** stgt: addresses to listen on (`portal=ADDR[:PORT]`, repeatable; IPv6 as [ADDR]:PORT). */
  portals: Portal[];
  /** Send NOP-In pings every 5 s. */
  nop: boolean;
  /** Size of the pre-registered buffer pool in MiB (tgt default 1024). */
  poolSizeMb: number;
  /** Size of one pool buffer in KiB (tgt default 512: the largest Linux initiator I/O). */
  bufSizeKb: number;
  /** Completion vector of the CQ, or -1 for the default. */
  cqVector: number;
  /**
   * stgt: post send-queue work from a thread of its own (RdmaEndpoint postThread): 'on', 'off', or
   * 'auto' (default) = on for software RDMA devices (rxe, siw), whose ibv_post_send runs the
   * protocol in the caller's system call, off for hardware (a doorbell write, cheaper than a
   * thread wake-up). Under QEMU TCG with rxe it takes the post calls off the event loop's thread
   * (40% of its time) and raised 4 KiB IOPS from 0.41-0.42x to 0.49-0.55x LIO (bench/iser-vm.mjs).
   */
  postThread: 'auto' | 'on' | 'off';
}

export const ISER_DEFAULTS: Readonly<IserOptions> = {
  port: 3260, portals: [], nop: false, poolSizeMb: 1024, bufSizeKb: 512, cqVector: -1, postThread: 'auto',
};

function uint(key: string, v: string, max: number): number {
  if (!/^\d+$/.test(v) || Number(v) > max) throw new Error(`--iser ${key}=${v}: not a number in 0..${max}`);
  return Number(v);
}

/** Parses the comma-separated argument string; throws on an unknown key or a bad value. */
export function parseIserArgs(args: string): IserOptions {
  const o: IserOptions = { ...ISER_DEFAULTS, portals: [] };
  for (const part of args.split(',')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    const v = eq < 0 ? '' : part.slice(eq + 1);
    switch (key) {
      case 'port':
        o.port = uint(key, v, 65535);
        break;
      case 'portal': {
        const p = parsePortal(v);
        if (p === null) throw new Error(`--iser portal=${v}: expected ADDR[:PORT]`);
        o.portals.push(p);
        break;
      }
      case 'nop':
        if (v !== 'on' && v !== 'off') throw new Error(`--iser nop=${v}: expected on or off`);
        o.nop = v === 'on';
        break;
      case 'pool_sz_mb':
        o.poolSizeMb = uint(key, v, 1 << 20);
        break;
      case 'buf_sz_kb':
        o.bufSizeKb = uint(key, v, 1 << 20);
        if (o.bufSizeKb < 4) throw new Error(`--iser buf_sz_kb=${v}: at least 4`);
        break;
      case 'cq_vector':
        o.cqVector = uint(key, v, 1 << 16);
        break;
      case 'post_thread':
        if (v !== 'auto' && v !== 'on' && v !== 'off') throw new Error(`--iser post_thread=${v}: expected auto, on or off`);
        o.postThread = v;
        break;
      default:
        throw new Error(`--iser: unknown argument '${key}'`);
    }
  }
  return o;
}
