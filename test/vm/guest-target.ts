// Target inside the guest for iSER (RFC 7145) tests: rdma_rxe on eth0, stgt's tgtd from the repo, kernel initiator
//
// iSER needs RDMA, which the host lacks; the guest kernel has rdma_rxe (Soft-RoCE), which works
// over a real NIC (eth0), not lo. So the target runs in the guest too: the host's node binary
// (9p share /mnt/node) runs <repo>/bin/tgtd (9p share /mnt/repo, read-only, built on the host:
// `npx tsc -p tsconfig.json` first, bin/ imports dist/), listening on the guest's 10.0.2.15, and
// the kernel initiator logs in over TCP or with `-I iser`.
import { runInGuest, type GuestResult, type RunOptions } from './harness.js';

export const GUEST_ADDR = '10.0.2.15';
export const GUEST_ISCSI_PORT = 3260;
export const GUEST_PORTAL = `${GUEST_ADDR}:${GUEST_ISCSI_PORT}`;

/** Bash that brings up rxe0 on eth0 and checks it (rdma link, ibv_devices). */
export const RXE_SETUP = 'bash /mnt/repo/test/vm/guest/rxe-check.sh\n';

export interface GuestTargetOptions extends RunOptions {
  /** tgtd arguments after `-f`; default `--iscsi portal=10.0.2.15:3260 --lld iscsi,iser`. */
  tgtdArgs?: string;
  /** Bash run after tgtd is up, typically tgtadm setup plus iscsiadm ... -I iser. */
  script: string;
  /** Bring up rxe0 and load ib_iser (default true); false for a TCP-only target (no RDMA in the flow). */
  rdma?: boolean;
  /** Node flags for tgtd (e.g. `--cpu-prof --cpu-prof-dir=/mnt/ctl/prof`: the control share is writable). */
  nodeFlags?: string;
}

/**
 * Runs `opts.script` in a guest where rxe0 is up, stgt's tgtd runs in the background (log in
 * /tmp/tgtd.log, printed to stderr at the end) and iscsid runs with iscsi_tcp and ib_iser loaded.
 * The script runs under `set -euo pipefail` with test/vm/guest/iscsi-lib.sh sourced (PORTAL is
 * 10.0.2.15:3260; `step`, `login`, `wait_disks`, ...), plus `tgtadm` (the repo's bin/tgtadm under
 * the host's node), `tgtd_alive` (fails when the daemon has exited) and `iser_login IQN`.
 * Setup prints `STEP rxe|tgtd-start|iscsid ok <ms>ms` lines (steps.ts parses them).
 */
export function runWithGuestTarget(opts: GuestTargetOptions): Promise<GuestResult> {
  const rdma = opts.rdma !== false;
  const tgtdArgs = opts.tgtdArgs ?? `--iscsi portal=${GUEST_PORTAL} --lld ${rdma ? 'iscsi,iser' : 'iscsi'}`;
  const script = `set -euo pipefail
export PORTAL=${GUEST_PORTAL}
source /mnt/repo/test/vm/guest/iscsi-lib.sh
${rdma ? `step rxe ${RXE_SETUP}` : ''}
tgtadm() { node /mnt/repo/bin/tgtadm "$@"; }
node ${opts.nodeFlags ?? ''} /mnt/repo/bin/tgtd -f ${tgtdArgs} >/tmp/tgtd.log 2>&1 &
tgtd_pid=$!
tgtd_alive() { kill -0 "$tgtd_pid" 2>/dev/null || fail "tgtd (pid $tgtd_pid) has exited"; }
trap 'echo "--- tgtd log" >&2; cat /tmp/tgtd.log >&2; kill $tgtd_pid 2>/dev/null || true' EXIT
# Node under TCG starts in seconds, not milliseconds: poll the IPC socket for up to 60 s.
wait_tgtd() {
  for _ in $(seq 120); do
    tgtd_alive
    tgtadm --mode system --op show >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  fail "tgtd did not answer tgtadm within 60 s"
}
step tgtd-start wait_tgtd
step iscsid eval '${rdma ? 'start_iscsid && modprobe ib_iser' : 'start_iscsid'}'
iser_login() {
  iscsiadm -m node -o new -T "$1" -p ${GUEST_PORTAL} -I iser >/dev/null
  iscsiadm -m node -T "$1" -p ${GUEST_PORTAL} -I iser --login
}
${opts.script}
`;
  return runInGuest(script, { ...opts, cpus: opts.cpus ?? 2 });
}
