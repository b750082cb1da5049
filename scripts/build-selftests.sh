#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build, statically linked, the KVM selftests named in the test list and every
# test in tools/testing/selftests/kvm-extra, against the patched tree's KVM
# selftests library (the base's, plus whatever the series adds).  The same
# binaries then run on the base and the patched kernel.
#
# The kernel trees stay untouched: the UAPI headers go to a separate output
# directory and the selftests build from a copy of tools/.
#
# Usage: scripts/build-selftests.sh [LIST]     (prints the binary directory)
set -e
. "$(dirname "$0")/lib.sh"

list=${1:-$TEST_LIST_DEFAULT}
src=$KMMU_OUT/trees/patched/src
sel=$KMMU_OUT/selftests
bin=$sel/bin
[ -f "$KMMU_OUT/trees/patched/APPLIED" ] || die "no patched tree: run scripts/apply.sh first"
need_build_tools

mkdir -p "$sel/hdr" "$bin"
msg "installing UAPI headers into $sel/hdr"
make -s -C "$src" O="$sel/hdr" ARCH=x86_64 headers >/dev/null

msg "copying tools/ and kvm-extra to $sel/src"
mkdir -p "$sel/src/scripts"
# Copies by content (--checksum) and without the source's mtimes (no -t, so
# not -a): a file that changed gets a fresh mtime and make rebuilds what uses
# it, even when the edit is older than a binary left by an earlier build
# (another checkout, a branch switch); files that did not change keep theirs.
# --copy-unsafe-links: some tools/include headers are symlinks into the
# kernel's include/ (7.x: linux/pci_ids.h for libvfio), outside this copy.
copy() { rsync -rlpD --checksum --delete "$@"; }
copy --copy-unsafe-links "$src/tools/" "$sel/src/tools/"
cp "$src/scripts/subarch.include" "$sel/src/scripts/"
kvm=$sel/src/tools/testing/selftests/kvm
# kvm-extra is written against one selftests library: the 6.12 series'
# tests live in tools/testing/selftests/kvm-extra, the mainline series' (7.x
# library, x86/ instead of x86_64/) in mainline/kvm-extra.
case "$SERIES_NAME" in
mainline) extra_src=$TOP/mainline/kvm-extra ;;
*)	  extra_src=$TOP/tools/testing/selftests/kvm-extra ;;
esac
mkdir -p "$kvm/kvm-extra"
if [ -d "$extra_src" ]; then
	copy "$extra_src/" "$kvm/kvm-extra/"
fi
# The make variable that lists x86 tests: TEST_GEN_PROGS_x86_64 up to 6.x,
# TEST_GEN_PROGS_x86 once the directory became x86/.
if grep -q '^TEST_GEN_PROGS_x86 ' "$kvm/Makefile.kvm" 2>/dev/null; then
	x86_var=TEST_GEN_PROGS_x86
else
	x86_var=TEST_GEN_PROGS_x86_64
fi

kmake() {
	make -s -C "$kvm" ARCH=x86 OUTPUT="$bin" EXTRA_CFLAGS=-static \
		KHDR_INCLUDES="-isystem $sel/hdr/usr/include" -j"$(nproc)" "$@"
}

# Upstream tests: only those on the list (building all of them costs minutes).
# (A list of kvm-extra tests only has none: grep's "no match" is not an error,
# and make must not be run without targets, which would build all of them.)
upstream=$(sed -e 's/#.*//' "$list" | awk 'NF && $1 !~ /^kvm-extra\// { print $1 }' | sort -u)
targets=()
for t in $upstream; do
	[ -f "$kvm/$t.c" ] || die "$list names $t, but $kvm/$t.c does not exist"
	targets+=("$bin/$t")
done
msg "building ${#targets[@]} upstream KVM selftests"
[ ${#targets[@]} -eq 0 ] || kmake "${targets[@]}"

# kvm-extra: every *.c is a test, built by the upstream Makefile's own rules
# (same flags, same library) by naming it as the x86 test list.
extra=$(cd "$kvm" && ls kvm-extra/*.c 2>/dev/null | sed 's/\.c$//' || true)
if [ -n "$extra" ]; then
	msg "building kvm-extra: $(echo $extra | sed 's|kvm-extra/||g')"
	etargets=()
	for t in $extra; do etargets+=("$bin/$t"); done
	kmake "$x86_var=$(echo $extra)" "${etargets[@]}"
fi

for t in ${targets[@]+"${targets[@]}"} ${extra:+${etargets[@]}}; do
	file "$t" | grep -q 'statically linked' || die "$t is not statically linked"
done
echo "$bin"
