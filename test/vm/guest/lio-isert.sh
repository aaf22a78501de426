# Guest: LIO (the kernel's iSCSI target) with ib_isert as the reference for iser-flow.sh's fio jobs (RFC 7145 over rxe0)
# Sourced in a subshell by iser-flow.sh after stgt's part (fio_job, fio_all, step, fail, wait_disks there).
# Configures LIO through configfs directly (no targetcli in the image): a fileio backstore, one
# target with an iSER-enabled portal on LIO_PORT of eth0's address, demo-mode ACLs, no auth.
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

step lio-setup lio_setup
step lio-login lio_login
step fio-lio fio_all lio
step lio-logout lio_logout
echo "LIO DONE"
