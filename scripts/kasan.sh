#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build the patched kernel with KASAN (configs/kasan.config on top of the VM
# and debug fragments; KVM_WERROR is off there because it needs !KASAN) in its
# own build directory, and boot it with the test list in the TDP MMU mode.
# Not part of `make test`: a KASAN kernel under TCG is several times slower.
#
# Environment (make kasan NAME=... sets KMMU_NAME): KMMU_MODE (default tdp),
# KMMU_MAX_SECONDS (default 5400), KMMU_ONLY=REGEX as in run.sh.
set -e
. "$(dirname "$0")/lib.sh"

[ -f "$KMMU_OUT/trees/patched/APPLIED" ] || "$TOP/scripts/apply.sh"
KMMU_KBUILD_DIR=$KMMU_OUT/trees/patched/build-kasan "$TOP/scripts/build-kernel.sh" "$KMMU_OUT/trees/patched" \
	"$TOP/configs/vm-kvm.config" "$TOP/configs/debug.config" "$TOP/configs/kasan.config" >/dev/null
bin=$("$TOP/scripts/build-selftests.sh")
python3 "$TOP/scripts/vmrun.py" initramfs --bin "$bin" --out "$KMMU_OUT/initramfs.cpio.gz" >/dev/null
mode=${KMMU_MODE:-tdp}
d=$KMMU_OUT/results/patched-kasan-$mode
rm -rf "$d"
rc=0
python3 "$TOP/scripts/vmrun.py" run --kernel "$KMMU_OUT/trees/patched/build-kasan/arch/x86/boot/bzImage" \
	--initramfs "$KMMU_OUT/initramfs.cpio.gz" --mode "$mode" --label patched-kasan --out "$d" \
	--max-seconds "${KMMU_MAX_SECONDS:-5400}" ${KMMU_ONLY:+--only "$KMMU_ONLY"} || rc=$?
python3 "$TOP/scripts/report.py" --patched "$d"
exit $rc
