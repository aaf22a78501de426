// tgt-admin: configures targets from targets.conf by running tgtadm, a drop-in for tgt's Perl script (tgt-compat.md §1.5, A5).
//
// Entry point and the actions that do not build targets: usage, --show, --dump, --delete,
// --offline/--ready, --update; -e and the target building live in tgt-admin-core.ts.
// Option precedence is the script's: help, show, then execute > delete > update > dump >
// offline > ready.
import { parseTgtAdminArgs, type TgtAdminArgs } from './tgt-admin-args.js';
import { DEFAULT_CONFIG, TgtAdminCore } from './tgt-admin-core.js';
import { Runner, TgtAdminExit, type RunnerOptions } from './tgt-admin-run.js';

function usage(): string {
  return `Usage:
tgt-admin [OPTION]...
This tool configures tgt targets.

  -e, --execute\t\t\tread ${DEFAULT_CONFIG} and execute tgtadm commands
      --delete <value>\t\tdelete all or selected targets
\t\t\t\t(see "--delete help" for more info)
      --offline <value>\t\tput all or selected targets in offline state
\t\t\t\t(see "--offline help" for more info)
      --ready <value>\t\tput all or selected targets in ready state
\t\t\t\t(see "--ready help" for more info)
      --update <value>\t\tupdate configuration for all or selected targets
\t\t\t\t(see "--update help" for more info)
  -s, --show\t\t\tshow all the targets
  -C, --control-port <NNNN>\tspecify the control port to connect to
  -c, --conf <conf file>\tspecify an alternative configuration file
      --ignore-errors\t\tcontinue even if tgtadm exits with non-zero code
  -f, --force\t\t\tforce some operations even if the target is in use
  -p, --pretend\t\t\tonly print tgtadm options
      --dump\t\t\tdump current tgtd configuration (note: does not
\t\t\t\tinclude detailed parameters, like write caching)
  -v, --verbose\t\t\tincrease verbosity (show tgtadm commands)
  -h, --help\t\t\tshow this help

`;
}

function deleteUpdateHelp(verb: 'delete' | 'update', past: string): string {
  return `      --${verb} <value>\t\t${verb} all or selected targets
\t\t\t\tThe target will be ${past} only if it's not used
\t\t\t\t(no initiator is connected to it).
\t\t\t\tIf you want to ${verb} targets which are in use,
\t\t\t\tyou have to add "--force" flag.

Example usage:
      --${verb} help\t      - display this help
      --${verb} ALL\t      - ${verb} all targets
      --${verb} tid=4\t      - ${verb} target 4 (target with tid 4)
      --${verb} iqn.2008-08.com.example:some.target - ${verb} this target

`;
}

function dumpConfig(core: TgtAdminCore): void {
  core.processTargets();
  const s = core.show;
  const all = s.targets();
  const drivers = [...new Set(all.map((t) => s.driver(t) ?? ''))].sort();
  const p = (x: string): void => core.run.print(x);
  if (drivers.length === 1) p(`default-driver ${drivers[0]}\n\n`);
  for (const t of all) {
    p(`<target ${s.targetName(t) ?? ''}>\n`);
    if (drivers.length > 1) p(`\tdriver ${s.driver(t) ?? ''}\n`);
    for (const b of s.backingStores(t)) p(`\tbacking-store ${b}\n`);
    for (const a of s.accounts(t)) {
      const out = a === undefined ? undefined : /(.+) \(outgoing\)/.exec(a);
      if (out) p(`\toutgoinguser ${out[1]} PLEASE_CORRECT_THE_PASSWORD\n`);
      else if (a !== undefined && a !== '') p(`\tincominguser ${a} PLEASE_CORRECT_THE_PASSWORD\n`);
    }
    const acls = s.acls(t);
    if (acls.length !== 1 || acls[0] !== 'ALL') {
      for (const acl of acls) {
        // The script's own test for "address or name".
        p(/^[0-9,.E]+$/.test(acl ?? '') ? `\tinitiator-address ${acl ?? ''}\n` : `\tinitiator-name ${acl ?? ''}\n`);
      }
    }
    p('</target>\n\n');
  }
}

function readyOffline(core: TgtAdminCore, a: TgtAdminArgs, state: 'offline' | 'ready'): void {
  let which: string;
  if (a.ready === '0') which = a.offline;
  else if (a.offline === '0') which = a.ready;
  else {
    core.run.print("Invalid value (you can't use both ready and offline)!\n");
    return core.exit(1);
  }
  const port = core.port;
  if (which === 'help') {
    core.run.print(`      --${state} <value>\t\t${state} all or selected targets

Example usage:
      --${state} help\t      - display this help
      --${state} ALL\t      - ${state} all targets
      --${state} tid=4\t      - ${state} target 4 (target with tid 4)
      --${state} iqn.2008-08.com.example:some.target - ${state} this target

`);
    return;
  }
  core.processTargets();
  if (which === 'ALL') {
    for (const t of core.show.targets()) {
      core.run.execute(`tgtadm -C ${port} --op update --mode target --tid=${core.show.tid.get(t) ?? ''} -n state -v ${state}`);
    }
    return;
  }
  const m = /tid=(.+)/.exec(which);
  if (m) {
    core.run.execute(`tgtadm -C ${port} --op update --mode target --tid=${m[1]} -n state -v ${state}`);
    return;
  }
  const tid = core.show.tid.get(which) ?? '';
  if (tid === '') {
    core.run.print(`There is no target with name "${which}", can't ${state} it!\n`);
    core.exit(1);
  }
  core.run.execute(`tgtadm -C ${port} --op update --mode target --tid=${tid} --name="${which}" -n state -v ${state}`);
}

function deleteTargets(core: TgtAdminCore, which: string): void {
  if (which === 'help') {
    core.run.print(deleteUpdateHelp('delete', 'deleted'));
    return;
  }
  core.processTargets();
  if (which === 'ALL') {
    for (const t of core.show.targets()) core.mainDelete(t);
    return;
  }
  const m = /^tid=(.+)/.exec(which);
  if (m) core.mainDelete(core.show.name.get(m[1]!), m[1]);
  else core.mainDelete(which);
}

function updateTargets(core: TgtAdminCore, which: string): void {
  if (which === 'help') {
    core.run.print(deleteUpdateHelp('update', 'updated'));
    return;
  }
  core.parseConfigs();
  core.processTargets();
  const update = (t: string | undefined, onMissing?: () => void): void => {
    const configured = core.show.configured(t);
    const inConf = core.inConfigFile(t);
    if (!inConf && configured) core.mainDelete(t);
    else if (onMissing && !configured) onMissing();
    else core.addTargets(t ?? '', configured, inConf);
  };
  if (which === 'ALL') {
    const inConf = core.configTargets();
    const running = core.show.targets().filter((t) => !inConf.includes(t));
    for (const t of [...running, ...inConf]) update(t);
    return;
  }
  const m = /^tid=(.+)/.exec(which);
  if (m) {
    update(core.show.name.get(m[1]!), () => {
      core.run.print(`There is no target with tid ${m[1]}, can't continue!\n`);
      core.exit(1);
    });
    return;
  }
  update(which);
}

/**
 * Runs tgt-admin with `argv` (without the program name); returns the exit status. `makeRunner`
 * lets a test answer tgtadm, lsof and sg_inq itself instead of running them (the fuzzer).
 */
export function runTgtAdmin(
  argv: readonly string[],
  io: Partial<RunnerOptions> = {},
  makeRunner: (o: RunnerOptions) => Runner = (o) => new Runner(o),
): number {
  const a = parseTgtAdminArgs(argv);
  const run = makeRunner({ pretend: a.pretend, verbose: a.verbose, ...io });
  for (const w of a.warnings) run.err(w);
  const core = new TgtAdminCore(a, run, io.env ?? process.env);
  try {
    if (a.help || a.noArgs) {
      run.print(usage());
      return 0;
    }
    if (a.show) {
      run.execute(`tgtadm -C ${core.port} --op show --mode target`);
      return 0;
    }
    if (a.execute) {
      core.parseConfigs();
      core.processTargets();
      core.processAccounts();
      core.addTargets();
      core.removeTargets();
    } else if (a.delete !== '0') {
      deleteTargets(core, a.delete);
    } else if (a.update !== '0') {
      core.processAccounts();
      updateTargets(core, a.update);
    } else if (a.dump) {
      dumpConfig(core);
    } else if (a.offline !== '0') {
      readyOffline(core, a, 'offline');
    } else if (a.ready !== '0') {
      readyOffline(core, a, 'ready');
    } else {
      run.print('No action specified.\n');
    }
    return 0;
  } catch (e) {
    if (e instanceof TgtAdminExit) return e.code;
    throw e;
  }
}

export async function main(): Promise<void> {
  process.exitCode = runTgtAdmin(process.argv.slice(2));
}
