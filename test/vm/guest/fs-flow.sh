# Kernel initiator against the target: discovery, login, ext4 life cycle, fio verify, logout (RFC 7143 over open-iscsi)
# Environment: PORTAL, IQN_PLAIN (1 LUN, >= 256 MiB), IQNS_ALL (space-separated, for discovery).
source /mnt/repo/test/vm/guest/iscsi-lib.sh
: "${IQN_PLAIN:?}" "${IQNS_ALL:?}"
mnt=/mnt/t
mkdir -p $mnt

step iscsid start_iscsid
# shellcheck disable=SC2086
step discovery discover $IQNS_ALL
step login eval 'node_new "$IQN_PLAIN" && login "$IQN_PLAIN"'
dev=$(wait_disks "$IQN_PLAIN" 1)
echo "disk: $dev" >&2

step mkfs mkfs.ext4 -q -F "$dev"
step mount mount "$dev" $mnt
write_files() { write_tree $mnt 200 37 /root/sums; }
step write-files write_files
step umount umount $mnt
step remount eval 'drop_caches "$dev" && mount "$dev" $mnt'
step verify-checksums eval '(cd $mnt && sha256sum --quiet -c /root/sums)'
step fio-verify fio --name=verify --filename=$mnt/fio.dat --size=8M --rw=randwrite --bs=4k \
  --ioengine=libaio --iodepth=8 --direct=1 --verify=crc32c --do_verify=1 --verify_fatal=1 \
  --verify_dump=0 --output-format=terse
step umount-2 umount $mnt
step e2fsck eval 'drop_caches "$dev" && e2fsck -fn "$dev" >&2'
step logout logout "$IQN_PLAIN"
[[ -z "$(disks_of "$IQN_PLAIN")" ]] || fail "disk still attached after logout"
echo "ALL DONE"
