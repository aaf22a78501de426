# Guest-side helpers for the kernel-initiator tests (open-iscsi, RFC 7143 login/discovery); sourced by the step scripts
# Environment from the host: PORTAL (guest's view of the target, e.g. 10.0.2.100:3260).
set -euo pipefail
: "${PORTAL:?PORTAL not set}"

# step NAME CMD...: runs one step, prints "STEP NAME ok|FAILED <ms>" (the host test parses these).
step() {
  local name=$1 t0 rc=0
  shift
  t0=$(date +%s%N)
  echo "=== $name" >&2
  # A subshell with its own errexit: in `cmd || rc=$?` bash would ignore set -e inside functions.
  set +e
  (
    set -e
    "$@"
  )
  rc=$?
  set -e
  local ms=$((($(date +%s%N) - t0) / 1000000))
  if ((rc != 0)); then
    echo "STEP $name FAILED ${ms}ms (exit $rc)"
    exit "$rc"
  fi
  echo "STEP $name ok ${ms}ms"
}

fail() {
  echo "FAIL: $*" >&2
  return 1
}

start_iscsid() {
  mkdir -p /run/lock/iscsi
  modprobe iscsi_tcp
  # Under systemd (harness init 'systemd') its socket unit owns iscsid's control socket.
  if [[ -d /run/systemd/system ]]; then systemctl start iscsid.service; else iscsid; fi
  # iscsid daemonizes; wait for its control socket before the first iscsiadm.
  for _ in $(seq 50); do
    iscsiadm -m session >/dev/null 2>&1 && return 0
    [[ $? == 21 ]] && return 0 # "No active sessions": iscsid answers
    sleep 0.2
  done
  fail "iscsid did not start"
}

# discover IQN...: SendTargets discovery must list every IQN given.
discover() {
  local out
  out=$(iscsiadm -m discovery -t sendtargets -p "$PORTAL")
  echo "$out" >&2
  local iqn
  for iqn in "$@"; do
    grep -q " $iqn\$" <<<"$out" || fail "discovery did not list $iqn"
  done
}

# The target reports its own portal (127.0.0.1 on the host), which the guest cannot reach:
# make a node record for the forwarded portal instead.
node_new() {
  iscsiadm -m node -o new -T "$1" -p "$PORTAL" >/dev/null
}

# node_set IQN NAME VALUE
node_set() {
  iscsiadm -m node -T "$1" -p "$PORTAL" -o update -n "$2" -v "$3"
}

login() {
  iscsiadm -m node -T "$1" -p "$PORTAL" --login
}

logout() {
  iscsiadm -m node -T "$1" -p "$PORTAL" --logout
}

# disks_of IQN: the sd names the kernel attached for the session to IQN, in LUN order.
disks_of() {
  iscsiadm -m session -P3 2>/dev/null | awk -v t="$1" '
    $1 == "Target:" { cur = $2 }
    /scsi[0-9]+ Channel [0-9]+ Id [0-9]+ Lun:/ { lun = $NF }
    /Attached scsi disk/ { if (cur == t) print lun, $4 }' | sort -n | awk '{ print $2 }'
}

# wait_disks IQN N: waits (30 s) until N disks of IQN exist, prints their /dev paths.
wait_disks() {
  local iqn=$1 n=$2 d found
  for _ in $(seq 150); do
    found=()
    for d in $(disks_of "$iqn"); do
      [[ -b /dev/$d ]] && found+=("/dev/$d")
    done
    if ((${#found[@]} == n)); then
      printf '%s\n' "${found[@]}"
      return 0
    fi
    sleep 0.2
  done
  iscsiadm -m session -P3 >&2 || true
  fail "expected $n disks for $iqn, have ${#found[@]}"
}

# drop_caches DEV: forget everything cached for DEV so later reads come from the target.
drop_caches() {
  sync
  blockdev --flushbufs "$1"
  echo 3 >/proc/sys/vm/drop_caches
}

# sg_of DISK: the sg node of a disk (needs the sg module). Tools that reach a block device through
# /dev/block/MAJ:MIN (sg_xcopy) need udev, which the guest has not, so they are given sg nodes.
sg_of() {
  local d
  for d in /sys/block/"$(basename "$1")"/device/scsi_generic/*; do
    [[ -c /dev/$(basename "$d") ]] && echo "/dev/$(basename "$d")" && return 0
  done
  fail "no sg node for $1"
}

# write_tree DIR COUNT STEP SUMS: four 2 MiB random files and COUNT small ones (i * STEP bytes)
# under DIR, their sha256 list (relative paths) in SUMS, synced.
write_tree() {
  local dir=$1 count=$2 step=$3 sums=$4 i
  for i in 1 2 3 4; do
    dd if=/dev/urandom of="$dir/big$i" bs=1M count=2 status=none
  done
  mkdir -p "$dir/small"
  for i in $(seq 1 "$count"); do
    head -c $((i * step)) /dev/urandom >"$dir/small/f$i"
  done
  (cd "$dir" && find . -type f -print0 | sort -z | xargs -0 sha256sum) >"$sums"
  sync
}

# Shared by the flows whose host serves requests (HOST_DIR) and that use several portals.

# host_do NAME: asks the host test to do NAME (restart tgtd, change an ALUA state; each NAME once)
# and waits (120 s).
host_do() {
  echo "$1" >"$HOST_DIR/req-$1"
  for _ in $(seq 600); do
    [[ -e $HOST_DIR/done-$1 ]] && return 0
    [[ -e $HOST_DIR/failed-$1 ]] && fail "host: $1 failed: $(cat "$HOST_DIR/failed-$1")"
    sleep 0.2
  done
  fail "host did not do $1"
}

# retry N CMD...: a command that may first meet a unit attention or a recovering session.
retry() {
  local n=$1 i
  shift
  for i in $(seq "$n"); do
    "$@" && return 0
    sleep 1
  done
  return 1
}

# disk_at PORTAL: the sd device of the session through PORTAL (30 s).
disk_at() {
  local d
  for _ in $(seq 150); do
    d=$(iscsiadm -m session -P3 2>/dev/null | awk -v p="$1" '
      $1 == "Current" && $2 == "Portal:" { cur = $3 }
      /Attached scsi disk/ { if (index(cur, p ",") == 1) print $4 }' | head -n1)
    [[ -n $d && -b /dev/$d ]] && { echo "/dev/$d"; return 0; }
    sleep 0.2
  done
  iscsiadm -m session -P3 >&2 || true
  fail "no disk through $1"
}
