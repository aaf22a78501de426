# Kernel initiator: EXTENDED COPY with sg_xcopy between two LUNs of one target and onto another target's LUN (SPC-4 6.4)
# Environment: PORTAL, IQN_A (LUNs 1 and 2), IQN_B (LUN 1), COPY_MIB (MiB copied), SEEK_BLOCKS (destination offset on LUN 2).
source /mnt/repo/test/vm/guest/iscsi-lib.sh
: "${IQN_A:?}" "${IQN_B:?}" "${COPY_MIB:?}" "${SEEK_BLOCKS:?}"
blocks=$((COPY_MIB * 2048))

# range_sha DEV SKIP_BLOCKS: sha256 of COPY_MIB MiB of DEV from 512-byte block SKIP_BLOCKS, read from the target.
range_sha() {
  drop_caches "$1"
  dd if="$1" bs=1M skip=$(($2 * 512)) count="$COPY_MIB" iflag=direct,skip_bytes status=none | sha256sum | cut -d' ' -f1
}

# sg_xcopy issues its commands through the sg node of each disk
step modules modprobe sg
step iscsid start_iscsid
step login eval 'node_new "$IQN_A" && login "$IQN_A" && node_new "$IQN_B" && login "$IQN_B"'
mapfile -t a < <(wait_disks "$IQN_A" 2)
b=$(wait_disks "$IQN_B" 1)
echo "disks: ${a[*]} $b" >&2

fill_source() {
  head -c $((COPY_MIB * 1024 * 1024)) /dev/urandom >/root/src.bin
  dd if=/root/src.bin of="${a[0]}" bs=1M oflag=direct status=none
  src_sha=$(sha256sum /root/src.bin | cut -d' ' -f1)
  [[ $(range_sha "${a[0]}" 0) == "$src_sha" ]] || fail "the source LUN does not hold what was written"
  echo "$src_sha" >/root/src.sha
}
step fill-source fill_source

# The copy manager's limits and the Third-party Copy VPD page, as sg3_utils decodes them.
show_tpc() {
  sg_copy_results --params "${a[0]}" >&2
  sg_vpd --page=tpc "${a[0]}" >&2
  sg_inq "${a[0]}" | grep -q '3PC=1' || fail "INQUIRY 3PC is not set"
}
step tpc-params show_tpc


# xcopy TAG ARGS...: sg_xcopy (EXTENDED COPY(LID1) with identification (E4h) descriptors built from
# VPD 83h; it has no fallback to reads and writes), its summary line printed as TAG=...
xcopy() {
  local tag=$1 out
  shift
  out=$(sg_xcopy "$@" 2>&1) || {
    echo "$out" >&2
    fail "sg_xcopy $* failed"
  }
  echo "$out" >&2
  echo "$tag=$(grep 'sg_xcopy: ' <<<"$out")"
}

xcopy_lun() {
  xcopy XCOPY_LUN if="$(sg_of "${a[0]}")" of="$(sg_of "${a[1]}")" bs=512 count="$blocks" seek="$SEEK_BLOCKS"
  [[ $(range_sha "${a[1]}" "$SEEK_BLOCKS") == "$(cat /root/src.sha)" ]] || fail "LUN 2 range differs from the source after sg_xcopy"
}
step xcopy-lun xcopy_lun

xcopy_target() {
  # --on_src: the source LUN's copy manager writes to the other target's LU.
  xcopy XCOPY_TARGET --on_src if="$(sg_of "${a[0]}")" of="$(sg_of "$b")" bs=512 count="$blocks"
  [[ $(range_sha "$b" 0) == "$(cat /root/src.sha)" ]] || fail "the other target's LUN differs from the source after sg_xcopy"
}
step xcopy-target xcopy_target

step logout eval 'logout "$IQN_A" && logout "$IQN_B"'
echo "SRC_SHA=$(cat /root/src.sha)"
echo "ALL DONE"
