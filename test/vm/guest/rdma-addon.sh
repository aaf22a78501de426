# Guest: rxe0 on eth0, then the real RDMA addon's self-test (dist/test/vm/guest/rdma-selftest.js) against eth0's address
set -euo pipefail
bash /mnt/repo/test/vm/guest/rxe-check.sh
addr=$(ip -4 -o addr show dev eth0 | awk '{ print $4 }' | cut -d/ -f1 | head -1)
[ -n "$addr" ] || { echo "FAIL: eth0 has no IPv4 address" >&2; exit 1; }
# An IPv6 address for the IPv6 part (nodad: usable at once); rxe adds its GID from the netdev.
ip -6 addr add fd00:5767::15/64 dev eth0 nodad
echo "--- libraries the addon links"
ldd /mnt/repo/native/rdma/build/Release/stgt_rdma.node | grep -E 'ibverbs|rdmacm|not found' || true
echo "--- self-test on $addr"
node /mnt/repo/dist/test/vm/guest/rdma-selftest.js "$addr" fd00:5767::15
