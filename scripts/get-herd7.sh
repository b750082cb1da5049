#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Fetch herd7 (Debian's herdtools7) for the LKMM litmus tests, without
# installing anything on the host.
#
# Debian has herdtools7 only in sid, built against sid's glibc, newer than
# bookworm's.  So herdtools7, libc6 and libgmp10 are downloaded from sid with
# apt-get download through a private apt configuration under
# $KMMU_CACHE/apt/sid (same mirror as the machine's own sources, its own
# package lists; the machine's apt sources and state are never changed, as in
# scripts/get-base.sh), unpacked with dpkg-deb -x into
# $KMMU_CACHE/herdtools7/root, and herd7 is run through the unpacked dynamic
# loader with --library-path (see the "herd7" wrapper this writes).
#
# Pinned: herdtools7 $HERD7_VERSION.  sid moves on: when the pinned version has
# left the archive, the newest one is taken and that is said loudly (the
# litmus tests record verdicts of the kernel's model, not of a herd7
# version, and scripts/check-litmus.sh compares every one of them).
#
# Usage: scripts/get-herd7.sh     (prints the path of the herd7 wrapper)
# KMMU_HERD7_VERSION overrides the pinned version.
set -e
. "$(dirname "$0")/lib.sh"

HERD7_VERSION=${KMMU_HERD7_VERSION:-7.58-2}
SUITE=sid
top=$KMMU_CACHE/herdtools7
wrapper=$top/herd7

# Already there and working: nothing to fetch.
if [ -x "$wrapper" ] && "$wrapper" -version >/dev/null 2>&1; then
	echo "$wrapper"
	exit 0
fi

need_group fetch

# The private apt configuration of sid, as for the 7.3 base and b4
# (lib.sh): the machine's own apt sources are never touched.
private_apt "$SUITE"

sid_version() { suite_version "$SUITE" "$1"; }
version=$(pinned_version "$SUITE" herdtools7 "$HERD7_VERSION" herd7)
# herd7 needs sid's glibc (libc6, which has the dynamic loader) and libgmp10.
pkgs=("herdtools7=$version")
for p in libc6 libgmp10; do
	v=$(sid_version "$p")
	[ -n "$v" ] || die "$p is not in $SUITE: cannot fetch herd7"
	pkgs+=("$p=$v")
done

debs=$top/debs
download_unpack "$top" herd7 "${pkgs[@]}"
# Only herd7 is used: drop the other tools (about 220 MiB) and the .debs.
find "$top/root.new/usr/bin" -mindepth 1 ! -name herd7 -delete
rm -rf "$debs"
rm -rf "$top/root"
mv "$top/root.new" "$top/root"

lib=$top/root/usr/lib/x86_64-linux-gnu
[ -x "$lib/ld-linux-x86-64.so.2" ] && [ -x "$top/root/usr/bin/herd7" ] &&
	[ -d "$top/root/usr/share/herdtools7/herd" ] || die "unexpected layout of the unpacked herdtools7 in $top/root"
# herd7's own library (stdlib.cat ...) is compiled in as /usr/share/...:
# -set-libdir points it at the unpacked one.
cat > "$wrapper" <<EOF
#!/bin/sh
# herd7 from Debian sid's herdtools7 ${pkgs[*]},
# unpacked by scripts/get-herd7.sh, run through sid's dynamic loader.
R="\$(dirname "\$0")/root"
L="\$R/usr/lib/x86_64-linux-gnu"
exec "\$L/ld-linux-x86-64.so.2" --library-path "\$L" "\$R/usr/bin/herd7" -set-libdir "\$R/usr/share/herdtools7/herd" "\$@"
EOF
chmod +x "$wrapper"
echo "${pkgs[*]}" > "$top/VERSION"
"$wrapper" -version >/dev/null 2>&1 || die "the unpacked herd7 does not run: $wrapper -version"
msg "herd7 $("$wrapper" -version | head -n 1) in $top"
echo "$wrapper"
