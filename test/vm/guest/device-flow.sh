# Kernel initiator against the cd, tape and changer device types of one target (MMC-6 / SSC-3 / SMC-3 through sr, st, sg)
# Environment: PORTAL, IQN_DEV (LUN 1 cd with an ISO holding SHA256SUMS, LUN 2 an empty tape drive,
# LUN 3 a changer: storage 1000.. with TAPE01 and TAPE02, drive 500 = LUN 2).
source /mnt/repo/test/vm/guest/iscsi-lib.sh
: "${IQN_DEV:?}"

# the iSCSI device of the given SCSI peripheral type (5 cd, 1 tape, 8 changer) under class $1 (block,
# scsi_generic); QEMU's own empty CD-ROM drive (not under an iSCSI session) does not count
dev_of_type() {
  local cls=$1 type=$2 name=${3:-.*} d
  for d in /sys/class/"$cls"/*; do
    [[ -e $d/device/type ]] || continue
    [[ $(basename "$d") =~ ^$name$ ]] || continue
    [[ $(readlink -f "$d/device") == */session* ]] || continue
    if [[ $(cat "$d/device/type") == "$type" ]]; then
      basename "$d"
      return 0
    fi
  done
  return 1
}

wait_dev() {
  local cls=$1 type=$2 re=${3:-.*} name
  for _ in $(seq 150); do
    if name=$(dev_of_type "$cls" "$type" "$re") && [[ -e /dev/$name ]]; then
      echo "/dev/$name"
      return 0
    fi
    sleep 0.2
  done
  fail "no $cls device of type $type"
}

step modules eval 'modprobe sr_mod && modprobe st && modprobe sg && modprobe isofs'
step iscsid start_iscsid
step login eval 'node_new "$IQN_DEV" && login "$IQN_DEV"'
cd_dev=$(wait_dev block 5)
chg=$(wait_dev scsi_generic 8)
echo "cd: $cd_dev changer: $chg" >&2

# cd: the ISO mounts and its files match their sums
mkdir -p /mnt/cd
step cd-mount mount -t iso9660 -o ro "$cd_dev" /mnt/cd
step cd-verify eval '(cd /mnt/cd && sha256sum -c SHA256SUMS >&2)'
step cd-umount umount /mnt/cd

# changer: the inventory, then TAPE01 from slot 1 into drive 0
mtx_status() { mtx -f "$chg" status | tee /dev/stderr; }
step mtx-status eval 'mtx_status | grep -E >/dev/null "Storage Element 1:Full :VolumeTag *= *TAPE01" && mtx_status | grep -E >/dev/null "Data Transfer Element 0:Empty"'
step mtx-load eval 'mtx -f "$chg" load 1 0 && mtx_status | grep -E >/dev/null "Data Transfer Element 0:Full \(Storage Element 1 Loaded\):VolumeTag *= *TAPE01"'

# tape: two tar archives (each closed with a filemark), rewind/fsf/status, read back
tape=/dev/n$(basename "$(wait_dev scsi_tape 1 'st[0-9]+')")
echo "tape: $tape" >&2
tar_one() { tar cf /root/a.tar -C /mnt/repo/test/vm/guest . && sha256sum /root/a.tar | cut -d' ' -f1 >/root/a.sha; }
step tar-create tar_one
step tape-rewind mt -f $tape rewind
step tape-write-1 dd if=/root/a.tar of=$tape bs=10240 status=none
step tape-write-2 tar cf $tape -b 20 -C /etc hostname os-release
step tape-status eval 'mt -f $tape status >&2'
step tape-fsf eval 'mt -f $tape rewind && mt -f $tape fsf 1 && tar tf $tape -b 20 | tee /dev/stderr | grep -x hostname >/dev/null'
step tape-read-1 eval 'mt -f $tape rewind && [[ $(dd if=$tape bs=10240 status=none | sha256sum | cut -d" " -f1) == $(cat /root/a.sha) ]]'
step tape-extract eval 'mt -f $tape rewind && mkdir -p /root/x && tar xf $tape -b 20 -C /root/x && diff -r /mnt/repo/test/vm/guest /root/x >&2'
echo "TAR_SHA=$(cat /root/a.sha)"
echo "TAR_BYTES=$(stat -c %s /root/a.tar)"

# back to its slot
step mtx-unload eval 'mt -f $tape offline; mtx -f "$chg" unload 1 0 && mtx_status | grep -E >/dev/null "Storage Element 1:Full" && mtx_status | grep -E >/dev/null "Data Transfer Element 0:Empty"'
step logout logout "$IQN_DEV"
echo "ALL DONE"
