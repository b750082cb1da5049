#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The project's tests, in order:
#   1. the console scanner on recorded logs         (tests/test-scanconsole.py)
#   2. the harness scripts on small fake trees       (tests/test-harness.sh)
#   3. static checks of the series, bisect build     (scripts/check-series.sh)
#   4. the main job: base and patched kernels in the VM, side by side (scripts/run.sh)
#   5. a splat on the console fails a run whose tests pass (tests/test-splat-detection.sh)
#   6. the mainline series (SERIES=mainline): static checks and its VM run on
#      the 7.3 base and the fixed 7.3 kernel
# Each step prints TAP or a table; the last line sums them all up as
# "N passed, N failed, N skipped".  Exit status 0 only when nothing failed.
#
# Environment: the same as scripts/run.sh; SKIP_VM=1 leaves out the VM runs,
# SKIP_MAINLINE=1 step 6.
set -u
. "$(dirname "$0")/lib.sh"

mkdir -p "$KMMU_OUT"
passed=0 failed=0 skipped=0
step_rc=0

# Count a TAP stream: "ok" (not SKIP) passes, "ok ... # SKIP" skips, "not ok" fails.
count_tap() {
	local p f s
	p=$(grep -cE '^ok [0-9]+' "$1" || true)
	s=$(grep -cE '^ok [0-9]+ .*# SKIP' "$1" || true)
	f=$(grep -cE '^not ok [0-9]+' "$1" || true)
	passed=$((passed + p - s)); skipped=$((skipped + s)); failed=$((failed + f))
}

# Add the "N passed, N failed, N skipped" line a VM run's table ends with; no
# such line is a failure of its own.
count_table() {	# count_table LOG WHAT
	local last p f s
	last=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$1" | tail -n 1)
	if [ -n "$last" ]; then
		read -r p _ f _ s _ <<< "$(echo "$last" | tr -d ',')"
		passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
	else
		echo "not ok - $2 produced no result table"
		failed=$((failed + 1))
	fi
}

step() {	# step NAME COMMAND...: run, show, count
	local name=$1 log=$KMMU_OUT/test-$1.log rc start
	shift
	echo "=== $name"
	start=$(now)
	"$@" > >(tee "$log") 2>&1
	rc=$?
	wait
	echo "=== $name: exit $rc, $(( $(now) - start )) s"
	return $rc
}

step scanner python3 "$TOP/tests/test-scanconsole.py"
[ $? -eq 0 ] || step_rc=1
count_tap "$KMMU_OUT/test-scanner.log"

step harness bash "$TOP/tests/test-harness.sh"
[ $? -eq 0 ] || step_rc=1
count_tap "$KMMU_OUT/test-harness.log"

# The bisect build needs a configured kernel: apply and configure first (the
# main job reuses all of it).
step prepare bash -c "'$TOP/scripts/apply.sh' && '$TOP/scripts/build-kernel.sh' '$KMMU_OUT/trees/patched' >/dev/null"
if [ $? -ne 0 ]; then
	echo "not ok - apply and build the patched kernel"
	failed=$((failed + 1))
	echo "$passed passed, $failed failed, $skipped skipped"
	exit 1
fi
passed=$((passed + 1))

step static bash "$TOP/scripts/check-series.sh"
[ $? -eq 0 ] || step_rc=1
count_tap "$KMMU_OUT/test-static.log"

if [ "${SKIP_VM:-0}" = 1 ]; then
	echo "=== vm: skipped (SKIP_VM=1)"
else
	step vm bash "$TOP/scripts/run.sh"
	[ $? -eq 0 ] || step_rc=1
	count_table "$KMMU_OUT/test-vm.log" "the VM run"
	step splat bash "$TOP/tests/test-splat-detection.sh"
	[ $? -eq 0 ] || step_rc=1
	count_tap "$KMMU_OUT/test-splat.log"
fi

# 6. the mainline series on its own base (7.3): static checks, then the
#    reproducer on 7.3 and on 7.3 with the fix, side by side.
if [ "${SKIP_MAINLINE:-0}" = 1 ]; then
	echo "=== mainline: skipped (SKIP_MAINLINE=1)"
else
	step mainline-prepare env SERIES=mainline bash -c ". '$TOP/scripts/lib.sh' && '$TOP/scripts/apply.sh' &&
		'$TOP/scripts/build-kernel.sh' \"\$KMMU_OUT/trees/patched\" >/dev/null"
	if [ $? -ne 0 ]; then
		echo "not ok - mainline: apply and build the patched 7.3 kernel"
		failed=$((failed + 1))
	else
		passed=$((passed + 1))
		step mainline-static env SERIES=mainline bash "$TOP/scripts/check-series.sh"
		[ $? -eq 0 ] || step_rc=1
		count_tap "$KMMU_OUT/test-mainline-static.log"
		if [ "${SKIP_VM:-0}" != 1 ]; then
			step mainline-vm env SERIES=mainline bash "$TOP/scripts/run.sh"
			[ $? -eq 0 ] || step_rc=1
			count_table "$KMMU_OUT/test-mainline-vm.log" "the mainline VM run"
		fi
	fi
fi

[ $step_rc -eq 0 ] || [ $failed -gt 0 ] || failed=1
echo
echo "$passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
