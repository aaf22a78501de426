# Guest: stgt's tgtd in the VM passes a virtio-scsi disk through (--device-type pt, --bstype sg and bsg) and open-iscsi uses it (issue 13 item 4)
# Sourced by runWithGuestTarget's script (guest-target.ts): step, login, wait_disks, tgtadm, tgtd_alive, PORTAL.
# Environment: IQN; PATTERN_SHA (sha256 of the first PATTERN_MIB MiB the host wrote on the scratch disk), PATTERN_MIB, IO_MIB.
: "${IQN:?}" "${PATTERN_SHA:?}" "${PATTERN_MIB:?}" "${IO_MIB:?}"

# The scratch disk (QEMU HARDDISK on virtio-scsi): its sg node, its bsg node, its own sd.
find_scratch() {
  local g dev
  for g in /sys/class/scsi_generic/sg*; do
    [[ $(cat "$g/device/model") == "QEMU HARDDISK"* ]] || continue
    dev=$(basename "$(readlink -f "$g/device")") # H:C:T:L
    echo "/dev/$(basename "$g") /dev/bsg/$dev /dev/$(ls "$g/device/block")" >/tmp/scratch
    echo "SCRATCH: $(cat /tmp/scratch)"
    return 0
  done
  ls -l /sys/class/scsi_generic/ >&2 || true
  fail "no QEMU HARDDISK among the sg devices"
}

setup_target() {
  local sg bsg
  read -r sg bsg _ </tmp/scratch
  tgtadm --lld iscsi --mode target --op new --tid 1 --targetname "$IQN"
  # each tgtadm is a node start (seconds under TCG): the two LUs are made at once
  tgtadm --lld iscsi --mode logicalunit --op new --tid 1 --lun 1 --device-type pt --bstype sg --backing-store "$sg" &
  local lu1=$!
  if [[ -c $bsg ]]; then
    tgtadm --lld iscsi --mode logicalunit --op new --tid 1 --lun 2 --device-type pt --bstype bsg --backing-store "$bsg"
    echo 2 >/tmp/luns
  else
    echo "NO-BSG: $bsg"
    echo 1 >/tmp/luns
  fi
  wait $lu1
  tgtadm --lld iscsi --mode target --op bind --tid 1 --initiator-address ALL
  tgtadm --lld iscsi --mode target --op show | sed 's/^/TARGET: /'
}

login_disks() {
  discover "$IQN"
  login "$IQN" >&2
  wait_disks "$IQN" "$(cat /tmp/luns)" >/tmp/sd
  # sg_dd moves data with SCSI commands only on sg nodes (on a block device it uses read/write)
  local d
  for d in $(cat /tmp/sd); do
    echo "/dev/$(ls "/sys/block/$(basename "$d")/device/scsi_generic")"
  done >/tmp/disks
  echo "DISKS: $(tr '\n' ' ' </tmp/sd) as $(tr '\n' ' ' </tmp/disks)"
}

# INQUIRY (standard, VPD 83h, VPD 80h) through each iSCSI disk equals the scratch disk's own, byte for byte.
inquiry() {
  local scratch d p
  read -r _ _ scratch </tmp/scratch
  sg_inq "$scratch" | sed 's/^/SG_INQ: /'
  for p in std 0x83 0x80; do
    local args=(-r)
    [[ $p == std ]] || args+=(-p "$p")
    sg_inq "${args[@]}" "$scratch" >/tmp/inq.scratch
    for d in $(cat /tmp/disks); do
      sg_inq "${args[@]}" "$d" >/tmp/inq.iscsi
      cmp /tmp/inq.scratch /tmp/inq.iscsi || fail "INQUIRY $p of $d differs from the scratch disk's"
      echo "INQ-SAME $p $d $(sha256sum </tmp/inq.iscsi | cut -c1-16)"
    done
  done
}

# What the host wrote on the scratch disk reads back through the first iSCSI disk.
read_pattern() {
  local d got
  d=$(head -1 /tmp/disks)
  got=$(sg_dd if="$d" of=- bs=512 bpt=128 count=$((PATTERN_MIB * 2048)) 2>/dev/null | sha256sum | cut -d' ' -f1)
  echo "PATTERN host $PATTERN_SHA iscsi $got"
  [[ $got == "$PATTERN_SHA" ]] || fail "the host's pattern did not read back through $d"
}

# sg_dd writes through the sg LU's disk (after the pattern area); read back through every iSCSI disk
# and from the scratch disk's own sg node: all must match (the host test checks the image file too).
write_verify() {
  local sg d want got skip
  read -r sg _ _ </tmp/scratch
  skip=$((PATTERN_MIB * 2048))
  d=$(head -1 /tmp/disks)
  dd if=/dev/urandom of=/tmp/io bs=1M count="$IO_MIB" status=none
  want=$(sha256sum </tmp/io | cut -d' ' -f1)
  sg_dd if=/tmp/io of="$d" bs=512 bpt=128 seek=$skip count=$((IO_MIB * 2048)) 2>&1 | sed 's/^/SG_DD: /'
  for d in $(cat /tmp/disks) "$sg"; do
    got=$(sg_dd if="$d" of=- bs=512 bpt=128 skip=$skip count=$((IO_MIB * 2048)) 2>/dev/null | sha256sum | cut -d' ' -f1)
    echo "IO written $want read $got via $d"
    [[ $got == "$want" ]] || fail "data written through iSCSI read back wrong via $d"
  done
  # and a write through the last LU (bsg's when there is one), after the first, read from the disk's own node
  d=$(tail -1 /tmp/disks)
  skip=$((skip + IO_MIB * 2048))
  dd if=/dev/urandom of=/tmp/io2 bs=1M count="$IO_MIB" status=none
  want=$(sha256sum </tmp/io2 | cut -d' ' -f1)
  sg_dd if=/tmp/io2 of="$d" bs=512 bpt=128 seek=$skip count=$((IO_MIB * 2048)) 2>&1 | sed 's/^/SG_DD: /'
  got=$(sg_dd if="$sg" of=- bs=512 bpt=128 skip=$skip count=$((IO_MIB * 2048)) 2>/dev/null | sha256sum | cut -d' ' -f1)
  echo "IO2 written $want read $got via $d then $sg"
  [[ $got == "$want" ]] || fail "data written through $d read back wrong from $sg"
}

# An opcode the device lacks: the iSCSI disk answers with the device's own sense (sg_raw prints it).
bad_cdb() {
  local scratch d
  read -r _ _ scratch </tmp/scratch
  sg_raw -v "$scratch" c9 00 00 00 00 00 >/tmp/raw.scratch 2>&1 || true
  sed 's/^/RAW scratch: /' /tmp/raw.scratch
  for d in $(cat /tmp/disks); do
    sg_raw -v "$d" c9 00 00 00 00 00 >/tmp/raw.iscsi 2>&1 || true
    sed "s/^/RAW $(basename "$d"): /" /tmp/raw.iscsi
    # the same status and sense lines (the command line echo names the device)
    diff <(grep -iE 'status|sense|key|asc' /tmp/raw.scratch) <(grep -iE 'status|sense|key|asc' /tmp/raw.iscsi) ||
      fail "sense via $d differs from the scratch disk's"
    grep -qi 'Check Condition' /tmp/raw.iscsi || fail "no CHECK CONDITION via $d"
  done
}

step find-scratch find_scratch
step target-setup setup_target
step login login_disks
step inquiry inquiry
step read-pattern read_pattern
step write-verify write_verify
step bad-cdb bad_cdb
step logout eval 'logout "$IQN" >&2'
step tgtd-alive tgtd_alive
echo "ALL DONE"
