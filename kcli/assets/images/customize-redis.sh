#!/bin/sh
# Turns a debootstrap rootfs (minbase + redis-server) into the kcli.local/redis image's tree.
# Usage: customize-redis.sh ROOTFS
set -eu
R=$1

# Smaller image: no package caches, docs, man pages, locales or logs.
rm -rf "$R"/var/cache/apt/* "$R"/var/lib/apt/lists/* "$R"/usr/share/doc/* "$R"/usr/share/man/* \
       "$R"/usr/share/info/* "$R"/usr/share/locale/* "$R"/usr/share/lintian "$R"/usr/share/linda \
       "$R"/var/cache/debconf/*-old "$R"/var/lib/dpkg/*-old "$R"/var/log/* "$R"/debootstrap
# Images get their own identity and hostname from the runtime.
: > "$R"/etc/machine-id
rm -f "$R"/etc/hostname
# The data directory (a volume in a pod); redis-server runs from it.
mkdir -p "$R"/data
