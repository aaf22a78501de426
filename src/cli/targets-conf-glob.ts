// File::Glob bsd_glob(pattern, GLOB_BRACE | GLOB_QUOTE): the glob Config::General 2.65 runs for `include`.
//
// What targets.conf users rely on (tgt-compat.md §1.5): `*`, `?` and `[...]` within one path
// segment, `{a,b}` alternatives, `\x` quoting, a leading dot matched only literally, no error and
// no result when nothing matches, and each brace alternative's matches sorted by byte value
// (strcmp, since GLOB_ALPHASORT is not passed).
import { readdirSync } from 'node:fs';
import { statOf } from './targets-conf-paths.js';

/** Expands `{a,b}` groups (nested allowed); "{}" and unbalanced braces stay literal. */
export function expandBraces(pattern: string): string[] {
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (c === '[') {
      // A bracket expression is copied as is: braces inside it are not alternatives.
      const end = pattern.indexOf(']', i + 2);
      if (end > 0) i = end;
      continue;
    }
    if (c !== '{') continue;
    if (pattern[i + 1] === '}') {
      i++;
      continue;
    }
    let depth = 0;
    const cuts: number[] = [];
    let close = -1;
    for (let j = i; j < pattern.length; j++) {
      const d = pattern[j];
      if (d === '\\') {
        j++;
      } else if (d === '{') {
        depth++;
      } else if (d === '}') {
        depth--;
        if (depth === 0) {
          close = j;
          break;
        }
      } else if (d === ',' && depth === 1) {
        cuts.push(j);
      }
    }
    if (close < 0) return [pattern];
    const head = pattern.slice(0, i);
    const tail = pattern.slice(close + 1);
    const bounds = [i, ...cuts, close];
    const out: string[] = [];
    for (let k = 0; k + 1 < bounds.length; k++) {
      out.push(...expandBraces(head + pattern.slice(bounds[k]! + 1, bounds[k + 1]) + tail));
    }
    return out;
  }
  return [pattern];
}

const hasMeta = (seg: string): boolean => /(^|[^\\])[*?[]/.test(seg) || /^[*?[]/.test(seg);

const unquote = (seg: string): string => seg.replace(/\\(.)/g, '$1');

/** One path segment's pattern as an anchored RegExp over a latin1 file name. */
function segmentRegExp(seg: string): RegExp {
  let re = '^';
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i]!;
    if (c === '\\' && i + 1 < seg.length) {
      re += escapeRe(seg[++i]!);
    } else if (c === '*') {
      re += '[^/]*';
    } else if (c === '?') {
      re += '[^/]';
    } else if (c === '[') {
      const cls = bracket(seg, i);
      if (cls) {
        re += cls.re;
        i = cls.end;
      } else {
        re += '\\[';
      }
    } else {
      re += escapeRe(c);
    }
  }
  return new RegExp(re + '$');
}

function escapeRe(c: string): string {
  return /[\\^$.*+?()[\]{}|/-]/.test(c) ? '\\' + c : c;
}

/** `[...]`, `[!...]` with ranges; a `]` first in the set is literal. */
function bracket(seg: string, start: number): { re: string; end: number } | undefined {
  let i = start + 1;
  let negate = false;
  if (seg[i] === '!') {
    negate = true;
    i++;
  }
  let body = '';
  let first = true;
  for (; i < seg.length; i++) {
    const c = seg[i]!;
    if (c === ']' && !first) return { re: `[${negate ? '^' : ''}${body}]`, end: i };
    first = false;
    if (c === '-' && body !== '' && seg[i + 1] !== ']' && i + 1 < seg.length) {
      body += '-';
      continue;
    }
    body += c === '\\' ? '\\\\' : escapeRe(c);
  }
  return undefined;
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir === '' ? '.' : dir, { encoding: 'latin1' });
  } catch {
    return [];
  }
}

function globOne(pattern: string): string[] {
  const absolute = pattern.startsWith('/');
  const segs = pattern.split('/').filter((s, i) => !(absolute && i === 0));
  let paths = [absolute ? '/' : ''];
  for (let s = 0; s < segs.length; s++) {
    const seg = segs[s]!;
    const next: string[] = [];
    for (const base of paths) {
      const prefix = base === '' || base.endsWith('/') ? base : base + '/';
      if (seg === '') {
        next.push(prefix);
        continue;
      }
      if (!hasMeta(seg)) {
        next.push(prefix + unquote(seg));
        continue;
      }
      const re = segmentRegExp(seg);
      const wantsDot = seg.startsWith('.') || seg.startsWith('\\.');
      const names = listDir(base).filter((n) => (wantsDot || !n.startsWith('.')) && re.test(n));
      for (const n of names) {
        const p = prefix + n;
        if (s + 1 < segs.length && !(statOf(p)?.isDirectory() ?? false)) continue;
        next.push(p);
      }
    }
    paths = next;
  }
  const found = paths.filter((p) => statOf(p) !== undefined);
  return found.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** All existing paths the pattern names, in bsd_glob's order. */
export function bsdGlob(pattern: string): string[] {
  const out: string[] = [];
  for (const p of expandBraces(pattern)) out.push(...globOne(p));
  return out;
}
