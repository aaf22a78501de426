// targets.conf loader: Config::General 2.65 ParseConfig with tgt-admin's options (tgt-compat.md §1.5, A5).
//
// tgt-admin calls ParseConfig(-ConfigFile => FILE, -UseApacheInclude => 1, -IncludeDirectories
// => 1, -IncludeGlob => 1, -MergeDuplicateBlocks => 1). This is the same thing in two passes:
// ConfReader (files, comments, includes) then ConfParser (blocks and options).
import { ConfParser, type ConfHash } from './targets-conf-parse.js';
import { ConfReader, type ReaderOptions } from './targets-conf-read.js';

export { ConfigError } from './targets-conf-read.js';
export { isHash, type ConfHash, type ConfValue } from './targets-conf-parse.js';

/**
 * Parses a targets.conf file and everything it includes. `file` is a latin1 string of the
 * path's bytes (plain ASCII paths need no care). Throws ConfigError on the errors that make
 * Config::General croak; warnings go to `opts.warn` (stderr by default).
 */
export function parseTargetsConfFile(file: string, opts: ReaderOptions = {}): ConfHash {
  const reader = new ConfReader(opts);
  reader.readMain(file);
  return new ConfParser().parse(reader.content);
}

/** Parses config text held in memory (includes resolve against the CWD). */
export function parseTargetsConfString(text: string, opts: ReaderOptions = {}): ConfHash {
  const reader = new ConfReader(opts);
  reader.readString(text);
  return new ConfParser().parse(reader.content);
}
