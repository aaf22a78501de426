# Kernel initiator: login with CRC32C header/data digests, with CHAP (and a wrong secret), and a 3-LUN target
# Environment: PORTAL, IQN_PLAIN, IQN_CHAP, CHAP_USER, CHAP_PASS, IQN_MULTI (3 LUNs of MULTI_BYTES each).
source /mnt/repo/test/vm/guest/iscsi-lib.sh
: "${IQN_PLAIN:?}" "${IQN_CHAP:?}" "${CHAP_USER:?}" "${CHAP_PASS:?}" "${IQN_MULTI:?}" "${MULTI_BYTES:?}"
mnt=/mnt/t
mkdir -p $mnt

# pattern_check DEV MIB TAG: writes MIB MiB of random data with O_DIRECT, reads it back from
# the target (caches dropped) and compares.
pattern_check() {
  local dev=$1 mib=$2 tag=$3
  head -c $((mib * 1024 * 1024)) /dev/urandom >/root/pat.$tag
  dd if=/root/pat.$tag of="$dev" bs=1M oflag=direct status=none
  drop_caches "$dev"
  dd if="$dev" of=/root/back.$tag bs=1M count="$mib" iflag=direct status=none
  cmp /root/pat.$tag /root/back.$tag || fail "data read back from $dev differs from what was written"
}

step iscsid start_iscsid

# --- digests: the initiator offers only CRC32C, so login fails unless the target takes it.
digest_login() {
  node_new "$IQN_PLAIN"
  node_set "$IQN_PLAIN" node.conn[0].iscsi.HeaderDigest CRC32C
  node_set "$IQN_PLAIN" node.conn[0].iscsi.DataDigest CRC32C
  login "$IQN_PLAIN"
  local p
  p=$(iscsiadm -m session -P2)
  grep -q 'HeaderDigest: CRC32C' <<<"$p" || fail "HeaderDigest not CRC32C: $p"
  grep -q 'DataDigest: CRC32C' <<<"$p" || fail "DataDigest not CRC32C: $p"
}
step digest-login digest_login
dev=$(wait_disks "$IQN_PLAIN" 1)
step digest-io pattern_check "$dev" 4 digest
step digest-fio fio --name=dverify --filename="$dev" --offset=32M --size=16M --rw=randwrite --bs=8k \
  --ioengine=libaio --iodepth=8 --direct=1 --verify=crc32c --do_verify=1 --verify_fatal=1 \
  --verify_dump=0 --output-format=terse
step digest-logout logout "$IQN_PLAIN"

# --- CHAP: a wrong secret must be refused, the right one accepted.
chap_set() {
  node_set "$IQN_CHAP" node.session.auth.authmethod CHAP
  node_set "$IQN_CHAP" node.session.auth.username "$CHAP_USER"
  node_set "$IQN_CHAP" node.session.auth.password "$1"
}
chap_wrong() {
  node_new "$IQN_CHAP"
  chap_set "wrong-$CHAP_PASS"
  if login "$IQN_CHAP" >&2 2>&1; then
    logout "$IQN_CHAP" || true
    fail "login with a wrong CHAP secret succeeded"
  fi
  return 0
}
step chap-wrong-secret-refused chap_wrong
step chap-login eval 'chap_set "$CHAP_PASS" && login "$IQN_CHAP"'
dev=$(wait_disks "$IQN_CHAP" 1)
step chap-io pattern_check "$dev" 4 chap
step chap-logout logout "$IQN_CHAP"

# --- three LUNs: three disks of the right size, each holding its own data.
step multi-login eval 'node_new "$IQN_MULTI" && login "$IQN_MULTI"'
mapfile -t disks < <(wait_disks "$IQN_MULTI" 3)
multi_check() {
  local d i=0 sizes=()
  for d in "${disks[@]}"; do sizes+=("$(blockdev --getsize64 "$d")"); done
  echo "multi: ${disks[*]} sizes ${sizes[*]}" >&2
  [[ ${sizes[0]} == "$MULTI_BYTES" && ${sizes[1]} == "$MULTI_BYTES" && ${sizes[2]} == "$MULTI_BYTES" ]] ||
    fail "LUN sizes ${sizes[*]}, want $MULTI_BYTES each"
  # Write all three first, then read all three: LUNs sharing storage would overwrite each other.
  for d in "${disks[@]}"; do
    i=$((i + 1))
    head -c $((4 * 1024 * 1024)) /dev/urandom >/root/pat.lun$i
    dd if=/root/pat.lun$i of="$d" bs=1M oflag=direct status=none
  done
  i=0
  for d in "${disks[@]}"; do
    i=$((i + 1))
    drop_caches "$d"
    dd if="$d" of=/root/back.lun$i bs=1M count=4 iflag=direct status=none
    cmp /root/pat.lun$i /root/back.lun$i || fail "LUN $i ($d) does not hold its own data"
  done
}
step multi-lun-io multi_check
step multi-logout logout "$IQN_MULTI"
echo "ALL DONE"
