# Guest: LIO (the kernel's iSCSI target) with ib_isert as the reference for iser-flow.sh's fio jobs (RFC 7145 over rxe0)
# Sourced in a subshell by iser-flow.sh after stgt's part (fio_job, fio_all, step, fail, wait_disks there).
source /mnt/repo/test/vm/guest/lio-lib.sh

step lio-setup lio_setup
step lio-login lio_login
step fio-lio fio_all lio
step lio-logout lio_logout
echo "LIO DONE"
