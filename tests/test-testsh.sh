#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# scripts/test.sh (make test) on stub steps: every step counted, a failed
# mainline apply too; the mainline checks run in the background during the
# 6.12 VM step at the lowest priority, with no 7.3 kernel build and no
# mainline VM run; an interrupted make test stops them.  test.sh --mainline
# (make test-mainline): the whole mainline series, in order.  Prints TAP.
. "$(dirname "$0")/lib-tap.sh"
clean_env

# make test's order, on stub steps: the mainline checks run in the background
# during the 6.12 VM step, and every step is counted, a failed mainline apply
# too.
mkfake_top() {	# $1 dir
	mkdir -p "$1/scripts" "$1/tests" "$1/mainline"
	cp "$TOP/scripts/lib.sh" "$TOP/scripts/test.sh" "$TOP/scripts/kmmu_tap.py" "$1/scripts/"
	: > "$1/series"; : > "$1/mainline/series"
	ev='echo "$(date +%s.%N) ${KMMU_SERIES:-6.12}' # an event, with its time
	printf '#!/bin/sh\necho "TAP version 13"; echo "ok 1 stub"; echo "1..1"\n' > "$1/tests/test-scanconsole.py"
	for f in test-apply.sh test-series-git.sh test-settings.sh test-lib.sh test-guest-init.sh test-testsh.sh \
		 test-vmrun.py test-report.py test-tap.py test-report-text.py test-benchtable.py test-kcsan-reports.py \
		 test-bochsrun.py test-hang-evidence.py test-reruns.sh test-vmrun.sh test-busted.sh test-check-litmus.sh \
		 test-lockstat.sh test-send-lava.sh test-check-sparse.sh test-splat-detection.sh; do
		cp "$1/tests/test-scanconsole.py" "$1/tests/$f"
	done
	cp "$1/tests/test-scanconsole.py" "$1/scripts/send.sh"
	cp "$1/tests/test-scanconsole.py" "$1/scripts/check-litmus.sh"
	printf 'exit 0\n' > "$1/scripts/install-deps.sh"
	printf '%s\n' "$ev apply\" >> $1/events" \
		'[ "${KMMU_SERIES:-}" = mainline ] && { cat /proc/self/autogroup; echo "task nice $(ps -o ni= -p $$)"; } > '"$1/prio"' 2>&1' \
		'[ "${KMMU_SERIES:-}" = mainline ] && [ -n "${FAIL_MAINLINE:-}" ] && exit 1' \
		'[ "${KMMU_SERIES:-}" = mainline ] && [ -n "${SLOW_MAINLINE:-}" ] && echo $$ > "$SLOW_MAINLINE" && exec sleep 60' \
		'exit 0' > "$1/scripts/apply.sh"
	printf '%s\n' "$ev build\" >> $1/events" \
		'[ "${KMMU_SERIES:-}" = mainline ] && [ -n "${FAIL_MAINLINE_BUILD:-}" ] && exit 1' \
		'exit 0' > "$1/scripts/build-kernel.sh"
	printf '%s\n' "$ev static-start\${KMMU_SKIP_BISECT:+-nobisect}\" >> $1/events" 'sleep 1' "$ev static-end\" >> $1/events" \
		'echo "TAP version 13"; echo "ok 1 stub static"; echo "1..1"' > "$1/scripts/check-series.sh"
	# The 6.12 VM step lasts until the mainline checks in the background
	# are over (at most 60 s), so that the order below does not depend on
	# how fast a nice 19 session gets the CPU on a busy host; builds that
	# did not run beside it still show up after its end.
	printf '%s\n' "$ev vm-start\" >> $1/events" 'sleep 1' \
		'[ "${KMMU_SERIES:-6.12}" = mainline ] || [ "${KMMU_SKIP_MAINLINE:-0}" = 1 ] || [ -n "${SLOW_MAINLINE:-}" ] ||
		 for i in $(seq 600); do [ -f "${KMMU_OUT:-'"$1"'/out}/mainline-steps.rc" ] && break; sleep 0.1; done' \
		"$ev vm-end\" >> $1/events" \
		'echo "3 passed, 0 failed, 0 skipped"' > "$1/scripts/run.sh"
	printf '%s\n' '[ "$KMMU_EPT_SPIKE" = 1 ] || exit 1' 'echo "2 passed, 0 failed, 0 skipped"' > "$1/scripts/ept.sh"
	chmod +x "$1"/scripts/*.sh "$1"/tests/*
	# test.sh runs the Python tests with python3: run their stubs with a shell
	sed -i 's#^step \([a-z-]*\) python3 #step \1 sh #' "$1/scripts/test.sh"
}
mkfake_top "$work/top"
(cd "$work/top" && bash scripts/test.sh) > "$work/log" 2>&1
rc=$?
sort -n "$work/top/events" | awk '{ print $2, $3 }' > "$work/order"
check "make test on stubs: 34 passed, 0 failed, 0 skipped, exit 0" \
	bash -c "[ $rc -eq 0 ] && tail -n 1 '$work/log' | grep -qx '34 passed, 0 failed, 0 skipped'"
check "the mainline checks run during the 6.12 VM step, without the bisect build" \
	bash -c "tr '\n' ' ' < '$work/order' | grep -q '6.12 vm-start mainline apply mainline static-start-nobisect mainline static-end 6.12 vm-end'"
check "make test builds no 7.3 kernel and boots none" \
	bash -c "! grep -qE ' mainline (build|vm-start)\$' '$work/top/events'"
# On the host's scheduler autogroups a session's nice 19 tasks still take
# the share of a whole group: the session's group must be at nice 19 too.
if [ "$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null)" = 1 ]; then
	check "the mainline checks run at nice 19, and so does their session's scheduler autogroup" \
		bash -c "grep -q ' nice 19\$' '$work/top/prio' && grep -qx 'task nice *19' '$work/top/prio'"
else
	ok "the mainline checks' scheduler autogroup # SKIP the host has no scheduler autogroups"
fi
mkfake_top "$work/top2"
(cd "$work/top2" && FAIL_MAINLINE=1 bash scripts/test.sh) > "$work/log" 2>&1
rc=$?
check "a failed mainline apply in the background is counted, and its checks not run" \
	bash -c "[ $rc -ne 0 ] && grep -qx 'not ok - mainline: apply the series on the 7.3 base' '$work/log' &&
		 tail -n 1 '$work/log' | grep -qx '31 passed, 1 failed, 0 skipped' &&
		 ! grep -q 'mainline static' '$work/top2/events'"

# make test-mainline: apply, build, the static checks with the bisect build,
# sparse's failure cases, send, then the VM run, all counted.
mkfake_top "$work/top5"
(cd "$work/top5" && bash scripts/test.sh --mainline) > "$work/log" 2>&1
rc=$?
sort -n "$work/top5/events" | awk '{ print $2, $3 }' | tr '\n' ' ' > "$work/order5"
check "make test-mainline on stubs: 7 passed, 0 failed, 0 skipped, exit 0" \
	bash -c "[ $rc -eq 0 ] && tail -n 1 '$work/log' | grep -qx '7 passed, 0 failed, 0 skipped'"
check "make test-mainline: apply, build, bisect static checks, VM run, in that order, and nothing of 6.12" \
	bash -c "grep -qx 'mainline apply mainline build mainline static-start mainline static-end mainline vm-start mainline vm-end ' '$work/order5'"
mkfake_top "$work/top6"
(cd "$work/top6" && FAIL_MAINLINE_BUILD=1 bash scripts/test.sh --mainline) > "$work/log" 2>&1
rc=$?
check "make test-mainline: a failed 7.3 build is counted, and no check or VM run follows it" \
	bash -c "[ $rc -ne 0 ] && grep -qx 'not ok - mainline: apply and build the patched 7.3 kernel' '$work/log' &&
		 tail -n 1 '$work/log' | grep -qx '0 passed, 1 failed, 0 skipped' &&
		 ! grep -qE 'mainline (static|vm)' '$work/top6/events'"

# A step whose TAP is broken counts as a failure, whatever its exit status:
# one stream without its plan (a test killed half way), one that bails out.
mkfake_top "$work/top4"
printf '#!/bin/sh\necho "TAP version 13"; echo "ok 1 stub"\n' > "$work/top4/tests/test-report.py"
printf '#!/bin/sh\necho "TAP version 13"; echo "ok 1 stub"; echo "Bail out! no disk"; echo "1..1"\n' > "$work/top4/tests/test-lib.sh"
(cd "$work/top4" && SKIP_MAINLINE=1 KMMU_SKIP_MAINLINE=1 bash scripts/test.sh) > "$work/log" 2>&1
rc=$?
check "a step whose TAP has no plan, and one that bails out, each count as a failure named after it" \
	bash -c "[ $rc -ne 0 ] && grep -q '^not ok - verdicts: ' '$work/log' && grep -q '^not ok - lib: ' '$work/log' &&
		 tail -n 1 '$work/log' | grep -q ' 2 failed, '"

mkfake_top "$work/top3"
(cd "$work/top3" && SLOW_MAINLINE="$work/slow.pid" exec bash scripts/test.sh) > "$work/log" 2>&1 &
tpid=$!
# Up to 30 s: on a busy host the stub steps before it take a while.
for _ in $(seq 300); do [ -s "$work/slow.pid" ] && break; sleep 0.1; done
kill -TERM $tpid
wait $tpid
rc=$?
# The signal reaches the build's process group at once; on a busy host its
# processes may take a moment to go.
for _ in $(seq 50); do
	[ -s "$work/slow.pid" ] && kill -0 "$(cat "$work/slow.pid")" 2>/dev/null || break
	sleep 0.1
done
check "an interrupted make test stops the mainline checks it started in the background" \
	bash -c "[ $rc -eq 130 ] && [ -s '$work/slow.pid' ] && ! kill -0 \$(cat '$work/slow.pid') 2>/dev/null"

tap_done
