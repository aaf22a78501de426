// tgt-admin's engine: config -> tgtadm commands, target add/remove, in-use rules (tgt's scripts/tgt-admin behaviour; tgt-compat.md §1.5, A5).
//
// State that the Perl script keeps in globals lives in one TgtAdminCore per run. The order of
// work is the script's: global directives (sorted keys), then targets in sorted IQN order, each
// created at max(tid)+1 (or controller_tid), its options applied in sorted key order
// (backing-store before direct-store), `-I ALL` unless an initiator-address was given.
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, isHash, parseTargetsConfFile, type ConfHash, type ConfValue } from './targets-conf.js';
import { exists, isFile } from './targets-conf-paths.js';
import { addBackingDirect, makeDataKey, str, type DataKey } from './tgt-admin-lun.js';
import type { TgtAdminArgs } from './tgt-admin-args.js';
import { Runner, TgtAdminExit } from './tgt-admin-run.js';
import { ShowState } from './tgt-admin-show.js';

export const DEFAULT_CONFIG = '/etc/tgt/targets.conf';

/** iSCSI keys (and `state...`) passed as `--mode target --op update --name K --value V`. */
const TARGET_PARAM = /^(?:MaxRecvDataSegmentLength|MaxXmitDataSegmentLength|HeaderDigest|DataDigest|InitialR2T|MaxOutstandingR2T|ImmediateData|FirstBurstLength|MaxBurstLength|DataPDUInOrder|DataSequenceInOrder|ErrorRecoveryLevel|IFMarker|OFMarker|DefaultTime2Wait|DefaultTime2Retain|OFMarkInt|IFMarkInt|MaxConnections)$|^state/;

export class TgtAdminCore {
  conf: ConfHash = Object.create(null) as ConfHash;
  readonly show = new ShowState();
  readonly existingAccounts = new Set<string>();
  port: string;
  nextTid: number | string | undefined;
  lun: number | string = 1;
  /** The option being processed, named in error messages (a Perl global). */
  option: string | undefined;
  target: string | undefined;
  defaultDriver: ConfValue;
  private defaultDriverSet = false;

  constructor(
    readonly args: TgtAdminArgs,
    readonly run: Runner,
    readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    this.port = args.controlPort;
    run.ignoreErrors = args.ignoreErrors;
  }

  exit(code: number): never {
    throw new TgtAdminExit(code);
  }

  /** Perl's die: message on stderr, status 255 unless given. */
  die(message: string, code = 255): never {
    this.run.err(message);
    throw new TgtAdminExit(code);
  }

  requireRoot(): void {
    if (typeof process.geteuid === 'function' && process.geteuid() !== 0) this.die('You must be root to run this program.\n');
  }

  inPath(cmd: string): boolean {
    for (const dir of (this.env['PATH'] ?? '').split(':')) {
      const p = join(dir, cmd);
      try {
        accessSync(p, constants.X_OK);
        if (isFile(p)) return true;
      } catch {
        // not here
      }
    }
    return false;
  }

  checkValue(v: ConfValue): void {
    if (str(v) === '') {
      this.run.print(`\nOption ${str(this.option)} has a missing value!\nCheck your config file for errors (target: ${str(this.target)})\n`);
      this.exit(1);
    }
  }

  checkIfHashArray(v: ConfValue, definition: string): void {
    if (typeof v !== 'object') return;
    if (this.option !== undefined && this.option !== '' && this.option !== '0') {
      this.run.print(`Multiple '${definition}' definitions in '${this.option}' not allowed!\nCheck your config file for errors (target: ${str(this.target)}).\n`);
    } else {
      this.run.print(`Multiple '${definition}' definitions not allowed!\nCheck your config file for errors.\n`);
    }
    this.exit(1);
  }

  parseConfigs(): void {
    const alt = this.args.conf !== '0';
    const file = alt ? this.args.conf : DEFAULT_CONFIG;
    if (!exists(file)) this.die(`Config file ${file} not found. Exiting...\n`, 2);
    if (alt) this.run.execute(`# Using ${file} as configuration file\n`);
    try {
      this.conf = parseTargetsConfFile(file, { warn: (m) => this.run.err(m) });
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      // croak names the caller: the ParseConfig line of tgt's script.
      this.die(`${e.message} at /usr/sbin/tgt-admin line ${alt ? 165 : 173}.\n`, e.exitCode);
    }
  }

  processTargets(): void {
    this.requireRoot();
    this.show.read(this.run.capture(`tgtadm -C ${this.port} --op show --mode target`));
    this.nextTid = this.show.largest;
  }

  processAccounts(): void {
    this.requireRoot();
    for (const line of this.run.capture(`tgtadm -C ${this.port} --op show --mode account`).split('\n')) {
      const m = /^\s+(.*?)$/.exec(line);
      if (m) this.existingAccounts.add(m[1]!);
    }
  }

  checkIsns(): boolean {
    this.requireRoot();
    return /iSNS=On/.test(this.run.capture(`tgtadm -C ${this.port} --op show --mode sys`));
  }

  /** Config target names in sorted order (Perl `sort keys`). */
  configTargets(): string[] {
    const t = this.conf['target'];
    return isHash(t) ? Object.keys(t).sort(byteCmp) : [];
  }

  inConfigFile(name: string | undefined): boolean {
    return name !== undefined && this.configTargets().includes(name);
  }

  /** The script's add_targets; with `single` it (re)creates only that target (--update). */
  addTargets(single?: string, configured?: boolean, inConfigFile?: boolean): void {
    const conf = this.conf;
    const run = this.run;
    const isns = this.checkIsns();
    const keys = Object.keys(conf).sort(byteCmp);
    for (const k of keys) {
      const v = conf[k];
      if (k === 'default-driver') {
        if (typeof v === 'object') {
          run.print('Multiple default-driver definitions are not allowed!\nCheck your config file for errors.\n');
          this.exit(1);
        }
        this.defaultDriver = v;
        this.defaultDriverSet = v !== undefined;
      } else if (k === 'ignore-errors') {
        if (v === 'yes') run.ignoreErrors = true;
      } else if (k === 'iSNSAccessControl' || k === 'iSNSServerIP' || k === 'iSNSServerPort') {
        if (!isns) {
          this.checkIfHashArray(v, k);
          run.execute(`tgtadm -C ${this.port} --op update --mode sys --name ${k} -v ${str(v)}`);
        }
      } else if (k === 'incomingdiscoveryuser' || k === 'outgoingdiscoveryuser') {
        const [user, pass] = perlSplitSpace(str(v));
        this.checkValue(pass);
        if (!this.existingAccounts.has(user ?? '')) {
          run.execute(`tgtadm -C ${this.port} --mode account --op new --user=${user ?? ''} --password=${pass ?? ''}`);
          this.existingAccounts.add(user ?? '');
        }
        const extra = k === 'outgoingdiscoveryuser' ? ' --outgoing' : '';
        run.execute(`tgtadm -C ${this.port} --mode account --op bind --user=${user ?? ''} ${extra}`);
      }
    }
    for (const k of keys) {
      const v = conf[k];
      if (k === 'iSNS') {
        if (!isns) {
          this.checkIfHashArray(v, k);
          run.execute(`tgtadm -C ${this.port} --op update --mode sys --name ${k} -v ${str(v)}`);
        } else {
          run.execute('# iSNS already enabled');
        }
      } else if (k === 'control-port') {
        if (this.port === '0') {
          this.port = str(v);
        } else {
          run.print('Multiple control-port definitions are not allowed!\nCheck your config file for errors.\n');
          this.exit(1);
        }
      }
    }
    if (!this.defaultDriverSet) {
      run.execute('# default-driver not defined, defaulting to iscsi.\n');
      this.defaultDriver = 'iscsi';
      this.defaultDriverSet = true;
    }
    if (!('target' in conf)) return;
    const targets = conf['target'];
    if (!isHash(targets)) this.die(`Can't use string ("${str(targets)}") as a HASH ref while "strict refs" in use at /usr/sbin/tgt-admin line 257.\n`);
    for (const name of Object.keys(targets).sort(byteCmp)) {
      if (single !== undefined && single !== '' && single !== name) continue;
      this.target = name;
      const inUse = single !== undefined && single !== '' ? this.mainDelete(name) : false;
      const updating = this.args.update !== '0';
      if (!this.show.text.has(name) || (updating && !inUse) || (updating && inUse && this.args.pretend && this.args.force)) {
        if (inConfigFile === true && configured === false && !this.args.pretend) {
          this.nextTid = this.findMaxTid() + 1;
        } else if (single !== undefined && single !== '' && configured === true) {
          this.nextTid = this.show.tid.get(name);
        } else {
          this.nextTid = (Number(this.nextTid ?? 0) || 0) + 1;
        }
        const body = targets[name];
        const tconf: ConfHash = isHash(body) ? body : (Object.create(null) as ConfHash);
        const opts: ConfHash = Object.create(null) as ConfHash;
        const optKeys = Object.keys(tconf).sort(byteCmp);
        for (const k3 of optKeys) {
          this.lun = 1;
          this.option = k3;
          this.checkValue(tconf[k3]);
          opts[k3] = tconf[k3];
        }
        const dk = makeDataKey(opts);
        if ('controller_tid' in opts) this.nextTid = str(opts['controller_tid']);
        if (!('driver' in opts) || opts['driver'] === undefined) opts['driver'] = this.defaultDriver;
        const driver = str(opts['driver']);
        run.execute(`# Adding target: ${name}`);
        run.execute(`tgtadm -C ${this.port} --lld ${driver} --op new --mode target --tid ${str(this.nextTid)} -T ${name}`);
        let allowAll = true;
        for (const k3 of optKeys) {
          this.option = k3;
          this.checkValue(tconf[k3]);
          this.processOption(k3, tconf[k3], opts, dk);
          if (k3 === 'initiator-address') allowAll = false;
        }
        if (allowAll) run.execute(`tgtadm -C ${this.port} --lld ${driver} --op bind --mode target --tid ${str(this.nextTid)} -I ALL`);
      } else if (!(configured !== undefined || inUse)) {
        run.execute(`# Target ${name} already exists!`);
      }
      this.show.tid.set(name, this.nextTid === undefined ? undefined : String(this.nextTid));
    }
    if (single !== undefined && single !== '' && !inConfigFile && !configured) {
      run.print(`Target ${single} is currently not configured\nand does not exist in the config file - can't continue!\n`);
      this.exit(1);
    }
    run.execute();
  }

  private processOption(option: string, value: ConfValue, opts: ConfHash, dk: DataKey): void {
    const run = this.run;
    const driver = str(opts['driver']);
    const tid = str(this.nextTid);
    if (option === 'backing-store' || option === 'direct-store') {
      const direct = option === 'direct-store';
      if (direct && !this.inPath('sg_inq')) {
        run.print("Command 'sg_inq' (needed by 'option direct-store') is not in your path - can't continue!\n");
        this.exit(1);
      }
      let stores: ConfHash;
      if (isHash(value)) {
        stores = value;
      } else {
        stores = Object.create(null) as ConfHash;
        for (const s of Array.isArray(value) ? value : [value]) stores[str(s)] = Array.isArray(value) ? '1' : undefined;
      }
      const names = Object.keys(stores).sort(byteCmp);
      if (names.some((n) => n.includes('HASH'))) {
        run.print('\nYour config file is not supported. See targets.conf.example for details.\n');
        this.exit(1);
      }
      for (const s of names) addBackingDirect(this, s, stores, opts, dk, direct);
    }
    if (option === 'incominguser') {
      for (const entry of Array.isArray(value) ? value : [value]) {
        const [user, pass] = perlSplitSpace(str(entry));
        this.checkValue(pass);
        this.newAccount(driver, user ?? '', pass ?? '');
        run.execute(`tgtadm -C ${this.port} --lld ${driver} --mode account --op bind --tid=${tid} --user=${user ?? ''}`);
      }
    }
    if (option === 'outgoinguser') {
      const list = Array.isArray(value) ? value : [value];
      if (list.length > 1 && str(list[1]) !== '') run.execute(`# Warning: only one ${option} is allowed. Will only use the first one.`);
      const [user, pass] = perlSplitSpace(str(list[0]));
      this.checkValue(pass);
      this.newAccount(driver, user ?? '', pass ?? '');
      run.execute(`tgtadm -C ${this.port} --lld ${driver} --mode account --op bind --tid=${tid} --user=${user ?? ''} --outgoing`);
    }
    if (option === 'initiator-address' || option === 'initiator-name') {
      const flag = option === 'initiator-address' ? '-I' : '-Q';
      for (const a of Array.isArray(value) ? value : [value]) {
        this.checkValue(a);
        run.execute(`tgtadm -C ${this.port} --lld ${driver} --op bind --mode target --tid ${tid} ${flag} ${str(a)}`);
      }
    }
    if (TARGET_PARAM.test(option)) {
      const list = Array.isArray(value) ? value : [value];
      if (list.length > 1 && str(list[1]) !== '') run.execute(`# Warning: only one ${option} is allowed. Will only use the first one.`);
      run.execute(`tgtadm -C ${this.port} --lld ${driver} --mode target --op update --tid ${tid} --name ${option} --value ${str(list[0])}`);
    }
  }

  private newAccount(driver: string, user: string, pass: string): void {
    if (this.existingAccounts.has(user)) return;
    this.run.execute(`tgtadm -C ${this.port} --lld ${driver} --mode account --op new --user=${user} --password=${pass}`);
    this.existingAccounts.add(user);
  }

  findMaxTid(): number {
    let max = 0;
    for (const t of this.show.tid.values()) {
      const n = Number(t ?? 0) || 0;
      if (n > max) max = n;
    }
    return max;
  }

  /** The script's main_delete; true when the target is in use and was left alone. */
  mainDelete(name: string | undefined, tidGiven?: string): boolean {
    const run = this.run;
    const configured = this.show.configured(name);
    const tid = str(this.show.tid.get(name ?? ''));
    if (this.show.inUse(name)) {
      if (this.args.force) {
        run.execute(`# Removing target: ${name ?? ''}`);
        for (const acl of this.show.acls(name!)) {
          run.execute(`tgtadm -C ${this.port} --op unbind --mode target --tid ${tid} -I ${acl ?? ''}`);
        }
        for (const [sid, cid] of [...this.show.sessions(name!)].sort((a, b) => Number(a[0]) - Number(b[0]))) {
          run.execute(`tgtadm -C ${this.port} --op delete --mode conn --tid ${tid} --sid ${sid} --cid ${cid}`);
        }
        run.execute(`tgtadm -C ${this.port} --mode target --op delete --tid=${tid}`);
      } else {
        const what = this.args.update !== '0' ? 'updated' : 'deleted';
        run.execute(`# Target with tid ${tid} (${name ?? ''}) is in use, it won't be ${what}.`);
        return true;
      }
    } else if (tid !== '') {
      run.execute(`# Removing target: ${name ?? ''}`);
      run.execute(`tgtadm -C ${this.port} --mode target --op delete --tid=${tid}`);
    } else if (tidGiven !== undefined && tidGiven !== '') {
      run.execute(`# Target with tid ${tidGiven} does not exist!`);
    } else {
      run.execute(`# Target with name ${name ?? ''} does not exist!`);
    }
    if (configured) run.execute();
    return false;
  }

  /** -e: running targets missing from the config are deleted (when the config has targets). */
  removeTargets(): void {
    this.processTargets();
    if (!('target' in this.conf)) return;
    const wanted = new Set(this.configTargets());
    for (const t of this.show.targets()) if (!wanted.has(t)) this.mainDelete(t);
  }
}

const byteCmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Perl split(/ /, s): single spaces, leading empty fields kept, trailing ones dropped. */
export function perlSplitSpace(s: string): (string | undefined)[] {
  const f = s.split(' ');
  while (f.length > 0 && f[f.length - 1] === '') f.pop();
  return f;
}
