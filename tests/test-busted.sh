#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# scripts/busted.sh (make busted) on stubs: a fake tree whose run.sh stands
# for the VM run and prints the busted check's "not ok" only when the busted
# patch is the series' last line (STUB_CATCHES=1), and whose apply.sh notes
# that it ran.  Prints TAP.
. "$(dirname "$0")/lib-tap.sh"
clean_env

t=$work/top
mkdir -p "$t/scripts" "$t/patches" "$t/tests/busted"
cp "$TOP/scripts/lib.sh" "$TOP/scripts/busted.sh" "$t/scripts/"
printf '# base-version: 6.12.117-1~deb12u1\none.patch # new\n' > "$t/series"
echo 'a patch' > "$t/patches/one.patch"
cat > "$t/tests/busted/b.patch" <<'P'
Subject: [PATCH] BUSTED: a bug

Busted-only: ^x_test
Busted-modes: tdp shadow-mmu
Busted-expect: not ok [0-9]+ the check
P
cat > "$t/scripts/run.sh" <<'S'
{ echo "series=$(grep -v '^#' "$KMMU_SERIES_FILE" | tr '\n' ' ')"
  echo "kernels=$KMMU_KERNELS modes=$KMMU_MODES patched_modes=[$KMMU_PATCHED_MODES] only=$KMMU_ONLY retries=$KMMU_RETRIES reruns=$KMMU_RERUNS"
  for p in "$KMMU_PATCH_DIR"/*; do [ -f "$p" ] && echo "patch ${p##*/}"; done
  echo "marker=$(cat "$KMMU_OUT/trees/patched/BUSTED" 2>/dev/null) build=$KMMU_BUSTED_NAME"; } >> "$KMMU_OUT/run.env"
[ -z "${STUB_INTERRUPT:-}" ] || { kill -INT $PPID; exit 1; }
[ "${STUB_RUNS:-1}" = 1 ] || exit 1
for m in $KMMU_MODES; do
	mkdir -p "$KMMU_OUT/results/patched-$m"
	if [ "${STUB_CATCHES:-1}" = 1 ] && tail -n 1 "$KMMU_SERIES_FILE" | grep -q '^busted-b.patch'; then
		echo '#   not ok 9 the check (2 of 16)' > "$KMMU_OUT/results/patched-$m/tap-g0.log"
	else
		echo '#   ok 9 the check' > "$KMMU_OUT/results/patched-$m/tap-g0.log"
	fi
	[ -z "${STUB_SPLAT:-}" ] || echo 'not ok 1 the check x_test # kernel splat: WARNING: at mirror_sw.c' > "$KMMU_OUT/results/patched-$m/results.tap"
	echo "t" > "$KMMU_CACHE/last-run/6.12/patched-$m.json"
done
exit 1
S
echo 'echo applied >> "$KMMU_OUT/apply.log"' > "$t/scripts/apply.sh"
echo 'echo "built $1" >> "$KMMU_OUT/apply.log"' > "$t/scripts/build-kernel.sh"
chmod +x "$t/scripts/apply.sh" "$t/scripts/build-kernel.sh"
export KMMU_CACHE=$work/cache
mkdir -p "$KMMU_CACHE/last-run/6.12"
echo old > "$KMMU_CACHE/last-run/6.12/patched-tdp.json"

(cd "$t" && KMMU_OUT=$work/o1 bash scripts/busted.sh) > "$work/log" 2>&1
rc=$?
check "a busted kernel the check catches: ok, exit 0" \
	bash -c "[ $rc -eq 0 ] && grep -qx 'ok 1 busted b: #   not ok 9 the check (2 of 16)' '$work/log'"
check "the run: the series with the busted patch last, patched kernel alone, its modes and tests, no retry" \
	bash -c "grep -qx 'series=one.patch # new busted-b.patch # BUSTED: not for merging ' '$work/o1/run.env' &&
		 grep -qx 'kernels=patched modes=tdp shadow-mmu patched_modes=\[\] only=^x_test retries=0 reruns=0' '$work/o1/run.env' &&
		 grep -qx 'patch busted-b.patch' '$work/o1/run.env' && grep -qx 'patch one.patch' '$work/o1/run.env'"
check "the series is applied again and the patched kernel rebuilt afterwards, the last run's timings are as they were" \
	bash -c "[ \"\$(tr '\n' ' ' < '$work/o1/apply.log')\" = 'applied built $work/o1/trees/patched ' ] && [ \"\$(cat '$KMMU_CACHE/last-run/6.12/patched-tdp.json')\" = old ] &&
		 [ ! -e '$KMMU_CACHE/last-run/6.12/patched-shadow-mmu.json' ]"

(cd "$t" && KMMU_OUT=$work/o2 STUB_CATCHES=0 bash scripts/busted.sh) > "$work/log" 2>&1
rc=$?
check "a busted kernel the check does not catch: not ok, named, exit 1" \
	bash -c "[ $rc -ne 0 ] && grep -q '^not ok 1 busted b: tdp: no line matches .*the check passed on the broken kernel' '$work/log'"

(cd "$t" && KMMU_OUT=$work/o5 STUB_CATCHES=0 STUB_SPLAT=1 bash scripts/busted.sh) > "$work/log" 2>&1
rc=$?
check "... caught as a kernel splat in the run's verdicts (results.tap): ok" \
	bash -c "[ $rc -eq 0 ] && grep -q '^ok 1 busted b: not ok 1 the check x_test # kernel splat: WARNING' '$work/log'"

mkdir -p "$work/o3/results/patched-tdp"
echo '#   not ok 9 the check (stale)' > "$work/o3/results/patched-tdp/tap-g0.log"
(cd "$t" && KMMU_OUT=$work/o3 STUB_RUNS=0 bash scripts/busted.sh) > "$work/log" 2>&1
rc=$?
check "no test ran (a build that failed): not ok, whatever an earlier run left" \
	bash -c "[ $rc -ne 0 ] && grep -q '^not ok 1 busted b: tdp: no test ran (run.sh exit 1' '$work/log'"

check "while it runs, the patched tree is marked busted (TREE/BUSTED) and its build told so; the mark is gone at the end" \
	bash -c "grep -qx 'marker=busted b build=b' '$work/o1/run.env' && [ ! -e '$work/o1/trees/patched/BUSTED' ]"

# env --default-signal=INT: a shell started in the background without job
# control (nohup make test &, a CI step) ignores SIGINT, and an ignored
# signal stays ignored in its children, traps or not: the stub's ^C would
# not reach busted.sh (seen: checks 8-10 failed under nohup only).
(cd "$t" && KMMU_OUT=$work/o6 STUB_INTERRUPT=1 env --default-signal=INT bash scripts/busted.sh) > "$work/log" 2>&1
rc=$?
check "interrupted: exit 130, the busted kernel stays marked, the last run's timings are as they were" \
	bash -c "[ $rc -eq 130 ] && grep -qx 'busted b' '$work/o6/trees/patched/BUSTED' &&
		 [ \"\$(cat '$KMMU_CACHE/last-run/6.12/patched-tdp.json')\" = old ] && grep -q 'interrupted: ' '$work/log'"
# What boots a bzImage without building it refuses a marked one.
cp "$TOP/scripts/ept.sh" "$TOP/scripts/lava.sh" "$t/scripts/"
printf '%s\n' 'ept bash bash' 'vm bash bash' 'lava bash bash' > "$t/scripts/deps.list"
mkdir -p "$work/o6/trees/patched/build/arch/x86/boot"
: > "$work/o6/trees/patched/build/arch/x86/boot/bzImage"
for s in ept lava; do
	(cd "$t" && KMMU_OUT=$work/o6 KMMU_KERNELS=patched KMMU_SELFTESTS_BIN=/nonexistent bash "scripts/$s.sh") > "$work/log" 2>&1
	rc=$?
	check "make $s refuses the busted kernel an interrupted make busted left, and says what to do" \
		bash -c "[ $rc -ne 0 ] && grep -q 'holds a deliberately broken kernel (busted b), left by an interrupted make busted: make build' '$work/log'"
done

printf 'Subject: x\n\nBusted-modes: tdp\n' > "$work/bad.patch"
(cd "$t" && KMMU_OUT=$work/o4 KMMU_BUSTED="$work/bad.patch" bash scripts/busted.sh) > "$work/log" 2>&1
rc=$?
check "a busted patch without Busted-only/Busted-expect is refused before any run" \
	bash -c "[ $rc -ne 0 ] && grep -q 'needs a .Busted-only: REGEX. and a .Busted-expect: REGEX. line' '$work/log' && [ ! -e '$work/o4/run.env' ]"

tap_done
