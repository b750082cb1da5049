#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The main job: fetch the base, apply the series, build the base and the
# patched kernel (separate output directories), build the selftests, boot both
# kernels in QEMU in each MMU mode, run the test list and print the
# side-by-side table.
#
# Environment (make run NAME=... sets KMMU_NAME, see the Makefile):
#   KMMU_KSRC=DIR        use this kernel tree as the base (see scripts/apply.sh)
#   KMMU_MODES="tdp shadow-mmu"   MMU modes to run (also: npt-off)
#   KMMU_PATCHED_MODES="mirror"   modes run on the patched kernel only, because
#                        they need something the series adds (default: the series
#                        file's "# patched-modes:" header; empty to skip)
#   KMMU_KERNELS="base patched"   which kernels to boot
#   KMMU_ONLY=REGEX      run only the tests whose "name args" match
#   KMMU_FRAGMENTS="..." config fragments (default configs/vm-kvm.config configs/debug.config)
#   KMMU_TEST_LIST=FILE  test list (default tests/kvm-tests.list; mainline/tests.list
#                        for KMMU_SERIES=mainline)
#   KMMU_MAX_SECONDS=N   limit for each VM run (default 1800)
#   KMMU_VM_JOBS=N       VM runs at once (default 2 on two cores or more, else 1)
#   KMMU_ACCEL=auto|kvm|tcg   QEMU's accelerator: kvm (-cpu host, timeouts divided
#                        by 4) when /dev/kvm works and the host offers nested
#                        virtualization, else tcg (-cpu max); see vmrun.py accel
#   KMMU_FRESH=1         run every base test again, even those whose results the
#                        cache holds for the same inputs (scripts/basecache.py)
#
# A line per test as its result arrives goes to stderr ("[patched/tdp] 7/25
# dirty_log_test pass 29 s, ~6 min left"; the time left from the previous
# run's timings, kept in KMMU_CACHE/last-run/<series>/).  The report is also written as
# out/results/report.md and out/results/junit.xml.
set -e
. "$(dirname "$0")/lib.sh"

vm_matrix_settings	# MODES, PATCHED_MODES, KERNELS
TEST_LIST=${KMMU_TEST_LIST:-$TEST_LIST_DEFAULT}
MAX_SECONDS=${KMMU_MAX_SECONDS:-1800}
ONLY=${KMMU_ONLY:-}
read -r -a frags <<< "${KMMU_FRAGMENTS:-$TOP/configs/vm-kvm.config $TOP/configs/debug.config}"

need_group vm
t0=$(now)
timing() { printf '%-28s %5d s\n' "$1" "$2" >> "$KMMU_OUT/timings.txt"; }
: > "$KMMU_OUT/timings.txt" 2>/dev/null || { mkdir -p "$KMMU_OUT"; : > "$KMMU_OUT/timings.txt"; }

ACCEL=${KMMU_ACCEL:-auto}
accel_note=$(python3 "$TOP/scripts/vmrun.py" accel --accel "$ACCEL") || exit 1
msg "accelerator: $accel_note"
case ${KMMU_FRESH:-0} in
0|'') cache_args=(--cache "$KMMU_CACHE") ;;
1) cache_args=(--cache "$KMMU_CACHE" --cache-refresh) ;;
*) die "KMMU_FRESH must be 1 (run every base test again) or 0, not '$KMMU_FRESH'" ;;
esac

s=$(now); "$TOP/scripts/apply.sh"; timing "fetch + apply" $(( $(now) - s ))

for k in $KERNELS; do
	s=$(now)
	"$TOP/scripts/build-kernel.sh" "$KMMU_OUT/trees/$k" "${frags[@]}" >/dev/null
	timing "build $k kernel" $(( $(now) - s ))
done

s=$(now)
bin=$("$TOP/scripts/build-selftests.sh" "$TEST_LIST")
python3 "$TOP/scripts/vmrun.py" initramfs --bin "$bin" --list "$TEST_LIST" \
	--out "$KMMU_OUT/initramfs.cpio.gz" >/dev/null
timing "selftests + initramfs" $(( $(now) - s ))

# Each TCG VM keeps about one host core busy (most tests run one or two
# vCPUs, and one vCPU thread runs at a time between them), so on a machine
# with two cores or more two runs go at once: base and patched side by side,
# under the same host load.  Their outputs are printed afterwards, in order.
VM_JOBS=${KMMU_VM_JOBS:-$(( $(nproc) >= 2 ? 2 : 1 ))}
case $VM_JOBS in
''|*[!0-9]*|0) die "KMMU_VM_JOBS must be a number of VM runs at once (1 or more), not '$VM_JOBS'" ;;
esac
# The base kernel's clean results of an earlier run are reused when every
# input that determines them is the same (scripts/basecache.py); the patched
# kernel always runs.  Progress lines go to fd 3, this script's stderr.
lastdir=$KMMU_CACHE/last-run/$SERIES_NAME
vm_run() {	# vm_run "KERNEL MODE DIR": one VM run, its output in DIR/vmrun.out
	local k mode d s last=() cache=()
	read -r k mode d <<< "$1"
	msg "VM run: $k kernel, $mode"
	if [ "$k" = base ]; then cache=("${cache_args[@]}"); fi
	if [ -f "$lastdir/$k-$mode.json" ]; then last=(--last "$lastdir/$k-$mode.json"); fi
	s=$(now)
	python3 "$TOP/scripts/vmrun.py" run --kernel "$KMMU_OUT/trees/$k/build/arch/x86/boot/bzImage" \
		--vmlinux "$KMMU_OUT/trees/$k/build/vmlinux" \
		--initramfs "$KMMU_OUT/initramfs.cpio.gz" --list "$TEST_LIST" --mode "$mode" \
		--label "$k" --out "$d" --max-seconds "$MAX_SECONDS" ${ONLY:+--only "$ONLY"} \
		--accel "$ACCEL" "${cache[@]}" --progress-fd 3 "${last[@]}" \
		3>&2 > "$d/vmrun.out" 2>&1 || true
	timing "VM run $k $mode" $(( $(now) - s ))
}

rc=0
dirs_base=() dirs_patched=() runs=()
while read -r k mode; do
	[ -n "$k" ] || continue
	d=$KMMU_OUT/results/$k-$mode
	rm -rf "$d"
	mkdir -p "$d"
	runs+=("$k $mode $d")
	if [ "$k" = base ]; then dirs_base+=("$d"); else dirs_patched+=("$d"); fi
done <<< "$(vm_matrix "$MODES" "$PATCHED_MODES" "$KERNELS")"
s=$(now)
at_most "$VM_JOBS" vm_run "${runs[@]}"
timing "VM runs ($VM_JOBS at once)" $(( $(now) - s ))
# This run's timings give the next one its time left (in the cache: a new
# clone or a fresh out/ has them too).  Not having them loses nothing.
for r in "${runs[@]}"; do
	read -r k mode d <<< "$r"
	if [ -f "$d/results.json" ]; then
		# A run of part of the list (ONLY=) keeps the whole list's timings.
		if [ -z "$ONLY" ]; then
			mkdir -p "$lastdir" 2>/dev/null && cp "$d/results.json" "$lastdir/$k-$mode.json" 2>/dev/null || true
		fi
		# The consoles of a run with a splat or a failure are kept beside
		# it: out/ of a CI clone is gone when it is over, and a soft lockup
		# seen once is read from its backtrace, not from the verdict line.
		rm -rf "$lastdir/$k-$mode.consoles"
		if python3 "$TOP/scripts/kmmu_tap.py" run-failed "$d"; then
			mkdir -p "$lastdir/$k-$mode.consoles" && cp "$d"/console-g*.log "$lastdir/$k-$mode.consoles/" 2>/dev/null || true
		fi
	fi
done
for r in "${runs[@]}"; do
	read -r k mode d <<< "$r"
	cat "$d/vmrun.out"
done

echo
echo "== $(wc -l < "$KMMU_OUT/trees/patched/APPLIED") patches on $(cat "$KMMU_OUT/trees/base/VERSION"); modes: $MODES${PATCHED_MODES:+ (patched kernel only: $PATCHED_MODES)}"
if [ ${#dirs_patched[@]} -eq 0 ]; then
	# Only the base was asked for: report it as the kernel under test.
	dirs_patched=("${dirs_base[@]}"); dirs_base=()
fi
report() {	# report [--confirm DIR...]: the table, rc=1 when it fails the run
	python3 "$TOP/scripts/report.py" --patched "${dirs_patched[@]}" \
		${dirs_base:+--base "${dirs_base[@]}"} --json "$KMMU_OUT/results/report.json" \
		--markdown "$KMMU_OUT/results/report.md" --junit "$KMMU_OUT/results/junit.xml" "$@"
}
rc=0
report > "$KMMU_OUT/results/report-first.txt" || rc=1

# A test that passed only on a retry on the patched kernel, where the base
# passed first time, fails the run (a race the series adds shows up that
# way), but under TCG a test can also lose a timing race on either kernel now
# and then.  Before the verdict, run each such test again on both kernels,
# KMMU_RERUNS times each (default 2), one attempt per run: report.py keeps
# the failure only if the patched kernel fails a rerun and the base does not.
confirm_run() {	# confirm_run "KERNEL MODE DIR REGEX"
	local k mode d re
	read -r k mode d re <<< "$1"
	python3 "$TOP/scripts/vmrun.py" run --kernel "$KMMU_OUT/trees/$k/build/arch/x86/boot/bzImage" \
		--vmlinux "$KMMU_OUT/trees/$k/build/vmlinux" \
		--initramfs "$KMMU_OUT/initramfs.cpio.gz" --list "$TEST_LIST" --mode "$mode" \
		--label "$k" --out "$d" --max-seconds "$MAX_SECONDS" --only "$re" --no-retry \
		> "$d/vmrun.out" 2>&1 || true
}
reruns=${KMMU_RERUNS:-2}
case $reruns in ''|*[!0-9]*) die "KMMU_RERUNS must be a number, not '$reruns'" ;; esac
cruns=() cdirs=()
if [ ${#dirs_base[@]} -gt 0 ] && [ "$reruns" -gt 0 ]; then
	# "MODE BASE-MODE REGEX" of each flaky-on-patched-only row; the regex
	# matches the test's "name args" exactly (no spaces in it: \x20).
	while read -r mode bmode re; do
		n=${#cruns[@]}
		for i in $(seq "$reruns"); do
			for k in base patched; do
				m=$mode; [ $k = base ] && m=$bmode
				d=$KMMU_OUT/results/rerun/$k-$m-$n-$i
				rm -rf "$d"; mkdir -p "$d"
				cruns+=("$k $m $d $re"); cdirs+=("$d")
			done
		done
	done < <(python3 -c '
import json, re, sys
sys.path.insert(0, sys.argv[2])
from vmrun import BASE_MODE_OF
for r in json.load(open(sys.argv[1]))["rows"]:
    if r["class"] == "flaky-patched-only":
        # re.escape() puts a backslash before a space; the regex goes
        # through "read" as one word, so the space becomes \x20.
        rx = "^" + re.escape(r["test"]).replace("\\ ", "\\x20") + "$"
        print(r["mode"], BASE_MODE_OF.get(r["mode"], r["mode"]), rx)
' "$KMMU_OUT/results/report.json" "$TOP/scripts")
fi
if [ ${#cruns[@]} -gt 0 ]; then
	msg "rerunning $(( ${#cruns[@]} / (2 * reruns) )) test(s) flaky on the patched kernel only, $reruns time(s) on each kernel"
	s=$(now)
	at_most "$VM_JOBS" confirm_run "${cruns[@]}"
	timing "reruns of flaky tests" $(( $(now) - s ))
	rc=0
	report --confirm "${cdirs[@]}" || rc=1
else
	cat "$KMMU_OUT/results/report-first.txt"
fi
timing "total" $(( $(now) - t0 ))
echo
echo "Timings:"; sed 's/^/  /' "$KMMU_OUT/timings.txt"
echo "Logs: $KMMU_OUT/results/<kernel>-<mode>/ (console-g*.log, tap-g*.log, results.tap)"
exit $rc
