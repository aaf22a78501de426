// targets.conf reading pass: Config::General 2.65 _open/_read under tgt-admin's options (tgt-compat.md §1.5).
//
// This pass turns files into a flat list of logical lines: it strips `#` and C comments, joins
// `\` continuations, folds here-documents into one entry, rewrites `<x/>` into an open/close
// pair and splices `include` files in place. Options in force (tgt-admin's ParseConfig call):
// UseApacheInclude, IncludeDirectories, IncludeGlob; CComments and SplitPolicy "guess" by
// default; IncludeRelative and IncludeAgain off, so a relative include is looked up in the
// process CWD first and then, if the main file was named by an absolute path, in its directory.
import { readFileSync, readdirSync } from 'node:fs';
import { bsdGlob } from './targets-conf-glob.js';
import { catfile, catpath, exists, isDir, isFile, splitpath } from './targets-conf-paths.js';

/** Joins a here-document's name to its text; the value of Config::General's EOFseparator. */
export const EOF_SEPARATOR = 'ad7d7b87f5b81d2a0d5cb75294afeb91aa4801b1f8e8532dc1b633c0e1d47037';

/** A fatal parse error: Config::General croaks with `message`; Perl's die exits with `exitCode`. */
export class ConfigError extends Error {
  constructor(
    message: string,
    readonly exitCode = 255,
  ) {
    super(message);
  }
}

/** Perl's truth test for a possibly undefined string: "" and "0" are false. */
export const perlTrue = (s: string | undefined): s is string => s !== undefined && s !== '' && s !== '0';

/** Perl's ASCII `\s` (bytes, no unicode_strings): JS `\s` would also match 0xA0. */
const WS = '[ \\t\\n\\r\\f\\v]';
const RE_HEREDOC_EQ = new RegExp(`^${WS}*([^=]+?)${WS}*=${WS}*<<${WS}*(.+?)${WS}*$`);
const RE_HEREDOC_WS = new RegExp(`^${WS}*([^ \\t\\n\\r\\f\\v]+?)${WS}+<<${WS}*(.+?)${WS}*$`);
const RE_EMPTY_BLOCK = new RegExp(`${WS}*<([^/]+?.*?)\\/>${WS}*$`);
const RE_INCLUDE_QUOTED = new RegExp(`^${WS}*(include|includeoptional)${WS}*(["'])(.*?)(?<!\\\\)\\2$`, 'i');
const RE_INCLUDE = new RegExp(`^${WS}*(include|includeoptional)${WS}+(.+?)${WS}*$`, 'i');
const RE_GLOB_META = /[*?[{\\]/;
const RE_BLANK = new RegExp(`^${WS}*$`);

export interface ReaderOptions {
  /** Perl's warn(): "File X already loaded" and the stray C-comment end. */
  warn?: (message: string) => void;
}

/** Collects the logical lines of a config file and everything it includes. */
export class ConfReader {
  /** Logical lines in order, ready for the block/option pass. */
  readonly content: string[] = [];
  private readonly files = new Set<string>();
  private configPath: string[] | undefined;
  private readonly warn: (message: string) => void;

  constructor(opts: ReaderOptions = {}) {
    this.warn = opts.warn ?? ((m) => process.stderr.write(m));
  }

  /** Reads the main file (Config::General's -ConfigFile). */
  readMain(file: string): void {
    if (file.startsWith('/')) {
      // An absolute main file adds its directory to ConfigPath, the fallback for includes.
      const dir = splitpath(file)[0].replace(/\/$/, '');
      this.configPath = [dir];
    }
    this.open(file);
  }

  /** Reads text given directly (used by tests); includes still resolve against the CWD. */
  readString(text: string): void {
    this.readLines(splitLines(text));
  }

  private open(basefile: string): void {
    let configfile = basefile;
    if (RE_GLOB_META.test(configfile)) {
      let found = bsdGlob(configfile).filter(isFile);
      if (found.length === 0 && this.configPath) {
        for (const dir of this.configPath) {
          if (isDir(catfile(dir, splitpath(basefile)[0]))) {
            found = bsdGlob(catfile(dir, basefile)).filter(isFile);
            break;
          }
        }
      }
      // No match is fine: `include conf.d/*` must not fail on an empty directory.
      for (const f of found) this.open(f);
      return;
    }
    if (!exists(configfile)) {
      const alt = this.configPath?.map((d) => catfile(d, basefile)).find(exists);
      if (alt === undefined) {
        const where = this.configPath ? ` within ConfigPath: ${this.configPath.join('.')}` : '';
        throw new ConfigError(`Config::General The file "${basefile}" does not exist${where}!`, 2);
      }
      configfile = alt;
    }
    if (isDir(configfile)) {
      // A directory: its plain files (dotfiles too, no recursion) in byte order.
      let names: string[];
      try {
        names = readdirSync(Buffer.from(configfile, 'latin1'), { encoding: 'latin1' });
      } catch (e) {
        throw new ConfigError(`Config::General: Could not open directory ${configfile}!(${(e as Error).message})\n`);
      }
      names = names.filter((n) => isFile(catfile(configfile, n))).sort(byteOrder);
      for (const n of names) {
        const file = catfile(configfile, n);
        if (this.files.has(file)) {
          this.warn(`File ${file} already loaded.  Use -IncludeAgain to load it again.\n`);
          continue;
        }
        this.files.add(file);
        this.readLines(readFileLines(file));
      }
      return;
    }
    if (this.files.has(configfile)) {
      this.warn(`File ${configfile} already loaded.  Use -IncludeAgain to load it again.\n`);
      return;
    }
    this.files.add(configfile);
    this.readLines(readFileLines(configfile));
  }

  /** Config::General _read over one file's lines (already chomped). */
  private readLines(lines: string[]): void {
    let hier: string | undefined;
    let hierEnd: RegExp | undefined;
    let hierdoc: string[] = [];
    let cComment = false;
    let longline: string | undefined;

    for (let line of lines) {
      if (hier !== undefined) {
        const m = hierEnd!.exec(line);
        if (m) {
          const indent = m[1]!;
          hier += ' ' + EOF_SEPARATOR;
          if (indent !== '') {
            for (const h of hierdoc) hier += (h.startsWith(indent) ? h.slice(indent.length) : h) + '\n';
          } else {
            hier += hierdoc.join('\n');
          }
          this.content.push(hier);
          hierdoc = [];
          hier = undefined;
          hierEnd = undefined;
        } else {
          hierdoc.push(line);
        }
        continue;
      }

      // C comments (CComments is on by default).
      if (/\/\*.*\*\//.test(line)) {
        line = line.replace(new RegExp(`${WS}*\\/\\*.*\\*\\/${WS}*`), '');
      } else if (new RegExp(`^${WS}*\\/\\*`).test(line)) {
        cComment = !new RegExp(`\\*\\/${WS}*$`).test(line);
      } else if (line.includes('*/')) {
        if (!cComment) this.warn('invalid syntax: found end of C-comment without previous start!\n');
        cComment = false;
        line = line.replace(/^.*\*\//, '');
      }
      if (cComment) continue;

      // `#` comments, unless escaped as `\#`.
      line = line.replace(/(?<!\\)#.*$/, '');

      if (/(?<!\\)\\$/.test(line)) {
        line = line.slice(0, -1).replace(new RegExp(`^${WS}*`), '');
        longline = (longline ?? '') + line;
        continue;
      }

      const empty = RE_EMPTY_BLOCK.exec(line);
      if (empty) {
        // `<target x/>` is an empty block: an opening line and `</target>`.
        const orig = line.replace(/\/>$/, '>');
        const block = empty[1]!.replace(new RegExp(`${WS}${WS}*.*$`), '');
        this.content.push(orig, `</${block}>`);
        continue;
      }

      const hd = RE_HEREDOC_EQ.exec(line) ?? RE_HEREDOC_WS.exec(line);
      if (hd) {
        hier = hd[1]!;
        hierEnd = new RegExp(`^(${WS}*)${escapeRegExp(hd[2]!)}${WS}*$`);
        continue;
      }

      if (perlTrue(longline)) {
        longline += line.replace(new RegExp(`^${WS}*`), '');
        this.content.push(longline);
        longline = undefined;
        continue;
      }
      if (RE_BLANK.test(line)) continue;

      let inclFile: string | undefined;
      let opt = '';
      const q = RE_INCLUDE_QUOTED.exec(line);
      const u = q ? null : RE_INCLUDE.exec(line);
      if (q) {
        inclFile = q[3];
        opt = q[1]!;
      } else if (u) {
        inclFile = u[2];
        opt = u[1]!;
      }
      if (perlTrue(inclFile) && /opt/i.test(opt) && !RE_GLOB_META.test(inclFile)) {
        // IncludeOptional of a plain name: a glob matching only that file, so absence is no error.
        const [dir, file] = splitpath(inclFile);
        inclFile = catpath(dir, [...file].map((c) => `[${c}]`).join(''));
      }
      if (perlTrue(inclFile)) this.open(inclFile);
      else this.content.push(line);
    }
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
}

const byteOrder = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Perl's `<$fh>` then chomp: lines split after "\n", the newline removed, "\r" kept. */
export function splitLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function readFileLines(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(Buffer.from(file, 'latin1')).toString('latin1');
  } catch (e) {
    throw new ConfigError(`Config::General: Could not open ${file}!(${(e as Error).message})\n`);
  }
  // A UTF-8 byte-order mark is consumed, as _openfile_for_read does.
  if (text.startsWith('\xEF\xBB\xBF')) text = text.slice(3);
  return splitLines(text);
}
