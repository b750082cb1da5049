#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build the patched kernel with KASAN (configs/kasan.config on top of the VM
# and debug fragments; KVM_WERROR is off there because it needs !KASAN) in its
# own build directory, and boot it with the test list in the TDP MMU mode.
# Not part of `make test`: a KASAN kernel under TCG is several times slower.
set -e
. "$(dirname "$0")/lib.sh"

[ -f "$KMMU_OUT/trees/patched/APPLIED" ] || "$TOP/scripts/apply.sh"
KBUILD_DIR=$KMMU_OUT/trees/patched/build-kasan "$TOP/scripts/build-kernel.sh" "$KMMU_OUT/trees/patched" \
	"$TOP/configs/vm-kvm.config" "$TOP/configs/debug.config" "$TOP/configs/kasan.config" >/dev/null
bin=$("$TOP/scripts/build-selftests.sh")
python3 "$TOP/scripts/vmrun.py" initramfs --bin "$bin" --out "$KMMU_OUT/initramfs.cpio.gz" >/dev/null
d=$KMMU_OUT/results/patched-kasan-${MODE:-tdp}
rm -rf "$d"
python3 "$TOP/scripts/vmrun.py" run --kernel "$KMMU_OUT/trees/patched/build-kasan/arch/x86/boot/bzImage" \
	--initramfs "$KMMU_OUT/initramfs.cpio.gz" --mode "${MODE:-tdp}" --label patched-kasan --out "$d" \
	--max-seconds "${MAX_SECONDS:-5400}" ${ONLY:+--only "$ONLY"}
rc=$?
python3 "$TOP/scripts/report.py" --patched "$d"
exit $rc
