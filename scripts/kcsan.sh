#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build the base and the patched kernel with KCSAN (configs/kcsan.config on
# top of the VM and debug fragments), each in its own build directory
# (TREE/build-kcsan; the patched one seeded from the base's), one build after
# the other; boot each with the tests the series' concurrency is in, base
# first, then patched, one VM at a time.  Not part of `make test`: a KCSAN
# kernel under TCG is several times slower.
#
# Verdicts: report.py's table, base against patched, test by test (a WARNING,
# lockdep report or any splat other than KCSAN's still fails); and
# scripts/kcsan_reports.py, the KCSAN reports of the two runs compared by
# signature: one the patched kernel shows and the base does not is a
# regression.  The KCSAN reports are not splats in these runs (vmrun.py
# --not-splat kcsan): the base has data races of its own, and a report the
# base shows too must not fail a test of the patched kernel.
#
# Environment (make kcsan NAME=... sets KMMU_NAME): KMMU_MODE (default tdp),
# KMMU_MAX_SECONDS (each kernel's run, default 5400), KMMU_ONLY=REGEX (default
# the tests below; ONLY= with nothing after it runs the whole list).
set -e
. "$(dirname "$0")/lib.sh"

# NX huge page recovery (its own test and the read-lock stress test), huge
# pages recovered in place when dirty logging is turned off, dirty logging
# with huge pages split, and the nested NPT test of the lazy mmu_page_hash
# (not its -f line, which needs fault injection: kasan.config has it).
ONLY_DEFAULT='^(x86_64/nx_huge_pages_test|kvm-extra/nx_recovery_stress_test|kvm-extra/huge_page_recovery_test'
ONLY_DEFAULT+='|x86_64/dirty_log_page_splitting_test|kvm-extra/svm_nested_npt_test -n 4 )'
only=${KMMU_ONLY-$ONLY_DEFAULT}
mode=${KMMU_MODE:-tdp}

[ -f "$KMMU_OUT/trees/patched/APPLIED" ] || "$TOP/scripts/apply.sh"
for k in base patched; do
	KMMU_KBUILD_DIR=$KMMU_OUT/trees/$k/build-kcsan "$TOP/scripts/build-kernel.sh" "$KMMU_OUT/trees/$k" \
		"$TOP/configs/vm-kvm.config" "$TOP/configs/debug.config" "$TOP/configs/kcsan.config" >/dev/null
done
# The series' list (mainline/tests.list with SERIES=mainline), as run.sh.
list=${KMMU_TEST_LIST:-$TEST_LIST_DEFAULT}
bin=$("$TOP/scripts/build-selftests.sh" "$list")
python3 "$TOP/scripts/vmrun.py" initramfs --bin "$bin" --list "$list" --out "$KMMU_OUT/initramfs.cpio.gz" >/dev/null

mkdir -p "$KMMU_OUT/results"
dirs=()
for k in base patched; do
	d=$KMMU_OUT/results/$k-kcsan-$mode
	rm -rf "$d"
	dirs+=("$d")
	msg "VM run: $k kernel with KCSAN, $mode"
	# Its exit status is report.py's to give (the base fails tests that
	# the series fixes); a run that wrote no results.json fails there.
	python3 "$TOP/scripts/vmrun.py" run --kernel "$KMMU_OUT/trees/$k/build-kcsan/arch/x86/boot/bzImage" \
		--vmlinux "$KMMU_OUT/trees/$k/build-kcsan/vmlinux" \
		--initramfs "$KMMU_OUT/initramfs.cpio.gz" --list "$list" --mode "$mode" --label "$k-kcsan" --out "$d" \
		--max-seconds "${KMMU_MAX_SECONDS:-5400}" ${only:+--only "$only"} --not-splat kcsan || true
done
rc=0
python3 "$TOP/scripts/report.py" --base "${dirs[0]}" --patched "${dirs[1]}" || rc=1
echo
# Not through a pipe: its exit status is the regression verdict.
python3 "$TOP/scripts/kcsan_reports.py" --base "${dirs[0]}" --patched "${dirs[1]}" \
	> "$KMMU_OUT/results/kcsan-$mode.tap" || rc=1
cat "$KMMU_OUT/results/kcsan-$mode.tap"
exit $rc
