// tgt-admin's per-LUN work: backing-store/direct-store, LUN numbering, in-use checks, --params commands (targets.conf(5); tgt-compat.md §1.5).
//
// Rules kept from tgt's script: a LUN number is the store's own `lun`, else the lowest number
// no other store of the target claims; the target-level `lun` overrides both; a store's own
// options win over the target's; a missing path is skipped with a comment; a device opened
// exclusively elsewhere (EBUSY) or found by lsof is skipped unless -f or `allow-in-use yes`;
// mode_page commands (including write-cache off) run before the other --params commands.
import { closeSync, constants, openSync } from 'node:fs';
import { isHash, type ConfHash, type ConfValue } from './targets-conf.js';
import { exists, isDir } from './targets-conf-paths.js';
import type { TgtAdminCore } from './tgt-admin-core.js';

/** Parameters passed as `--params name="value"`. */
const QUOTED_PARAMS = new Set([
  'scsi_id', 'scsi_sn', 'vendor_id', 'product_id', 'product_rev', 'sense_format', 'removable', 'online',
  'path', 'mode_page', 'lbppbe', 'la_lba', 'optimal_xfer_gran', 'optimal_xfer_len', 'readonly',
]);

/** Mode page 8 (caching) with WCE=0, what tgt-admin writes for `write-cache off`. */
const WCE_OFF = '8:0:18:0x10:0:0xff:0xff:0:0:0xff:0xff:0xff:0xff:0x80:0x14:0:0:0:0:0:0';

/** Per-store `lun` / `allow-in-use` taken from `<backing-store X>` blocks (the script's make_key). */
export type DataKey = Map<string, Map<string, ConfValue>>;

export function makeDataKey(opts: ConfHash): DataKey {
  const dk: DataKey = new Map();
  for (const action of ['lun', 'allow-in-use']) {
    for (const kind of ['backing-store', 'direct-store']) {
      const v = opts[kind];
      if (!isHash(v)) continue;
      for (const store of Object.keys(v)) {
        const sub = v[store];
        if (!dk.has(store)) dk.set(store, new Map());
        dk.get(store)!.set(action, isHash(sub) ? sub[action] : undefined);
      }
    }
  }
  return dk;
}

/** Perl's "$x" of a config value: undef -> "", refs -> a placeholder like ARRAY(0x...). */
export function str(v: ConfValue | number): string {
  if (v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  return Array.isArray(v) ? 'ARRAY(0x0)' : 'HASH(0x0)';
}

const len = (v: ConfValue): boolean => str(v) !== '';

export function addParams(core: TgtAdminCore, param: string, value: ConfValue, lun: number | string, driver: string): string | undefined {
  const p = core.port;
  const head = `tgtadm -C ${p} --lld ${driver} --op update --mode logicalunit --tid ${str(core.nextTid)} --lun=${lun}`;
  if (param === 'write-cache') {
    const v = str(value);
    if (v === 'off') return `${head} --params mode_page=${WCE_OFF}`;
    if (v === 'on' || v === '') return `# Write cache is enabled (default) for lun ${lun}.`;
    return `# WARNING! Unknown value (${v}) to write-cache! Accepted values are "on" and "off".`;
  }
  if (QUOTED_PARAMS.has(param)) return `${head} --params ${param}="${str(value)}"`;
  if (param === 'params') return `${head} --params "${str(value)}"`;
  return undefined;
}

function findNextLun(store: string, dk: DataKey): number {
  let lun = 1;
  for (;;) {
    let collision = false;
    for (const m of dk.values()) for (const v of m.values()) if (str(v) === String(lun)) collision = true;
    if (!collision) break;
    lun++;
  }
  if (!dk.has(store)) dk.set(store, new Map());
  dk.get(store)!.set('lun', String(lun));
  return lun;
}

/** The script's check_device: 1 when the store may be used. */
function checkDevice(core: TgtAdminCore, store: string, dk: DataKey): boolean {
  if (!dk.has(store)) dk.set(store, new Map());
  if (str(dk.get(store)!.get('allow-in-use')) === 'yes') return true;
  if (!exists(store)) return true;
  try {
    closeSync(openSync(Buffer.from(store, 'latin1'), constants.O_RDONLY | constants.O_EXCL));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EBUSY') {
      core.run.execute(`# Device ${store} is used by the system (mounted, used by swap?).`);
      return false;
    }
  }
  if (!core.inPath('lsof')) {
    core.run.execute("# Command 'lsof' is not in your path.");
    core.run.execute("# Can't reliably check if device is not in use.");
    return true;
  }
  if (core.run.quiet(`lsof "${store}" >/dev/null 2>&1`) === 0) {
    core.run.execute(`# Device ${store} is used (already tgtd target?).`);
    core.run.execute(`# Run 'lsof ${store}' to see the details.`);
    return false;
  }
  return true;
}

/** What sg_inq / sg_readcap report for a direct-store device. */
function directParams(core: TgtAdminCore, store: string, opts: ConfHash): { params: Map<string, string>; blockSize?: string } {
  const params = new Map<string, string>();
  const setIf = (k: string, v: string | undefined): void => {
    if (!len(opts[k]) && v !== undefined) params.set(k, v);
  };
  const inq = /Vendor identification:\s+?(.*?)\n\s+Product identification:\s+(.*?)\n\s+Product revision level:\s+(.*?)\n(?:\s+Unit serial number:\s+(.*?)\n)?/.exec(
    core.run.capture(`sg_inq "${store}"`),
  );
  if (inq) {
    setIf('vendor_id', inq[1]);
    setIf('product_id', inq[2]);
    setIf('product_rev', inq[3]);
    setIf('scsi_sn', inq[4]);
  }
  const b0 = /Optimal transfer length granularity:\s+?(\d+).*?\n\s+Maximum transfer length:\s+?(\d+).*?\n\s+Optimal transfer length:\s+?(\d+).*?\n/.exec(
    core.run.capture(`sg_inq -p 0xb0 "${store}"`),
  );
  if (b0) {
    setIf('optimal_xfer_gran', b0[1]);
    setIf('optimal_xfer_len', b0[3]);
  }
  const cap = /Logical block length=(\d+).*?\n\s+Logical blocks per physical block exponent=(\d+).*?\n\s+Lowest aligned logical block address=(\d+).*?\n/.exec(
    core.run.capture(`sg_readcap -16 "${store}"`),
  );
  let blockSize: string | undefined;
  if (cap) {
    blockSize = cap[1];
    setIf('lbppbe', cap[2]);
    setIf('la_lba', cap[3]);
  }
  return { params, blockSize };
}

/** The script's add_backing_direct for one store of the current target. */
export function addBackingDirect(core: TgtAdminCore, store: string, value: ConfHash, opts: ConfHash, dk: DataKey, direct: boolean): void {
  const driver = str(opts['driver']);
  const bstype = str(opts['bs-type']);
  let canAlloc = true;
  if (!bstype.includes('rbd') && !core.args.force && str(opts['allow-in-use']) !== 'yes') canAlloc = checkDevice(core, store, dk);

  if (canAlloc && (bstype.includes('glfs') || bstype.includes('rbd') || (exists(store) && !isDir(store)))) {
    const cmds: string[] = [];
    const added = new Set<string>();
    let deviceType: ConfValue;
    let bsType: ConfValue;
    let bsopts: ConfValue;
    let bsoflags: ConfValue;
    let blockSize: ConfValue;
    const fixed = dk.get(store)?.get('lun');
    core.lun = len(fixed) ? str(fixed) : findNextLun(store, dk);
    const push = (c: string | undefined): void => {
      if (c !== undefined) cmds.push(c);
    };
    for (const key of Object.keys(value)) {
      if (len(opts['lun'])) {
        core.checkIfHashArray(opts['lun'], 'lun');
        core.lun = str(opts['lun']);
      }
      const own = value[key];
      if (!isHash(own) || key !== store) continue;
      // The script walks this hash in Perl's random order; sorted names keep runs repeatable.
      for (const o of Object.keys(own).sort()) {
        const result = own[o];
        core.checkValue(result);
        if (o !== 'mode_page' && o !== 'params') core.checkIfHashArray(result, o);
        if (o === 'write-cache') {
          push(addParams(core, o, result, core.lun, driver));
          added.add('write_cache');
        } else if (o !== 'mode_page' && o !== 'params') {
          push(addParams(core, o, result, core.lun, driver));
          added.add(o);
        }
        if (o === 'device-type') deviceType = result;
        if (o === 'bs-type') bsType = result;
        if (o === 'bsopts') bsopts = result;
        if (o === 'bsoflags') bsoflags = result;
        if (o === 'block-size') blockSize = result;
        if (o === 'mode_page' || o === 'params') {
          for (const v of Array.isArray(result) ? result : [result]) push(addParams(core, o, v, core.lun, driver));
        }
      }
    }
    let direct_: Map<string, string> = new Map();
    if (direct) {
      const d = directParams(core, store, opts);
      direct_ = d.params;
      if (!len(blockSize) && d.blockSize !== undefined) blockSize = d.blockSize;
    }
    for (const o of ['scsi_id', 'sense_format', 'removable', 'online', 'path', 'readonly']) {
      core.checkIfHashArray(opts[o], o);
      if (!added.has(o) && len(opts[o])) {
        push(addParams(core, o, opts[o], core.lun, driver));
        added.add(o);
      }
    }
    for (const o of ['vendor_id', 'product_id', 'product_rev', 'scsi_sn', 'lbppbe', 'la_lba', 'optimal_xfer_gran', 'optimal_xfer_len']) {
      core.checkIfHashArray(opts[o], o);
      const v = len(opts[o]) ? opts[o] : direct_.get(o);
      if (!added.has(o) && len(v)) {
        push(addParams(core, o, v, core.lun, driver));
        added.add(o);
      }
    }
    if (!added.has('write_cache')) push(addParams(core, 'write-cache', opts['write-cache'], core.lun, driver));
    for (const k of ['mode_page', 'params']) {
      const list = opts[k];
      for (const v of Array.isArray(list) ? list : [list]) if (len(v)) push(addParams(core, k, v, core.lun, driver));
    }
    if (!added.has('device-type')) {
      core.checkIfHashArray(opts['device-type'], 'device-type');
      deviceType = opts['device-type'];
    }
    if (!added.has('bs-type')) {
      core.checkIfHashArray(opts['bs-type'], 'bs-type');
      bsType = opts['bs-type'];
    }
    if (!added.has('bsopts')) {
      core.checkIfHashArray(opts['bsopts'], 'bsopts');
      bsopts = opts['bsopts'];
    }
    if (!added.has('bsoflags')) {
      core.checkIfHashArray(opts['bsoflags'], 'bsoflags');
      bsoflags = opts['bsoflags'];
    }
    const opt = (flag: string, v: ConfValue): string => (len(v) ? `${flag} ${str(v)}` : '');
    core.run.execute(
      `tgtadm -C ${core.port} --lld ${driver} --op new --mode logicalunit --tid ${str(core.nextTid)} --lun ${core.lun} -b "${store}" ` +
        [opt('--device-type', deviceType), opt('--bstype', bsType), opt('--bsopts', bsopts), opt('--bsoflags', bsoflags), opt('--blocksize', blockSize)].join(' '),
    );
    const last: string[] = [];
    for (const c of cmds) {
      if (c === '') continue;
      if (/params mode_page/.test(c)) core.run.execute(c);
      else last.push(c);
    }
    for (const c of last) core.run.execute(c);
    core.lun = Number(core.lun) + 1;
  } else if (!canAlloc) {
    core.run.execute(`# Skipping device ${store} - it is in use.`);
    core.run.execute("# You can override it with --force or 'allow-in-use yes' config option.");
    core.run.execute("# Note - do so only if you know what you're doing, you may damage your data.");
  } else {
    core.run.execute(`# Skipping device: ${store}`);
    core.run.execute(`# ${store} does not exist - please check the configuration file`);
  }
}
