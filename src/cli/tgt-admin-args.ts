// tgt-admin command line: Perl Getopt::Long (default config + no_ignore_case) as tgt's scripts/tgt-admin uses it (tgt-compat.md §1.5).
//
// Getopt::Long rules scripts meet: `-x` and `--x` both name long options, unique prefixes
// abbreviate (`--exec`, `-sh`), `--opt=value` or `--opt value` (a mandatory string takes the next
// word even if it starts with "-"), a later repeat wins, words that are not options are skipped,
// `--` ends the options. Errors are warnings on stderr only: tgt-admin ignores GetOptions' result
// and carries on with whatever was parsed.

export interface TgtAdminArgs {
  execute: boolean;
  /** "0" means unset, as in the Perl script (`$delete ne 0`). */
  delete: string;
  offline: string;
  ready: string;
  update: string;
  show: boolean;
  conf: string;
  ignoreErrors: boolean;
  force: boolean;
  pretend: boolean;
  dump: boolean;
  verbose: boolean;
  help: boolean;
  controlPort: string;
  /** tgt-admin prints its usage when argv is empty or its first word is "" (`$ARGV[0] eq undef`). */
  noArgs: boolean;
  /** Getopt::Long's warnings, in order, each ending in "\n". */
  warnings: string[];
}

type Key = Exclude<keyof TgtAdminArgs, 'noArgs' | 'warnings'>;

interface Spec {
  key: Key;
  takesValue: boolean;
}

/** Every name Getopt::Long knows, as spelled in tgt-admin's GetOptions call. */
const NAMES: ReadonlyMap<string, Spec> = new Map<string, Spec>([
  ['e', { key: 'execute', takesValue: false }],
  ['execute', { key: 'execute', takesValue: false }],
  ['delete', { key: 'delete', takesValue: true }],
  ['offline', { key: 'offline', takesValue: true }],
  ['ready', { key: 'ready', takesValue: true }],
  ['update', { key: 'update', takesValue: true }],
  ['s', { key: 'show', takesValue: false }],
  ['show', { key: 'show', takesValue: false }],
  ['c', { key: 'conf', takesValue: true }],
  ['conf', { key: 'conf', takesValue: true }],
  ['ignore-errors', { key: 'ignoreErrors', takesValue: false }],
  ['f', { key: 'force', takesValue: false }],
  ['force', { key: 'force', takesValue: false }],
  ['p', { key: 'pretend', takesValue: false }],
  ['pretend', { key: 'pretend', takesValue: false }],
  ['dump', { key: 'dump', takesValue: false }],
  ['v', { key: 'verbose', takesValue: false }],
  ['verbose', { key: 'verbose', takesValue: false }],
  ['h', { key: 'help', takesValue: false }],
  ['help', { key: 'help', takesValue: false }],
  ['C', { key: 'controlPort', takesValue: true }],
  ['control-port', { key: 'controlPort', takesValue: true }],
]);

function lookup(name: string, warnings: string[]): Spec | undefined {
  const exact = NAMES.get(name);
  if (exact) return exact;
  const hits = [...NAMES.keys()].filter((n) => n.startsWith(name));
  const keys = new Set(hits.map((h) => NAMES.get(h)!.key));
  if (keys.size === 1) return NAMES.get(hits[0]!);
  if (keys.size > 1) {
    warnings.push(`Option ${name} is ambiguous (${hits.sort().join(', ')})\n`);
    return undefined;
  }
  warnings.push(`Unknown option: ${name}\n`);
  return undefined;
}

/** Parses argv (without the program name). */
export function parseTgtAdminArgs(argv: readonly string[]): TgtAdminArgs {
  const a: TgtAdminArgs = {
    execute: false,
    delete: '0',
    offline: '0',
    ready: '0',
    update: '0',
    show: false,
    conf: '0',
    ignoreErrors: false,
    force: false,
    pretend: false,
    dump: false,
    verbose: false,
    help: false,
    controlPort: '0',
    noArgs: argv.length === 0 || argv[0] === '',
    warnings: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === '--') break;
    if (!word.startsWith('-') || word === '-') continue;
    const body = word.startsWith('--') ? word.slice(2) : word.slice(1);
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    const inline = eq >= 0 ? body.slice(eq + 1) : undefined;
    const spec = lookup(name, a.warnings);
    if (!spec) continue;
    const shown = NAMES.has(name) ? name : [...NAMES.keys()].find((n) => n.startsWith(name))!;
    if (!spec.takesValue) {
      if (inline !== undefined) {
        a.warnings.push(`Option ${shown} does not take an argument\n`);
        continue;
      }
      (a[spec.key] as boolean) = true;
      continue;
    }
    let value = inline;
    if (value === undefined && i + 1 < argv.length) value = argv[++i];
    // Only an empty `--opt=` is refused; an empty next word is a value.
    if (value === undefined || inline === '') {
      a.warnings.push(`Option ${shown} requires an argument\n`);
      continue;
    }
    (a[spec.key] as string) = value;
  }
  return a;
}
