// Perl File::Spec::Unix path helpers (canonpath, catfile, splitpath, catpath) as Config::General 2.65 uses them.
//
// Config::General keys its "already loaded" table by these exact strings and builds the names of
// files it includes from a directory with catfile(), so the same normalisation decides whether a
// file counts as seen twice and what the "File X already loaded" warning names.
import { statSync, type Stats } from 'node:fs';

/** File::Spec::Unix->canonpath: collapse "//", drop "/./" and a leading "./", a trailing "/". */
export function canonpath(path: string): string {
  let p = path.replace(/\/{2,}/g, '/');
  p = p.replace(/(?:\/\.)+(?:\/|$)/g, '/');
  if (p !== './') p = p.replace(/^(?:\.\/)+/, '');
  p = p.replace(/^\/(?:\.\.\/)+/, '/');
  p = p.replace(/^\/\.\.$/, '/');
  if (p !== '/') p = p.replace(/\/$/, '');
  return p;
}

/** File::Spec::Unix->catfile(dir, file). */
export function catfile(dir: string, file: string): string {
  const f = canonpath(file);
  let d = canonpath(dir + '/');
  if (!d.endsWith('/')) d += '/';
  return d + f;
}

/** File::Spec::Unix->splitpath: [directory with its trailing "/", file]. */
export function splitpath(path: string): [string, string] {
  const m = /^((?:[^]*\/(?:\.\.?$)?)?)([^/]*)/.exec(path);
  return m ? [m[1] ?? '', m[2] ?? ''] : ['', path];
}

/** File::Spec::Unix->catpath(volume, directory, file) with an empty volume. */
export function catpath(dir: string, file: string): string {
  if (dir !== '' && file !== '' && !dir.endsWith('/') && !file.startsWith('/')) return `${dir}/${file}`;
  return dir + file;
}

/** stat() that follows symlinks and never throws (Perl's -e/-f/-d file tests). */
export function statOf(path: string): Stats | undefined {
  try {
    // Names are latin1 strings holding the file name's bytes (Perl sees bytes, not characters).
    return statSync(Buffer.from(path, 'latin1'), { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

export const isFile = (p: string): boolean => statOf(p)?.isFile() ?? false;
export const isDir = (p: string): boolean => statOf(p)?.isDirectory() ?? false;
export const exists = (p: string): boolean => statOf(p) !== undefined;
