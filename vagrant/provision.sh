#!/bin/sh
# Provisioning of a kcli node VM (run as root by `vagrant up`; idempotent).
set -eu
export DEBIAN_FRONTEND=noninteractive

# 1. This VM's own SSH host keys. A box image may carry host keys made when it was built, and then
#    every VM of this Vagrantfile would present the same key (one node could pose as another).
#    They are made again once per VM; the marker keeps later provisioning runs from changing them.
if [ ! -e /etc/ssh/.kcli-host-keys ]; then
    rm -f /etc/ssh/ssh_host_*_key /etc/ssh/ssh_host_*_key.pub
    ssh-keygen -A
    touch /etc/ssh/.kcli-host-keys
    systemctl restart ssh   # KillMode=process: this provisioning session survives
fi

# 2. What kcli needs on a node: sshd (the box has it) and docker; iptables for kube-proxy's rules.
apt-get update -q
apt-get install -y -q --no-install-recommends openssh-server docker.io iptables ca-certificates
systemctl enable --now ssh docker

# 3. The fingerprints `kcli inventory from-vagrant` prints should match these.
for f in /etc/ssh/ssh_host_*_key.pub; do ssh-keygen -l -f "$f"; done
