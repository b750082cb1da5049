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
# Steps 3 and 6's builds (apply and build the 7.3 kernels, their static
# checks) need no VM, so they run beside step 4, at the idle scheduling class:
# QEMU keeps both cores whenever it wants them, and the builds take the time
# its vCPUs leave idle (about a third of it: most tests run one busy vCPU on a
# two-vCPU guest).  On a cold cache that hides most of the 7.3 kernel build.
# Their output is printed, and counted, once the VM run is over.
#
# Environment: the same as scripts/run.sh; SKIP_VM=1 leaves out the VM runs,
# SKIP_MAINLINE=1 step 6, SERIAL=1 runs every step in the foreground, in order.
set -u
. "$(dirname "$0")/lib.sh"

mkdir -p "$KMMU_OUT"

# Run one step with its output in test-NAME.log only, and its exit status and
# duration in test-NAME.status: the background half of this script.
quiet_step() {	# quiet_step NAME COMMAND...
	local name=$1 start rc
	shift
	start=$(now)
	"$@" > "$KMMU_OUT/test-$name.log" 2>&1
	rc=$?
	echo "$rc $(( $(now) - start ))" > "$KMMU_OUT/test-$name.status"
	return $rc
}

mainline_prepare() {
	env SERIES=mainline bash -c ". '$TOP/scripts/lib.sh' && '$TOP/scripts/apply.sh' &&
		'$TOP/scripts/build-kernel.sh' \"\$KMMU_OUT/trees/patched\" >/dev/null &&
		'$TOP/scripts/build-kernel.sh' \"\$KMMU_OUT/trees/base\" >/dev/null"
}

if [ "${1:-}" = --background ]; then
	quiet_step static bash "$TOP/scripts/check-series.sh"
	if [ "${SKIP_MAINLINE:-0}" != 1 ] && quiet_step mainline-prepare mainline_prepare; then
		quiet_step mainline-static env SERIES=mainline bash "$TOP/scripts/check-series.sh"
	fi
	exit 0
fi

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
	# A pipe, not a process substitution: step() must not "wait", which
	# would wait for the background steps too.
	"$@" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	echo "=== $name: exit $rc, $(( $(now) - start )) s"
	return $rc
}

# Show a step the background ran: its log, then its status line as step()
# prints it.  Returns its exit status; 127 when it did not run.
collect() {	# collect NAME
	local name=$1 rc secs
	[ -f "$KMMU_OUT/test-$name.status" ] || return 127
	read -r rc secs < "$KMMU_OUT/test-$name.status"
	echo "=== $name (ran beside the VM run, at idle priority)"
	cat "$KMMU_OUT/test-$name.log"
	echo "=== $name: exit $rc, $secs s"
	return "$rc"
}

step scanner python3 "$TOP/tests/test-scanconsole.py"
[ $? -eq 0 ] || step_rc=1
count_tap "$KMMU_OUT/test-scanner.log"

step harness bash "$TOP/tests/test-harness.sh"
[ $? -eq 0 ] || step_rc=1
count_tap "$KMMU_OUT/test-harness.log"

# Every package any step needs, installed now: the background steps must not
# race the foreground for the dpkg lock.
step tools bash -c ". '$TOP/scripts/lib.sh' && need_build_tools &&
	need quilt:quilt patch:patch rsync:rsync git:git sparse:sparse \
	     apt-get:apt dpkg-deb:dpkg xz:xz-utils tar:tar \
	     /usr/share/keyrings/debian-archive-keyring.gpg:debian-archive-keyring \
	     /usr/lib/python3/dist-packages/ply:python3-ply /usr/lib/python3/dist-packages/git:python3-git \
	     qemu-system-x86_64:qemu-system-x86 /bin/busybox:busybox-static"
if [ $? -ne 0 ]; then
	echo "not ok - install the tools the steps need"
	echo "$passed passed, $((failed + 1)) failed, $skipped skipped"
	exit 1
fi

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

rm -f "$KMMU_OUT"/test-{static,mainline-prepare,mainline-static}.status
bg=
if [ "${SERIAL:-0}" = 1 ] || [ "${SKIP_VM:-0}" = 1 ]; then
	bash "$0" --background
else
	# Its own process group (setsid), so that a stop of this script, CI's
	# time limit for one, takes the whole background tree with it.
	idle=(chrt --idle 0)
	"${idle[@]}" true 2>/dev/null || idle=()
	setsid "${idle[@]}" nice -n 19 bash "$0" --background < /dev/null > /dev/null 2>&1 &
	bg=$!
	trap '[ -z "$bg" ] || kill -- -"$bg" 2>/dev/null' EXIT
	trap 'exit 143' TERM INT
	echo "=== static checks and the mainline build: started beside the VM run (pid $bg)"
fi

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

if [ -n "$bg" ]; then
	s=$(now)
	wait "$bg"
	bg=
	echo "=== waited $(( $(now) - s )) s for the background steps"
fi

collect static
case $? in
0)	;;
127)	echo "not ok - the static checks did not run"; failed=$((failed + 1)) ;;
*)	step_rc=1 ;;
esac
[ -f "$KMMU_OUT/test-static.status" ] && count_tap "$KMMU_OUT/test-static.log"

# 6. the mainline series on its own base (7.3): static checks, then the
#    reproducer on 7.3 and on 7.3 with the fix, side by side.
if [ "${SKIP_MAINLINE:-0}" = 1 ]; then
	echo "=== mainline: skipped (SKIP_MAINLINE=1)"
elif ! collect mainline-prepare; then
	echo "not ok - mainline: apply and build the 7.3 kernels"
	failed=$((failed + 1))
else
	passed=$((passed + 1))
	collect mainline-static
	[ $? -eq 0 ] || step_rc=1
	count_tap "$KMMU_OUT/test-mainline-static.log"
	if [ "${SKIP_VM:-0}" != 1 ]; then
		step mainline-vm env SERIES=mainline bash "$TOP/scripts/run.sh"
		[ $? -eq 0 ] || step_rc=1
		count_table "$KMMU_OUT/test-mainline-vm.log" "the mainline VM run"
	fi
fi

[ $step_rc -eq 0 ] || [ $failed -gt 0 ] || failed=1
echo
echo "$passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
