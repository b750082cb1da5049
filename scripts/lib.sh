# SPDX-License-Identifier: GPL-2.0
# Common settings and helpers for the series tree scripts.  Source it, do not run it.
#
# Directories (all outside git; override from the environment):
#   KMMU_CACHE  downloads and ccache, kept across clones  (default ~/.cache/kvm-mmu-series)
#   KMMU_OUT    work trees, builds, VM results of this checkout (default <top>/out)

set -o pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KMMU_CACHE=${KMMU_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kvm-mmu-series}
KMMU_OUT=${KMMU_OUT:-$TOP/out}
export CCACHE_DIR=${CCACHE_DIR:-$KMMU_CACHE/ccache}
# The base and patched kernels are built from two trees laid out alike
# (<tree>/src, <tree>/build), so with paths made relative ccache serves the
# second build from the first.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$KMMU_OUT}
export CCACHE_NOHASHDIR=1
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-5G}

# The series this tree carries: 6.12 (default) or mainline.
SERIES_NAME=${SERIES:-6.12}
case "$SERIES_NAME" in
6.12)	SERIES_FILE=${KMMU_SERIES_FILE:-$TOP/series}; PATCH_DIR=${KMMU_PATCH_DIR:-$TOP/patches} ;;
*)	echo "error: unknown SERIES=$SERIES_NAME" >&2; exit 2 ;;
esac

# The pinned base: the Debian package version recorded in the series header.
series_base_version() {
	sed -n 's/^# base-version: *//p' "$SERIES_FILE" | head -n 1
}
BASE_PKG=${BASE_PKG:-linux-source-6.12}
BASE_VERSION=${BASE_VERSION:-$(series_base_version)}

msg()  { printf '==> %s\n' "$*" >&2; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die()  { printf 'error: %s\n' "$*" >&2; exit 1; }

# Patches listed in the series file, in order (comments and blank lines dropped).
series_patches() {
	sed -e 's/#.*//' -e 's/[[:space:]].*//' "$SERIES_FILE" | grep -v '^$' || true
}

# Install the Debian packages that provide the given commands when missing.
# Arguments: cmd:package pairs.
need() {
	local pair cmd pkg missing=()
	for pair in "$@"; do
		cmd=${pair%%:*}; pkg=${pair#*:}
		if [ "${cmd#/}" != "$cmd" ]; then
			[ -e "$cmd" ] && continue
		else
			command -v "$cmd" >/dev/null 2>&1 && continue
		fi
		missing+=("$pkg")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
		die "missing tools, install these Debian packages: ${missing[*]}"
	fi
	msg "installing Debian packages: ${missing[*]}"
	if [ ! -e "$KMMU_CACHE/.apt-updated" ] ||
	   [ -n "$(find "$KMMU_CACHE/.apt-updated" -mmin +360 2>/dev/null)" ]; then
		apt-get update -qq >&2 || die "apt-get update failed"
		mkdir -p "$KMMU_CACHE" && touch "$KMMU_CACHE/.apt-updated"
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >&2 || die "apt-get install ${missing[*]} failed"
}

# Everything needed to build a kernel.
need_build_tools() {
	need gcc:gcc make:make flex:flex bison:bison bc:bc perl:perl \
	     /usr/include/libelf.h:libelf-dev /usr/include/openssl/ssl.h:libssl-dev \
	     ccache:ccache xz:xz-utils cpio:cpio python3:python3 rsync:rsync file:file
}

# Kernel version "V.P.S" from a tree's top Makefile.
tree_kernelversion() {
	awk -F'= *' '/^VERSION =/{v=$2} /^PATCHLEVEL =/{p=$2} /^SUBLEVEL =/{s=$2}
		END{ if (v == "") exit 1; print v "." p "." s }' "$1/Makefile"
}

# "6.12.117-1~deb12u1" -> "6.12.117"
upstream_of() { local v=${1%%-*}; echo "${v%%+*}"; }

now() { date +%s; }
