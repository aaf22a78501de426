// tgtd's log: plain lines on stderr (the journal under systemd); debug lines only with -d 1 / debug=on.

export interface Logger {
  debug: boolean;
  write(level: string, msg: string): void;
}

export function stderrLogger(debug: boolean): Logger {
  return {
    debug,
    write(level: string, msg: string): void {
      if (level === 'debug' && !this.debug) return;
      if (process.stderr.destroyed || !process.stderr.writable) return;
      process.stderr.write(`tgtd: ${level}: ${msg}\n`);
    },
  };
}
