#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build the patched kernel with KASAN (configs/kasan.config on top of the VM
# and debug fragments; KVM_WERROR is off there because it needs !KASAN) in its
# own build directory, and boot it with the test list in the TDP MMU mode.
# Not part of `make test`: a KASAN kernel under TCG is several times slower.
#
# The kernel has fault injection and kmemleak too (see configs/kasan.config):
# the guest init scans for leaks after each group's tests.
#
# Environment (make kasan NAME=... sets KMMU_NAME): KMMU_MODE (default tdp),
# KMMU_MAX_SECONDS (default 5400), KMMU_ONLY=REGEX as in run.sh;
# KMMU_KASAN_PATCH=FILE puts a patch on top of the series for this run only
# (a busted kernel of tests/busted/kasan/, which the run must fail on; the
# tree is marked busted until the patch is reverted, on exit).
set -e
. "$(dirname "$0")/lib.sh"

[ -f "$KMMU_OUT/trees/patched/APPLIED" ] || "$TOP/scripts/apply.sh"
refuse_busted "$KMMU_OUT/trees/patched"
if [ -n "${KMMU_KASAN_PATCH:-}" ]; then
	extra_patch_apply "kasan (KMMU_KASAN_PATCH)" "$KMMU_KASAN_PATCH"
	trap extra_patch_revert EXIT
	trap 'exit 130' INT TERM
fi
KMMU_KBUILD_DIR=$KMMU_OUT/trees/patched/build-kasan "$TOP/scripts/build-kernel.sh" "$KMMU_OUT/trees/patched" \
	"$TOP/configs/vm-kvm.config" "$TOP/configs/debug.config" "$TOP/configs/kasan.config" >/dev/null
# The series' list (mainline/tests.list with SERIES=mainline), as run.sh.
list=${KMMU_TEST_LIST:-$TEST_LIST_DEFAULT}
bin=$("$TOP/scripts/build-selftests.sh" "$list")
python3 "$TOP/scripts/vmrun.py" initramfs --bin "$bin" --list "$list" --out "$KMMU_OUT/initramfs.cpio.gz" >/dev/null
mode=${KMMU_MODE:-tdp}
d=$KMMU_OUT/results/patched-kasan-$mode
rm -rf "$d"
rc=0
python3 "$TOP/scripts/vmrun.py" run --kernel "$KMMU_OUT/trees/patched/build-kasan/arch/x86/boot/bzImage" \
	--initramfs "$KMMU_OUT/initramfs.cpio.gz" --list "$list" --mode "$mode" --label patched-kasan --out "$d" \
	--max-seconds "${KMMU_MAX_SECONDS:-5400}" ${KMMU_ONLY:+--only "$KMMU_ONLY"} || rc=$?
python3 "$TOP/scripts/report.py" --patched "$d"
exit $rc
