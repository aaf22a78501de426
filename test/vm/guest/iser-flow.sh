# Guest: the Linux kernel initiator (open-iscsi + ib_iser over rxe0) against stgt's iser LLD, with iSCSI/TCP I/O to another target at the same time (RFC 7145, RFC 7143)
# Sourced by runWithGuestTarget's script (guest-target.ts): step, login, wait_disks, node_new, drop_caches, tgtadm,
# tgtd_alive, PORTAL. tgtd listens for TCP and iSER on the same PORTAL.
# Environment: IQN_ISER (tid 1, --lld iser), IQN_TCP (tid 2, --lld iscsi), IQN_CONF (made by tgt-admin, driver iser), ISER_MIB, TCP_MIB (LUN sizes),
# FIO_RAND_MIB, FIO_SEQ_MIB (how much each fio job covers), TCP_IO_MIB (dd over TCP meanwhile),
# LIO=1 to run the same fio jobs against LIO + ib_isert on LIO_PORT afterwards (stretch, reference figures).
# Prints `FIO <target> <job> rw=.. bs=.. iops=.. bw_kib=.. err=..` lines (iser-initiator.test.ts parses them).
: "${IQN_ISER:?}" "${IQN_TCP:?}" "${IQN_CONF:?}" "${ISER_MIB:?}" "${TCP_MIB:?}" "${FIO_RAND_MIB:?}" "${FIO_SEQ_MIB:?}" "${TCP_IO_MIB:?}"
lun1=/tmp/lun-iser.img
lun2=/tmp/lun-tcp.img
mnt=/mnt/iser
mkdir -p $mnt

setup_targets() {
  truncate -s "${ISER_MIB}M" $lun1
  truncate -s "${TCP_MIB}M" $lun2
  tgtadm --lld iser --mode target --op new --tid 1 --targetname "$IQN_ISER"
  tgtadm --lld iser --mode logicalunit --op new --tid 1 --lun 1 --backing-store $lun1
  tgtadm --lld iser --mode target --op bind --tid 1 --initiator-address ALL
  tgtadm --lld iscsi --mode target --op new --tid 2 --targetname "$IQN_TCP"
  tgtadm --lld iscsi --mode logicalunit --op new --tid 2 --lun 1 --backing-store $lun2
  tgtadm --lld iscsi --mode target --op bind --tid 2 --initiator-address ALL
}

# SendTargets over iSER (a discovery session on an iSER connection) must list the iser target.
discover_iser() {
  iscsiadm -m discovery -t st -p "${PORTAL%:*}" -I iser | sed 's/^/DISCOVERY-ISER: /'
}

login_iser() {
  iscsiadm -m node -T "$IQN_ISER" -p "$PORTAL" -I iser --login >&2
  wait_disks "$IQN_ISER" 1 >/tmp/dev-iser
  iscsiadm -m session -P1 | awk -v t="$IQN_ISER" '$1 == "Target:" { cur = $2 } cur == t' |
    grep -E 'Target:|Current Portal:|Iface Transport:|iSCSI Session State:' | sed 's/^[[:space:]]*/SESSION-ISER: /'
  iscsiadm -m session -P1 | awk -v t="$IQN_ISER" '$1 == "Target:" { cur = $2 } cur == t' |
    grep -q 'Iface Transport: iser' || fail "the session to $IQN_ISER is not over iser"
  local size
  size=$(blockdev --getsize64 "$(cat /tmp/dev-iser)")
  ((size == ISER_MIB * 1024 * 1024)) || fail "iser disk is $size bytes, the LUN is $ISER_MIB MiB"
}

fs_write() {
  local dev
  dev=$(cat /tmp/dev-iser)
  mkfs.ext4 -q -F "$dev"
  mount "$dev" $mnt
  write_tree $mnt 100 53 /tmp/sums
  umount $mnt
}

fs_verify() {
  local dev
  dev=$(cat /tmp/dev-iser)
  drop_caches "$dev"
  mount "$dev" $mnt
  (cd $mnt && sha256sum --quiet -c /tmp/sums)
  echo "FS-VERIFIED $(wc -l </tmp/sums) files"
  umount $mnt
}

# The TCP session to tid 2 writes TCP_IO_MIB with dd and reads it back while fio runs over iSER.
login_tcp() {
  node_new "$IQN_TCP"
  login "$IQN_TCP" >&2
  wait_disks "$IQN_TCP" 1 >/tmp/dev-tcp
  iscsiadm -m session -P1 | awk -v t="$IQN_TCP" '$1 == "Target:" { cur = $2 } cur == t' |
    grep -q 'Iface Transport: tcp' || fail "the session to $IQN_TCP is not over tcp"
}

tcp_io() {
  local dev want got back
  dev=$(cat /tmp/dev-tcp)
  dd if=/dev/urandom of=/tmp/tcp-pattern bs=1M count="$TCP_IO_MIB" status=none
  want=$(sha256sum </tmp/tcp-pattern | cut -d' ' -f1)
  dd if=/tmp/tcp-pattern of="$dev" bs=256k oflag=direct conv=fsync status=none
  got=$(dd if="$dev" bs=256k count=$((TCP_IO_MIB * 4)) iflag=direct status=none | sha256sum | cut -d' ' -f1)
  back=$(head -c $((TCP_IO_MIB * 1024 * 1024)) $lun2 | sha256sum | cut -d' ' -f1)
  echo "TCP-SHA256 written $want read $got backing $back"
  [[ $got == "$want" && $back == "$want" ]]
}

start_tcp_io() {
  rm -f /tmp/tcp-io.rc
  ( rc=0; tcp_io >/tmp/tcp-io.out 2>&1 || rc=$?; echo $rc >/tmp/tcp-io.rc ) &
  echo "tcp I/O started (pid $!)" >&2
}

# Waits (bounded) for the background TCP I/O; it must have finished with the data intact.
wait_tcp_io() {
  for _ in $(seq 600); do
    [[ -s /tmp/tcp-io.rc ]] && break
    sleep 0.5
  done
  [[ -s /tmp/tcp-io.rc ]] || fail "TCP I/O did not finish within 300 s"
  cat /tmp/tcp-io.out
  [[ $(cat /tmp/tcp-io.rc) == 0 ]] || fail "TCP I/O failed (exit $(cat /tmp/tcp-io.rc))"
}

# fio_job TARGET JOB RW BS MIB EXTRA...: one fio job on the target's disk, direct I/O with crc32c
# verify headers; prints the parseable FIO line. Each write job writes crc32c headers into every
# block of its range (do_verify=0: the read job after it is the check), the read job reads the
# same range and verifies every block.
fio_job() {
  local target=$1 job=$2 rw=$3 bs=$4 mib=$5 dev
  shift 5
  dev=$(cat "/tmp/dev-$target")
  fio --name="$job" --filename="$dev" --rw="$rw" --bs="$bs" --size="${mib}M" --ioengine=libaio --iodepth=16 \
    --direct=1 --verify=crc32c --verify_fatal=1 --verify_dump=0 "$@" --output-format=json --output="/tmp/fio-$target-$job.json" ||
    { cat "/tmp/fio-$target-$job.json" >&2; fail "fio $job on $target failed"; }
  node -e '
    const [target, job, rw, bs] = process.argv.slice(1);
    const j = JSON.parse(require("fs").readFileSync(`/tmp/fio-${target}-${job}.json`, "utf8")).jobs[0];
    const d = j.write.io_bytes > 0 ? j.write : j.read;
    console.log(`FIO ${target} ${job} rw=${rw} bs=${bs} iops=${Math.round(d.iops)} bw_kib=${d.bw} err=${j.error}`);
    process.exit(j.error === 0 ? 0 : 1);' "$target" "$job" "$rw" "$bs"
}

fio_all() {
  local t=$1
  fio_job "$t" rand4k-write randwrite 4k "$FIO_RAND_MIB" --do_verify=0
  fio_job "$t" rand4k-read randread 4k "$FIO_RAND_MIB"
  fio_job "$t" seq1m-write write 1M "$FIO_SEQ_MIB" --do_verify=0
  fio_job "$t" seq1m-read read 1M "$FIO_SEQ_MIB"
}

logout_all() {
  logout "$IQN_TCP" >&2
  iscsiadm -m node -T "$IQN_ISER" -p "$PORTAL" -I iser --logout >&2
  [[ -z "$(disks_of "$IQN_ISER")$(disks_of "$IQN_TCP")" ]] || fail "a disk is still attached after logout"
}

# After logout the iser target lists no I_T nexus (tgtd forgets a session when its connection goes).
no_nexus() {
  local out
  for _ in $(seq 60); do
    tgtd_alive
    out=$(tgtadm --lld iser --mode target --op show)
    if ! grep -q 'I_T nexus: ' <<<"$out"; then
      sed 's/^/SHOW-ISER: /' <<<"$out" | head -8
      return 0
    fi
    sleep 0.5
  done
  printf '%s\n' "$out" >&2
  fail "the iser target still lists an I_T nexus 30 s after logout"
}

# No line of tgtd's log (debug lines included: tgtd runs with -d 1) mentions an error or an uncaught exception.
clean_log() {
  local bad
  bad=$(grep -iE 'uncaught|error' /tmp/tgtd.log || true)
  [[ -z $bad ]] || { printf '%s\n' "$bad" | sed 's/^/BAD-LOG: /'; fail "tgtd logged errors"; }
}

# tgt-admin with `driver iser` in targets.conf (IQN_CONF): the target is made on the iser LLD,
# found by SendTargets over iSER, logged in with -I iser, does I/O, and `tgt-admin --delete` removes it.
tgt_admin_iser() {
  local dev want got
  printf '#!/bin/sh\nexec node /mnt/repo/bin/tgtadm "$@"\n' >/usr/local/bin/tgtadm
  chmod +x /usr/local/bin/tgtadm
  truncate -s 32M /tmp/lun-conf.img
  cat >/tmp/iser-targets.conf <<CONF
<target $IQN_CONF>
    driver iser
    backing-store /tmp/lun-conf.img
    initiator-address ALL
</target>
CONF
  node /mnt/repo/bin/tgt-admin -e -c /tmp/iser-targets.conf >&2
  local show disc
  show=$(tgtadm --lld iser --mode target --op show)
  grep -q "^Target [0-9]*: $IQN_CONF\$" <<<"$show" || fail "tgt-admin made no iser target $IQN_CONF"
  disc=$(iscsiadm -m discovery -t st -p "${PORTAL%:*}" -I iser)
  grep -q " $IQN_CONF\$" <<<"$disc" || fail "SendTargets over iSER does not list $IQN_CONF"
  iscsiadm -m node -T "$IQN_CONF" -p "$PORTAL" -I iser --login >&2
  dev=$(wait_disks "$IQN_CONF" 1)
  dd if=/dev/urandom of=/tmp/conf-pattern bs=1M count=4 status=none
  want=$(sha256sum </tmp/conf-pattern | cut -d' ' -f1)
  dd if=/tmp/conf-pattern of="$dev" bs=64k oflag=direct conv=fsync status=none
  got=$(dd if="$dev" bs=64k count=64 iflag=direct status=none | sha256sum | cut -d' ' -f1)
  iscsiadm -m node -T "$IQN_CONF" -p "$PORTAL" -I iser --logout >&2
  [[ $got == "$want" ]] || fail "data read back over the tgt-admin target differs"
  node /mnt/repo/bin/tgt-admin --delete "$IQN_CONF" >&2
  show=$(tgtadm --lld iser --mode target --op show)
  ! grep -q "$IQN_CONF" <<<"$show" || fail "tgt-admin --delete left $IQN_CONF"
  echo "TGT-ADMIN-ISER sha256 $got"
}

step target-setup setup_targets
step discovery-iser discover_iser
step login-iser login_iser
step fs-write fs_write
step fs-verify fs_verify
step login-tcp login_tcp
step tcp-io-start start_tcp_io
step fio-stgt fio_all iser
step tcp-io-verify wait_tcp_io
step logout logout_all
step tgtd-alive tgtd_alive
step no-nexus no_nexus
step tgt-admin-iser tgt_admin_iser
step clean-log clean_log
echo "STGT DONE"
# The reference: the same fio jobs against LIO + ib_isert in this boot. Its failure is reported
# (LIO-UNAVAILABLE), not fatal: the subshell keeps step's exit from ending this script.
if [[ ${LIO:-0} == 1 ]]; then
  # Bounded: a LIO session that hangs must not hold the boot up (the VM powers off after us).
  (source /mnt/repo/test/vm/guest/lio-isert.sh) &
  lio_pid=$!
  for _ in $(seq 360); do
    kill -0 $lio_pid 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 $lio_pid 2>/dev/null; then
    kill $lio_pid
    echo "LIO-UNAVAILABLE did not finish within 180 s"
  else
    lio_rc=0
    wait $lio_pid || lio_rc=$?
    ((lio_rc == 0)) || echo "LIO-UNAVAILABLE exit $lio_rc"
  fi
fi
echo "ALL DONE"
