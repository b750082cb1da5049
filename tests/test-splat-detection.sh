#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# End-to-end check that a kernel splat fails a VM run whose tests all pass:
# boot the patched kernel with one quick test and make the guest kernel print
# a real backtrace (sysrq l) while it runs.  The run must fail and tie the
# splat to that test.  Needs the kernel and initramfs of a previous
# scripts/run.sh.  Prints TAP.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/scripts/lib.sh"
k=$KMMU_OUT/trees/patched/build/arch/x86/boot/bzImage
d=$KMMU_OUT/results/splat-selftest
echo "TAP version 13"
echo "1..3"
if [ ! -f "$k" ] || [ ! -f "$KMMU_OUT/initramfs.cpio.gz" ]; then
	for i in 1 2 3; do echo "not ok $i splat detection # no kernel or initramfs: run scripts/run.sh first"; done
	exit 1
fi
rm -rf "$d"
python3 "$TOP/scripts/vmrun.py" run --kernel "$k" --vmlinux "${k%/arch/x86/boot/bzImage}/vmlinux" --initramfs "$KMMU_OUT/initramfs.cpio.gz" \
	--mode tdp --label splat-selftest --out "$d" --only '^kvm_binary_stats_test$' \
	--inject backtrace --max-seconds 300 > "$d.log" 2>&1
rc=$?
sed 's/^/# /' "$d.log"
failed=0
t() { if eval "$2"; then echo "ok $1 $3"; else echo "not ok $1 $3"; failed=1; fi; }
t 1 '[ $rc -ne 0 ]' "a run with a backtrace on the console fails (exit $rc)"
t 2 "python3 -c \"import json,sys; r=json.load(open('$d/results.json')); t=r['tests'][0]; sys.exit(not (t['status']=='pass' and t['splats']))\"" \
	"the test itself passed, and the splat is tied to it"
t 3 "grep -q '^not ok 1 kvm_binary_stats_test # kernel splat' '$d/results.tap'" "results.tap reports it as not ok"
exit $failed
