#!/bin/sh
# /init of the nvmpath test guest (busybox sh, PID 1). Copied into the initramfs by setup.sh.
# Mounts the basics, loads the NIC and configfs, configures 10.0.2.15/24 on eth0
# (QEMU user-mode network, no default route), then runs /payload/script.sh
# (added by run.sh as a second cpio archive), prints "GUEST-EXIT <rc>" and powers off.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=dumb
umask 022
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm /run
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs tmpfs /run
hostname nvmpath-guest
uptime_s() { cut -d' ' -f1 /proc/uptime; }

if dmesg | grep -q 'Hypervisor detected: KVM'; then ACCEL=kvm; else ACCEL=tcg; fi
echo "GUEST-BOOTED uptime=$(uptime_s)s kernel=$(uname -r) accel=$ACCEL cpus=$(nproc) mem=$(awk '/MemTotal/{print $2"kB"}' /proc/meminfo)"

# configfs (nvmet needs it)
modprobe configfs && mount -t configfs configfs /sys/kernel/config

# network: virtio-net on QEMU's user-mode network (slirp)
ip link set lo up
modprobe virtio_pci 2>/dev/null; modprobe virtio_net 2>/dev/null
i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
if [ -e /sys/class/net/eth0 ]; then
    ip addr add 10.0.2.15/24 dev eth0
    ip link set eth0 up
else
    echo "GUEST-WARN no eth0"
fi

# NVMe host identity (same for every connect, so multipath groups paths)
mkdir -p /etc/nvme
HOSTID=$(cat /proc/sys/kernel/random/uuid)
echo "$HOSTID" > /etc/nvme/hostid
echo "nqn.2014-08.org.nvmexpress:uuid:$HOSTID" > /etc/nvme/hostnqn

rc=127
if [ -f /payload/script.sh ]; then
    if [ -f /payload/env.sh ]; then set -a; . /payload/env.sh; set +a; fi
    cd /payload || true
    echo "GUEST-SCRIPT-START uptime=$(uptime_s)s"
    sh /payload/script.sh
    rc=$?
    cd /
else
    echo "no /payload/script.sh: interactive shell (exit to power off)"
    setsid cttyhack sh
    rc=$?
fi
echo "GUEST-EXIT $rc"
sync
poweroff -f
echo o > /proc/sysrq-trigger
sleep 5
