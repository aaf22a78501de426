// tgtadm command line -> tgtadm_req, with tgtadm's validation, messages and exit codes (tgt usr/tgtadm.c; tgt-compat.md A3, §1.3).
//
// Pure: no I/O except the /sys lookup of `--bus`, which is injected. Options are acted on in argv
// order, like tgtadm's getopt loop, because that order is visible: `--mode` must precede `--params`
// for portal mode, and the first bad value (unknown mode, bad number) ends the run before later
// getopt errors are seen.
import { readdirSync } from 'node:fs';
import { GetoptLong } from './getopt.js';
import { EINVAL, ERANGE, strToInt, type CType } from './tgtadm-numbers.js';
import {
  DEVICE_TYPE_NAMES, LLD_NAME_MAX, LONG_OPTIONS, MODE_NAMES, OP_BSLOAD, OP_BSUNLOAD, OP_LLDLOAD, OP_LLDUNLOAD,
  OP_NAMES, SHORT_OPTIONS, TYPE_DISK, TYPE_MMC, TYPE_TAPE, lookup,
} from './tgtadm-options.js';
import * as ipc from '../mgmt/ipc.js';

export const TGTADM_VERSION = '1.0.85';
const PROGRAM = 'tgtadm';
const TRY_HELP = "Try `tgtadm --help' for more information.\n";

export type TgtadmPlan =
  | { kind: 'exit'; code: number; stdout: string; stderr: string }
  | { kind: 'send'; req: ipc.IpcRequest; controlPort: number; debug: boolean };

/** Thrown inside the parser to end the run the way tgtadm's exit() calls do. */
class Exit {
  constructor(readonly code: number, readonly stdout = '') {}
}

export interface ArgsEnv {
  env: Readonly<Record<string, string | undefined>>;
  /** Lists a directory (for --bus); defaults to readdirSync, returning null if unreadable. */
  listDir?: (path: string) => string[] | null;
}

function defaultListDir(path: string): string[] | null {
  try {
    return readdirSync(path).sort();
  } catch {
    return null;
  }
}

export function helpText(): string {
  return (
    `Linux SCSI Target administration utility (stgt), version ${TGTADM_VERSION}\n\n` +
    `Usage: ${PROGRAM} [OPTION]\n` +
    '--lld <driver> --mode system --op show|update|delete|stat\n' +
    '--mode system --op lldload|lldunload --lld <driver name, npm package or /path/module.js>\n' +
    '--mode system --op bsload|bsunload --bstype <store name, npm package or /path/module.js>\n' +
    '--lld <driver> --mode target --op new|delete|show|update|bind|unbind|stat --tid <id> ...\n' +
    '--lld <driver> --mode logicalunit --op new|delete|update|stat --tid <id> --lun <lun> ...\n' +
    '--lld <driver> --mode account --op new|delete|show|bind|unbind --user <name> ...\n' +
    '--lld <driver> --mode portal --op new|delete|show --param portal=<addr:port>\n' +
    '--lld <driver> --mode session|connection --op show|stat|delete --tid <id> --sid <sid> --cid <cid>\n' +
    '--lld <driver> --mode lld --op start|stop|show\n' +
    '--control-port <port> use control port <port>\n' +
    '--help\n\tdisplay this help and exit\n'
  );
}

/** Parses tgtadm's argv (argv[0] = program path, used in getopt's messages). */
export function planTgtadm(argv: readonly string[], io: ArgsEnv): TgtadmPlan {
  let stderr = '';
  const eprint = (msg: string): void => {
    stderr += `${PROGRAM}: ${msg}\n`;
  };
  try {
    const plan = parse(argv, io, eprint, (s) => (stderr += s));
    return plan;
  } catch (e) {
    if (e instanceof Exit) return { kind: 'exit', code: e.code, stdout: e.stdout, stderr };
    throw e;
  }
}

function parse(
  argv: readonly string[],
  io: ArgsEnv,
  eprint: (msg: string) => void,
  raw: (s: string) => void,
): TgtadmPlan {
  const usageError = (): never => {
    raw(TRY_HELP);
    throw new Exit(EINVAL);
  };
  const num = (ch: string, arg: string, type: CType, min?: bigint): bigint => {
    const [rc, val] = strToInt(arg, type, min);
    if (rc !== 0) {
      raw(`-${ch} argument value '${arg}' ${rc === ERANGE ? 'out of range' : 'invalid'}\n`);
      usageError();
    }
    return val;
  };

  const req = ipc.emptyRequest();
  let op = -1;
  let mode = -1;
  let tid = -1n;
  let opName = '';
  let controlPort = 0;
  let debug = false;
  let devType = TYPE_DISK;
  let name: string | null = null;
  let value: string | null = null;
  let path: string | null = null;
  let targetname: string | null = null;
  let address: string | null = null;
  let iqnname: string | null = null;
  let user: string | null = null;
  let password: string | null = null;
  let bstype: string | null = null;
  let bsopts: string | null = null;
  let bsoflags: string | null = null;
  let blocksize: string | null = null;
  let targetOps: string | null = null;
  let portalOps: string | null = null;

  const g = new GetoptLong(argv, SHORT_OPTIONS, LONG_OPTIONS, io.env);
  for (let ev = g.next(); ev !== null; ev = g.next()) {
    if (ev.kind === 'error') {
      raw(ev.message);
      usageError();
      continue;
    }
    const arg = ev.arg ?? '';
    switch (ev.ch) {
      case 'L':
        req.lld = arg;
        break;
      case 'o': {
        const v = lookup(OP_NAMES, arg);
        if (v === undefined) {
          eprint(`unknown operation: ${arg}`);
          throw new Exit(1);
        }
        op = v;
        opName = arg;
        break;
      }
      case 'm': {
        const v = lookup(MODE_NAMES, arg);
        if (v === undefined) {
          eprint(`unknown mode: ${arg}`);
          throw new Exit(1);
        }
        mode = v;
        break;
      }
      case 't':
        tid = num('t', arg, 'int32', 0n);
        break;
      case 's':
        req.sid = num('s', arg, 'uint64');
        break;
      case 'c':
        req.cid = Number(num('c', arg, 'uint32'));
        break;
      case 'l':
        req.lun = num('l', arg, 'uint64');
        break;
      case 'P':
        // Decided by the mode known at this point of the command line, as tgtadm does.
        if (mode === ipc.MODE_PORTAL) portalOps = arg;
        else targetOps = arg;
        break;
      case 'n': name = arg; break;
      case 'v': value = arg; break;
      case 'b': path = arg; break;
      case 'T': targetname = arg; break;
      case 'I': address = arg; break;
      case 'Q': iqnname = arg; break;
      case 'u': user = arg; break;
      case 'p': password = arg; break;
      case 'B':
        req.hostNo = busToHost(arg, io.listDir ?? defaultListDir, eprint);
        break;
      case 'H':
        req.hostNo = Number(num('H', arg, 'uint32', 0n));
        break;
      case 'F': req.force = 1; break;
      case 'f': bsoflags = arg; break;
      case 'y': blocksize = arg; break;
      case 'E': bstype = arg; break;
      case 'S': bsopts = arg; break;
      case 'Y': {
        const v = lookup(DEVICE_TYPE_NAMES, arg);
        if (v === undefined) {
          eprint(`unknown target type: ${arg}`);
          throw new Exit(EINVAL);
        }
        devType = v;
        break;
      }
      case 'O': req.acDir = ipc.ACCOUNT_TYPE_OUTGOING; break;
      case 'C':
        controlPort = Number(num('C', arg, 'int16', 0n));
        break;
      case 'V':
        throw new Exit(0, `${TGTADM_VERSION}\n`);
      case 'd': debug = true; break;
      case 'h':
        throw new Exit(0, helpText());
      default:
        usageError();
    }
  }

  if (g.operands.length > 0) {
    eprint(`unrecognized option '${g.operands[0]!}'`);
    usageError();
  }
  if (op < 0) {
    eprint('specify the operation type');
    throw new Exit(EINVAL);
  }
  if (mode < 0) {
    eprint('specify the mode');
    throw new Exit(EINVAL);
  }

  /** verify_mode_params: the first option outside `allowed` (debug always allowed), or null. */
  const stray = (allowed: string): string | null => {
    const v = new GetoptLong(argv, SHORT_OPTIONS, LONG_OPTIONS, io.env);
    for (let ev = v.next(); ev !== null; ev = v.next()) {
      if (ev.kind === 'error') return '?';
      if (!allowed.includes(ev.ch) && ev.ch !== 'd') return ev.ch;
    }
    return null;
  };
  const check = (allowed: string, msg: (c: string) => string): void => {
    const c = stray(allowed);
    if (c !== null) {
      eprint(msg(c));
      throw new Exit(EINVAL);
    }
  };
  const fail = (msg: string): never => {
    eprint(msg);
    throw new Exit(EINVAL);
  };
  const notAllowed = (m: string) => (c: string) => `${m} mode: option '-${c}' is not allowed/supported`;

  switch (mode) {
    case ipc.MODE_SYSTEM:
      if (op === ipc.OP_UPDATE) {
        check('LmonvC', notAllowed('system'));
        if (name === null || value === null) fail("update operation requires 'name' and 'value' options");
      } else if (op === OP_LLDLOAD || op === OP_LLDUNLOAD) {
        // stgt's run-time module ops (seed 000): the module is named by --lld.
        check('LmoC', notAllowed('system'));
        if (req.lld === '') fail(`${opName} operation requires the 'lld' option`);
        if (Buffer.byteLength(req.lld) > LLD_NAME_MAX) fail(`lld name too long (max ${LLD_NAME_MAX} bytes): ${req.lld}`);
      } else if (op === OP_BSLOAD || op === OP_BSUNLOAD) {
        // The store is named by --bstype and travels in the payload as "bstype=NAME" (no length limit).
        check('LmoEC', notAllowed('system'));
        if (bstype === null || bstype === '') fail(`${opName} operation requires the 'bstype' option`);
      } else if (op !== ipc.OP_SHOW && op !== ipc.OP_DELETE && op !== ipc.OP_STATS) {
        fail(`operation ${opName} not supported in system mode`);
      }
      break;
    case ipc.MODE_TARGET:
      if (tid <= 0n && op !== ipc.OP_SHOW) fail(tid === 0n ? "'tid' cannot be 0" : "'tid' option is necessary");
      switch (op) {
        case ipc.OP_NEW:
          check('LmotTC', notAllowed('target'));
          if (targetname === null) fail('creating new target requires a name, use --targetname');
          break;
        case ipc.OP_DELETE:
          check('LmotCF', notAllowed('target'));
          break;
        case ipc.OP_SHOW:
        case ipc.OP_STATS:
          check('LmotC', notAllowed('target'));
          break;
        case ipc.OP_BIND:
        case ipc.OP_UNBIND:
          check('LmotIQBHC', notAllowed('target'));
          // tgtadm's message really lacks the space before "or bus".
          if (address === null && iqnname === null && req.hostNo === 0) {
            fail(`${opName} operation requires initiator-address, initiator-nameor bus`);
          }
          break;
        case ipc.OP_UPDATE:
          check('LmotnvC', notAllowed('target'));
          if (name === null || value === null) fail("update operation requires 'name' and 'value' options");
          break;
        default:
          fail(`operation ${opName} not supported in target mode`);
      }
      break;
    case ipc.MODE_ACCOUNT:
      switch (op) {
        case ipc.OP_NEW:
          check('LmoupfC', notAllowed('account'));
          if (user === null || password === null) fail("'user' and 'password' options are required");
          break;
        case ipc.OP_SHOW:
          check('LmoC', notAllowed('account'));
          break;
        case ipc.OP_DELETE:
          check('LmouC', notAllowed('account'));
          break;
        case ipc.OP_BIND:
        case ipc.OP_UNBIND:
          check('LmotuOC', notAllowed('account'));
          if (user === null) fail("'user' option is necessary");
          if (tid === -1n) tid = BigInt(ipc.GLOBAL_TID);
          break;
        default:
          fail(`operation ${opName} not supported in account mode`);
      }
      break;
    case ipc.MODE_DEVICE:
      if (tid <= 0n) fail(tid === 0n ? "'tid' must not be 0" : "'tid' option is necessary");
      if (req.lun === ipc.LUN_UNSET) fail("'lun' option is necessary");
      switch (op) {
        case ipc.OP_NEW:
          check('LmofytlbEYCS', notAllowed('logicalunit'));
          if (path === null && devType !== TYPE_MMC && devType !== TYPE_TAPE && devType !== TYPE_DISK) {
            fail("'backing-store' option is necessary");
          }
          break;
        case ipc.OP_DELETE:
        case ipc.OP_STATS:
          check('LmotlC', notAllowed('logicalunit'));
          break;
        case ipc.OP_UPDATE:
          check('LmofytlPC', (c) => `option '-${c}' not supported in logicalunit mode`);
          break;
        default:
          fail(`operation ${opName} not supported in logicalunit mode`);
      }
      break;
    case ipc.MODE_PORTAL:
      switch (op) {
        case ipc.OP_NEW:
        case ipc.OP_DELETE:
          check('LmoCP', notAllowed('portal'));
          if (portalOps === null) fail('you must specify --param portal=<portal>');
          break;
        case ipc.OP_SHOW:
          check('LmoC', (c) => `option '-${c}' not supported in portal mode`);
          break;
        default:
          fail(`operation ${opName} not supported in portal mode`);
      }
      break;
    case ipc.MODE_LLD:
      if (op === ipc.OP_START || op === ipc.OP_STOP || op === ipc.OP_SHOW) {
        check('LmoC', notAllowed('lld'));
      } else {
        fail(`option ${op} not supported in lld mode`);
      }
      break;
    default:
      // session and connection modes are passed through unchecked, as tgtadm does.
      break;
  }

  req.op = op;
  req.mode = mode;
  req.tid = Number(BigInt.asIntN(32, tid));
  req.deviceType = devType;

  // Payload keys in tgtadm's fixed order; a missing --value prints as glibc's "(null)".
  const parts: string[] = [];
  if (name !== null) parts.push(`${name}=${value ?? '(null)'}`);
  if (path !== null) parts.push(`path=${path}`);
  if (devType === TYPE_TAPE) parts.push('bstype=ssc');
  else if (bstype !== null) parts.push(`bstype=${bstype}`);
  if (bsopts !== null) parts.push(`bsopts=${bsopts}`);
  if (bsoflags !== null) parts.push(`bsoflags=${bsoflags}`);
  if (blocksize !== null) parts.push(`blocksize=${blocksize}`);
  if (targetname !== null) parts.push(`targetname=${targetname}`);
  if (address !== null) parts.push(`initiator-address=${address}`);
  if (iqnname !== null) parts.push(`initiator-name=${iqnname}`);
  if (user !== null) parts.push(`user=${user}`);
  if (password !== null) parts.push(`password=${password}`);
  // --params end with ',' so the daemon's parser sees every pair terminated.
  if (targetOps !== null) parts.push(`targetOps ${targetOps},`);
  if (portalOps !== null) parts.push(`portalOps ${portalOps},`);
  req.payload = joinLikeConcat(parts);
  return { kind: 'send', req, controlPort, debug };
}

/** concat_delim puts ',' only after something was printed; every part prints at least '=', so a join. */
function joinLikeConcat(parts: string[]): string {
  return parts.join(',');
}

/** `--bus TYPE,DEVICE`: the host number of /sys/bus/TYPE/devices/DEVICE/hostN (tgtadm bus_to_host). */
function busToHost(bus: string, listDir: (p: string) => string[] | null, eprint: (m: string) => void): number {
  const comma = bus.indexOf(',');
  if (comma < 0) return -22 >>> 0; // tgtadm stores -EINVAL in the unsigned host_no.
  const type = bus.slice(0, comma);
  const entries = listDir(`/sys/bus/${type}/devices/${bus.slice(comma + 1)}`) ?? [];
  if (entries.length === 0) return -2 >>> 0; // -ENOENT, likewise.
  let host = -1;
  for (const e of entries) {
    if (e.startsWith('host')) host = Number(BigInt.asUintN(32, strToInt(e.slice(4), 'uint64')[1]));
  }
  if (host === -1) {
    eprint(`can't find bus: ${type}`);
    throw new Exit(EINVAL);
  }
  return host;
}
