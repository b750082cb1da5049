#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The project's tests, in order:
#   1. the console scanner on recorded logs         (tests/test-scanconsole.py)
#   2. the harness's own tests, a file per script they test (shell ones source
#      tests/lib-tap.sh; Python unittest ones print TAP through the runner of
#      scripts/kmmu_tap.py, by tests/taptest.py): on a small fake kernel tree
#      (tests/lib-fake-tree.sh)
#      apply.sh (tests/test-apply.sh), make edit, export and send's out/git
#      (tests/test-series-git.sh), the KMMU_ settings and make help
#      (tests/test-settings.sh), lib.sh's helpers (tests/test-lib.sh); the
#      guest's yield count and per-test limit (tests/test-guest-init.sh), this
#      script's steps on stubs (tests/test-testsh.sh), vmrun.py's parsers and
#      runs on a fake QEMU (tests/test-vmrun.py), the verdicts on made-up runs
#      (tests/test-report.py) and their text (tests/test-report-text.py), the TAP
#      and results reader on made-up streams (tests/test-tap.py), make
#      bench's table (tests/test-benchtable.py), make kcsan's comparison of
#      KCSAN reports on made-up consoles (tests/test-kcsan-reports.py), the
#      Bochs runner's logic (tests/test-bochsrun.py), a wedged guest on
#      a fake QEMU (tests/test-hang-evidence.py), the reruns of a flaky test
#      on stub steps (tests/test-reruns.sh), the accelerator, the base result
#      cache and the progress lines on a fake QEMU (tests/test-vmrun.sh),
#      make busted's verdicts on stub runs (tests/test-busted.sh),
#      the kvm-extra tests' /proc/lock_stat parser on made-up texts, compiled
#      on the host (tests/test-lockstat.sh, run after step 3's prepare),
#      the memory-ordering arguments as litmus tests, checked by herd7 against
#      the kernel's memory model (scripts/check-litmus.sh), and that check's own
#      failure cases (tests/test-check-litmus.sh)
#   3. static checks of the series, bisect build     (scripts/check-series.sh)
#   4. the main job: base and patched kernels in the VM, side by side (scripts/run.sh)
#   5. a splat on the console fails a run whose tests pass (tests/test-splat-detection.sh),
#      then the smallest Intel VMX/EPT part in Bochs (make ept-spike: scripts/ept.sh)
#   6. the mainline series (KMMU_SERIES=mainline) as far as it goes without
#      a 7.3 kernel build: apply on the 7.3 base, each patch's metadata and
#      checkpatch --strict, b4 prep --check, and make send's dry run; in the
#      background during steps 4 and 5 (they need no VM)
# Each step prints TAP or a table; the last line sums them all up as
# "N passed, N failed, N skipped".  Exit status 0 only when nothing failed.
#
# "test.sh --mainline" (make test-mainline) is the whole mainline series, in
# the foreground: apply and build the patched 7.3 kernel, its static checks
# with the bisect build and sid's sparse (and that check's own failure cases,
# tests/test-check-sparse.sh), make send's dry run, then its VM run on the 7.3
# base and the fixed 7.3 kernel.  It is not part of make test: a cold 7.3
# kernel build does not fit make test's 60 minutes on two cores beside the
# 6.12 one (README, "The mainline series").
#
# Environment: the same as scripts/run.sh; KMMU_SKIP_VM=1 leaves out the VM
# runs, KMMU_SKIP_MAINLINE=1 step 6 (make test SKIP_VM=1 sets them).
set -u
. "$(dirname "$0")/lib.sh"

mkdir -p "$KMMU_OUT"
# Every Debian package first (make test does it too): no test may depend on
# a later step having installed a tool.
bash "$TOP/scripts/install-deps.sh" || { echo "error: installing the Debian packages failed" >&2; exit 1; }
passed=0 failed=0 skipped=0
step_rc=0

# Add a step's "N passed, N failed, N skipped" to the totals, as
# scripts/kmmu_tap.py count reads its log: TAP ("ok" passes, "ok ... # SKIP"
# skips, "not ok" fails, and so does each problem of the stream, such as no
# plan or a Bail out!, said in a "not ok - STEP: ..." line), or with --table
# the line a VM run's table ends with (none: a failure of its own).
count_tap() {	# count_tap LOG [--table WHAT]
	local out last p f s
	out=$(python3 "$TOP/scripts/kmmu_tap.py" count "${@:2}" "$1")
	last=${out##*$'\n'}
	[ "$last" = "$out" ] || printf '%s\n' "${out%$'\n'*}"
	case $last in
	*[0-9]' passed, '*[0-9]' failed, '*[0-9]' skipped') read -r p _ f _ s _ <<< "${last//,/}" ;;
	*) echo "not ok - counting $1: scripts/kmmu_tap.py failed"; p=0 f=1 s=0 ;;
	esac
	passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
}

run_step() {	# run_step NAME COMMAND...: run, show, keep the output in test-NAME.log
	local name=$1 log=$KMMU_OUT/test-$1.log rc start
	shift
	echo "=== $name"
	start=$(now)
	# A pipe, not a process substitution that needs a wait: a plain wait
	# would also wait for the mainline builds running in the background.
	"$@" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	echo "=== $name: exit $rc, $(( $(now) - start )) s"
	return $rc
}

step() {	# step NAME COMMAND...: run_step, count its TAP; a failed exit fails make test
	run_step "$@" || step_rc=1
	count_tap "$KMMU_OUT/test-$1.log"
}

table_step() {	# table_step NAME WHAT COMMAND...: the same, counting the table it ends with
	local name=$1 what=$2
	shift 2
	run_step "$name" "$@" || step_rc=1
	count_tap "$KMMU_OUT/test-$name.log" --table "$what"
}

# 6. The mainline series' steps that need no VM, "light" (make test: no 7.3
#    kernel build) or "full" (make test-mainline: the patched 7.3 kernel
#    built, the bisect build and sparse).  Their status goes to a file, so
#    that they can run in another process ("test.sh --mainline-checks").
mainline_steps() {	# mainline_steps light|full
	local prc src=0
	rm -f "$KMMU_OUT"/test-mainline-*.log
	if [ "$1" = full ]; then
		run_step mainline-prepare env KMMU_SERIES=mainline bash -c ". '$TOP/scripts/lib.sh' && '$TOP/scripts/apply.sh' &&
			'$TOP/scripts/build-kernel.sh' \"\$KMMU_OUT/trees/patched\" >/dev/null"
	else
		run_step mainline-prepare env KMMU_SERIES=mainline bash "$TOP/scripts/apply.sh"
	fi
	prc=$?
	if [ $prc -eq 0 ]; then
		if [ "$1" = full ]; then
			run_step mainline-static env KMMU_SERIES=mainline bash "$TOP/scripts/check-series.sh"
			src=$?
			# Its sparse check can fail: sid's sparse (tests/test-check-sparse.sh)
			# on annotation misuses, and on an __rcu misuse injected into a copy
			# of the patched 7.3 tree's tdp_iter.c (the tree is only read).
			run_step mainline-sparse-harness env KMMU_SERIES=mainline bash -c ". '$TOP/scripts/lib.sh' &&
				KMMU_SPARSE_TREE=\$KMMU_OUT/trees/patched exec bash '$TOP/tests/test-check-sparse.sh'"
			[ $? -eq 0 ] || src=1
		else
			run_step mainline-static env KMMU_SERIES=mainline KMMU_SKIP_BISECT=1 bash "$TOP/scripts/check-series.sh"
			src=$?
		fi
		run_step mainline-send env KMMU_SERIES=mainline bash "$TOP/scripts/send.sh"
		[ $? -eq 0 ] || src=1
	fi
	echo "$prc $src" > "$KMMU_OUT/mainline-steps.rc"
}

mainline_count() {	# count what mainline_steps did; 0 when the VM run may go on
	local prc src log
	read -r prc src < "$KMMU_OUT/mainline-steps.rc" 2>/dev/null || prc=1
	if [ "$prc" -ne 0 ]; then
		echo "not ok - mainline: $1"
		failed=$((failed + 1))
		return 1
	fi
	passed=$((passed + 1))
	[ "$src" -eq 0 ] || step_rc=1
	for log in static sparse-harness send; do
		[ ! -f "$KMMU_OUT/test-mainline-$log.log" ] || count_tap "$KMMU_OUT/test-mainline-$log.log"
	done
}

totals() {	# the last line, and the exit status
	[ $step_rc -eq 0 ] || [ $failed -gt 0 ] || failed=1
	echo
	echo "$passed passed, $failed failed, $skipped skipped"
	[ $failed -eq 0 ]
}

case ${1:-} in
--mainline-checks)
	mainline_steps light
	exit 0 ;;
--mainline)
	rm -f "$KMMU_OUT/mainline-steps.rc"
	mainline_steps full
	if mainline_count "apply and build the patched 7.3 kernel" && [ "${KMMU_SKIP_VM:-0}" != 1 ]; then
		table_step mainline-vm "the mainline VM run" env KMMU_SERIES=mainline bash "$TOP/scripts/run.sh"
	fi
	totals
	exit ;;
'') ;;
*)	die "usage: test.sh [--mainline]" ;;
esac

step scanner python3 "$TOP/tests/test-scanconsole.py"
step apply bash "$TOP/tests/test-apply.sh"
step series-git bash "$TOP/tests/test-series-git.sh"
step settings bash "$TOP/tests/test-settings.sh"
step lib bash "$TOP/tests/test-lib.sh"
step guest-init bash "$TOP/tests/test-guest-init.sh"
step testsh bash "$TOP/tests/test-testsh.sh"
step vmrun-py python3 "$TOP/tests/test-vmrun.py"
step verdicts python3 "$TOP/tests/test-report.py"
step tap python3 "$TOP/tests/test-tap.py"
step report-text python3 "$TOP/tests/test-report-text.py"
step benchtable python3 "$TOP/tests/test-benchtable.py"
step kcsan-reports python3 "$TOP/tests/test-kcsan-reports.py"
step bochsrun python3 "$TOP/tests/test-bochsrun.py"
step hang-evidence python3 "$TOP/tests/test-hang-evidence.py"
step reruns bash "$TOP/tests/test-reruns.sh"
step vmrun bash "$TOP/tests/test-vmrun.sh"
step busted bash "$TOP/tests/test-busted.sh"
step litmus bash "$TOP/scripts/check-litmus.sh"
step litmus-harness bash "$TOP/tests/test-check-litmus.sh"

# The bisect build needs a configured kernel: apply and configure first (the
# main job reuses all of it).
run_step prepare bash -c "'$TOP/scripts/apply.sh' && '$TOP/scripts/build-kernel.sh' '$KMMU_OUT/trees/patched' >/dev/null"
if [ $? -ne 0 ]; then
	echo "not ok - apply and build the patched kernel"
	failed=$((failed + 1))
	echo "$passed passed, $failed failed, $skipped skipped"
	exit 1
fi
passed=$((passed + 1))

# After prepare: with the base tree there, it also checks the fixtures'
# format and the class names against the kernel's own source.
step lockstat bash "$TOP/tests/test-lockstat.sh"
step static bash "$TOP/scripts/check-series.sh"

# make send (b4 prep --check, b4 send -o: the mails as a dry run) and make
# lava (the jobs, LAVA's schema) on fake trees and artifacts, each check also
# failing on a broken input; then the real series' dry run.
step send-lava bash "$TOP/tests/test-send-lava.sh"
step send bash "$TOP/scripts/send.sh"

# A TCG VM keeps about one core busy, and the VM runs go two at a time
# (scripts/run.sh), but not every test keeps both busy: the mainline checks
# run in the background meanwhile, at the lowest CPU priority, so that they
# take only the time the VMs leave and do not slow the timed tests down.
# Their output is shown when the VM step is over.
# They run in a session of their own (background_session in lib.sh, which
# also explains why nice alone would leave them half the CPUs), so that an
# interrupted make test can stop the whole build with one signal to its
# process group (a background job of a script would ignore the terminal's ^C
# and go on).
bg=
stop_bg() { [ -z "$bg" ] || kill -TERM -- "-$bg" 2>/dev/null; }
trap stop_bg EXIT
trap 'stop_bg; trap - EXIT; exit 130' INT TERM
rm -f "$KMMU_OUT/mainline-steps.rc"
if [ "${KMMU_SKIP_MAINLINE:-0}" != 1 ] && [ "${KMMU_SKIP_VM:-0}" != 1 ]; then
	background_session bash "$TOP/scripts/test.sh" --mainline-checks \
		> "$KMMU_OUT/test-mainline-checks.out" 2>&1 < /dev/null
	bg=$BG_PID
fi

if [ "${KMMU_SKIP_VM:-0}" = 1 ]; then
	echo "=== vm: skipped (KMMU_SKIP_VM=1)"
else
	table_step vm "the VM run" bash "$TOP/scripts/run.sh"
	step splat bash "$TOP/tests/test-splat-detection.sh"
	# The Intel side, smallest part (make ept-spike): the patched kernel in
	# Bochs with VMX and EPT (A/D bits, PML), the smoke test and in-place
	# huge page recovery with NX huge pages on (EPT's X bit).  About two
	# minutes, while the mainline checks, if still going, finish at low
	# priority; make ept runs the whole Intel list, base vs patched.
	table_step ept-spike "the Bochs EPT run" env KMMU_EPT_SPIKE=1 bash "$TOP/scripts/ept.sh"
fi

# 6. The mainline series' checks, if not done in the background above.  Its
#    kernel build and VM run are make test-mainline's.
if [ "${KMMU_SKIP_MAINLINE:-0}" = 1 ]; then
	echo "=== mainline: skipped (KMMU_SKIP_MAINLINE=1)"
else
	if [ -n "$bg" ]; then
		s=$(now)
		wait "$bg"
		bg=
		echo "=== mainline checks (run in the background during the VM step; waited $(( $(now) - s )) s more):"
		cat "$KMMU_OUT/test-mainline-checks.out"
	else
		mainline_steps light
	fi
	mainline_count "apply the series on the 7.3 base" || true
	echo "# the 7.3 kernel build, bisect build, sparse and VM run: make test-mainline"
fi

totals
