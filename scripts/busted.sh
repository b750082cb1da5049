#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make busted: each deliberately broken kernel in tests/busted/ must fail the
# test written to catch its bug (rcutorture's BUSTED scenarios, for the KVM
# selftests here).  A busted patch is a patch mail that goes on top of the
# series; its body says what it needs:
#   Busted-only: REGEX      the tests to run ("name args", as KMMU_ONLY)
#   Busted-modes: MODES     the MMU modes (default tdp)
#   Busted-expect: REGEX    a line the test's TAP output (tap-g*.log) or the
#                           run's verdicts (results.tap, where a kernel splat
#                           is named) must have (extended regex), e.g. the
#                           "not ok" of the check that finds it
# Each gives a TAP line: ok when the run shows the expected line, not ok when
# the check passed on the broken kernel (it cannot catch that bug) or the
# test did not run.
#
# It builds the patched kernel with the busted patch added (out/trees/patched:
# an incremental build of what the patch touches) and boots it alone; then it
# applies the series again and rebuilds the real patched kernel (again only
# what the patch touched).  The last run's timings in the cache are kept as
# they were.
#
# Environment: KMMU_BUSTED="FILE..." (default tests/busted/*.patch), and those
# of scripts/run.sh (KMMU_ACCEL, KMMU_MAX_SECONDS ...).
set -u
. "$(dirname "$0")/lib.sh"

read -r -a files <<< "${KMMU_BUSTED:-$(echo "$TOP"/tests/busted/*.patch)}"
[ ${#files[@]} -gt 0 ] && [ -f "${files[0]}" ] || die "no busted patch (tests/busted/*.patch, or KMMU_BUSTED=FILE...)"
for f in "${files[@]}"; do
	[ -f "$f" ] || die "busted patch not found: $f"
	grep -q '^Busted-only: ' "$f" && grep -q '^Busted-expect: ' "$f" ||
		die "$f: needs a 'Busted-only: REGEX' and a 'Busted-expect: REGEX' line"
done

lastdir=$KMMU_CACHE/last-run/$SERIES_NAME
saved=$KMMU_OUT/busted/last-run
restore_last() {
	if [ -d "$saved" ]; then rm -rf "$lastdir"; mv "$saved" "$lastdir"; fi
}
mkdir -p "$KMMU_OUT/busted"
rm -rf "$saved"
if [ -d "$lastdir" ]; then cp -a "$lastdir" "$saved"; fi

# Interrupted: the last run's timings come back; the busted kernel stays
# marked (TREE/BUSTED) until a build of the real series replaces it.
trap 'restore_last; msg "interrupted: out/trees/patched may hold a busted kernel, marked; make build replaces it"; exit 130' INT TERM

echo "TAP version 13"
n=0 failed=0
for f in "${files[@]}"; do
	n=$((n + 1))
	name=$(basename "$f" .patch)
	only=$(sed -n 's/^Busted-only: //p' "$f" | head -n 1)
	modes=$(sed -n 's/^Busted-modes: //p' "$f" | head -n 1)
	expect=$(sed -n 's/^Busted-expect: //p' "$f" | head -n 1)
	d=$KMMU_OUT/busted/$name
	rm -rf "$d"
	mkdir -p "$d/patches"
	for p in $(series_patches); do ln -s "$PATCH_DIR/$p" "$d/patches/$p"; done
	cp "$f" "$d/patches/busted-$name.patch"
	{ cat "$SERIES_FILE"; echo "busted-$name.patch # BUSTED: not for merging"; } > "$d/series"
	msg "busted $name: the series plus $(basename "$f"), tests '$only', modes ${modes:-tdp}"
	# No result of an earlier run may stand for this one.
	for m in ${modes:-tdp}; do rm -rf "$KMMU_OUT/results/patched-$m"; done
	# From here until the rebuild at the end, out/trees/patched/build may
	# hold a busted kernel: marked, so that nothing boots it unawares.
	mkdir -p "$KMMU_OUT/trees/patched"
	echo "busted $name" > "$KMMU_OUT/trees/patched/BUSTED"
	KMMU_BUSTED_NAME=$name KMMU_SERIES_FILE=$d/series KMMU_PATCH_DIR=$d/patches KMMU_KERNELS=patched \
		KMMU_MODES=${modes:-tdp} KMMU_PATCHED_MODES= KMMU_ONLY=$only \
		KMMU_RETRIES=0 KMMU_RERUNS=0 bash "$TOP/scripts/run.sh" > "$d/run.log" 2>&1
	rc=$?
	why=
	for m in ${modes:-tdp}; do
		r=$KMMU_OUT/results/patched-$m
		if ! ls "$r"/tap-g*.log > /dev/null 2>&1; then
			why="$why; $m: no test ran (run.sh exit $rc, see $d/run.log)"
		elif ! grep -hqE -- "$expect" "$r"/tap-g*.log "$r"/results.tap 2>/dev/null; then
			why="$why; $m: no line matches '$expect': the check passed on the broken kernel"
		else
			cp "$r"/tap-g*.log "$r"/results.tap "$r"/console-g*.log "$d/" 2>/dev/null
		fi
	done
	if [ -z "$why" ]; then
		echo "ok $n busted $name: $(grep -hE -- "$expect" "$d"/tap-g*.log "$d"/results.tap 2>/dev/null | head -n 1 | cut -c1-200)"
	else
		echo "not ok $n busted $name${why/#;/:}"
		failed=$((failed + 1))
	fi
done
echo "1..$n"

# The real patched kernel again, built: a later step that boots whatever
# bzImage is there (make ept, make lava) must not get a busted one.
msg "applying the series again and rebuilding the patched kernel without the busted patches"
read -r -a frags <<< "${KMMU_FRAGMENTS:-$TOP/configs/vm-kvm.config $TOP/configs/debug.config}"
{ "$TOP/scripts/apply.sh" && "$TOP/scripts/build-kernel.sh" "$KMMU_OUT/trees/patched" "${frags[@]}"; } \
	> "$KMMU_OUT/busted/rebuild.log" 2>&1 ||
	{ restore_last; die "applying the series again or rebuilding the patched kernel failed: see $KMMU_OUT/busted/rebuild.log"; }
rm -f "$KMMU_OUT/trees/patched/BUSTED"
trap - INT TERM
restore_last
[ $failed -eq 0 ]
