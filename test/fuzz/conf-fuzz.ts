// targets.conf fuzzer: seeded mutated corpus files and generated configs through stgt's parser and tgt-admin, in-process and as bin/tgt-admin runs (tgt-compat.md §1.5).
//
// Config i is built from its own stream (seed and i): a corpus file (test/tgt-admin/corpus) with
// line mutations, or a generated config (global directives, targets with every option tgt-admin
// knows, <backing-store> blocks, includes of files, globs, directories, missing files and include
// loops, heredocs, continuations), sometimes with random bytes, deep nesting or very long lines.
// In-process each config is parsed (a tree or a ConfigError, nothing else) and run through
// runTgtAdmin with a runner that answers tgtadm/lsof/sg_inq itself (pretend, execute with some
// commands failing, update, delete, offline), which must return an exit status, never throw,
// and say something when that status is not 0. Some configs also go through a real bin/tgt-admin
// process (pretend modes, --dump, --show) against a real tgtd, where the same rules hold and no
// stack trace may reach stderr. Those processes get a PATH holding only stubs (tgtadm, lsof,
// sg_inq): a generated value is put in a shell command line as tgt-admin does, so nothing else may
// be found by name.

import { spawn } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { repoRoot, type TestDaemon } from '../helpers/daemon.js';
import { Rand } from './rand.js';
import { ConfigError, parseTargetsConfFile } from '../../src/cli/targets-conf.js';
import { runTgtAdmin } from '../../src/cli/tgt-admin.js';
import { Runner, type RunnerOptions } from '../../src/cli/tgt-admin-run.js';

export interface ConfFuzzOptions {
  seed: number;
  /** Configs through the parser and in-process tgt-admin. */
  configs: number;
  /** How many of them also go through a bin/tgt-admin process (needs `daemon`). Default 40. */
  processRuns?: number;
  /** A running stgt tgtd for the process runs (and the show text the in-process runner answers). */
  daemon?: TestDaemon;
  log?: (line: string) => void;
}

export interface ConfFuzzStats {
  configs: number;
  parsed: number;
  configErrors: number;
  warnings: number;
  adminRuns: number;
  /** In-process tgt-admin exit statuses. */
  adminExit: Record<number, number>;
  processRuns: number;
  processExit: Record<string, number>;
  sources: Record<string, number>;
  elapsedMs: number;
}

export interface ConfFuzzResult {
  stats: ConfFuzzStats;
  failures: string[];
}

const HERE = fileURLToPath(new URL('.', import.meta.url));
/** The corpus lives in the source tree (tsc does not copy it to dist). */
const CORPUS = [join(HERE, '..', '..', '..', 'test', 'tgt-admin', 'corpus'), join(process.cwd(), 'test', 'tgt-admin', 'corpus')]
  .find((p) => existsSync(p)) ?? 'test/tgt-admin/corpus';

/** Signs that an internal error leaked into tgt-admin's output. */
const LEAK = /\[object |\bundefined\b|\bNaN\b|^\s+at \S.*:\d+:\d+\)?$|node:internal|Maximum call stack|TypeError|RangeError/m;

function streamFor(seed: number, i: number): Rand {
  const r = new Rand((Math.imul(seed ^ 0x27d4eb2f, 0x9e3779b1) + Math.imul(i + 1, 0xc2b2ae35)) >>> 0 || 1);
  for (let k = 0; k < 4; k++) r.float();
  return r;
}

// ------------------------------------------------------------------ the work directory

interface Work {
  dir: string;
  /** Corpus files (text, @DIR@ replaced). */
  seeds: { name: string; text: string }[];
}

function makeWork(): Work {
  const dir = mkdtempSync(join(tmpdir(), 'stgt-conffuzz-'));
  mkdirSync(join(dir, 'img'));
  for (const f of ['a.img', 'b.img', 'c.img']) {
    writeFileSync(join(dir, 'img', f), '');
    truncateSync(join(dir, 'img', f), 1 << 20);
  }
  const seeds: { name: string; text: string }[] = [];
  const admin = join(CORPUS, 'admin');
  for (const f of existsSync(admin) ? readdirSync(admin).sort() : []) {
    seeds.push({ name: `admin/${f}`, text: readFileSync(join(admin, f), 'utf8').replaceAll('@DIR@', dir) });
  }
  const parse = join(CORPUS, 'parse');
  for (const d of existsSync(parse) ? readdirSync(parse).sort() : []) {
    const main = join(parse, d, 'main.conf');
    if (existsSync(main)) seeds.push({ name: `parse/${d}`, text: readFileSync(main, 'latin1') });
    // Their includes resolve against the CWD: put what they include beside the configs.
    for (const e of readdirSync(join(parse, d))) if (e !== 'main.conf') cpSync(join(parse, d, e), join(dir, e), { recursive: true, force: false });
  }
  mkdirSync(join(dir, 'inc'), { recursive: true });
  writeFileSync(join(dir, 'inc', 'one.conf'), `<target iqn.2026-12.fuzz:inc>\n    backing-store ${dir}/img/b.img\n</target>\n`);
  writeFileSync(join(dir, 'inc', 'two.conf'), 'include inc/one.conf\ndefault-driver iscsi\n');
  writeFileSync(join(dir, 'inc', 'self.conf'), 'include inc/self.conf\n');
  writeFileSync(join(dir, 'inc', 'loop-a.conf'), 'include inc/loop-b.conf\n');
  writeFileSync(join(dir, 'inc', 'loop-b.conf'), 'include inc/loop-a.conf\n');
  writeFileSync(join(dir, 'inc', 'broken.conf'), '<target iqn.2026-12.fuzz:broken>\n    lun 3\n');
  // Only stubs on the PATH of tgt-admin processes (see the header comment).
  mkdirSync(join(dir, 'bin'));
  for (const [name, body] of [['lsof', 'exit 1'], ['sg_inq', 'exit 1'], ['sg_readcap', 'exit 1']] as const) {
    writeFileSync(join(dir, 'bin', name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(dir, 'bin', name), 0o755);
  }
  writeFileSync(join(dir, 'bin', 'tgtadm'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(join(repoRoot(), 'bin', 'tgtadm'))} "$@"\n`);
  chmodSync(join(dir, 'bin', 'tgtadm'), 0o755);
  return { dir, seeds };
}

// ------------------------------------------------------------------ generation

const WORDS = ['lun', 'target', 'backing-store', 'direct-store', 'include', 'driver', 'iscsi', 'iser', 'yes', 'no', 'on', 'off',
  'ALL', '0', '1', '4096', '-1', '99999999999999999999', 'iqn.2026-12.fuzz:x', '127.0.0.1', '::1', 'EOF', '*', '{a,b}', '~', '.', '..'];

function word(r: Rand): string {
  if (r.chance(0.7)) return r.pick(WORDS);
  const abc = 'abcdefghijklmnopqrstuvwxyz0123456789._-:';
  let s = '';
  for (let n = r.range(1, 12); n > 0; n--) s += abc[r.int(abc.length)];
  return s;
}

function pathValue(r: Rand, dir: string): string {
  return r.pick([`${dir}/img/a.img`, `${dir}/img/b.img`, `${dir}/img/c.img`, 'img/a.img', `${dir}/img/missing.img`,
    `${dir}/img`, '/nonexistent/x.img', '', `"${dir}/img/a.img"`, `${dir}/img/a.img ${dir}/img/b.img`, `${dir}/img/*.img`]);
}

function includeLine(r: Rand): string {
  return `${r.pick(['include', 'Include', 'includeoptional', 'IncludeOptional', '<<include'])} ${r.pick([
    'inc/one.conf', 'inc/two.conf', 'inc/self.conf', 'inc/loop-a.conf', 'inc/broken.conf', 'conf.d/*.conf', 'conf.d/{b,a}.conf',
    'dir', 'inc', 'missing.conf', '"inc/one.conf"', 'inc/*.none', '', '/', 'img/a.img'])}${r.chance(0.1) ? '>>' : ''}`;
}

const TARGET_KEYS: Array<(r: Rand, dir: string) => string> = [
  (r, d) => `backing-store ${pathValue(r, d)}`,
  (r, d) => `direct-store ${pathValue(r, d)}`,
  (r) => `initiator-address ${r.pick(['ALL', '127.0.0.1', '10.0.0.0/8', '::1', '300.1.1.1', ''])}`,
  (r) => `initiator-name iqn.2026-12.fuzz:i${r.int(4)}`,
  (r) => `incominguser ${word(r)} ${r.pick(['secretpass12', 'short', ''])}`,
  (r) => `outgoinguser ${word(r)} ${r.pick(['secretpass34', ''])}`,
  (r) => `write-cache ${r.pick(['on', 'off', 'bogus', ''])}`,
  (r) => `${r.pick(['vendor_id', 'product_id', 'product_rev', 'scsi_sn', 'scsi_id'])} ${word(r)}`,
  (r) => `lun ${r.pick(['1', '2', '0', '-1', 'x', '16384', ''])}`,
  (r) => `device-type ${r.pick(['disk', 'cd', 'pt', 'tape', 'bogus'])}`,
  (r) => `bs-type ${r.pick(['rdwr', 'null', 'aio', 'memory', 'bogus'])}`,
  (r) => `bsoflags ${r.pick(['sync', 'direct', 'sync:direct', 'bogus'])}`,
  (r) => `bsopts "${word(r)}=${word(r)}"`,
  (r) => `${r.pick(['block-size', 'blocksize'])} ${r.pick(['512', '4096', 'abc', '3'])}`,
  (r) => `readonly ${r.pick(['1', '0', 'yes'])}`,
  (r) => `allow-in-use ${r.pick(['yes', 'no'])}`,
  (r) => `params ${word(r)}=${word(r)}`,
  (r) => `driver ${r.pick(['iscsi', 'iser', 'bogus'])}`,
  (r) => `controller_tid ${r.pick(['1', '5', '0', 'x'])}`,
  (r) => `${r.pick(['MaxRecvDataSegmentLength', 'HeaderDigest', 'DataDigest', 'InitialR2T', 'ImmediateData', 'MaxConnections'])} ${r.pick(['65536', 'CRC32C,None', 'No', '1', 'abc'])}`,
  (r) => `${r.pick(['removable', 'online', 'mode_page', 'sense_format', 'thin_provisioning'])} ${r.pick(['1', '0', '8:0:18:0x10'])}`,
  (r) => `${word(r)} ${word(r)}`,
  (r) => `# ${word(r)}`,
  (r) => includeLine(r),
];

function targetName(r: Rand, i: number): string {
  return r.chance(0.85) ? `iqn.2026-12.org.stgt.fuzz:t${r.int(6)}` : r.pick(['', '"iqn.2026-12.fuzz:quoted name"', `bad_name${i}`, 'iqn.x:y z', '*']);
}

function generated(r: Rand, dir: string, i: number): string[] {
  const out: string[] = [];
  for (let n = r.int(4); n > 0; n--) {
    out.push(r.pick([`default-driver ${r.pick(['iscsi', 'iser', 'bogus'])}`, `ignore-errors ${r.pick(['yes', 'no'])}`,
      'iSNSServerIP 127.0.0.1', `iSNSServerPort ${r.pick(['3205', 'x'])}`, 'iSNSAccessControl On', 'iSNS On',
      `incomingdiscoveryuser ${word(r)} discpass123`, `outgoingdiscoveryuser ${word(r)} discpass456`, includeLine(r)]));
  }
  for (let t = r.int(5); t > 0; t--) {
    out.push(`<target ${targetName(r, i)}>`);
    for (let k = r.int(9); k > 0; k--) {
      if (r.chance(0.15)) {
        out.push(`    <${r.pick(['backing-store', 'direct-store'])} ${pathValue(r, dir)}>`);
        for (let m = r.int(4); m > 0; m--) out.push(`        ${r.pick(TARGET_KEYS)(r, dir)}`);
        out.push(`    </${r.pick(['backing-store', 'direct-store', 'target'])}>`);
      } else {
        out.push(`    ${r.pick(TARGET_KEYS)(r, dir)}`);
      }
    }
    out.push(r.chance(0.95) ? '</target>' : r.pick(['', '</targe>', '<target>', '</backing-store>']));
  }
  return out;
}

const ODD = ['<', '>', '/', '"', '=', '\\', '#', '\t', ' ', '\0', '\r', '{', '}', '*', '?', '[', ']', '$', '`', ';', '\u00e9', '\u00ff'];

function mutateLines(r: Rand, lines: string[], dir: string): string[] {
  const a = lines.slice();
  for (let n = r.range(1, 5); n > 0; n--) {
    const at = r.int(a.length + 1);
    switch (r.int(12)) {
      case 0: a.splice(at, 1); break;
      case 1: if (a[at] !== undefined) a.splice(at, 0, a[at]!); break;
      case 2: { const b = r.int(a.length + 1); [a[at], a[b]] = [a[b] ?? '', a[at] ?? '']; break; }
      case 3: a.splice(at, 0, r.pick(TARGET_KEYS)(r, dir)); break;
      case 4: if (a[at] !== undefined) a[at] = a[at]!.slice(0, r.int(a[at]!.length + 1)); break;
      case 5: if (a[at] !== undefined) { const p = r.int(a[at]!.length + 1); a[at] = a[at]!.slice(0, p) + r.pick(ODD) + a[at]!.slice(p); } break;
      case 6: if (a[at] !== undefined) a[at] = a[at]!.replace(/\S+/, word(r)); break;
      case 7: if (a[at] !== undefined) a[at] += ' \\'; break;
      case 8: a.splice(at, 0, `${r.pick(TARGET_KEYS)(r, dir)} <<${r.pick(['EOF', 'END', ''])}`, word(r)); break;
      case 9: a.splice(at, 0, r.pick(['<target iqn.2026-12.fuzz:open>', '</target>', '<target>', '<>', '</>', '<backing-store x>', '< target x >'])); break;
      case 10: a.splice(at, 0, includeLine(r)); break;
      default: a.splice(at, 0, r.bytes(r.int(60)).toString('latin1').replace(/\n/g, ' ')); break;
    }
  }
  return a;
}

/** Config i: its text (latin1 bytes) and where it came from. */
export function makeConfig(seed: number, i: number, work: Work): { source: string; text: string } {
  const r = streamFor(seed, i);
  const roll = r.int(100);
  let source: string;
  let lines: string[];
  if (roll < 45 && work.seeds.length > 0) {
    const s = r.pick(work.seeds);
    source = s.name;
    lines = mutateLines(r, s.text.split('\n'), work.dir);
  } else if (roll < 90) {
    source = 'generated';
    lines = generated(r, work.dir, i);
    if (r.chance(0.5)) lines = mutateLines(r, lines, work.dir);
  } else {
    source = r.pick(['deep', 'long', 'bytes', 'crlf']);
    lines = generated(r, work.dir, i);
    if (source === 'deep') {
      // Not deeper: Config::General's way (each block's lines parsed again one level down, kept
      // here) is quadratic in the depth, 1.2 s at 1000 levels.
      const depth = r.pick([20, 60, 200]);
      lines = [...Array.from({ length: depth }, (_, k) => `<b${k % 3} x>`), ...lines, ...Array.from({ length: depth }, (_, k) => `</b${(depth - 1 - k) % 3}>`)];
    } else if (source === 'long') {
      lines.splice(r.int(lines.length + 1), 0, `vendor_id ${'v'.repeat(r.range(1000, 100_000))}`);
    } else if (source === 'bytes') {
      lines = [r.bytes(r.range(1, 3000)).toString('latin1')];
    } else {
      lines = lines.map((l) => `${l}\r`);
    }
  }
  let text = lines.join('\n');
  if (r.chance(0.5)) text += '\n';
  return { source, text: confine(text, work.dir) };
}

/**
 * Keeps a config's paths inside the fuzz directory: a truncated or cut path such as `/tmp` or
 * `/tmp/#stgt-conffuzz-x/voldir` (from `include <dir>/voldir`) would include whatever the machine
 * keeps in the directories above it (gigabytes of images on a build machine), so the run would
 * depend on the machine. Each such ancestor is made `<dir>/outside` (missing), unless the full
 * path to `dir` follows it. `/` stays: it is one of the include values on purpose.
 */
function confine(text: string, dir: string): string {
  // The configs are read with `dir` as the working directory, so a `..` path component (the word
  // list has '..': `include ..`) climbs out of it: seed 31337's config 82975 included /tmp whole,
  // 328k lines that day, and took 54 s. Each such component is made `outside` (missing).
  text = text.replace(/(^|[\s/"'=])\.\.(?=$|[\s/"'])/gm, '$1outside');
  const parts = dir.split('/').filter((p) => p !== '');
  for (let k = parts.length - 1; k >= 1; k--) {
    const ancestor = `/${parts.slice(0, k).join('/')}`;
    const rest = dir.slice(ancestor.length);
    const esc = (x: string): string => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    text = text.replace(new RegExp(`${esc(ancestor)}(?!${esc(rest)})`, 'g'), `${dir}/outside`);
  }
  return text;
}

// ------------------------------------------------------------------ in-process tgt-admin

/** Answers tgtadm with canned text and lsof/sg_inq with "nothing", runs no command; some commands fail. */
class CannedRunner extends Runner {
  constructor(o: RunnerOptions, private readonly show: string, private readonly r: Rand) {
    super(o);
  }
  override capture(cmd: string): string {
    if (/--mode target/.test(cmd) && /--op show/.test(cmd)) return this.show;
    if (/--mode account/.test(cmd)) return 'Account list:\n    fuzzuser\n';
    if (/--mode sys/.test(cmd)) return 'System:\n    State: ready\n    debug: off\n';
    return '';
  }
  override quiet(): number {
    return 1;
  }
  override system(): number {
    return this.r.chance(0.05) ? this.r.pick([1, 22, 107]) : 0;
  }
}

const ADMIN_ARGS: readonly (readonly string[])[] = [
  ['--pretend', '-e', '-c', 'case.conf'], ['-p', '-e', '-c', 'case.conf', '--ignore-errors'], ['-e', '-c', 'case.conf'],
  ['-v', '-e', '-c', 'case.conf'], ['-p', '--update', 'ALL', '-c', 'case.conf'], ['-p', '--update', 'tid=1', '-c', 'case.conf'],
  ['-v', '--update', 'iqn.2026-12.org.stgt.fuzz:t1', '-c', 'case.conf'], ['-p', '--delete', 'ALL', '-c', 'case.conf'],
  ['--delete', 'tid=1', '-c', 'case.conf'], ['-p', '--offline', 'ALL', '-c', 'case.conf'], ['--ready', 'ALL', '-c', 'case.conf'],
  ['--dump', '-c', 'case.conf'], ['-p', '-e', '-f', '-c', 'case.conf'],
];

/** Runs one config through the parser and tgt-admin in-process (CWD is the work directory). */
function inProcess(i: number, r: Rand, show: string, stats: ConfFuzzStats, fail: (m: string) => void, what: () => string): void {
  try {
    parseTargetsConfFile('case.conf', { warn: () => void stats.warnings++ });
    stats.parsed++;
  } catch (e) {
    if (e instanceof ConfigError) stats.configErrors++;
    else fail(`config ${i}: the parser threw ${(e as Error).stack ?? String(e)}\n${what()}`);
  }
  const argv = r.pick(ADMIN_ARGS);
  let out = '';
  let err = '';
  let code: number;
  stats.adminRuns++;
  try {
    code = runTgtAdmin(argv, { out: (s) => void (out += s), err: (s) => void (err += s), env: process.env }, (o) => new CannedRunner(o, show, r));
  } catch (e) {
    fail(`config ${i}: tgt-admin ${argv.join(' ')} threw ${(e as Error).stack ?? String(e)}\n${what()}`);
    return;
  }
  stats.adminExit[code] = (stats.adminExit[code] ?? 0) + 1;
  if (!Number.isInteger(code) || code < 0 || code > 255) fail(`config ${i}: tgt-admin ${argv.join(' ')} returned ${code}\n${what()}`);
  if (code !== 0 && out + err === '') fail(`config ${i}: tgt-admin ${argv.join(' ')} exited ${code} without a word\n${what()}`);
  const leak = LEAK.exec(out + err);
  if (leak !== null) fail(`config ${i}: tgt-admin ${argv.join(' ')} printed ${JSON.stringify(leak[0])}:\n${(out + err).slice(0, 1500)}\n${what()}`);
}

// ------------------------------------------------------------------ bin/tgt-admin processes

function runProcess(args: readonly string[], cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; signal: string | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [join(repoRoot(), 'bin', 'tgt-admin'), ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.setEncoding('latin1').on('data', (s: string) => (out += s));
    p.stderr.setEncoding('latin1').on('data', (s: string) => (err += s));
    const t = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.on('close', (code, signal) => {
      clearTimeout(t);
      resolve({ code, signal, out, err });
    });
  });
}

const PROCESS_ARGS: readonly (readonly string[])[] = [
  ['--pretend', '-e', '-c', 'case.conf'], ['-p', '--update', 'ALL', '-c', 'case.conf'], ['-p', '--delete', 'ALL', '-c', 'case.conf'],
  ['-p', '--offline', 'ALL', '-c', 'case.conf'], ['--dump', '-c', 'case.conf'], ['--show', '-c', 'case.conf'],
];

// ------------------------------------------------------------------ the run

export async function runConfFuzz(o: ConfFuzzOptions): Promise<ConfFuzzResult> {
  const t0 = Date.now();
  const log = o.log ?? (() => undefined);
  const work = makeWork();
  const stats: ConfFuzzStats = {
    configs: 0, parsed: 0, configErrors: 0, warnings: 0, adminRuns: 0, adminExit: {}, processRuns: 0, processExit: {}, sources: {}, elapsedMs: 0,
  };
  const failures: string[] = [];
  const fail = (m: string): void => {
    if (failures.length < 30) failures.push(m);
  };
  const d = o.daemon;
  const env: NodeJS.ProcessEnv = d === undefined ? {} : { PATH: join(work.dir, 'bin'), TGT_IPC_SOCKET: d.socketBase, HOME: work.dir };
  const port = d === undefined ? '0' : String(d.controlPort);
  let show = '';
  if (d !== undefined) {
    await d.tgtadmOk('--mode', 'target', '--op', 'new', '--tid', '1', '-T', 'iqn.2026-12.org.stgt.fuzz:t1');
    await d.tgtadmOk('--mode', 'logicalunit', '--op', 'new', '--tid', '1', '--lun', '1', '-b', join(work.dir, 'img', 'a.img'));
    await d.tgtadmOk('--mode', 'target', '--op', 'bind', '--tid', '1', '-I', 'ALL');
    show = await d.tgtadmOk('--mode', 'target', '--op', 'show');
  }
  const procRuns = d === undefined ? 0 : Math.min(o.processRuns ?? 40, o.configs);
  const every = procRuns > 0 ? Math.max(1, Math.floor(o.configs / procRuns)) : 0;
  const cwd = process.cwd();
  try {
    process.chdir(work.dir);
    for (let i = 0; i < o.configs; i++) {
      const c = makeConfig(o.seed, i, work);
      stats.configs++;
      stats.sources[c.source] = (stats.sources[c.source] ?? 0) + 1;
      writeFileSync(join(work.dir, 'case.conf'), Buffer.from(c.text, 'latin1'));
      const what = (): string => `(seed 0x${o.seed.toString(16)}, ${c.source}) config:\n${JSON.stringify(c.text.slice(0, 1500))}`;
      // A hang shows as a slow config; 10 s leaves room for the quadratic deep cases (an image
      // file included 200 blocks down is 1 MiB of text parsed 200 times, about 2 s).
      const tc = Date.now();
      inProcess(i, streamFor(o.seed ^ 0x1234, i), show, stats, fail, what);
      if (Date.now() - tc > 10_000) fail(`config ${i}: parse and tgt-admin took ${Date.now() - tc} ms\n${what()}`);
      if (every > 0 && i % every === 0 && stats.processRuns < procRuns) {
        const args = ['-C', port, ...PROCESS_ARGS[stats.processRuns % PROCESS_ARGS.length]!];
        const p = await runProcess(args, work.dir, env);
        stats.processRuns++;
        const key = p.signal ?? String(p.code);
        stats.processExit[key] = (stats.processExit[key] ?? 0) + 1;
        const cmd = `bin/tgt-admin ${args.join(' ')}`;
        if (p.code === null) fail(`config ${i}: ${cmd} was killed by ${p.signal}\n${what()}`);
        else if (p.code !== 0 && p.out + p.err === '') fail(`config ${i}: ${cmd} exited ${p.code} without a word\n${what()}`);
        const leak = LEAK.exec(p.out + p.err);
        if (leak !== null) fail(`config ${i}: ${cmd} printed ${JSON.stringify(leak[0])}:\n${(p.out + p.err).slice(0, 1500)}\n${what()}`);
      }
      if ((i + 1) % 1000 === 0) log(`${i + 1} configs, ${stats.configErrors} config errors, ${failures.length} failures`);
    }
  } finally {
    process.chdir(cwd);
    rmSync(work.dir, { recursive: true, force: true });
    stats.elapsedMs = Date.now() - t0;
  }
  if (d !== undefined) {
    const after = await d.tgtadm('--mode', 'target', '--op', 'show');
    if (after.stdout !== show) fail(`the pretend runs changed tgtd's targets:\n${after.stdout}`);
  }
  return { stats, failures };
}
