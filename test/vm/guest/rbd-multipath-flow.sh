# Guest side of rbd-multipath.test.ts: dm-multipath over two stgt gateways of one RBD image, a verified writer while gateway A is SIGKILLed and restarted, a reservation through the map.
# Environment: PORTAL (gateway A, ALUA group 1), PORTAL2 (gateway B, group 2), IQN, KEY, HOST_DIR
# (host_do: kill-a, restart-a, outsider), CHUNKS (writes of 256 KiB), KILL_AT, RESTART_AT.
source /mnt/repo/test/vm/guest/iscsi-lib.sh
: "${PORTAL2:?}" "${IQN:?}" "${KEY:?}" "${HOST_DIR:?}" "${CHUNKS:?}" "${KILL_AT:?}" "${RESTART_AT:?}"

SRC=/run/mp-src
STATE=/run/mp-state

portal_login() {
  iscsiadm -m node -o new -T "$IQN" -p "$1" >/dev/null
  # A dead gateway's path fails after 5 s, so dm-multipath moves its I/O to the other one; the
  # session keeps trying to come back (and does, once the gateway is restarted).
  iscsiadm -m node -T "$IQN" -p "$1" -o update -n node.session.timeo.replacement_timeout -v 5
  iscsiadm -m node -T "$IQN" -p "$1" --login
}

# Without systemd: udevd (multipath reads the disks' properties from udev), iscsid, the dm and ALUA modules.
start_all() {
  modprobe dm_multipath
  modprobe scsi_dh_alua
  /lib/systemd/systemd-udevd --daemon
  udevadm trigger --action=add --subsystem-match=block
  udevadm settle -t 30
  start_iscsid
}

login_both() {
  portal_login "$PORTAL"
  portal_login "$PORTAL2"
  D1=$(disk_at "$PORTAL")
  D2=$(disk_at "$PORTAL2")
  udevadm settle -t 30
  echo "D1=$D1 D2=$D2" >"$STATE"
  cat "$STATE" >&2
}

# multipath_map: multipathd with the ALUA prioritizer groups the paths by priority: A's path
# (active/optimized, prio 50) in the active group, B's (active/non-optimized, prio 10) in the other.
multipath_map() {
  source "$STATE"
  cat >/etc/multipath.conf <<'EOF'
defaults {
    user_friendly_names yes
    find_multipaths off
    polling_interval 2
}
blacklist {
    devnode "^vd[a-z]"
}
devices {
    device {
        vendor "IET"
        product "VIRTUAL-DISK"
        path_grouping_policy group_by_prio
        prio alua
        path_checker tur
        failback immediate
        no_path_retry queue
    }
}
EOF
  multipathd
  local map="" out=""
  for _ in $(seq 60); do
    map=$(dmsetup ls --target multipath 2>/dev/null | awk '$1 != "No" { print $1; exit }')
    if [[ -n $map ]]; then
      out=$(multipath -ll "$map" 2>/dev/null || true)
      [[ $(grep -c "active ready running" <<<"$out") == 2 ]] && break
    fi
    sleep 1
  done
  if [[ -z $map ]]; then
    pgrep -a multipathd >&2 || echo "multipathd is not running" >&2
    multipathd show paths >&2 || true
    udevadm info --query=property "$D1" >&2 || true
    multipath -v3 2>&1 | tail -80 >&2 || true
    fail "no multipath map"
  fi
  out=$(multipath -ll "$map")
  echo "$out" >&2
  [[ $(grep -c "active ready running" <<<"$out") == 2 ]] || fail "the map does not have both paths ready"
  # The active group (listed first, status=active) holds A's path, with ALUA prio 50.
  awk '/status=active/ { g = 1; next } /status=/ { g = 0 } g' <<<"$out" | grep -q " ${D1#/dev/} " || fail "A's path ${D1#/dev/} is not in the active group"
  grep -q "prio=50 status=active" <<<"$out" || fail "the active group is not ALUA active/optimized (prio 50)"
  grep -q "prio=10 status=enabled" <<<"$out" || fail "B's group is not ALUA active/non-optimized (prio 10)"
  echo "MAP=/dev/mapper/$map" >>"$STATE"
}

# Registered on both paths (both I_T nexuses), reserved through the map: WRITE EXCLUSIVE - REGISTRANTS ONLY.
register_reserve() {
  source "$STATE"
  sg_persist --out --register --param-sark="$KEY" "$D1" >&2
  sg_persist --out --register --param-sark="$KEY" "$D2" >&2
  sg_persist --out --reserve --param-rk="$KEY" --prout-type=5 "$MAP" >&2
  check_reservation
}

check_reservation() {
  local r
  r=$(sg_persist --in --read-reservation "$MAP")
  echo "$r" >&2
  grep -qi "Key=${KEY}" <<<"$r" || fail "the map's reservation is not held with key $KEY"
  grep -qi "Write Exclusive, registrants only" <<<"$r" || fail "the reservation is not WRITE EXCLUSIVE - REGISTRANTS ONLY"
}

writes_of() {
  awk '{ print $5 }' "/sys/block/${1#/dev/}/stat"
}

# CHUNKS writes of 256 KiB of known data through the map (O_DIRECT, each acknowledged by dd's exit
# status); the host kills gateway A before write KILL_AT and restarts it before RESTART_AT.
write_through_failover() {
  source "$STATE"
  head -c $((CHUNKS * 256 * 1024)) /dev/urandom >"$SRC"
  local i acked=0 b_before b_after a_before a_after
  for ((i = 0; i < CHUNKS; i++)); do
    if ((i == KILL_AT)); then
      b_before=$(writes_of "$D2")
      host_do kill-a
    fi
    if ((i == RESTART_AT)); then
      b_after=$(writes_of "$D2")
      multipath -ll "$MAP" >&2 || true
      host_do restart-a
      # A's session recovers and multipathd reinstates its path (and fails back to it).
      for _ in $(seq 300); do
        [[ $(multipath -ll "$MAP" 2>/dev/null | grep -c "active ready running") == 2 ]] && break
        sleep 0.2
      done
      multipath -ll "$MAP" >&2
      [[ $(multipath -ll "$MAP" | grep -c "active ready running") == 2 ]] || fail "A's path did not come back"
      a_before=$(writes_of "$D1")
    fi
    dd if="$SRC" of="$MAP" bs=256K skip="$i" seek="$i" count=1 oflag=direct conv=notrunc status=none && acked=$((acked + 1))
  done
  a_after=$(writes_of "$D1")
  echo "FAILOVER acked=$acked path_b_writes_while_a_down=$((b_after - b_before)) path_a_writes_after_restart=$((a_after - a_before))"
  ((acked == CHUNKS)) || fail "only $acked of $CHUNKS writes were acknowledged"
  ((b_after - b_before > 0)) || fail "no write went through B while A was down"
  ((a_after - a_before > 0)) || fail "no write went through A after it came back (no failback)"
}

# Every acknowledged chunk reads back, through the map and through each path (each gateway) alone.
verify() {
  source "$STATE"
  local dev lost=0 verified=0 bad
  for dev in "$MAP" "$D1" "$D2"; do
    drop_caches "$dev"
    dd if="$dev" of=/run/mp-back bs=1M count=$((CHUNKS / 4)) iflag=direct status=none
    # The 256 KiB chunks that differ (cmp -l lists differing bytes, 1-based).
    bad=$(cmp -l "$SRC" /run/mp-back 2>/dev/null | awk '{ print int(($1 - 1) / 262144) }' | sort -un | wc -l)
    lost=$((lost + bad))
    verified=$((verified + CHUNKS - bad))
    ((bad == 0)) || echo "$bad chunks differ through $dev" >&2
  done
  rm -f /run/mp-back
  echo "VERIFY verified=$verified lost=$lost reads=$((3 * CHUNKS))"
  ((lost == 0)) || fail "$lost chunks lost"
}

# The reservation held through the failover: READ RESERVATION through the map, and the host's
# outsider (another initiator) is refused a write by both gateways.
reservation_held() {
  source "$STATE"
  check_reservation
  host_do outsider
}

# Releasing a registrants-only reservation gives the other registrants (B's path) RESERVATIONS
# RELEASED, raised by B for A's change: its first command meets it.
release() {
  source "$STATE"
  sg_persist --out --release --param-rk="$KEY" --prout-type=5 "$MAP" >&2
  sg_persist --out --register --param-rk="$KEY" --param-sark=0 "$D1" >&2
  local out
  out=$(sg_persist --out --register --param-rk="$KEY" --param-sark=0 "$D2" 2>&1) && fail "B's path did not report RESERVATIONS RELEASED"
  echo "$out" >&2
  grep -q "Reservations released" <<<"$out" || fail "B's path failed otherwise: $out"
  sg_persist --out --register --param-rk="$KEY" --param-sark=0 "$D2" >&2
  sg_persist --in --read-keys "$MAP" | tee /dev/stderr | grep -q "there are NO registered reservation keys" || fail "keys left registered"
}

teardown() {
  multipath -F
  multipathd shutdown || kill "$(pidof multipathd)"
  iscsiadm -m node -T "$IQN" --logout
}

step start start_all
step login-both login_both
step multipath multipath_map
step register-reserve register_reserve
step write-failover write_through_failover
step verify verify
step reservation-held reservation_held
step release release
step teardown teardown
echo "ALL DONE"
