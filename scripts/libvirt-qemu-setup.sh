#!/usr/bin/env bash
# Makes qemu:///system able to boot the libvirt backend's QEMU smoke test
# (backends/libvirt/qemu_test.go), on Debian 12, as root, once
# scripts/libvirtd-test-setup.sh has libvirtd answering. Idempotent: what
# is already there is left alone. Without /dev/kvm it does nothing, and the
# test skips.
#
#   scripts/libvirt-qemu-setup.sh
#
# What it sees to:
#   - packages: qemu-system-x86, dnsmasq-base and iptables (the network
#     driver), busybox-static (the guest's /init);
#   - a Debian kernel for direct kernel boot: /boot/vmlinuz-*, or else one
#     taken out of the linux-image-amd64 package into /var/lib/libvirt/boot;
#   - /dev/kvm usable by the user QEMU runs as;
#   - a running virtlogd (QEMU's logs and file consoles go through it);
#   - a libvirtd started after iptables, dnsmasq and QEMU were installed;
#   - an active, autostarted directory pool named default.
#
# Environment:
#   LIBVIRT_WAIT     seconds to wait for a daemon (default 30)
set -euo pipefail

KVM=/dev/kvm
URI=qemu:///system
SOCKET=/run/libvirt/libvirt-sock
LOGD_SOCKET=/run/libvirt/virtlogd-sock
POOL=default
POOL_DIR=/var/lib/libvirt/images
BOOT_DIR=/var/lib/libvirt/boot
QEMU_USER=libvirt-qemu
WAIT="${LIBVIRT_WAIT:-30}"
PACKAGES=(qemu-system-x86 dnsmasq-base iptables busybox-static)

# The daemons and the network tools live in sbin, which a user's PATH may
# leave out.
PATH="${PATH}:/usr/sbin:/sbin"

say() { echo "libvirt-qemu-setup: $*"; }
die() {
	echo "libvirt-qemu-setup: error: $*" >&2
	exit 1
}

if [ ! -e "$KVM" ]; then
	say "no ${KVM}: nothing to do (the QEMU smoke test skips)"
	exit 0
fi

# need_root stops with a clear message when a change is due and this user
# cannot make it.
need_root() {
	[ "$(id -u)" -eq 0 ] || die "$1 needs root; run this script as root"
}

updated=false
apt_update_once() {
	if ! "$updated"; then
		command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install ${PACKAGES[*]} with this system's package manager"
		apt-get update -qq || die "apt-get update failed"
		updated=true
	fi
}

virsh_q() { virsh -q -c "$URI" "$@"; }

# probe succeeds when libvirtd opens qemu:///system (it does before QEMU
# is installed: the driver comes with libvirt-daemon).
probe() { virsh -c "$URI" uri >/dev/null 2>&1; }

# unit_active tells a daemon that systemd manages, which is left to it.
unit_active() {
	[ -d /run/systemd/system ] && systemctl is-active --quiet "$1" 2>/dev/null
}

gone() { ! kill -0 "$1" 2>/dev/null; }

wait_for() {
	for _ in $(seq "$((WAIT * 5))"); do
		"$@" && return 0
		sleep 0.2
	done
	return 1
}

if ! command -v virsh >/dev/null 2>&1 || ! probe; then
	die "libvirtd does not open ${URI}: run scripts/libvirtd-test-setup.sh first"
fi

# Packages. Recommends are skipped: QEMU's bring a GUI and firmware the
# guest does not use.
missing=()
for pkg in "${PACKAGES[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$pkg")
	fi
done
if [ "${#missing[@]}" -gt 0 ]; then
	need_root "installing ${missing[*]}"
	say "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt_update_once
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
fi

# The kernel. Installing linux-image-amd64 would bring initramfs-tools and
# udev (upgrading systemd with them), unpack 400 MB of modules and build an
# initramfs nobody boots: the guest needs only vmlinuz, taken out of the
# package.
kernel() {
	compgen -G '/boot/vmlinuz-*' || compgen -G "${BOOT_DIR}/vmlinuz-*" || true
}
if [ -z "$(kernel)" ]; then
	need_root "fetching a kernel"
	apt_update_once
	kpkg="$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[^ <>]*\)$/\1/p' | head -n 1)"
	[ -n "$kpkg" ] || die "apt-cache does not know which kernel package linux-image-amd64 stands for"
	say "taking vmlinuz out of ${kpkg}"
	tmp="$(mktemp -d)"
	trap 'rm -rf "$tmp"' EXIT
	# apt downloads as its own user, which must be able to write here.
	if getent passwd _apt >/dev/null; then
		chown _apt "$tmp"
	fi
	(cd "$tmp" && apt-get download -qq "$kpkg") || die "apt-get download ${kpkg} failed"
	dpkg-deb --fsys-tarfile "$tmp"/*.deb | tar -x -C "$tmp" --wildcards './boot/vmlinuz-*' ||
		die "${kpkg} holds no /boot/vmlinuz-*"
	install -d -m 0755 "$BOOT_DIR"
	install -m 0644 "$tmp"/boot/vmlinuz-* "$BOOT_DIR"/
fi

# /dev/kvm as udev leaves it on an ordinary Debian host: group kvm, mode
# 0660, with QEMU's user in the group. Without udev it is root's alone,
# and libvirt offers no kvm guests.
if [ "$(stat -c '%G %a' "$KVM")" != "kvm 660" ]; then
	need_root "opening ${KVM} to group kvm"
	getent group kvm >/dev/null || groupadd --system kvm
	say "giving ${KVM} to group kvm, mode 0660"
	chgrp kvm "$KVM"
	chmod 0660 "$KVM"
fi
if getent passwd "$QEMU_USER" >/dev/null && ! id -nG "$QEMU_USER" | grep -qw kvm; then
	need_root "adding ${QEMU_USER} to group kvm"
	say "adding ${QEMU_USER} to group kvm"
	usermod -a -G kvm "$QEMU_USER"
fi

# virtlogd: libvirt hands it QEMU's log and file consoles, and a guest does
# not start without it.
if ! unit_active virtlogd.socket && ! unit_active virtlogd.service && ! pgrep -x virtlogd >/dev/null 2>&1; then
	need_root "starting virtlogd"
	# A socket left by a virtlogd that died answers nothing.
	rm -f "$LOGD_SOCKET"
	say "starting virtlogd -d"
	virtlogd -d || die "virtlogd -d failed"
	wait_for test -S "$LOGD_SOCKET" || die "virtlogd made no ${LOGD_SOCKET} after ${WAIT}s"
fi

# libvirtd looks for iptables and dnsmasq when it starts, and one started
# before they were installed cannot start networks: restart a daemon older
# than any of them.
newest=0
for bin in iptables dnsmasq qemu-system-x86_64; do
	path="$(command -v "$bin")" || die "${bin} not found after installing ${PACKAGES[*]}"
	t="$(stat -c %Z "$path")"
	if [ "$t" -gt "$newest" ]; then
		newest="$t"
	fi
done
pid="$(pgrep -x libvirtd | head -n 1 || true)"
if [ -z "$pid" ]; then
	say "no libvirtd process (modular daemons?): if networks fail to start, restart the network daemon"
elif [ "$(($(date +%s) - $(ps -o etimes= -p "$pid")))" -le "$newest" ]; then
	need_root "restarting libvirtd"
	say "restarting libvirtd (pid ${pid}): it started before iptables, dnsmasq or QEMU were installed"
	if unit_active libvirtd.service; then
		systemctl restart libvirtd.service
	else
		kill -TERM "$pid"
		wait_for gone "$pid" || die "libvirtd (pid ${pid}) did not stop after ${WAIT}s"
		rm -f "$SOCKET"
		libvirtd -d || die "libvirtd -d failed (see /var/log/libvirt/libvirtd.log)"
	fi
	wait_for probe || die "libvirtd does not open ${URI} after ${WAIT}s (see /var/log/libvirt/libvirtd.log)"
fi

# The storage pool the driver puts volumes in by default.
if ! virsh_q pool-info "$POOL" >/dev/null 2>&1; then
	need_root "defining pool ${POOL}"
	say "defining pool ${POOL} at ${POOL_DIR}"
	install -d -m 0711 "$POOL_DIR"
	virsh_q pool-define-as "$POOL" dir --target "$POOL_DIR" >/dev/null
fi
if [ "$(virsh_q pool-info "$POOL" | awk '$1 == "State:" { print $2 }')" != running ]; then
	say "starting pool ${POOL}"
	virsh_q pool-build "$POOL" >/dev/null 2>&1 || true
	virsh_q pool-start "$POOL" >/dev/null
fi
if [ "$(virsh_q pool-info "$POOL" | awk '$1 == "Autostart:" { print $2 }')" != yes ]; then
	say "marking pool ${POOL} autostart"
	virsh_q pool-autostart "$POOL" >/dev/null
fi

accel=kvm
if ! virsh_q domcapabilities --virttype kvm --arch x86_64 >/dev/null 2>&1; then
	accel="TCG (libvirt offers no kvm guests; see /var/log/libvirt/libvirtd.log)"
elif ! grep -qwE 'vmx|svm' /proc/cpuinfo; then
	# KVM without hardware virtualization is paravirtual (PVM, for one):
	# it boots only kernels built for it, and the test falls back to TCG.
	accel="TCG (${KVM} is not hardware-assisted: the CPU has neither vmx nor svm)"
fi
say "${URI} is ready: $(qemu-system-x86_64 --version | head -n 1); guests run under ${accel}; pool ${POOL}; kernel $(kernel | tail -n 1)"
