# Guest, systemd as PID 1: install stgt's .deb, run tgt.service (Type=notify) from targets.conf, serve open-iscsi, reload, stop
# Run by test/vm/deb-systemd.test.ts (harness init 'systemd'). Environment: DEB (the package's path
# in the guest), IQN1, IQN2, LUN_MIB, IO_MIB. Prints STEP lines (steps.ts) and tagged lines the
# test checks (SHOW-START:, SHOW-RELOAD:, JOURNAL:, ...).
set -euo pipefail
: "${DEB:?}" "${IQN1:?}" "${IQN2:?}" "${LUN_MIB:?}" "${IO_MIB:?}"
export PORTAL=127.0.0.1:3260
source /mnt/repo/test/vm/guest/iscsi-lib.sh
# login_disk, write_verify, read_verify, logout_disk (they use IQN, lun, LUN_MIB, IO_MIB).
IQN=$IQN1
GUEST_FLOW_FUNCTIONS_ONLY=1 source /mnt/repo/test/vm/guest/guest-target-flow.sh
store=/var/lib/stgt-vm
mkdir -p $store
# On a failure: what systemd and tgtd said.
trap 'rc=$?; if ((rc != 0)); then echo "--- systemctl status tgt" >&2; systemctl status tgt --no-pager -l >&2 || true
  echo "--- journal" >&2; journalctl -b --no-pager -o short-monotonic | tail -n 80 >&2 || true; fi' EXIT
# Node under TCG on a loaded host can take minutes to start, more than the unit's 90 s default
# start timeout (on real hardware it is well under a second). The test's own limit is the VM's.
mkdir -p /etc/systemd/system/tgt.service.d
printf '[Service]\nTimeoutStartSec=15min\n' >/etc/systemd/system/tgt.service.d/vm-test.conf

target_conf() { # FILE IQN BACKING
  truncate -s "${LUN_MIB}M" "$3"
  printf '<target %s>\n    backing-store %s\n</target>\n' "$2" "$3" >"$1"
}

# Node is not a Debian package here: the guest runs the host's node from the 9p share. The
# package's entry points are #!/usr/bin/node (what Debian's and NodeSource's nodejs install),
# so link it there; dpkg is told to ignore the then unmet "Depends: nodejs (>= 20)".
# --force-unsafe-io: no fsync per unpacked file (slow under TCG; the VM's disk is a throwaway).
# The postinst enables tgt.service and starts it with `systemctl start` (deb-systemd-invoke):
# for a Type=notify unit that returns once READY=1 came and ExecStartPost (tgt-admin -e) ran,
# so nothing here waits or polls: the target of conf.d must be there at once.
install_start() {
  ln -sf /mnt/node/node /usr/bin/node
  mkdir -p /etc/tgt/conf.d
  target_conf /etc/tgt/conf.d/disk1.conf "$IQN1" $store/disk1.img
  local t0=$(date +%s%N)
  dpkg -i --force-depends --force-unsafe-io "$DEB"
  echo "INSTALL-MS: $((($(date +%s%N) - t0) / 1000000))"
  dpkg-query -W -f 'DPKG: ${Package} ${Version} ${Status}\n' stgt
  echo "ENABLED: $(systemctl is-enabled tgt)"
  systemctl show tgt -p Type -p ActiveState -p SubState -p StatusText -p NotifyAccess | sed 's/^/UNIT: /'
  local pid
  pid=$(systemctl show tgt -p MainPID --value)
  echo "MAINPID-CMD: $(tr '\0' ' ' </proc/"$pid"/cmdline)"
  tgtadm --lld iscsi --mode target --op show | sed 's/^/SHOW-START: /'
}

# A second target in its own conf.d file; `systemctl reload` (tgt-admin --update ALL) adds it
# while the session to the first stays up.
reload_unit() {
  target_conf /etc/tgt/conf.d/disk2.conf "$IQN2" $store/disk2.img
  systemctl reload tgt
  echo "ACTIVE-AFTER-RELOAD: $(systemctl is-active tgt)"
  tgtadm --lld iscsi --mode target --op show | sed 's/^/SHOW-RELOAD: /'
  iscsiadm -m session | sed 's/^/SESSIONS: /'
}

journal() {
  journalctl -u tgt --no-pager -o cat | sed 's/^/JOURNAL: /'
}

stop_unit() {
  local pid
  pid=$(systemctl show tgt -p MainPID --value)
  systemctl stop tgt
  systemctl show tgt -p ActiveState -p Result -p ExecMainCode -p ExecMainStatus -p MainPID | sed 's/^/STOPPED: /'
  if kill -0 "$pid" 2>/dev/null; then fail "tgtd (pid $pid) still runs after stop"; fi
  echo "LEFTOVER: $(pgrep -f '/usr/sbin/tgt|/usr/lib/stgt' | wc -l)"
  journalctl -u tgt --no-pager -o cat | tail -n 8 | sed 's/^/JOURNAL-STOP: /'
}

remove_deb() {
  dpkg -r stgt
  dpkg-query -W -f 'DPKG-REMOVED: ${Status}\n' stgt
  [[ ! -e /usr/sbin/tgtd ]] || fail "/usr/sbin/tgtd left after dpkg -r"
  [[ -f /etc/tgt/targets.conf ]] || fail "the conffile /etc/tgt/targets.conf went with dpkg -r"
}

step install-start install_start
step iscsid start_iscsid
step discovery discover "$IQN1"
lun=$store/disk1.img
step login login_disk
step write-verify write_verify
step reload reload_unit
step read-verify read_verify
lun=$store/disk2.img
IQN=$IQN2
step discovery-2 discover "$IQN1" "$IQN2"
step login-2 login_disk
step write-verify-2 write_verify
step logout-2 logout_disk
IQN=$IQN1
step logout logout_disk
step journal journal
step stop stop_unit
step remove remove_deb
echo "ALL DONE"
