#!/bin/sh
# Turns a debootstrap rootfs into a kcli sandbox node. Usage: customize-rootfs.sh ROOTFS ASSETS_DIR
set -eu
R=$1
A=$2

# Smaller image: no package caches, docs, man pages or locales.
rm -rf "$R"/var/cache/apt/archives/*.deb "$R"/var/lib/apt/lists/* "$R"/usr/share/doc/* \
       "$R"/usr/share/man/* "$R"/usr/share/info/* "$R"/usr/share/locale/*
# Every node must get its own host keys: they are generated at first boot.
rm -f "$R"/etc/ssh/ssh_host_*
: > "$R"/etc/machine-id

install -m 0755 "$A"/kcli-init-wrapper "$A"/kcli-cgroup-rw "$A"/kcli-entrypoint "$A"/kcli-restart-docker \
    "$R"/usr/local/bin/

mkdir -p "$R"/etc/ssh/sshd_config.d "$R"/root/.ssh
chmod 700 "$R"/root/.ssh
cat > "$R"/etc/ssh/sshd_config.d/kcli.conf <<'CONF'
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
MaxSessions 64
MaxStartups 64:30:128
CONF
sed -i 's/^session\s\+required\s\+pam_loginuid.so/session optional pam_loginuid.so/' "$R"/etc/pam.d/sshd

# systemd, kind-style: only what a node needs.
S="$R"/etc/systemd/system
ln -sf /lib/systemd/system/multi-user.target "$S"/default.target
for u in systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket \
         systemd-udev-trigger.service systemd-modules-load.service sys-kernel-config.mount \
         sys-kernel-debug.mount sys-kernel-tracing.mount systemd-remount-fs.service getty.target \
         getty@tty1.service console-getty.service systemd-firstboot.service \
         proc-sys-fs-binfmt_misc.automount systemd-binfmt.service systemd-logind.service \
         apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer dpkg-db-backup.timer \
         systemd-pstore.service systemd-journal-flush.service systemd-hwdb-update.service \
         systemd-sysusers.service systemd-update-utmp.service systemd-tmpfiles-clean.timer; do
  ln -sf /dev/null "$S/$u"
done
mkdir -p "$R"/etc/systemd/journald.conf.d
printf '[Journal]\nStorage=volatile\nReadKMsg=no\n' > "$R"/etc/systemd/journald.conf.d/kcli.conf

cat > "$S"/kcli-cgroup-rw.service <<'UNIT'
[Unit]
Description=Make cgroup controller mounts writable (kcli sandbox)
DefaultDependencies=no
Before=containerd.service docker.service sysinit.target
[Service]
Type=oneshot
ExecStart=/usr/local/bin/kcli-cgroup-rw
RemainAfterExit=yes
[Install]
WantedBy=sysinit.target
UNIT
cat > "$S"/kcli-sshkeygen.service <<'UNIT'
[Unit]
Description=Generate this node's own SSH host keys
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key
[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A
[Install]
WantedBy=multi-user.target
UNIT
mkdir -p "$S"/sysinit.target.wants "$S"/multi-user.target.wants
ln -sf ../kcli-cgroup-rw.service "$S"/sysinit.target.wants/kcli-cgroup-rw.service
ln -sf ../kcli-sshkeygen.service "$S"/multi-user.target.wants/kcli-sshkeygen.service
ln -sf /lib/systemd/system/ssh.service "$S"/multi-user.target.wants/ssh.service
ln -sf /lib/systemd/system/docker.service "$S"/multi-user.target.wants/docker.service
mkdir -p "$S"/docker.service.d
printf '[Unit]\nStartLimitIntervalSec=0\n[Service]\nTimeoutStopSec=15\n' > "$S"/docker.service.d/kcli.conf
