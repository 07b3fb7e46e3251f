#!/bin/sh
# Install what redscope needs on Debian or Ubuntu, only what is missing.
# Usage: scripts/install-deps.sh [--arch=ARCH] [--list] build [test] [demo] [bench]
#
# build: what `make` needs to build for ARCH (amd64 or arm64, also spelt x86 and aarch64;
# default: this machine's): the host's tools, the C compiler for ARCH (Debian's cross
# compiler when ARCH is not this machine's) and the -dev packages of every library the
# daemon links, for ARCH (multiarch: dpkg --add-architecture ARCH first).
# test: every test's tools, and what the kernel matrix builds and boots for each of its
# architectures (amd64 and arm64): their build packages and qemu-system-x86/-arm.
# bench: what `make bench` runs: the servers and load generators of the benchmarks (wrk
# and hey, a Go client), perf for bench/profile.py, valgrind for the framing core's
# instruction counts.
# --list prints the packages the groups need, one a line, and installs nothing.
set -eu

HOST_TOOLS="make clang llvm pkg-config protobuf-c-compiler"
# the -dev packages of LDLIBS, per arch
LIB_DEV="libc6-dev libbpf-dev libelf-dev zlib1g-dev libmicrohttpd-dev libgnutls28-dev
libcrypt-dev libyaml-dev libprotobuf-c-dev libnghttp2-dev"
DEMO_PKGS="gunicorn python3 python3-django python3-locust prometheus"
TEST_PKGS="$DEMO_PKGS curl wrk python3-pytest python3-flask python3-requests
python3-prometheus-client python3-protobuf protobuf-compiler python3-gevent util-linux uwsgi
uwsgi-plugin-python3 nginx nodejs
libclang-rt-14-dev python3-yaml debootstrap tmux openssl systemd procps cpio
haproxy tinyproxy busybox uvicorn python3-fastapi nghttp2-client nghttp2-server python3-grpcio apache2"
BENCH_PKGS="gunicorn python3 python3-prometheus-client wrk hey nginx nodejs linux-perf valgrind"
MATRIX_ARCHES="amd64 arm64"
# The deploy tests also run kubectl (kustomize) and npm (the manifest validator's
# packages). Machines may have them from other repositories (a kubectl package,
# a nodejs that bundles npm): Debian's kubernetes-client and npm only when absent.
WANT_TEST_TOOLS=""

if ! command -v apt-get >/dev/null 2>&1; then
	echo "install-deps: no apt-get here; install by hand: $HOST_TOOLS gcc $LIB_DEV bpftool" >&2
	exit 1
fi
HOST=$(dpkg --print-architecture)

debian_arch() {
	case "$1" in
	"") echo "$HOST" ;; # an empty --arch (docker build without BuildKit's TARGETARCH)
	amd64 | x86 | x86_64) echo amd64 ;;
	arm64 | aarch64) echo arm64 ;;
	*) echo "install-deps: unknown architecture '$1' (expected amd64 or arm64)" >&2; exit 2 ;;
	esac
}

# the C compiler that builds for an architecture here: this machine's gcc, or the
# cross compiler Debian names after the target's triplet
compiler_for() {
	if [ "$1" = "$HOST" ]; then
		echo gcc
	else
		case "$1" in
		amd64) echo gcc-x86-64-linux-gnu ;;
		arm64) echo gcc-aarch64-linux-gnu ;;
		esac
	fi
}

build_for() {
	echo "$HOST_TOOLS $(compiler_for "$1")"
	for p in $LIB_DEV; do
		echo "$p:$1"
	done
}

target=$HOST
list=""
want=""
arches=""
for group in "$@"; do
	case "$group" in
	--arch=*) target=$(debian_arch "${group#--arch=}") ;;
	--list) list=1 ;;
	build) want="$want build" ;;
	test) want="$want test"; WANT_TEST_TOOLS=1 ;;
	demo) want="$want demo" ;;
	bench) want="$want bench" ;;
	*) echo "install-deps: unknown group '$group' (expected build, test, demo or bench)" >&2; exit 2 ;;
	esac
done
[ -n "$want" ] || { echo "usage: $0 [--arch=ARCH] build [test] [demo] [bench]" >&2; exit 2; }

pkgs=""
for group in $want; do
	case "$group" in
	build) pkgs="$pkgs $(build_for "$target")"; arches="$arches $target" ;;
	test)
		pkgs="$pkgs $TEST_PKGS"
		for a in $MATRIX_ARCHES; do
			pkgs="$pkgs $(build_for "$a")"
			arches="$arches $a"
			case "$a" in
			amd64) pkgs="$pkgs qemu-system-x86" ;;
			arm64) pkgs="$pkgs qemu-system-arm" ;;
			esac
		done
		;;
	demo) pkgs="$pkgs $DEMO_PKGS" ;;
	bench) pkgs="$pkgs $BENCH_PKGS" ;;
	esac
done
if [ -n "$list" ]; then
	printf '%s\n' $pkgs bpftool | sort -u
	exit 0
fi

# one dpkg-query for every package: fast when everything is there. A package is there by
# its name qualified with its architecture, and by its bare name when that is the host's
# (or all).
# shellcheck disable=SC2086
missing=$(dpkg-query -W -f='${Package}:${Architecture} ${db:Status-Abbrev}\n' $pkgs \
	2>/dev/null | awk -v want="$pkgs" -v host="$HOST" '
	$2 ~ /^ii/ {
		ok[$1] = 1
		split($1, p, ":")
		if (p[2] == host || p[2] == "all")
			ok[p[1]] = 1
	}
	END {
		n = split(want, w, /[ \n\t]+/)
		for (i = 1; i <= n; i++)
			if (w[i] != "" && !ok[w[i]] && !seen[w[i]]++)
				printf " %s", w[i]
	}')
# bpftool: its own package on Debian, part of linux-tools on Ubuntu
if ! command -v bpftool >/dev/null 2>&1; then
	missing="$missing bpftool"
fi
if [ -n "$WANT_TEST_TOOLS" ]; then
	command -v kubectl >/dev/null 2>&1 || missing="$missing kubernetes-client"
	command -v npm >/dev/null 2>&1 || missing="$missing npm"
fi
foreign=""
for a in $arches; do
	[ "$a" = "$HOST" ] && continue
	dpkg --print-foreign-architectures | grep -qx "$a" || foreign="$foreign $a"
done

if [ -z "$missing" ] && [ -z "$foreign" ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages:$missing${foreign:+ (and dpkg architectures$foreign)};" \
		"run as root (sudo make ...)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
for a in $foreign; do
	echo "install-deps: dpkg --add-architecture $a (its -dev packages build for it)"
	dpkg --add-architecture "$a"
done
if ! apt-get update -qq; then
	# a mirror without those architectures (Ubuntu's archive has no arm64: ports.ubuntu.com
	# has) would break every later apt-get update: leave dpkg as it was
	for a in $foreign; do
		dpkg --remove-architecture "$a"
	done
	echo "install-deps: apt-get update failed${foreign:+ with the architectures$foreign added}" \
		"(on Ubuntu, arm64 comes from ports.ubuntu.com: add a source for it)" >&2
	exit 1
fi
echo "install-deps: installing$missing"
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
