// GNU getopt_long semantics (glibc 2.36 posix/getopt.c behaviour, as tgtadm sees it; tgt-compat.md §1.3).
//
// What scripts rely on: argument permutation (options may follow operands), unambiguous prefixes
// of long options (`--mo sys`), `--name=value`, `-xVALUE`, clustered short flags, `--` as the end
// of options, and glibc's exact diagnostics, which tgtadm leaves on stderr before its own usage line.

export interface LongOption {
  name: string;
  hasArg: boolean;
  /** The short option character this long option reports as. */
  val: string;
}

export type GetoptEvent =
  | { kind: 'opt'; ch: string; arg: string | null }
  /** glibc printed `message` (already prefixed with argv[0]) and returned '?'. */
  | { kind: 'error'; message: string };

/** Short-option table from a getopt optstring ("dhL:o:..."): char -> takes an argument. */
function parseShort(optstring: string): Map<string, boolean> {
  const m = new Map<string, boolean>();
  for (let i = 0; i < optstring.length; i++) {
    const c = optstring[i]!;
    const takesArg = optstring[i + 1] === ':';
    m.set(c, takesArg);
    if (takesArg) i++;
  }
  return m;
}

/**
 * An iterator over argv (argv[0] is the program name used in messages, like C's argv[0]).
 * Call next() until it returns null; then `operands` holds the non-option arguments in the order
 * GNU getopt leaves them after permutation (tgtadm reports the first one as unrecognized).
 */
export class GetoptLong {
  readonly operands: string[] = [];
  private readonly short: Map<string, boolean>;
  private idx = 1;
  /** Remaining characters of a short-option cluster being scanned ("" when none). */
  private cluster = '';
  private done = false;
  private readonly posixlyCorrect: boolean;

  constructor(
    private readonly argv: readonly string[],
    optstring: string,
    private readonly longOpts: readonly LongOption[],
    env: Readonly<Record<string, string | undefined>> = {},
  ) {
    this.short = parseShort(optstring);
    // POSIXLY_CORRECT stops scanning at the first operand instead of permuting.
    this.posixlyCorrect = env['POSIXLY_CORRECT'] !== undefined;
  }

  private get prog(): string {
    return this.argv[0] ?? '';
  }

  next(): GetoptEvent | null {
    if (this.cluster.length > 0) return this.nextShort();
    for (;;) {
      if (this.done || this.idx >= this.argv.length) return this.finish();
      const a = this.argv[this.idx]!;
      if (a === '--') {
        this.idx++;
        return this.finish();
      }
      if (a.length < 2 || a[0] !== '-') {
        // An operand: GNU permutes it to the end and keeps scanning.
        if (this.posixlyCorrect) return this.finish();
        this.operands.push(a);
        this.idx++;
        continue;
      }
      this.idx++;
      if (a.startsWith('--')) return this.nextLong(a.slice(2));
      this.cluster = a.slice(1);
      return this.nextShort();
    }
  }

  private finish(): null {
    if (!this.done) {
      this.done = true;
      while (this.idx < this.argv.length) this.operands.push(this.argv[this.idx++]!);
    }
    return null;
  }

  private nextShort(): GetoptEvent {
    const c = this.cluster[0]!;
    this.cluster = this.cluster.slice(1);
    const takesArg = this.short.get(c);
    if (takesArg === undefined || c === ':') {
      return { kind: 'error', message: `${this.prog}: invalid option -- '${c}'\n` };
    }
    if (!takesArg) return { kind: 'opt', ch: c, arg: null };
    if (this.cluster.length > 0) {
      const arg = this.cluster;
      this.cluster = '';
      return { kind: 'opt', ch: c, arg };
    }
    if (this.idx >= this.argv.length) {
      return { kind: 'error', message: `${this.prog}: option requires an argument -- '${c}'\n` };
    }
    return { kind: 'opt', ch: c, arg: this.argv[this.idx++]! };
  }

  private nextLong(body: string): GetoptEvent {
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    const inlineArg = eq < 0 ? null : body.slice(eq + 1);
    let found = this.longOpts.find((o) => o.name === name);
    if (found === undefined) {
      const matches = this.longOpts.filter((o) => o.name.startsWith(name));
      const first = matches[0];
      // glibc calls a prefix ambiguous only when the candidates differ in what they do.
      const ambiguous = matches.some((o) => first !== undefined && (o.hasArg !== first.hasArg || o.val !== first.val));
      if (ambiguous) {
        const list = matches.map((o) => ` '--${o.name}'`).join('');
        return { kind: 'error', message: `${this.prog}: option '--${name}' is ambiguous; possibilities:${list}\n` };
      }
      found = first;
    }
    if (found === undefined) {
      return { kind: 'error', message: `${this.prog}: unrecognized option '--${body}'\n` };
    }
    if (!found.hasArg) {
      if (inlineArg !== null) {
        return { kind: 'error', message: `${this.prog}: option '--${found.name}' doesn't allow an argument\n` };
      }
      return { kind: 'opt', ch: found.val, arg: null };
    }
    if (inlineArg !== null) return { kind: 'opt', ch: found.val, arg: inlineArg };
    if (this.idx >= this.argv.length) {
      return { kind: 'error', message: `${this.prog}: option '--${found.name}' requires an argument\n` };
    }
    return { kind: 'opt', ch: found.val, arg: this.argv[this.idx++]! };
  }
}
