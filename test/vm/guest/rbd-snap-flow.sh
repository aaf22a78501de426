# Kernel initiator on a read-only RBD snapshot LU: the disk is write-protected, a write sent anyway is refused by the target, the snapshot's file tree reads back intact
# Environment: PORTAL, IQN_SNAP (LUN 1 = rbd/IMAGE@SNAP, holding an ext4 file system whose root has SUMS, a sha256sum list of every other file).
# Runs after fs-flow.sh in the same boot (iscsid already started, discovery done).
source /mnt/repo/test/vm/guest/iscsi-lib.sh
: "${IQN_SNAP:?}"
mnt=/mnt/snap
mkdir -p $mnt

step snap-login eval 'node_new "$IQN_SNAP" && login "$IQN_SNAP"'
dev=$(wait_disks "$IQN_SNAP" 1)
echo "snapshot disk: $dev" >&2

# The WP bit of MODE SENSE's device-specific parameter (SBC-4 6.5.1) makes the kernel mark the disk read-only.
step snap-read-only eval '[[ "$(blockdev --getro "$dev")" == 1 ]] || fail "the kernel did not see the snapshot as write-protected"'
# The kernel will not open the disk for writing; a WRITE(10) of LBA 100 sent through SG_IO on a
# read-only descriptor (sg_raw -R; root may send any command) reaches the target, which must refuse
# it with DATA PROTECT / WRITE PROTECTED.
refused_write() {
  local out
  if dd if=/dev/zero of="$dev" bs=4k count=1 seek=100 oflag=direct conv=notrunc status=none 2>/dev/null; then
    fail "the kernel let a write to the write-protected disk through"
  fi
  out=$(sg_raw -R -s 512 -i /dev/zero "$dev" 2a 00 00 00 00 64 00 00 01 00 2>&1) || true
  echo "$out" >&2
  grep -qi 'data protect' <<<"$out" || fail "the target did not refuse the write with DATA PROTECT"
  grep -qi 'write protected' <<<"$out" || fail "the sense is not WRITE PROTECTED"
}
step snap-write-refused refused_write
step snap-mount mount -o ro,noload "$dev" $mnt
step snap-verify eval '(cd $mnt && sha256sum --quiet -c SUMS)'
step snap-umount umount $mnt
step snap-logout logout "$IQN_SNAP"
echo "ALL DONE"
