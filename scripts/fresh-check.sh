#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make fresh-check: run the tree's test command (bash .ci/run, i.e. make test)
# as it runs on a fresh Debian bookworm machine: in a new minimal bookworm
# root (debootstrap --variant=minbase, plus git and make, which every machine
# of this kind has), with /proc, /sys and /dev bound in, no cache, and a clone
# of the committed tree.  Every tool the test needs must come from the tree's
# own install step (scripts/install-deps.sh); a missing one fails here even
# when this machine has it.  Run it before a release.
#
# Environment:
#   KMMU_FRESH_ROOT=DIR   where the root goes (default /var/tmp/kmmu-fresh-root;
#                         emptied first)
#   KMMU_FRESH_CMD=CMD    what runs in it (default "bash .ci/run")
#   KMMU_FRESH_KEEP=1     keep the root afterwards (its out/ holds the logs)
# The log goes to $KMMU_OUT/fresh-check.log; the last line gives the outcome
# and the wall time.
set -e
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || die "fresh-check needs root (debootstrap, chroot, mounts)"
need_group fresh
root=${KMMU_FRESH_ROOT:-/var/tmp/kmmu-fresh-root}
cmd=${KMMU_FRESH_CMD:-bash .ci/run}
case $root in /|/usr|/var|/tmp|/root|"$HOME") die "refusing KMMU_FRESH_ROOT=$root" ;; esac
git -C "$TOP" diff --quiet HEAD 2>/dev/null ||
	warn "uncommitted changes in $TOP are not checked: the fresh root gets a clone of HEAD"
mkdir -p "$KMMU_OUT"
log=$KMMU_OUT/fresh-check.log

# The machine's own Debian mirror and suites: a fresh machine of this kind
# has the same apt sources.
mirror=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null |
	 grep -v -- '-security' | grep -i debian | head -n 1)
[ -n "$mirror" ] || mirror=http://deb.debian.org/debian

umount_all() { grep -F " $root/" /proc/mounts | cut -d' ' -f2 | sort -r | xargs -r -n1 umount -l 2>/dev/null || true; }
umount_all
rm -rf "$root"
s=$(now)
msg "debootstrap bookworm into $root ($mirror)"
debootstrap --variant=minbase --include=git,make,ca-certificates bookworm "$root" "$mirror" \
	> "$log.debootstrap" 2>&1 || die "debootstrap failed: see $log.debootstrap"
# The apt sources of this machine, Debian's only (a fresh machine has those).
rm -f "$root/etc/apt/sources.list"
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*; do
	[ -f "$f" ] && grep -q 'debian' "$f" && cp "$f" "$root/etc/apt/${f#/etc/apt/}"
done
cp /etc/resolv.conf "$root/etc/resolv.conf"
git clone -q --no-local "$TOP" "$root/work/main"
# ../shared beside the tree, as CI lays it out.
[ -d "$TOP/../shared" ] && cp -a "$TOP/../shared" "$root/work/shared"
boot=$(( $(now) - s ))
msg "root ready in $boot s; running '$cmd' in it (log: $log)"

s=$(now)
set +e
unshare --mount --propagation private bash -c '
	r=$1; shift
	for d in proc sys dev; do mount --rbind "/$d" "$r/$d"; done
	mount -t tmpfs tmpfs "$r/tmp"
	exec chroot "$r" env -i HOME=/root TERM=dumb CI=true LANG=C.UTF-8 \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		bash -c "cd /work/main && $*"' _ "$root" "$cmd" > "$log" 2>&1
rc=$?
set -e
wall=$(( $(now) - s ))
tail -n 5 "$log"
summary="fresh-check: '$cmd' in a new bookworm root: exit $rc after $wall s ($(( wall / 60 )) min; root made in $boot s)"
echo "$summary" | tee -a "$log"
[ "${KMMU_FRESH_KEEP:-0}" = 1 ] || { umount_all; rm -rf "$root"; }
exit $rc
