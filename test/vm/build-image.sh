#!/bin/bash
# Build the test VM image (Debian bookworm rootfs, kernel, initrd) with debootstrap; see test/vm/README.md
# Usage: build-image.sh <out-dir> <mirror> <suite> <packages,comma,separated>
# Writes <out-dir>/{vmlinuz,initrd.img,rootfs.img,manifest.txt} atomically (built in <out-dir>.tmp).
# Runs as root (debootstrap needs it). No loop mounts: the ext4 image is filled with `mke2fs -d`.
set -euo pipefail
out=$1 mirror=$2 suite=$3 packages=$4
work="$out.tmp.$$"
root="$work/root"
trap 'rm -rf "$work"' EXIT
rm -rf "$work"
mkdir -p "$work"

echo "build-image: debootstrap $suite from $mirror into $root" >&2
debootstrap --variant=minbase --include="$packages" "$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  tail -40 "$work/debootstrap.log" >&2
  echo "build-image: debootstrap failed (log above)" >&2
  exit 1
}

# The guest has no init system: the kernel runs /sbin/stgt-init (kernel cmdline init=), which
# mounts the control share and hands over to the init.sh the harness put there. Keeping the
# harness logic on the share means changing it does not force an image rebuild.
cat >"$root/sbin/stgt-init" <<'INIT'
#!/bin/sh
# PID 1 of the stgt test VM: mount the kernel file systems and the 9p control share, run its init.sh.
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm /run /tmp
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
modprobe 9pnet_virtio 2>/dev/null
modprobe 9p 2>/dev/null
mkdir -p /mnt/ctl
if mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 ctl /mnt/ctl && [ -f /mnt/ctl/init.sh ]; then
  /bin/sh /mnt/ctl/init.sh
else
  echo "stgt-init: cannot mount the 9p control share 'ctl'" >&2
fi
sync
echo o >/proc/sysrq-trigger
sleep 10
INIT
chmod 755 "$root/sbin/stgt-init"

echo stgt-vm >"$root/etc/hostname"
printf '127.0.0.1 localhost stgt-vm\n::1 localhost\n' >"$root/etc/hosts"
printf '/dev/vda / ext4 rw 0 1\n' >"$root/etc/fstab"
# open-iscsi's package normally creates the initiator name on first start via systemd; do it now.
if [ ! -s "$root/etc/iscsi/initiatorname.iscsi" ] || ! grep -q '^InitiatorName=' "$root/etc/iscsi/initiatorname.iscsi"; then
  echo "InitiatorName=iqn.2004-10.com.debian:stgt-vm" >"$root/etc/iscsi/initiatorname.iscsi"
fi

kver=$(ls "$root/lib/modules" | sort -V | tail -1)
cp "$root/boot/vmlinuz-$kver" "$work/vmlinuz"
cp "$root/boot/initrd.img-$kver" "$work/initrd.img"
{
  echo "suite=$suite"
  echo "mirror=$mirror"
  echo "kernel=$kver"
  echo "packages=$packages"
  chroot "$root" dpkg-query -W -f '${Package} ${Version}\n' 2>/dev/null | sort
} >"$work/manifest.txt"

rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/boot/initrd.img-*
# 3 GiB sparse: room for the rootfs (about 900 MB) plus what tests write into the snapshot.
truncate -s 3G "$work/rootfs.img"
mke2fs -q -t ext4 -F -L stgt-root -d "$root" "$work/rootfs.img"
rm -rf "$root"
rm -rf "$out"
mv "$work" "$out"
trap - EXIT
echo "build-image: done: $out" >&2
