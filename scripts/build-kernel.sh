#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Configure and build a bzImage out of tree.
#
# Usage: scripts/build-kernel.sh TREE [FRAGMENT...]
#   TREE is a directory holding src/ (a clean kernel source tree); the build
#   goes to TREE/build.  FRAGMENTs default to configs/vm-kvm.config and
#   configs/debug.config; a patched tree (TREE/APPLIED) also gets
#   configs/series-<series>.config, if there is one.  The config is
#   tinyconfig plus the fragments, merged with the kernel's own
#   merge_config.sh; every option the fragments ask for is then checked in the
#   final .config, because olddefconfig silently drops options whose
#   dependencies are missing.
#
# Environment: KMMU_JOBS=N parallel jobs (default: nproc); KMMU_KBUILD_DIR=DIR
# builds there instead of TREE/build (make kasan, make kcsan: a build directory
# of their own, TREE/build-kasan, TREE/build-kcsan).
set -e
. "$(dirname "$0")/lib.sh"

tree=${1:?usage: build-kernel.sh TREE [FRAGMENT...]}
shift
mkdir -p "$tree"
tree=$(cd "$tree" && pwd)
[ $# -gt 0 ] || set -- "$TOP/configs/vm-kvm.config" "$TOP/configs/debug.config"
# Options that only exist with the series applied (configs/series-NAME.config)
# go into the patched tree's config only: the base has no such symbols.
if [ -f "$tree/APPLIED" ] && [ -f "$TOP/configs/series-$SERIES_NAME.config" ]; then
	set -- "$@" "$TOP/configs/series-$SERIES_NAME.config"
fi
src=$tree/src
obj=${KMMU_KBUILD_DIR:-$tree/build}
[ -f "$src/Makefile" ] || die "$src is not a kernel source tree"
if [ -e "$src/.config" ] || [ -d "$src/include/config" ]; then
	die "$src has been configured or built in place; out-of-tree builds need a clean tree (make mrproper there)"
fi
frags=()
for f in "$@"; do
	[ -f "$f" ] || die "no such config fragment: $f"
	frags+=("$(cd "$(dirname "$f")" && pwd)/$(basename "$f")")
done
set -- "${frags[@]}"

need_build_tools
mkdir -p "$obj"
obj=$(cd "$obj" && pwd)
jobs=${KMMU_JOBS:-$(nproc)}
# ccache's depend mode: no preprocessor run on a miss (about 15 % of a cold
# kernel build).  It has no preprocessor-mode hits, which would be what serves
# the second of two kernels whose configs differ (a changed autoconf.h changes
# every direct-mode key); seeding the second build directory from the first
# (below) serves that kernel instead.
export CCACHE_DEPEND=${CCACHE_DEPEND:-1}

# HOSTCC too: objtool and the other host tools are built again in every
# build directory (base, patched, bisect) from the same sources.
kmake() { make -s -C "$src" O="$obj" ARCH=x86_64 CC="ccache gcc" HOSTCC="ccache gcc" -j"$jobs" "$@"; }

# The options the fragments ask for, the last fragment winning.
requested() {
	cat "$@" | sed -n -e 's/^\(CONFIG_[A-Za-z0-9_]*\)=\(.*\)$/\1 \2/p' \
		-e 's/^# \(CONFIG_[A-Za-z0-9_]*\) is not set$/\1 n/p' |
	awk '{ v[$1] = $2; if (!($1 in o)) { o[$1] = n++; k[n - 1] = $1 } }
	     END { for (i = 0; i < n; i++) print k[i], v[k[i]] }'
}

# Check every requested option in the final .config; name the ones lost.
verify_config() {
	local cfg=$obj/.config opt val bad=()
	while read -r opt val; do
		if [ "$val" = n ]; then
			grep -q "^$opt=" "$cfg" && bad+=("$opt (wanted unset, got $(grep "^$opt=" "$cfg" | cut -d= -f2))")
		else
			grep -qxF "$opt=$val" "$cfg" ||
				bad+=("$opt=$val (got: $(grep -E "^(# )?$opt[= ]" "$cfg" || echo absent))")
		fi
	done < <(requested "$@")
	if [ ${#bad[@]} -gt 0 ]; then
		printf 'error: options requested by the config fragments did not survive olddefconfig:\n' >&2
		printf '  %s\n' "${bad[@]}" >&2
		return 1
	fi
}

# A build directory of the tree's own (TREE/build, TREE/build-kcsan) is
# seeded from the other tree's of the same name; one elsewhere is not.
if [ -z "${KMMU_KBUILD_DIR:-}" ] || [ "$(dirname "$obj")" = "$tree" ]; then
	seed_build_dir "$tree" "$obj"
fi
inputs=$( (tree_kernelversion "$src"; cat "$@") | sha256sum | cut -c1-16)
if [ ! -f "$obj/.config" ] || [ "$(cat "$obj/.kmmu-config-inputs" 2>/dev/null)" != "$inputs" ]; then
	msg "configuring $obj (tinyconfig + $(for f in "$@"; do basename "$f"; done | tr '\n' ' '))"
	rm -f "$obj/.kmmu-config-inputs"
	kmake tinyconfig >/dev/null
	"$src/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" "$@" >/dev/null
	kmake olddefconfig >/dev/null
	verify_config "$@"
	echo "$inputs" > "$obj/.kmmu-config-inputs"
fi

# Reproducible: the base kernel's test results are cached by the sha256 of
# its bzImage (scripts/basecache.py), and a build from the same tree with the
# same configuration must give the same bytes (a new clone, ccache warm):
# no build time, user, host or build count of this machine in it.
: "${KBUILD_BUILD_TIMESTAMP:=$(date -u -d "@$(stat -c %Y "$src/Makefile")" '+%Y-%m-%d %H:%M:%S UTC')}"
: "${KBUILD_BUILD_USER:=kmmu}" "${KBUILD_BUILD_HOST:=kvm-mmu-series}" "${KBUILD_BUILD_VERSION:=1}"
export KBUILD_BUILD_TIMESTAMP KBUILD_BUILD_USER KBUILD_BUILD_HOST KBUILD_BUILD_VERSION

# make's output is hidden (-s): a heartbeat line every KMMU_HEARTBEAT seconds
# (default 30, 0: none) says how many objects are done.
every=${KMMU_HEARTBEAT:-30}
case $every in ''|*[!0-9]*) die "KMMU_HEARTBEAT must be seconds (0: no heartbeat), not '$every'" ;; esac
msg "building bzImage in $obj ($jobs jobs)"
start=$(now)
touch "$obj/.kmmu-build-start"
hb=
if [ "$every" -gt 0 ]; then
	build_heartbeat "$obj" "$obj/.kmmu-build-start" "$every" "$(cat "$obj/.kmmu-objects" 2>/dev/null)" &
	hb=$!
	trap 'kill $hb 2>/dev/null' EXIT
fi
kmake bzImage
if [ -n "$hb" ]; then kill "$hb" 2>/dev/null; wait "$hb" 2>/dev/null || true; trap - EXIT; fi
find "$obj" -name '*.o' | wc -l > "$obj/.kmmu-objects"
# A build of the real series replaces a busted kernel (scripts/busted.sh
# builds with KMMU_BUSTED_NAME set and writes TREE/BUSTED itself).
[ -n "${KMMU_BUSTED_NAME:-}" ] || [ "$obj" != "$tree/build" ] || rm -f "$tree/BUSTED"
msg "built $obj/arch/x86/boot/bzImage in $(duration $(( $(now) - start )))"
echo "$obj/arch/x86/boot/bzImage"
