# Guest: LIO (the kernel's iSCSI target) with ib_isert, configured through configfs (no targetcli in the image)
# Functions for lio-isert.sh and iser-bench.sh: lio_setup (a fileio backstore of ISER_MIB, one target
# IQN_LIO with an iSER-enabled portal on LIO_PORT of eth0's address, demo-mode ACLs, no auth),
# lio_login (kernel ib_iser, the disk's path in /tmp/dev-lio), lio_logout. Needs fail, wait_disks, PORTAL.
: "${IQN_LIO:?}" "${LIO_PORT:?}" "${ISER_MIB:?}"
cfs=/sys/kernel/config
lio_portal=${PORTAL%:*}:$LIO_PORT

lio_setup() {
  local m
  for m in target_core_mod target_core_file iscsi_target_mod ib_isert; do
    modprobe $m || fail "the guest kernel has no $m"
  done
  mountpoint -q $cfs || mount -t configfs configfs $cfs
  [[ -d $cfs/target/core ]] || fail "no $cfs/target/core (configfs without LIO)"
  truncate -s "${ISER_MIB}M" /tmp/lio.img
  local be=$cfs/target/core/fileio_0/lio0
  mkdir -p $be
  echo "fd_dev_name=/tmp/lio.img,fd_dev_size=$((ISER_MIB * 1024 * 1024))" >$be/control
  echo 1 >$be/enable
  local tpg=$cfs/target/iscsi/$IQN_LIO/tpgt_1
  mkdir -p $tpg/lun/lun_0
  ln -s $be $tpg/lun/lun_0/lio0
  mkdir $tpg/np/$lio_portal
  echo 1 >$tpg/np/$lio_portal/iser || fail "LIO refused an iSER portal (ib_isert)"
  echo 0 >$tpg/attrib/authentication
  echo 1 >$tpg/attrib/generate_node_acls
  echo 1 >$tpg/attrib/cache_dynamic_acls
  echo 0 >$tpg/attrib/demo_mode_write_protect
  echo 1 >$tpg/enable
}

lio_login() {
  iscsiadm -m node -o new -T "$IQN_LIO" -p "$lio_portal" -I iser >/dev/null
  iscsiadm -m node -T "$IQN_LIO" -p "$lio_portal" -I iser --login >&2
  wait_disks "$IQN_LIO" 1 >/tmp/dev-lio
  iscsiadm -m session -P1 | awk -v t="$IQN_LIO" '$1 == "Target:" { cur = $2 } cur == t' |
    grep -q 'Iface Transport: iser' || fail "the session to $IQN_LIO is not over iser"
}

lio_logout() {
  iscsiadm -m node -T "$IQN_LIO" -p "$lio_portal" -I iser --logout >&2
}

