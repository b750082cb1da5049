#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Benchmarks: run tests/bench.list on the base and the patched kernel, in the
# same session and on the same workload, and print every "bench: NAME VALUE"
# figure side by side with the difference.  Counts (bytes, faults, flushes)
# are preferred over times, which under TCG depend on the emulation.
#
# Environment (make bench NAME=... sets KMMU_NAME): KMMU_MODES (default "tdp
# shadow-mmu"), KMMU_PATCHED_MODES (default: the series header's
# "# patched-modes:", run on the patched kernel only), as in run.sh;
# KMMU_BENCH_LIST (default tests/bench.list).
set -e
. "$(dirname "$0")/lib.sh"

vm_matrix_settings	# MODES, PATCHED_MODES (KERNELS: both, always)
list=${KMMU_BENCH_LIST:-$TOP/tests/bench.list}
"$TOP/scripts/apply.sh"
for k in base patched; do
	"$TOP/scripts/build-kernel.sh" "$KMMU_OUT/trees/$k" >/dev/null
done
bin=$("$TOP/scripts/build-selftests.sh")
ird=$KMMU_OUT/bench-initramfs.cpio.gz
python3 "$TOP/scripts/vmrun.py" initramfs --bin "$bin" --list "$list" --out "$ird" >/dev/null

rc=0
dirs=()
while read -r k mode; do
	d=$KMMU_OUT/bench/$k-$mode
	rm -rf "$d"
	msg "benchmark: $k kernel, $mode"
	python3 "$TOP/scripts/vmrun.py" run --kernel "$KMMU_OUT/trees/$k/build/arch/x86/boot/bzImage" \
		--initramfs "$ird" --list "$list" --mode "$mode" --label "$k" --out "$d" < /dev/null || rc=1
	dirs+=("$d")
done <<< "$(vm_matrix "$MODES" "$PATCHED_MODES" "base patched")"

# The figures vmrun.py kept in each run's results.json, side by side.
python3 "$TOP/scripts/benchtable.py" "${dirs[@]}" || rc=1
# What feature 3 costs kernels built without a mirror backend: object code.
echo
bash "$TOP/scripts/mirror-cost.sh" || rc=1
exit $rc
