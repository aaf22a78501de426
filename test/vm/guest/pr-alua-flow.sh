# Guest side of scsi-pr-alua.test.ts: PR with APTPL across a tgtd restart, ALUA port groups per portal (sg3_utils).
# Environment: PORTAL (group 1's portal), PORTAL2 (group 2's), IQN, KEY, HOST_DIR (the share the host
# watches: host_do writes req-NAME there and waits for done-NAME or failed-NAME).
source /mnt/repo/test/vm/guest/iscsi-lib.sh
: "${PORTAL2:?}" "${IQN:?}" "${KEY:?}" "${HOST_DIR:?}"

portal_login() {
  iscsiadm -m node -o new -T "$IQN" -p "$1" >/dev/null
  # a restart must not end the session: recover for up to 120 s (open-iscsi's default)
  iscsiadm -m node -T "$IQN" -p "$1" -o update -n node.session.timeo.replacement_timeout -v 120
  iscsiadm -m node -T "$IQN" -p "$1" --login
}

# paths: D1 and D2, the disks of the sessions through PORTAL and PORTAL2 (each step is a subshell).
paths() {
  D1=$(disk_at "$PORTAL")
  D2=$(disk_at "$PORTAL2")
  echo "path 1 $D1, path 2 $D2" >&2
}

login_both() {
  portal_login "$PORTAL"
  portal_login "$PORTAL2"
  paths
}

# Each path reports its own port and group (VPD 83h), and RTPG lists both groups, active/optimized.
ports_and_groups() {
  local v1 v2 r
  paths
  v1=$(sg_vpd -p di_port "$D1")
  v2=$(sg_vpd -p di_port "$D2")
  echo "$v1" "$v2" >&2
  grep -qi "relative target port: 0x1$" <<<"$v1" || fail "path 1 is not relative port 1"
  grep -qi "relative target port: 0x2$" <<<"$v2" || fail "path 2 is not relative port 2"
  grep -qi "target port group: 0x2$" <<<"$v2" || fail "path 2 is not in group 2"
  r=$(retry 5 sg_rtpg -d "$D1")
  echo "$r" >&2
  grep -q "target port group id : 0x1" <<<"$r" || fail "RTPG lacks group 1"
  grep -q "target port group id : 0x2" <<<"$r" || fail "RTPG lacks group 2"
  [[ $(grep -c "(active/optimized)" <<<"$r") == 2 ]] || fail "both groups should be active/optimized"
}

register_reserve() {
  paths
  retry 5 sg_persist --out --register --param-sark="$KEY" --param-aptpl "$D1" >&2
  sg_persist --out --reserve --param-rk="$KEY" --prout-type=1 "$D1" >&2
}

# The key is registered, the reservation is Write Exclusive held with it, APTPL is active.
check_pr() {
  local k r c
  paths
  k=$(retry 10 sg_persist --in -k "$D1")
  r=$(sg_persist --in -r "$D1")
  c=$(sg_persist --in -c "$D1")
  echo "$k" "$r" >&2
  grep -qi "^ *$KEY$" <<<"$k" || fail "key $KEY not registered"
  grep -qi "Key=$KEY" <<<"$r" || fail "no reservation with key $KEY"
  grep -q "type: Write Exclusive" <<<"$r" || fail "not a Write Exclusive reservation"
  grep -q "PTPL_A): 1" <<<"$c" || fail "APTPL not active"
}

# After tgtd came back: each session recovers by itself, or is logged in again.
recovered() {
  local p d
  paths
  for p in "$PORTAL" "$PORTAL2"; do
    d=$([[ $p == "$PORTAL" ]] && echo "$D1" || echo "$D2")
    if ! retry 60 sg_turs "$d"; then
      echo "session through $p did not recover: logging in again" >&2
      iscsiadm -m node -T "$IQN" -p "$p" --logout || true
      iscsiadm -m node -T "$IQN" -p "$p" --login
    fi
  done
  paths
  retry 10 sg_turs "$D1"
}

# The host sets group 2 to standby with tgtadm: RTPG says so, path 2 refuses TEST UNIT READY with
# TARGET PORT IN STANDBY STATE, path 1 still serves.
standby_group2() {
  local r t
  paths
  r=$(retry 5 sg_rtpg -d "$D1")
  echo "$r" >&2
  grep -A1 "target port group id : 0x2" <<<"$r" | grep -q "(standby)" || fail "group 2 is not standby in RTPG"
  grep -A1 "target port group id : 0x1" <<<"$r" | grep -q "(active/optimized)" || fail "group 1 changed"
  # the first answers may be the unit attention of the change (ASYMMETRIC ACCESS STATE CHANGED)
  for _ in 1 2 3; do
    t=$(sg_turs -v "$D2" 2>&1 || true)
    echo "$t" >&2
    grep -qi "target port in standby state" <<<"$t" && break
  done
  grep -qi "target port in standby state" <<<"$t" || fail "path 2 does not report the standby state"
  retry 5 sg_turs "$D1"
}

# Explicit ALUA (the host set alua_explicit=1): the initiator itself moves group 2 out of standby.
# sg_stpg without --tp, on path 2: it finds the path's own group (VPD 83h), reads RTPG, and sends
# SET TARGET PORT GROUPS making it active/optimized and every other group standby. RTPG then says
# so with the status "changed by SET TARGET PORT GROUPS", path 2 serves again, path 1 is in
# standby, and the host checks tgtadm's show. (After the release: SET TARGET PORT GROUPS from a
# nexus that is not the holder of a Write Exclusive reservation is a reservation conflict, SPC-4
# 5.13.1 Table 63.)
stpg_group2() {
  local i r
  paths
  for _ in $(seq 10); do
    i=$(sg_inq "$D1" 2>&1 || true)
    grep -q "TPGS=3" <<<"$i" && break
    sleep 0.5
  done
  grep -q "TPGS=3" <<<"$i" || fail "INQUIRY does not report explicit ALUA (TPGS=3): $i"
  retry 5 sg_stpg -v --optimized "$D2" >&2 || fail "sg_stpg on path 2 failed"
  r=$(retry 5 sg_rtpg -d "$D1")
  echo "$r" >&2
  grep -A1 "target port group id : 0x2" <<<"$r" | grep -q "(active/optimized)" || fail "group 2 is not active/optimized after sg_stpg"
  grep -A1 "target port group id : 0x1" <<<"$r" | grep -q "(standby)" || fail "group 1 is not standby after sg_stpg"
  for g in 0x1 0x2; do
    grep -A3 "target port group id : $g" <<<"$r" | grep -q "changed by SET TARGET PORT GROUPS" || fail "group $g's status does not name SET TARGET PORT GROUPS"
  done
  retry 5 sg_turs "$D2" || fail "path 2 does not serve after sg_stpg"
}

release_all() {
  paths
  sg_persist --out --release --param-rk="$KEY" --prout-type=1 "$D1" >&2
  sg_persist --out --register --param-rk="$KEY" --param-sark=0 "$D1" >&2
  [[ -z $(sg_persist --in -k "$D1" | grep -i "^ *0x") ]] || fail "a key is still registered"
}

step iscsid start_iscsid
step login-both login_both
step ports-and-groups ports_and_groups
step register-reserve-aptpl register_reserve
step restart-tgtd host_do restart
step recovered recovered
step pr-kept check_pr
step set-standby host_do standby2
step rtpg-standby standby_group2
step release release_all
step set-explicit host_do explicit
step stpg stpg_group2
step show-stpg host_do show_stpg
step logout bash -c "iscsiadm -m node -T '$IQN' --logout"
echo "ALL DONE"
