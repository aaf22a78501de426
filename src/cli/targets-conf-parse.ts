// targets.conf tree building: Config::General 2.65 _parse/_parse_value (blocks, options, merging; tgt-compat.md §1.5).
//
// Input is the reader's list of logical lines. Output is the tree ParseConfig returns:
// an option's value is a string (or undefined when the line held only a name), a repeated
// option becomes an array (AllowMultiOptions), `<name>` is a nested hash, `<name key>` a hash of
// hashes keyed by `key`, and a repeated named block is merged into the first
// (MergeDuplicateBlocks), which is how one target can be spread over several files.
import { ConfigError, EOF_SEPARATOR, perlTrue } from './targets-conf-read.js';

export type ConfValue = string | undefined | ConfHash | ConfValue[];
export interface ConfHash {
  [key: string]: ConfValue;
}

export const newHash = (): ConfHash => Object.create(null) as ConfHash;
export const isHash = (v: ConfValue): v is ConfHash => typeof v === 'object' && v !== null && !Array.isArray(v);

const WS = '[ \\t\\n\\r\\f\\v]';
const RE_LEAD = new RegExp(`^${WS}+`);
const RE_TRAIL = new RegExp(`${WS}+$`);
const RE_SPLIT_GUESS = new RegExp(`${WS}*=${WS}*|${WS}+`);
const RE_SPLIT_EOF = new RegExp(`${WS}*${EOF_SEPARATOR}${WS}*`);
const RE_BLOCK_START = /^<([^/]+?.*?)>$/;
const RE_BLOCK_END = /^<\/(.+?)>$/;
const RE_BLOCK_NAME = new RegExp(`^(?:"([^"]+)"|([^ \\t\\n\\r\\f\\v]+))(?:${WS}+(?:"([^"]+)"|(.*)))?$`);

/** Builds the tree; throws ConfigError with Config::General's croak text. */
export class ConfParser {
  private level = 1;

  parse(content: readonly string[]): ConfHash {
    return this.parseInto(newHash(), content);
  }

  private parseInto(config: ConfHash, content: readonly string[]): ConfHash {
    let block: string | undefined;
    let blockname: string | undefined;
    let newcontent: string[] = [];
    let blockLevel = 0;
    let chunk = 0;

    for (const raw of content) {
      chunk++;
      const line = raw.replace(/\n$/, '').replace(RE_LEAD, '').replace(RE_TRAIL, '');
      let [option, value] = splitOption(line);
      if (perlTrue(value) && value.startsWith('"') && value.endsWith('"')) {
        value = value.slice(1);
        if (value.endsWith('"')) value = value.slice(0, -1);
      }

      if (block === undefined) {
        const start = RE_BLOCK_START.exec(line);
        if (start) {
          block = start[1]!;
          const quoted = /^"([^"]+)"$/.exec(block);
          if (quoted) {
            block = block.replace(/"/g, '');
          } else {
            const m = RE_BLOCK_NAME.exec(block);
            if (m) {
              block = perlTrue(m[1]) ? m[1] : m[2];
              blockname = perlTrue(m[3]) ? m[3] : m[4];
            }
          }
          this.level++;
          newcontent = [];
          continue;
        }
        const end = RE_BLOCK_END.exec(line);
        if (end) {
          throw new ConfigError(
            `Config::General: EndBlock "</${end[1]}>" has no StartBlock statement (level: ${this.level}, chunk ${chunk})!\n`,
          );
        }
        storeOption(config, option ?? '', parseValue(value));
        continue;
      }

      if (RE_BLOCK_START.test(line)) {
        blockLevel++;
        newcontent.push(line);
      } else if (RE_BLOCK_END.test(line)) {
        if (blockLevel > 0) {
          blockLevel--;
          newcontent.push(line);
          continue;
        }
        // The closing tag is not matched by name: the depth counter decides (§1.5).
        const type = block ?? '';
        if (blockname !== undefined) this.storeNamed(config, type, blockname, newcontent);
        else this.storePlain(config, type, newcontent);
        block = undefined;
        blockname = undefined;
        this.level--;
      } else {
        newcontent.push(line);
      }
    }
    if (perlTrue(block)) {
      throw new ConfigError(
        `Config::General: Block "<${block}>" has no EndBlock statement (level: ${this.level}, chunk ${chunk})!\n`,
      );
    }
    return config;
  }

  private storeNamed(config: ConfHash, block: string, name: string, body: string[]): void {
    if (!(block in config)) config[block] = newHash();
    const node = config[block];
    if (Array.isArray(node)) {
      throw new ConfigError(
        `Config::General: Cannot append named block <${block} ${name}> to array of scalars!\n` +
          `Block <${block}> or scalar '${block}' occurs more than once.\n` +
          `Turn on -MergeDuplicateBlocks or make sure <${block}> occurs only once in the config.\n`,
      );
    }
    if (!isHash(node)) throw new ConfigError(`Config::General: Block <${block}> already exists as scalar entry!\n`);
    const existing = node[name];
    if (name in node && isHash(existing)) {
      node[name] = this.parseInto(existing, body);
    } else if (name in node) {
      // Perl would die dereferencing a non-hash here; say so rather than guess.
      throw new ConfigError(`Not a HASH reference (block <${block} ${name}>)\n`);
    } else {
      node[name] = this.parseInto(newHash(), body);
    }
  }

  private storePlain(config: ConfHash, block: string, body: string[]): void {
    if (block in config) {
      const existing = config[block];
      if (existing === undefined || typeof existing === 'string') {
        throw new ConfigError(
          `Config::General: Cannot create hashref from <${block}> because there is\n` +
            `already a scalar option '${block}' with value '${existing ?? ''}'\n`,
        );
      }
      if (!isHash(existing)) throw new ConfigError(`Not a HASH reference (block <${block}>)\n`);
      config[block] = this.parseInto(existing, body);
      return;
    }
    config[block] = this.parseInto(newHash(), body);
  }
}

/** Splits `key value`, `key = value`, `key=value` (SplitPolicy guess) or a here-document entry. */
function splitOption(line: string): [string | undefined, string | undefined] {
  if (line === '') return [undefined, undefined];
  const re = line.includes(EOF_SEPARATOR) ? RE_SPLIT_EOF : RE_SPLIT_GUESS;
  const m = re.exec(line);
  if (!m) return [line, undefined];
  return [line.slice(0, m.index), line.slice(m.index + m[0].length)];
}

/** _parse_value without AutoTrue/FlagBits/InterPolateVars: only `\$ \\ \" \#` unescaping. */
function parseValue(value: string | undefined): string | undefined {
  return value === undefined ? undefined : value.replace(/\\([$\\"#])/g, '$1');
}

/** AllowMultiOptions: the second occurrence of a key turns its value into an array. */
function storeOption(config: ConfHash, option: string, value: string | undefined): void {
  if (!(option in config)) {
    config[option] = value;
    return;
  }
  const cur = config[option];
  if (Array.isArray(cur)) cur.push(value);
  else config[option] = [cur, value];
}
