#!/bin/busybox sh
# PID 1 of the lab VM (see lab/README.md). It runs from the initramfs that lab/sctplab.py
# builds: loads the kernel modules listed in /modules.order, mounts the host's / read-only over
# 9p with a tmpfs overlay on top, mounts the project directory writable at its own path, then
# runs the job script inside that root and powers off. The job's exit status goes to a file in
# the job directory, because a guest cannot hand qemu an exit code.
/bin/busybox --install -s /bin
export PATH=/bin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

param() { sed -n "s/.*sctpmh\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
PROJECT=$(param project)
JOB=$(param job)
MODE=$(param mode)

fail() {
    echo "sctpmh-lab: $*" >/dev/console
    poweroff -f
}

while read -r module args; do
    insmod "/modules/$module" $args 2>/dev/null || echo "sctpmh-lab: insmod $module failed" >/dev/console
done </modules.order

mkdir -p /lower /upper /newroot
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=262144 hostroot /lower \
    || fail "cannot mount the host root over 9p"
mount -t tmpfs -o size=75% tmpfs /upper
mkdir -p /upper/data /upper/work
mount -t overlay overlay -o lowerdir=/lower,upperdir=/upper/data,workdir=/upper/work /newroot \
    || fail "cannot mount the overlay root"
mount -t proc proc /newroot/proc
mount -t sysfs sysfs /newroot/sys
mount -t devtmpfs devtmpfs /newroot/dev
mkdir -p /newroot/dev/pts /newroot/dev/shm
mount -t devpts devpts /newroot/dev/pts
mount -t tmpfs tmpfs /newroot/dev/shm
mount -t tmpfs tmpfs /newroot/tmp
mount -t tmpfs tmpfs /newroot/run
mkdir -p /newroot/run/netns
# The project goes last, so that a project under /tmp or /run is not hidden by the tmpfs.
mkdir -p "/newroot$PROJECT"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 project "/newroot$PROJECT" \
    || fail "cannot mount the project share at $PROJECT"
# Network namespaces (ip netns) and the loopback addresses 127.0.0.0/8 need lo up.
ip link set lo up
hostname sctpmh-lab

echo booted >"/newroot$JOB/booted"
if [ "$MODE" = shell ]; then
    # The serial line (not /dev/console) can be a controlling terminal: job control, Ctrl-C.
    chroot /newroot /bin/sh "$JOB/job.sh" </dev/ttyS0 >/dev/ttyS0 2>&1
else
    chroot /newroot /bin/sh "$JOB/job.sh" </dev/null >"/newroot$JOB/output" 2>&1
fi
echo $? >"/newroot$JOB/exit"
sync
poweroff -f
