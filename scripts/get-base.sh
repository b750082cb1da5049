#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Fetch the pinned Debian kernel source package and unpack it, pristine, into
# $KMMU_OUT/trees/base/src.  The .deb is kept in $KMMU_CACHE/debs and reused.
#
# If the pinned version has left the archive, the newest version of the same
# package is taken instead, and that is said loudly: scripts/apply.sh then
# insists that the series applies with --fuzz=0.
#
# A base outside the machine's apt sources (the mainline series' 7.3 kernel
# is in trixie-backports) is fetched through a private apt configuration under
# $KMMU_CACHE/apt/<suite>: same mirror as the machine's own sources, the suite
# named by the series header's "# apt-suite:" line, its own package lists.  The
# machine's apt sources and state are never changed.
#
# Usage: scripts/get-base.sh          (prints the unpacked source directory)
set -e
. "$(dirname "$0")/lib.sh"

# Tests of the harness itself point this at a small fake tree.
if [ -n "${KMMU_BASE_SRC:-}" ]; then
	[ -f "$KMMU_BASE_SRC/Makefile" ] || die "KMMU_BASE_SRC=$KMMU_BASE_SRC is not a kernel tree"
	mkdir -p "$KMMU_OUT/trees/base"
	rsync -a --delete "$KMMU_BASE_SRC/" "$KMMU_OUT/trees/base/src/"
	echo "$BASE_VERSION (test tree $KMMU_BASE_SRC)" > "$KMMU_OUT/trees/base/VERSION"
	echo "$KMMU_OUT/trees/base/src"
	exit 0
fi

need_group fetch

debs=$KMMU_CACHE/debs
tree=$KMMU_OUT/trees/base
mkdir -p "$debs" "$tree"

[ -n "$BASE_VERSION" ] || die "no '# base-version:' line in $SERIES_FILE"

# apt-get/apt-cache go through the private configuration (private_apt in
# scripts/lib.sh) when the series names an apt suite.

deb_for() { ls "$debs/${BASE_PKG}_$(printf %s "$1" | sed 's/:/%3a/')_"*.deb 2>/dev/null | head -n 1 || true; }

version=$BASE_VERSION
deb=$(deb_for "$version")
if [ -z "$deb" ]; then
	if [ -n "$APT_SUITE" ]; then
		private_apt
	elif [ ! -e "$KMMU_CACHE/.apt-updated" ]; then
		apt-get update -qq >&2 || die "apt-get update failed"
		touch "$KMMU_CACHE/.apt-updated"
	fi
	if ! apt-cache "${APT_OPTS[@]}" show "$BASE_PKG=$version" >/dev/null 2>&1; then
		newest=$(apt-cache "${APT_OPTS[@]}" madison "$BASE_PKG" 2>/dev/null | awk -F' *\\| *' '{print $2}' |
			 sort -V | tail -n 1)
		[ -n "$newest" ] || die "$BASE_PKG is not in the apt sources${APT_SUITE:+ (suite $APT_SUITE)}"
		warn "pinned base $BASE_PKG $BASE_VERSION is no longer in the archive;"
		warn "using the newest one instead: $newest (the series must apply with --fuzz=0)"
		version=$newest
	fi
	msg "downloading $BASE_PKG $version"
	(cd "$debs" && apt-get "${APT_OPTS[@]}" download -q "$BASE_PKG=$version" >&2) ||
		die "apt-get download $BASE_PKG=$version failed"
	deb=$(deb_for "$version")
	[ -n "$deb" ] || die "download of $BASE_PKG $version produced no .deb in $debs"
fi

# Reuse the unpacked tree when it is the same package and still pristine.
stamp="$BASE_PKG $version $(stat -c %s "$deb")"
if [ -f "$tree/STAMP" ] && [ "$(cat "$tree/STAMP")" = "$stamp" ] && [ -f "$tree/src/Makefile" ] &&
   [ ! -e "$tree/src/.config" ] && [ ! -e "$tree/src/include/config" ]; then
	echo "$tree/src"
	exit 0
fi

msg "unpacking $(basename "$deb") into $tree/src"
rm -rf "$tree/src" "$tree/STAMP" "$tree/unpack"
mkdir -p "$tree/unpack"
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tree/unpack" --wildcards './usr/src/linux-source-*.tar.*' ||
	die "no kernel source tarball inside $deb"
tarball=$(ls "$tree"/unpack/usr/src/linux-source-*.tar.* | head -n 1)
tar -x -C "$tree/unpack" -f "$tarball"
top=$(find "$tree/unpack" -mindepth 1 -maxdepth 1 -type d -name 'linux-source-*' | head -n 1)
[ -n "$top" ] && [ -f "$top/Makefile" ] || die "unexpected layout in $tarball"
mv "$top" "$tree/src"
rm -rf "$tree/unpack"
kv=$(tree_kernelversion "$tree/src")
if [ "$kv" != "$(upstream_of "$version")" ]; then
	die "$deb unpacked to kernel $kv, expected $(upstream_of "$version")"
fi
echo "$version" > "$tree/VERSION"
echo "$stamp" > "$tree/STAMP"
echo "$tree/src"
