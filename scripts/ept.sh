#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The Intel side: the EPT test list (tests/ept-tests.list) on the base and the
# patched kernel in Bochs, which emulates VMX with EPT (QEMU's TCG has no
# VMX), in the modes ept (EPT A/D bits and PML), ept-nopml and ept-noad; then
# the base-vs-patched table.  See scripts/bochsrun.py.
#
# It boots the kernels make build made (out/trees/*/build); it builds none.
# Bochs runs on one host thread: one VM run at a time.
#
# Environment (make ept NAME=... sets KMMU_NAME):
#   KMMU_MODES="ept ept-nopml ept-noad"   modes to run
#   KMMU_KERNELS="base patched"   which kernels to boot
#   KMMU_ONLY=REGEX      run only the tests whose "name args" match
#   KMMU_TEST_LIST=FILE  test list (default tests/ept-tests.list)
#   KMMU_MAX_SECONDS=N   limit for each VM run (default 3600)
#   KMMU_EPT_SPIKE=1     make ept-spike: one boot, patched kernel, mode ept,
#                        the smoke test and in-place huge page recovery only
#   KMMU_SELFTESTS_BIN=DIR   test binaries already built (else
#                        scripts/build-selftests.sh builds the list's)
#   KMMU_BOCHS_SLOWDOWN=F    host limits = guest timeouts x F (default 3)
set -e
. "$(dirname "$0")/lib.sh"

TEST_LIST=${KMMU_TEST_LIST:-$TOP/tests/ept-tests.list}
MODES=${KMMU_MODES:-ept ept-nopml ept-noad}
KERNELS=${KMMU_KERNELS:-base patched}
MAX_SECONDS=${KMMU_MAX_SECONDS:-3600}
ONLY=${KMMU_ONLY:-}
if [ "${KMMU_EPT_SPIKE:-}" = 1 ]; then
	MODES=ept KERNELS=${KMMU_KERNELS:-patched}
	ONLY=${KMMU_ONLY:-^(kvm_binary_stats_test|kvm-extra/huge_page_recovery_test)}
fi

need_group ept vm
res=$KMMU_OUT/results-ept
mkdir -p "$res"
for k in $KERNELS; do
	[ -f "$KMMU_OUT/trees/$k/build/arch/x86/boot/bzImage" ] ||
		die "no $k kernel in $KMMU_OUT/trees/$k/build: make build first (make ept builds no kernel)"
	refuse_busted "$KMMU_OUT/trees/$k"
done

t0=$(now)
bin=${KMMU_SELFTESTS_BIN:-$("$TOP/scripts/build-selftests.sh" "$TEST_LIST")}
initramfs=$KMMU_OUT/ept-initramfs.cpio.gz
python3 "$TOP/scripts/vmrun.py" initramfs --bin "$bin" --list "$TEST_LIST" --out "$initramfs" >/dev/null

dirs_base=() dirs_patched=()
while read -r k mode; do
	[ -n "$k" ] || continue
	d=$res/$k-$mode
	rm -rf "$d"
	mkdir -p "$d"
	msg "Bochs run: $k kernel, $mode"
	s=$(now)
	python3 "$TOP/scripts/vmrun.py" run --kernel "$KMMU_OUT/trees/$k/build/arch/x86/boot/bzImage" \
		--vmlinux "$KMMU_OUT/trees/$k/build/vmlinux" \
		--initramfs "$initramfs" --list "$TEST_LIST" --mode "$mode" \
		--label "$k" --out "$d" --max-seconds "$MAX_SECONDS" ${ONLY:+--only "$ONLY"} \
		> "$d/vmrun.out" 2>&1 < /dev/null || true
	cat "$d/vmrun.out"
	echo "   $(( $(now) - s )) s; Bochs: $(cat "$d"/bochs-g*.speed 2>/dev/null | tr '\n' ' ')"
	if [ "$k" = base ]; then dirs_base+=("$d"); else dirs_patched+=("$d"); fi
done <<< "$(vm_matrix "$MODES" "" "$KERNELS")"

echo
echo "== ept modes: $MODES; $(( $(now) - t0 )) s"
if [ ${#dirs_patched[@]} -eq 0 ]; then
	dirs_patched=("${dirs_base[@]}"); dirs_base=()
fi
python3 "$TOP/scripts/report.py" --patched "${dirs_patched[@]}" \
	${dirs_base:+--base "${dirs_base[@]}"} --json "$res/report.json"
