// How tgt-admin runs tgtadm: Perl system() / backticks through /bin/sh, `--pretend` printing, error exit (tgt-compat.md §1.5).
//
// Every command goes through execute(): with --pretend it is only printed; otherwise it is
// printed under -v, skipped when it is a `#` comment, and run; a non-zero exit stops tgt-admin
// with `Command:\n\t<cmd>\nexited with code: N.` and that code, unless errors are ignored.
// stdout is written synchronously because Perl flushes STDOUT before each fork, so our lines and
// tgtadm's interleave the same way.
import { spawnSync } from 'node:child_process';
import { writeSync } from 'node:fs';

/** Thrown to end tgt-admin with an exit code (Perl's exit/die); main() turns it into the status. */
export class TgtAdminExit {
  constructor(readonly code: number) {}
}

export interface RunnerOptions {
  pretend: boolean;
  verbose: boolean;
  /** Environment for the children (defaults to process.env; $PATH finds tgtadm). */
  env?: NodeJS.ProcessEnv;
  /** Output sinks (tests capture them); default: file descriptors 1 and 2. */
  out?: (s: string) => void;
  err?: (s: string) => void;
}

export class Runner {
  ignoreErrors = false;
  readonly out: (s: string) => void;
  readonly err: (s: string) => void;

  constructor(readonly opts: RunnerOptions) {
    this.out = opts.out ?? ((s) => writeSync(1, Buffer.from(s, 'latin1')));
    this.err = opts.err ?? ((s) => writeSync(2, Buffer.from(s, 'latin1')));
  }

  /** Perl's `print`. */
  print(s: string): void {
    this.out(s);
  }

  /** tgt-admin's execute(@args): the words are joined by one space, as "@_" does. */
  execute(...args: string[]): void {
    const line = args.join(' ');
    if (this.opts.pretend) {
      this.out(line + '\n');
      return;
    }
    if (this.opts.verbose) this.out(line + '\n');
    // A comment (text before any '#' is empty) is never run.
    if (line.split('#')[0] === '' || line === '') return;
    const code = this.system(line);
    if (code !== 0 && !this.ignoreErrors) {
      this.out(`Command:\n\t${line}\nexited with code: ${code}.\n`);
      throw new TgtAdminExit(code);
    }
  }

  /** Perl system($cmd) with a shell: returns $? >> 8. */
  system(cmd: string): number {
    const r = spawnSync('/bin/sh', ['-c', cmd], { stdio: ['inherit', this.opts.out ? 'pipe' : 'inherit', this.opts.err ? 'pipe' : 'inherit'], env: this.opts.env ?? process.env });
    if (this.opts.out && r.stdout) this.out(r.stdout.toString('latin1'));
    if (this.opts.err && r.stderr) this.err(r.stderr.toString('latin1'));
    if (r.status !== null) return r.status & 0xff;
    return 0;
  }

  /** Perl backticks: the command's stdout; its stderr passes through. */
  capture(cmd: string): string {
    const r = spawnSync('/bin/sh', ['-c', cmd], { stdio: ['inherit', 'pipe', this.opts.err ? 'pipe' : 'inherit'], env: this.opts.env ?? process.env });
    if (this.opts.err && r.stderr) this.err(r.stderr.toString('latin1'));
    return r.stdout ? r.stdout.toString('latin1') : '';
  }

  /** Silent system() for probes such as `lsof "x" >/dev/null 2>&1`. */
  quiet(cmd: string): number {
    const r = spawnSync('/bin/sh', ['-c', cmd], { stdio: 'ignore', env: this.opts.env ?? process.env });
    return r.status ?? 255;
  }
}
