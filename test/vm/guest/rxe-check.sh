# Guest: bring up Soft-RoCE (rdma_rxe) on eth0 and show it to the verbs stack (for the iSER tests)
# rxe needs a real netdev (not lo); the guest's eth0 is QEMU's virtio NIC with 10.0.2.15.
set -euo pipefail
modprobe rdma_rxe
modprobe ib_uverbs
modprobe rdma_ucm
rdma link add rxe0 type rxe netdev eth0
rdma link show
echo "--- ibv_devices"
ibv_devices
ibv_devices | grep -q rxe0 || { echo "FAIL: ibv_devices does not list rxe0" >&2; exit 1; }
rdma link show rxe0/1 | grep -q 'state ACTIVE' || { echo "FAIL: rxe0 is not ACTIVE" >&2; exit 1; }
echo "RXE OK"
