// Target inside the guest for iSER (RFC 7145) tests: rdma_rxe on eth0, stgt's tgtd from the repo, kernel ib_iser
//
// iSER needs RDMA, which the host lacks; the guest kernel has rdma_rxe (Soft-RoCE), which works
// over a real NIC (eth0), not lo. So the target runs in the guest too: the host's node binary
// (9p share /mnt/node) runs <repo>/bin/tgtd (9p share /mnt/repo, read-only, built on the host),
// listening on the guest's 10.0.2.15, and the kernel initiator logs in with `-I iser`.
import { runInGuest, type GuestResult, type RunOptions } from './harness.js';

export const GUEST_ADDR = '10.0.2.15';
export const GUEST_ISCSI_PORT = 3260;

/** Bash that brings up rxe0 on eth0 and checks it (rdma link, ibv_devices). */
export const RXE_SETUP = 'bash /mnt/repo/test/vm/guest/rxe-check.sh\n';

export interface GuestTargetOptions extends RunOptions {
  /** tgtd arguments after `-f`; default `--iscsi portal=10.0.2.15:3260 --lld iscsi,iser`. */
  tgtdArgs?: string;
  /** Bash run after tgtd is up, typically tgtadm setup plus iscsiadm ... -I iser. */
  script: string;
}

/**
 * Runs `opts.script` in a guest where rxe0 is up and stgt's tgtd runs in the background
 * (log in /tmp/tgtd.log, printed to stderr at the end). Helpers in the script: `tgtadm`
 * (the repo's bin/tgtadm under the host's node) and `iser_login IQN` (iface iser, portal
 * 10.0.2.15:3260).
 */
export function runWithGuestTarget(opts: GuestTargetOptions): Promise<GuestResult> {
  const tgtdArgs = opts.tgtdArgs ?? `--iscsi portal=${GUEST_ADDR}:${GUEST_ISCSI_PORT} --lld iscsi,iser`;
  const script = `set -euo pipefail
${RXE_SETUP}
tgtadm() { node /mnt/repo/bin/tgtadm "$@"; }
node /mnt/repo/bin/tgtd -f ${tgtdArgs} >/tmp/tgtd.log 2>&1 &
tgtd_pid=$!
trap 'echo "--- tgtd log" >&2; cat /tmp/tgtd.log >&2; kill $tgtd_pid 2>/dev/null || true' EXIT
for _ in $(seq 150); do tgtadm --mode system --op show >/dev/null 2>&1 && break; sleep 0.2; done
tgtadm --mode system --op show >/dev/null
mkdir -p /run/lock/iscsi; modprobe ib_iser; iscsid
iser_login() {
  iscsiadm -m node -o new -T "$1" -p ${GUEST_ADDR}:${GUEST_ISCSI_PORT} -I iser >/dev/null
  iscsiadm -m node -T "$1" -p ${GUEST_ADDR}:${GUEST_ISCSI_PORT} -I iser --login
}
${opts.script}
`;
  return runInGuest(script, { ...opts, cpus: opts.cpus ?? 2 });
}
