#!/bin/sh
# Install what redscope needs on Debian or Ubuntu, only what is missing.
# Usage: scripts/install-deps.sh build [test] [demo]
set -eu

BUILD_PKGS="make gcc clang llvm pkg-config libbpf-dev libelf-dev zlib1g-dev libmicrohttpd-dev
libgnutls28-dev libcrypt-dev libyaml-dev libprotobuf-c-dev protobuf-c-compiler"
DEMO_PKGS="gunicorn python3 python3-django python3-locust prometheus"
TEST_PKGS="$DEMO_PKGS curl wrk python3-pytest python3-flask python3-requests
python3-prometheus-client python3-protobuf python3-gevent util-linux uwsgi uwsgi-plugin-python3 nginx nodejs
libclang-rt-14-dev python3-yaml debootstrap tmux openssl systemd procps qemu-system-x86 cpio
haproxy tinyproxy busybox"
# The deploy tests also run kubectl (kustomize) and npm (the manifest validator's
# packages). Machines may have them from other repositories (a kubectl package,
# a nodejs that bundles npm): Debian's kubernetes-client and npm only when absent.
WANT_TEST_TOOLS=""

want=""
for group in "$@"; do
	case "$group" in
	build) want="$want $BUILD_PKGS" ;;
	test) want="$want $TEST_PKGS"; WANT_TEST_TOOLS=1 ;;
	demo) want="$want $DEMO_PKGS" ;;
	*) echo "install-deps: unknown group '$group' (expected build, test or demo)" >&2; exit 2 ;;
	esac
done
[ -n "$want" ] || { echo "usage: $0 build [test] [demo]" >&2; exit 2; }

if ! command -v apt-get >/dev/null 2>&1; then
	echo "install-deps: no apt-get here; install by hand:$want bpftool" >&2
	exit 1
fi

installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

missing=""
for p in $want; do
	installed "$p" || missing="$missing $p"
done
# bpftool: its own package on Debian, part of linux-tools on Ubuntu
if ! command -v bpftool >/dev/null 2>&1 && ! installed bpftool; then
	missing="$missing bpftool"
fi

if [ -n "$WANT_TEST_TOOLS" ]; then
	command -v kubectl >/dev/null 2>&1 || installed kubernetes-client || missing="$missing kubernetes-client"
	command -v npm >/dev/null 2>&1 || installed npm || missing="$missing npm"
fi

if [ -z "$missing" ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages:$missing; run as root (sudo make ...)" >&2
	exit 1
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
case " $missing " in
*" bpftool "*)
	if ! apt-cache show bpftool >/dev/null 2>&1; then
		missing=$(echo "$missing" | sed 's/ bpftool//')
		missing="$missing linux-tools-common linux-tools-generic linux-tools-$(uname -r)"
	fi
	;;
esac
# Test tools such as nginx and prometheus are servers: Debian would start them as
# services on their default ports. The tests start their own; keep the system quiet.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' > "$policy"
	chmod +x "$policy"
	trap 'rm -f "$policy"' EXIT
fi
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
