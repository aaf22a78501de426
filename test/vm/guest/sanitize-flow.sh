# Kernel initiator: SANITIZE with sg_sanitize (SBC-4 5.30): OVERWRITE with progress, BLOCK ERASE on a thin LU, CRYPTOGRAPHIC ERASE refused
# Environment: PORTAL, IQN (LUN 1 overwrite, LUN 2 thin for block erase, LUN 3 for the refused crypto erase),
# POLL_LIMIT_S (how long a sanitize may stay in progress before the flow gives up).
source /mnt/repo/test/vm/guest/iscsi-lib.sh
: "${IQN:?}" "${POLL_LIMIT_S:?}"
DATA_MIB=4


# dev_sha DEV MIB SKIP_MIB: sha256 of MIB MiB of DEV from SKIP_MIB MiB, read from the target (O_DIRECT).
dev_sha() {
  drop_caches "$1"
  dd if="$1" bs=1M skip="$3" count="$2" iflag=direct status=none | sha256sum | cut -d' ' -f1
}

# fill DEV TAG: random data at the start and at the end of DEV, checked by reading back; the sums
# are kept in /root/TAG.head and /root/TAG.tail.
fill() {
  local dev=$1 tag=$2 mib
  mib=$(($(blockdev --getsize64 "$dev") >> 20))
  head -c $((DATA_MIB << 20)) /dev/urandom >/root/"$tag".head.bin
  head -c $((DATA_MIB << 20)) /dev/urandom >/root/"$tag".tail.bin
  dd if=/root/"$tag".head.bin of="$dev" bs=1M oflag=direct status=none
  dd if=/root/"$tag".tail.bin of="$dev" bs=1M seek=$((mib - DATA_MIB)) oflag=direct status=none
  sha256sum </root/"$tag".head.bin | cut -d' ' -f1 >/root/"$tag".head
  sha256sum </root/"$tag".tail.bin | cut -d' ' -f1 >/root/"$tag".tail
  [[ $(dev_sha "$dev" "$DATA_MIB" 0) == "$(cat /root/"$tag".head)" ]] || fail "$tag: the start does not hold what was written"
  [[ $(dev_sha "$dev" "$DATA_MIB" $((mib - DATA_MIB))) == "$(cat /root/"$tag".tail)" ]] || fail "$tag: the end does not hold what was written"
}

# expect_stream DEV FILE_1M: every MiB of DEV, read with O_DIRECT after dropping caches, equals FILE_1M.
expect_stream() {
  local dev=$1 one=$2 mib
  mib=$(($(blockdev --getsize64 "$dev") >> 20))
  drop_caches "$dev"
  cmp -n $((mib << 20)) <(dd if="$dev" bs=1M iflag=direct status=none) <(for ((i = 0; i < mib; i++)); do cat "$one"; done)
}

# wait_sanitized SG TAG: polls REQUEST SENSE (sg_requests --progress) and TEST UNIT READY (sg_turs)
# until TUR is good, at most POLL_LIMIT_S seconds. Prints TAG_PROGRESS=<each percentage seen, in
# order>, TAG_TUR_BUSY=<TURs that failed with SANITIZE IN PROGRESS>, TAG_TUR_PROGRESS=<the percentages
# in their sense data> and TAG_MS (from the caller's t0).
wait_sanitized() {
  local sg=$1 tag=$2 out rc busy=0 polls=0 pcts=() tpcts=() limit=$((SECONDS + POLL_LIMIT_S))
  for (( ; ; )); do
    polls=$((polls + 1))
    out=$(sg_requests --progress "$sg" 2>&1) || fail "$tag: sg_requests failed: $out"
    [[ $out =~ Progress\ indication:\ ([0-9]+\.[0-9]+)%\ done ]] && pcts+=("${BASH_REMATCH[1]}")
    rc=0
    out=$(sg_turs -v "$sg" 2>&1) || rc=$?
    ((rc == 0)) && break
    # 2: SG_LIB_CAT_NOT_READY; the sense must be SANITIZE IN PROGRESS (04h/1Bh), nothing else
    ((rc == 2)) && grep -qi 'sanitize in progress' <<<"$out" || fail "$tag: TEST UNIT READY failed otherwise (exit $rc): $out"
    # the NOT READY sense carries the progress indication too (sense-key specific bytes)
    [[ $out =~ Progress\ indication:\ ([0-9]+\.[0-9]+)% ]] && tpcts+=("${BASH_REMATCH[1]}")
    ((busy++ > 0)) || echo "${tag}_TUR_SENSE=$(grep -i -m1 'sanitize in progress' <<<"$out" | sed 's/^ *//')"
    ((SECONDS < limit)) || fail "$tag: still in progress after ${POLL_LIMIT_S} s (progress seen: ${pcts[*]:-none})"
    sleep 0.05
  done
  echo "$out" >&2
  echo "${tag}_MS=$((($(date +%s%N) - t0) / 1000000))"
  echo "${tag}_POLLS=$polls"
  echo "${tag}_PROGRESS=${pcts[*]}"
  echo "${tag}_TUR_BUSY=$busy"
  echo "${tag}_TUR_PROGRESS=${tpcts[*]}"
}

step modules modprobe sg
step iscsid start_iscsid
step login eval 'node_new "$IQN" && login "$IQN"'
mapfile -t d < <(wait_disks "$IQN" 3)
echo "disks: ${d[*]}" >&2
ow=${d[0]} thin=${d[1]} cr=${d[2]}

step fill eval 'fill "$ow" ow && fill "$thin" thin && fill "$cr" cr'

# A 512-byte random initialization pattern (one logical block), as hex for the host's check, and a
# MiB of it repeated, for the guest's.
make_pattern() {
  head -c 512 /dev/urandom >/root/pat
  cp /root/pat /root/pat1m
  for _ in $(seq 11); do cat /root/pat1m /root/pat1m >/root/pat.tmp && mv /root/pat.tmp /root/pat1m; done
  [[ $(stat -c %s /root/pat1m) == $((1 << 20)) ]] || fail "pattern MiB has the wrong size"
  echo "PATTERN=$(od -An -v -tx1 /root/pat | tr -d ' \n')"
}
step pattern make_pattern

# OVERWRITE, IMMED=1 (--early): sg_sanitize returns at once, the LU answers NOT READY / SANITIZE IN
# PROGRESS with the progress indication until the pass is done.
overwrite() {
  local sg out
  sg=$(sg_of "$ow")
  t0=$(date +%s%N)
  out=$(sg_sanitize --quick --early --overwrite --pattern=/root/pat "$sg" 2>&1) || fail "sg_sanitize --overwrite failed: $out"
  echo "$out" >&2
  echo "OW_LAUNCH_MS=$((($(date +%s%N) - t0) / 1000000))"
  wait_sanitized "$sg" OW
  expect_stream "$ow" /root/pat1m || fail "the overwritten LU does not read back as the pattern everywhere"
}
step overwrite overwrite

# BLOCK ERASE, IMMED=0 (--wait): the command completes when every block is deallocated.
block_erase() {
  local sg out
  sg=$(sg_of "$thin")
  sg_vpd --page=lbpv "$sg" >&2
  t0=$(date +%s%N)
  out=$(sg_sanitize --quick --wait --block "$sg" 2>&1) || fail "sg_sanitize --block failed: $out"
  echo "$out" >&2
  echo "BE_MS=$((($(date +%s%N) - t0) / 1000000))"
  out=$(sg_turs -v "$sg" 2>&1) || fail "TEST UNIT READY after BLOCK ERASE: $out"
  sg_get_lba_status "$sg" >&2 || fail "GET LBA STATUS after BLOCK ERASE"
  head -c $((1 << 20)) /dev/zero >/root/zero1m
  expect_stream "$thin" /root/zero1m || fail "the block-erased LU does not read back as zeros everywhere"
}
step block-erase block_erase

# CRYPTOGRAPHIC ERASE: nothing is encrypted, so the service action is not supported: ILLEGAL
# REQUEST / INVALID FIELD IN CDB (SBC-4 5.30.1); the LU stays ready and keeps its data.
crypto() {
  local sg out rc=0
  sg=$(sg_of "$cr")
  out=$(sg_sanitize -v --quick --crypto "$sg" 2>&1) || rc=$?
  echo "$out" >&2
  echo "CRYPTO_RC=$rc"
  echo "CRYPTO_SENSE=$(grep -i -m1 'additional sense' <<<"$out" | sed 's/^ *//')"
  echo "CRYPTO_RESULT=$(grep -i -m1 'sanitize failed' <<<"$out")"
  ((rc != 0)) || fail "CRYPTOGRAPHIC ERASE succeeded"
  out=$(sg_turs -v "$sg" 2>&1) || fail "TEST UNIT READY after the refused CRYPTOGRAPHIC ERASE: $out"
  local mib
  mib=$(($(blockdev --getsize64 "$cr") >> 20))
  [[ $(dev_sha "$cr" "$DATA_MIB" 0) == "$(cat /root/cr.head)" ]] || fail "crypto LU: the start changed"
  [[ $(dev_sha "$cr" "$DATA_MIB" $((mib - DATA_MIB))) == "$(cat /root/cr.tail)" ]] || fail "crypto LU: the end changed"
}
step crypto crypto

step logout logout "$IQN"
echo "CR_HEAD=$(cat /root/cr.head)"
echo "CR_TAIL=$(cat /root/cr.tail)"
echo "ALL DONE"
