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

dir=$KMMU_CACHE/apt/$SUITE
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
# The machine's Debian mirror: first URIs: line of a deb822 source, else the
# first "deb" line of sources.list (as scripts/get-base.sh finds it).
uri=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null |
      grep -v -- '-security' | head -n 1)
[ -n "$uri" ] || uri=$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++)
	if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' /etc/apt/sources.list 2>/dev/null)
[ -n "$uri" ] || die "cannot find the machine's Debian mirror in /etc/apt/sources.list{,.d/*.sources}"
mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial" "$dir/etc/preferences.d"
printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: %s\n' \
	"$uri" "$SUITE" "$keyring" > "$dir/etc/private.sources"
: > "$dir/etc/empty.list"
APT_OPTS=(-o "Dir::Etc::SourceList=$dir/etc/empty.list"
	  -o "Dir::Etc::SourceParts=$dir/etc"
	  -o "Dir::Etc::Preferences=$dir/etc/empty.list"
	  -o "Dir::Etc::PreferencesParts=$dir/etc/preferences.d"
	  -o "Dir::State::Lists=$dir/lists"
	  -o "Dir::Cache=$dir/cache"
	  -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root")
if [ ! -e "$dir/.updated" ] || [ -n "$(find "$dir/.updated" -mmin +360)" ]; then
	msg "apt-get update of $SUITE from $uri (private configuration in $dir)"
	apt-get "${APT_OPTS[@]}" update -qq >&2 ||
		die "apt-get update of $SUITE failed (private configuration in $dir): cannot fetch herd7"
	touch "$dir/.updated"
fi

# The version of PKG in sid (the newest, when sid has several).
sid_version() {
	apt-cache "${APT_OPTS[@]}" madison "$1" 2>/dev/null |
		awk -F' *\\| *' -v s="$SUITE/" '$3 ~ s { print $2 }' | sort -V | tail -n 1
}

version=$HERD7_VERSION
if ! apt-cache "${APT_OPTS[@]}" madison herdtools7 2>/dev/null | awk -F' *\\| *' '{print $2}' |
     grep -qxF "$version"; then
	newest=$(sid_version herdtools7)
	[ -n "$newest" ] || die "herdtools7 is not in $SUITE: cannot fetch herd7"
	warn "pinned herdtools7 $HERD7_VERSION is no longer in $SUITE; using $newest"
	version=$newest
fi
# herd7 needs sid's glibc (libc6, which has the dynamic loader) and libgmp10.
pkgs=("herdtools7=$version")
for p in libc6 libgmp10; do
	v=$(sid_version "$p")
	[ -n "$v" ] || die "$p is not in $SUITE: cannot fetch herd7"
	pkgs+=("$p=$v")
done

debs=$top/debs
rm -rf "$debs" "$top/root.new"
mkdir -p "$debs"
msg "downloading ${pkgs[*]} from $SUITE into $debs"
(cd "$debs" && apt-get "${APT_OPTS[@]}" download -q "${pkgs[@]}" >&2) ||
	die "apt-get download ${pkgs[*]} failed: cannot fetch herd7"
for d in "$debs"/*.deb; do
	dpkg-deb -x "$d" "$top/root.new"
done
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
