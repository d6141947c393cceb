#!/usr/bin/env bash
# Installs and starts a libvirtd for the libvirt backend's tests, on Debian 12
# without systemd, as root. Idempotent: what is already there is left alone,
# and a daemon already answering on the socket is kept.
#
#   scripts/libvirtd-test-setup.sh        # install if missing, start, probe
#
# Environment:
#   LIBVIRT_WAIT     seconds to wait for the daemon to answer (default 30)
set -euo pipefail

SOCKET=/run/libvirt/libvirt-sock
WAIT="${LIBVIRT_WAIT:-30}"
PROBE_URI="test+unix:///default"

say() { echo "libvirtd-test-setup: $*"; }
die() {
	echo "libvirtd-test-setup: error: $*" >&2
	exit 1
}

# probe succeeds when the daemon answers on the socket through its test
# driver, which needs no hypervisor.
probe() {
	command -v virsh >/dev/null 2>&1 || return 1
	virsh -c "${PROBE_URI}?socket=${SOCKET}" list >/dev/null 2>&1
}

if probe; then
	say "libvirtd already answers on ${SOCKET}"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	die "libvirtd does not answer on ${SOCKET}, and installing or starting it needs root; run this script as root, or start libvirtd yourself (libvirtd -d)"
fi

# Packages: the daemon (its test driver is built in) and virsh. Recommends
# are skipped: they pull in QEMU, which the tests do not need.
missing=()
for pkg in libvirt-daemon libvirt-clients; do
	if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$pkg")
	fi
done
if [ "${#missing[@]}" -gt 0 ]; then
	command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install ${missing[*]} with this system's package manager"
	say "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq || die "apt-get update failed"
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
else
	say "libvirt-daemon and libvirt-clients are installed"
fi
command -v libvirtd >/dev/null 2>&1 || die "libvirtd not found after installing libvirt-daemon"

# Debian's libvirtd refuses to start without these when no system package
# (libvirt-daemon-system) made them.
if ! getent group kvm >/dev/null; then
	say "creating group kvm"
	groupadd --system kvm
fi
if ! getent group libvirt-qemu >/dev/null; then
	say "creating group libvirt-qemu"
	groupadd --system libvirt-qemu
fi
if ! getent passwd libvirt-qemu >/dev/null; then
	say "creating user libvirt-qemu"
	useradd --system --no-create-home -g kvm libvirt-qemu
fi
if [ ! -d /var/log/libvirt ]; then
	say "creating /var/log/libvirt"
	mkdir -p /var/log/libvirt
fi

# A socket file left by a daemon that died answers nothing; libvirtd
# replaces it, but only when no other libvirtd runs.
if [ -S "$SOCKET" ] && ! pgrep -x libvirtd >/dev/null 2>&1; then
	say "removing the stale socket ${SOCKET}"
	rm -f "$SOCKET"
fi

if pgrep -x libvirtd >/dev/null 2>&1; then
	say "libvirtd is running (pid $(pgrep -x libvirtd | tr '\n' ' ')); waiting for ${SOCKET}"
else
	say "starting libvirtd -d"
	if ! libvirtd -d; then
		tail -n 20 /var/log/libvirt/libvirtd.log 2>/dev/null >&2 || true
		die "libvirtd -d failed (see /var/log/libvirt/libvirtd.log)"
	fi
fi

for _ in $(seq "$((WAIT * 5))"); do
	if probe; then
		say "libvirtd answers on ${SOCKET} ($(virsh -c "${PROBE_URI}?socket=${SOCKET}" version --daemon 2>/dev/null | sed -n 's/^Running against daemon: *//p' | head -n 1))"
		exit 0
	fi
	sleep 0.2
done
tail -n 20 /var/log/libvirt/libvirtd.log 2>/dev/null >&2 || true
die "libvirtd does not answer on ${SOCKET} after ${WAIT}s (see /var/log/libvirt/libvirtd.log)"
