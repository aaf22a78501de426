// systemd readiness (Type=notify): sd_notify(3) from libsystemd through koffi, only when NOTIFY_SOCKET is set.
//
// Node's dgram cannot open AF_UNIX datagram sockets (node-and-libraries.md §1.2), so the call
// goes through libsystemd; without koffi or libsystemd it logs and returns.

export async function sdNotify(state: string): Promise<boolean> {
  if (process.env['NOTIFY_SOCKET'] === undefined) return false;
  try {
    const spec = 'koffi';
    const k = (await import(spec)).default as { load(l: string): { func(s: string): (...a: unknown[]) => number } };
    const fn = k.load('libsystemd.so.0').func('int sd_notify(int, const char *)');
    return fn(0, state) > 0;
  } catch (e) {
    process.stderr.write(`tgtd: warn: cannot notify systemd: ${(e as Error).message}\n`);
    return false;
  }
}
