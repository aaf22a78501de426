// Differential test: targets.conf trees from Perl Config::General 2.65 (the oracle) vs stgt's parser (tgt-compat.md §1.5).
//
// Each directory under corpus/parse holds a main.conf (plus the files it includes); both parsers
// run with that directory as CWD, since relative includes resolve against the CWD. Trees are
// compared as JSON (undef -> null); croak messages are compared without Perl's " at FILE line N.".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, parseTargetsConfFile, type ConfValue } from '../../src/cli/targets-conf.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
/** The corpus lives in the source tree (tsc does not copy it to dist). */
export const CORPUS =
  [join(HERE, '..', '..', '..', 'test', 'tgt-admin', 'corpus'), join(process.cwd(), 'test', 'tgt-admin', 'corpus')].find(
    (p) => existsSync(p),
  ) ?? 'test/tgt-admin/corpus';

const haveOracle = spawnSync('perl', ['-MConfig::General', '-MJSON::PP', '-e', '1']).status === 0;

const DUMP = `
use Config::General qw(ParseConfig);
use JSON::PP;
my %c = eval { ParseConfig(-ConfigFile => $ARGV[0], -UseApacheInclude => 1, -IncludeDirectories => 1,
  -IncludeGlob => 1, -MergeDuplicateBlocks => 1) };
if ($@) { print STDERR "CROAK:", $@; exit 3; }
print JSON::PP->new->canonical->allow_nonref->ascii->encode(\\%c), "\\n";
`;

interface Outcome {
  tree?: unknown;
  error?: string;
  warnings: string;
}

function perlParse(cwd: string, file: string): Outcome {
  const r = spawnSync('perl', ['-e', DUMP, file], { cwd, encoding: 'latin1' });
  if (r.status === 3) {
    const err = r.stderr.slice(r.stderr.indexOf('CROAK:') + 6).replace(/ at \S+ line \d+\.\n$/, '');
    return { error: err, warnings: r.stderr.slice(0, r.stderr.indexOf('CROAK:')) };
  }
  assert.equal(r.status, 0, r.stderr);
  return { tree: JSON.parse(r.stdout), warnings: r.stderr };
}

function plain(v: ConfValue): unknown {
  if (v === undefined) return null;
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return v.map(plain);
  const o: Record<string, unknown> = {};
  for (const k of Object.keys(v)) o[k] = plain(v[k]);
  return o;
}

function ourParse(cwd: string, file: string): Outcome {
  let warnings = '';
  const saved = process.cwd();
  process.chdir(cwd);
  try {
    const tree = parseTargetsConfFile(file, { warn: (m) => (warnings += m) });
    return { tree: plain(tree), warnings };
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return { error: e.message, warnings };
  } finally {
    process.chdir(saved);
  }
}

function compare(cwd: string, file: string): void {
  const want = perlParse(cwd, file);
  const got = ourParse(cwd, file);
  assert.deepEqual(got, want);
}

const cases = existsSync(join(CORPUS, 'parse')) ? readdirSync(join(CORPUS, 'parse')).sort() : [];

test('corpus is present', () => {
  assert.ok(cases.length >= 10, `corpus at ${CORPUS}`);
});

for (const name of cases) {
  test(`parse corpus: ${name}`, { skip: haveOracle ? false : 'perl Config::General/JSON::PP missing' }, () => {
    compare(join(CORPUS, 'parse', name), 'main.conf');
  });
}

test('absolute main file: relative include falls back to its directory', { skip: !haveOracle && 'no oracle' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'h6-conf-'));
  try {
    mkdirSync(join(dir, 'd'));
    writeFileSync(join(dir, 'main.conf'), 'include d/x.conf\ninclude d/*.glob\ninclude nope.conf\n');
    writeFileSync(join(dir, 'd', 'x.conf'), 'x 1\n');
    writeFileSync(join(dir, 'd', 'y.glob'), 'y 2\n');
    compare(tmpdir(), join(dir, 'main.conf'));
    writeFileSync(join(dir, 'main.conf'), 'include d/x.conf\ninclude d/*.glob\n');
    compare(tmpdir(), join(dir, 'main.conf'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Cinder volumes_dir include (glob without suffix, §1.6)', { skip: !haveOracle && 'no oracle' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'h6-cinder-'));
  try {
    mkdirSync(join(dir, 'volumes'));
    for (const id of ['volume-2', 'volume-1']) {
      writeFileSync(
        join(dir, 'volumes', id),
        `<target iqn.2010-10.org.openstack:${id}>\n    backing-store /dev/stack-volumes/${id}\n    driver iscsi\n` +
          `    incominguser abc DEF\n    \n    write-cache on\n    scsi_sn ${id}\n    scsi_id ${id}\n</target>\n`,
      );
    }
    writeFileSync(join(dir, 'main.conf'), `include ${dir}/volumes/*\ndefault-driver iscsi\n`);
    compare(dir, join(dir, 'main.conf'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('odd lines: CRLF, latin1 bytes, empty-block spacing, stray */', { skip: !haveOracle && 'no oracle' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'h6-odd-'));
  try {
    // A BOM switches Perl to a UTF-8 layer; that case is kept ASCII-only (see the BOM test).
    const body = Buffer.concat([
      Buffer.from('a b\r\nc\xe9 d\xa0e\n<x y/>  \n</x>\nz /dev/*/foo */ tail\n<<include foo>>\n</include>\n', 'latin1'),
    ]);
    writeFileSync(join(dir, 'main.conf'), body);
    compare(dir, 'main.conf');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('UTF-8 byte-order mark is skipped', { skip: !haveOracle && 'no oracle' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'h6-bom-'));
  try {
    writeFileSync(join(dir, 'main.conf'), Buffer.from('\ufeffa b\n<target t>\n</target>\n', 'utf8'));
    compare(dir, 'main.conf');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
