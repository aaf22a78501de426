// Reading `tgtadm --op show` text the way tgt's tgt-admin does (tgt-compat.md §1.5 "Output it parses", A4).
//
// The regexes follow the script's: a target's text runs from its `Target N: IQN` line to the
// next one; its driver, backing-store paths, accounts (` (outgoing)` marks outgoing ones), ACLs
// and I_T nexus/connection numbers are pulled from that text. "In use" means a Connection: line.

/** The state tgt-admin builds from `--op show --mode target`. */
export class ShowState {
  /** Target name -> its lines of show text (the `Target` line first). */
  readonly text = new Map<string, string>();
  /** Target name -> tid (as text, as Perl keeps it). */
  readonly tid = new Map<string, string | undefined>();
  /** tid -> target name. */
  readonly name = new Map<string, string>();
  /** The largest tid seen by the last read (Perl's $next_tid seed); undefined when none. */
  largest: number | undefined;

  /** Adds one `show --mode target` output; like the script, earlier entries are kept. */
  read(output: string): void {
    let current = '';
    for (const line of splitKeep(output)) {
      const m = /^Target (\d*): (.+)/.exec(line);
      if (m) {
        current = m[2]!;
        this.text.set(current, line);
        this.tid.set(current, m[1]!);
        this.name.set(m[1]!, current);
      } else {
        this.text.set(current, (this.text.get(current) ?? '') + line);
      }
    }
    let max: number | undefined;
    for (const t of this.tid.values()) {
      const n = Number(t ?? 0) || 0;
      if (max === undefined || n >= max) max = n;
    }
    this.largest = max;
  }

  /** Targets by ascending tid (Perl walks a hash here; a stable order is kinder to scripts). */
  targets(): string[] {
    return [...this.tid.keys()].sort((a, b) => Number(this.tid.get(a) ?? 0) - Number(this.tid.get(b) ?? 0) || cmp(a, b));
  }

  configured(target: string | undefined): boolean {
    return (this.tid.get(target ?? '') ?? '') !== '';
  }

  inUse(target: string | undefined): boolean {
    return /\s+Connection:/.test(this.text.get(target ?? '') ?? '');
  }

  driver(target: string): string | undefined {
    return /\s+Driver: (.+)/.exec(this.text.get(target) ?? '')?.[1];
  }

  targetName(target: string): string | undefined {
    return /^Target (\d*): (.+)/.exec(this.text.get(target) ?? '')?.[2];
  }

  backingStores(target: string): string[] {
    const t = this.text.get(target) ?? '';
    return [...t.matchAll(/\s+Backing store path: (?!None\n)(.+)/g)].map((m) => m[1]!);
  }

  accounts(target: string): (string | undefined)[] {
    const m = /\s+Account information:\n([^]*)\n\s+ACL information:/.exec(this.text.get(target) ?? '');
    return m ? splitFields(m[1]!).map(afterIndent) : [];
  }

  acls(target: string): (string | undefined)[] {
    const m = /\s+ACL information:\n([^]*)/.exec(this.text.get(target) ?? '');
    return m ? splitFields(m[1]!).map(afterIndent) : [];
  }

  /** I_T nexus number -> its (last) connection number. */
  sessions(target: string): Map<string, string> {
    const out = new Map<string, string>();
    const m = /\s+I_T nexus information:\n([^]*)LUN information:/.exec(this.text.get(target) ?? '');
    if (!m) return out;
    let sid = '';
    for (const line of m[1]!.split('\n')) {
      const s = /\s+I_T nexus: (.+)/.exec(line);
      if (s) {
        sid = s[1]!;
        continue;
      }
      const c = /\s+Connection: (.+)/.exec(line);
      if (c) out.set(sid, c[1]!);
    }
    return out;
  }
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Perl backtick lines: split after each "\n", the newline kept. */
export function splitKeep(text: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', start)) {
    out.push(text.slice(start, i + 1));
    start = i + 1;
  }
  if (start < text.length) out.push(text.slice(start));
  return out;
}

/** Perl split(/\n/, s): trailing empty fields dropped. */
export function splitFields(s: string): string[] {
  const f = s.split('\n');
  while (f.length > 0 && f[f.length - 1] === '') f.pop();
  return f;
}

/** Perl `(split /^\s+/, $line)[1]`: the text after the indentation, undefined when none. */
function afterIndent(line: string): string | undefined {
  const m = /^\s+/.exec(line);
  return m ? line.slice(m[0].length) : undefined;
}
