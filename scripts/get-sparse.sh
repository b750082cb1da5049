#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Fetch a sparse new enough for Linux 7.x, without installing anything on the
# host.
#
# Linux 7.x's Makefile runs scripts/checker-valid.sh before C=1/C=2 and turns
# the check off ("sparse is not available or not up to date") when sparse
# cannot parse __typeof_unqual__: bookworm's sparse 0.6.4 cannot.  Debian has
# a newer one only in sid (0.6.5~rc1), built against sid's glibc (it needs
# GLIBC_2.38, bookworm has 2.36).  So sparse and libc6 are downloaded from sid
# with apt-get download through a private apt configuration under
# $KMMU_CACHE/apt/sid (same mirror as the machine's own sources, its own
# package lists; the machine's apt sources and state are never changed, as in
# scripts/get-base.sh and scripts/get-herd7.sh), unpacked with dpkg-deb -x
# into $KMMU_CACHE/sparse/root, and sparse is run through the unpacked dynamic
# loader with --library-path by the wrapper this writes,
# $KMMU_CACHE/sparse/sparse, which kbuild takes as its checker:
#     make C=2 CHECK=$KMMU_CACHE/sparse/sparse ...
# Only the sparse binary itself is kept (not cgcc, c2xml, semind: they need
# perl or sid's libsqlite3/libxml2), and of libc6 only the loader and libc.so.6,
# the one library sparse links.
#
# Pinned: sparse $SPARSE_VERSION.  When the pinned version has left sid, the
# newest one is taken and that is said loudly (scripts/check-series.sh
# compares sparse's warnings on the patched files with the same sparse's on
# the base, so a version change shifts both sides alike).
#
# Usage: scripts/get-sparse.sh     (prints the path of the sparse wrapper)
# KMMU_SPARSE_VERSION overrides the pinned version.
set -e
. "$(dirname "$0")/lib.sh"

SPARSE_VERSION=${KMMU_SPARSE_VERSION:-0.6.5~rc1-2}
SUITE=sid
top=$KMMU_CACHE/sparse
wrapper=$top/sparse

# Already there and working: nothing to fetch.
if [ -x "$wrapper" ] && "$wrapper" --version >/dev/null 2>&1; then
	echo "$wrapper"
	exit 0
fi

need_group fetch

# One fetch at a time (make test runs the mainline checks in the background):
# a second caller waits, then finds the first one's sparse.
mkdir -p "$KMMU_CACHE"
exec 9> "$KMMU_CACHE/sparse.lock"
flock 9
if [ -x "$wrapper" ] && "$wrapper" --version >/dev/null 2>&1; then
	echo "$wrapper"
	exit 0
fi

# The private apt configuration of sid, as for herd7 and the 7.3 base
# (lib.sh): the machine's own apt sources are never touched.
private_apt "$SUITE"

sid_version() { suite_version "$SUITE" "$1"; }
version=$(pinned_version "$SUITE" sparse "$SPARSE_VERSION" sparse)
# sparse needs sid's glibc (libc6, which has the dynamic loader).
pkgs=("sparse=$version")
v=$(sid_version libc6)
[ -n "$v" ] || die "libc6 is not in $SUITE: cannot fetch sparse"
pkgs+=("libc6=$v")

debs=$top/debs
download_unpack "$top" sparse "${pkgs[@]}"
lib=$top/root.new/usr/lib/x86_64-linux-gnu
[ -x "$lib/ld-linux-x86-64.so.2" ] && [ -f "$lib/libc.so.6" ] && [ -x "$top/root.new/usr/bin/sparse" ] ||
	die "unexpected layout of the unpacked sparse and libc6 in $top/root.new"
# Keep sparse, the loader and libc.so.6 (under 3 MiB of some 15).
mkdir -p "$top/keep/usr/bin" "$top/keep/usr/lib/x86_64-linux-gnu"
mv "$top/root.new/usr/bin/sparse" "$top/keep/usr/bin/"
mv "$lib/ld-linux-x86-64.so.2" "$lib/libc.so.6" "$top/keep/usr/lib/x86_64-linux-gnu/"
rm -rf "$debs" "$top/root.new" "$top/root"
mv "$top/keep" "$top/root"

# sparse's compiler headers default to sid's gcc-16 directory, absent here:
# point -gcc-base-dir at the host gcc's (kbuild passes -nostdinc and its own
# -isystem, so this matters only for a file checked outside kbuild).
gccdir=$(gcc -print-file-name= 2>/dev/null || true)
gccopt=
[ -n "$gccdir" ] && [ -d "$gccdir/include" ] && gccopt="-gcc-base-dir '${gccdir%/}'"
cat > "$wrapper.new" <<EOF
#!/bin/sh
# sparse from Debian sid's ${pkgs[*]},
# unpacked by scripts/get-sparse.sh, run through sid's dynamic loader.
# kbuild: make C=2 CHECK=\$0
R="\$(dirname "\$0")/root"
L="\$R/usr/lib/x86_64-linux-gnu"
exec "\$L/ld-linux-x86-64.so.2" --library-path "\$L" "\$R/usr/bin/sparse" $gccopt "\$@"
EOF
chmod +x "$wrapper.new"
mv "$wrapper.new" "$wrapper"
echo "${pkgs[*]}" > "$top/VERSION"
"$wrapper" --version >/dev/null 2>&1 || die "the unpacked sparse does not run: $wrapper --version"
msg "sparse $("$wrapper" --version) in $top"
echo "$wrapper"
