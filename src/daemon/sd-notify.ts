// systemd's service notification protocol, sd_notify(3): READY=1, STATUS=, STOPPING=1 to $NOTIFY_SOCKET.
//
// Node has no AF_UNIX datagram sockets (dgram knows udp4/udp6 only: node-and-libraries.md §2.6),
// so the datagram is sent by libsystemd's sd_notify() called through koffi (a dependency already).
// The call is made from tgtd's own process: systemd accepts notifications from the service's main
// PID only (NotifyAccess=main, the default), and /usr/sbin/tgtd runs node itself, no shell in
// between. Running `systemd-notify --ready` as a child instead would need NotifyAccess=all and is
// racy: systemd may read the datagram after the child has exited, and then cannot tell which unit
// sent it (the start hangs until TimeoutStartSec).
//
// Without NOTIFY_SOCKET (not under systemd, or Type= other than notify) nothing is loaded.

type SdNotifyFn = (unsetEnvironment: number, state: string) => number;
/** How libsystemd is reached; a test passes its own. */
export type SdNotifyLoader = () => Promise<SdNotifyFn>;

async function loadLibsystemd(): Promise<SdNotifyFn> {
  const spec = 'koffi';
  const koffi = (await import(spec)).default as { load(lib: string): { func(sig: string): SdNotifyFn } };
  return koffi.load('libsystemd.so.0').func('int sd_notify(int, const char *)');
}

export class SdNotifier {
  private fn: Promise<SdNotifyFn | null> | undefined;
  private warned = false;

  constructor(
    private readonly env: NodeJS.ProcessEnv = process.env,
    private readonly warn: (msg: string) => void = (m) => process.stderr.write(`tgtd: warn: ${m}\n`),
    private readonly load: SdNotifyLoader = loadLibsystemd,
  ) {}

  /** True when tgtd runs under a service manager that waits for notifications. */
  get enabled(): boolean {
    const s = this.env['NOTIFY_SOCKET'];
    return s !== undefined && s !== '';
  }

  /**
   * Sends newline-separated assignments (`READY=1\nSTATUS=...`). Resolves true when the datagram
   * was sent, false when there is no NOTIFY_SOCKET or it could not be sent (warned once: the
   * daemon goes on serving; under Type=notify systemd then times the start out and says so).
   */
  async notify(state: string): Promise<boolean> {
    if (!this.enabled) return false;
    this.fn ??= this.load().catch((e: unknown) => {
      this.warnOnce(`cannot notify systemd (${String(this.env['NOTIFY_SOCKET'])}): ${(e as Error).message}`);
      return null;
    });
    const fn = await this.fn;
    if (fn === null) return false;
    // sd_notify: > 0 sent, 0 no socket, < 0 -errno. unset_environment 0: later messages need it.
    let r: number;
    try {
      r = fn(0, state);
    } catch (e) {
      this.warnOnce(`cannot notify systemd: ${(e as Error).message}`);
      return false;
    }
    if (r < 0) this.warnOnce(`cannot notify systemd (${String(this.env['NOTIFY_SOCKET'])}): errno ${-r}`);
    return r > 0;
  }

  private warnOnce(msg: string): void {
    if (this.warned) return;
    this.warned = true;
    this.warn(msg);
  }
}
