# Guest: stgt's tgtd inside the VM served over TCP on eth0's address, then `lldload iser` with rxe0 up (RFC 7143, RFC 7145)
# Sourced by runWithGuestTarget's script (guest-target.ts): step, login, wait_disks, tgtadm, tgtd_alive, PORTAL.
# Environment: IQN, LUN_MIB (size of the LUN), IO_MIB (how much dd writes and reads back).
: "${IQN:?}" "${LUN_MIB:?}" "${IO_MIB:?}"
lun=/tmp/lun1.img

setup_target() {
  truncate -s "${LUN_MIB}M" $lun
  tgtadm --lld iscsi --mode target --op new --tid 1 --targetname "$IQN"
  tgtadm --lld iscsi --mode logicalunit --op new --tid 1 --lun 1 --backing-store $lun
  tgtadm --lld iscsi --mode target --op bind --tid 1 --initiator-address ALL
  tgtadm --lld iscsi --mode target --op show | sed 's/^/TARGET: /'
}

# SendTargets must answer with the guest's eth0 portal (the only one tgtd listens on).
discover_portal() {
  iscsiadm -m discovery -t sendtargets -p "$PORTAL" | sed 's/^/DISCOVERY: /'
}

login_disk() {
  login "$IQN" >&2
  wait_disks "$IQN" 1 >/tmp/dev
  iscsiadm -m session -P1 | grep -E 'Target:|Current Portal:|Iface Transport:|Iface IPaddress:|iSCSI Session State:' |
    sed 's/^[[:space:]]*/SESSION: /'
  local dev size
  dev=$(cat /tmp/dev)
  size=$(blockdev --getsize64 "$dev")
  echo "DISK: $dev $size bytes"
  ((size == LUN_MIB * 1024 * 1024)) || fail "disk is $size bytes, the LUN is $LUN_MIB MiB"
}

# The initiator's read-back through iSCSI and the target's backing file must both match what was written.
write_verify() {
  local dev want got back
  dev=$(cat /tmp/dev)
  dd if=/dev/urandom of=/tmp/pattern bs=1M count="$IO_MIB" status=none
  want=$(sha256sum </tmp/pattern | cut -d' ' -f1)
  dd if=/tmp/pattern of="$dev" bs=1M oflag=direct conv=fsync status=none
  drop_caches "$dev"
  got=$(dd if="$dev" bs=1M count="$IO_MIB" iflag=direct status=none | sha256sum | cut -d' ' -f1)
  back=$(head -c "$((IO_MIB * 1024 * 1024))" $lun | sha256sum | cut -d' ' -f1)
  echo "SHA256 written $want read $got backing $back"
  [[ $got == "$want" ]] || fail "read-back checksum differs"
  [[ $back == "$want" ]] || fail "backing file checksum differs"
  echo "$want" >/tmp/want
}

read_verify() {
  local dev got
  dev=$(cat /tmp/dev)
  got=$(dd if="$dev" bs=1M count="$IO_MIB" iflag=direct status=none | sha256sum | cut -d' ' -f1)
  echo "SHA256 after lldload read $got"
  [[ $got == "$(cat /tmp/want)" ]] || fail "data read after lldload differs"
}

logout_disk() {
  logout "$IQN" >&2
  [[ -z "$(disks_of "$IQN")" ]] || fail "disk still attached after logout"
}

# The result is recorded, not judged: the iser LLD is ready only when the addon finds a device.
lldload_iser() {
  local out rc=0
  out=$(tgtadm --mode system --op lldload --lld iser 2>&1) || rc=$?
  echo "LLDLOAD-ISER exit $rc"
  printf '%s\n' "$out" | sed 's/^/LLDLOAD-ISER: /'
  tgtadm --mode system --op show | sed 's/^/SYSTEM: /'
  grep -i iser /tmp/tgtd.log | sed 's/^/TGTD-LOG: /' || true
  tgtd_alive
}

# deb-systemd-flow.sh sources this file for its functions only.
[[ -n ${GUEST_FLOW_FUNCTIONS_ONLY:-} ]] && return 0

step target-setup setup_target
step discovery discover_portal
step login login_disk
step write-verify write_verify
step logout logout_disk
step lldload-iser lldload_iser
step relogin login_disk
step read-verify read_verify
step write-verify-2 write_verify
step logout-2 logout_disk
step tgtd-alive tgtd_alive
echo "ALL DONE"
