#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# End-to-end checks on the patched kernel, with one quick test, that
#  1-3: a kernel splat fails a VM run whose tests all pass: the guest kernel
#       prints a real backtrace (sysrq l) while the test runs; the run must
#       fail and tie the splat to that test;
#  4-9: a wedged guest leaves evidence: LKDTM (kmmu.inject=hang) blocks a
#       task for ever, then puts every CPU in a soft lockup, so that no guest
#       process runs; the host must take the test for hung, get sysrq
#       backtraces through QMP before it kills the VM, and the hung-task,
#       soft-lockup and RCU stall reports and the sysrq backtraces must come
#       with file:line from decode_stacktrace.sh.
# Needs the kernel and initramfs of a previous scripts/run.sh.  Prints TAP.
. "$(dirname "$0")/lib-tap.sh"
. "$TOP/scripts/lib.sh"
k=$KMMU_OUT/trees/patched/build/arch/x86/boot/bzImage
d=$KMMU_OUT/results/splat-selftest
if [ ! -f "$k" ] || [ ! -f "$KMMU_OUT/initramfs.cpio.gz" ]; then
	for i in 1 2 3 4 5 6 7 8 9; do fail "splat detection # no kernel or initramfs: run scripts/run.sh first"; done
	tap_done
fi
mkdir -p "$KMMU_OUT/results"
rm -rf "$d"
python3 "$TOP/scripts/vmrun.py" run --kernel "$k" --vmlinux "${k%/arch/x86/boot/bzImage}/vmlinux" --initramfs "$KMMU_OUT/initramfs.cpio.gz" \
	--mode tdp --label splat-selftest --out "$d" --only '^kvm_binary_stats_test$' \
	--inject backtrace --max-seconds 300 > "$d.log" 2>&1
rc=$?
sed 's/^/# /' "$d.log"
t "a run with a backtrace on the console fails (exit $rc)" \
	'[ $rc -ne 0 ]'
t "the test itself passed, and the splat is tied to it" \
	"python3 -c \"import json,sys; r=json.load(open('$d/results.json')); t=r['tests'][0]; sys.exit(not (t['status']=='pass' and t['splats']))\""
t "results.tap reports it as not ok" \
	"grep -q '^not ok 1 kvm_binary_stats_test # kernel splat' '$d/results.tap'"

# 4-9: a wedged guest.  The host's limit for the test is 75 s: the hung task
# is reported after 10 to 20 s, the soft lockup 20 s after that, the RCU
# stall (10 s, from the command line) in between.
h=$KMMU_OUT/results/hang-selftest
rm -rf "$h"
python3 "$TOP/scripts/vmrun.py" run --kernel "$k" --vmlinux "${k%/arch/x86/boot/bzImage}/vmlinux" \
	--initramfs "$KMMU_OUT/initramfs.cpio.gz" --mode tdp --label hang-selftest --out "$h" \
	--only '^kvm_binary_stats_test$' --inject hang --test-limit 75 --max-seconds 400 > "$h.log" 2>&1
hrc=$?
sed 's/^/# /' "$h.log"
py() { python3 -c "import json,re,sys; r=json.load(open('$h/results.json')); t=r['tests'][0]; b=r['boots'][0]; ev=t.get('evidence') or []; $1"; }
t "a wedged guest: the run fails (exit $hrc) and the test is a hang" \
	'[ $hrc -ne 0 ] && py "sys.exit(t[\"status\"] != \"hang\")"'
t "sysrq l, w, d and t were sent through QMP before the kill" \
	'py "sys.exit(not (b[\"sysrq\"] and b[\"sysrq\"][\"keys\"] == list(\"lwdt\") and not b[\"sysrq\"][\"error\"]))"'
t "the guest kernel answered them on the console" \
	"grep -q 'sysrq: Show backtrace of all active CPUs' $h/console-g*.log && grep -q 'sysrq: Show Blocked State' $h/console-g*.log && grep -q 'sysrq: Show State' $h/console-g*.log"
t "the hung-task, soft-lockup and RCU stall reports are found and tied to the test" \
	'py "k = [s.split(\":\")[0] for s in t[\"splats\"]]; sys.exit(not {\"hung-task\", \"soft-lockup\", \"rcu-stall\"} <= set(k))"'
t "the sysrq CPU backtraces say file:line (lkdtm_SOFTLOCKUP drivers/misc/lkdtm/bugs.c:N)" \
	'py "sys.exit(not any(re.search(r\"sysrq-l cpu \\d+: .*lkdtm_SOFTLOCKUP drivers/misc/lkdtm/bugs.c:\\d+\", e) for e in ev))"'
t "the hung-task report's frames say file:line" \
	'py "sys.exit(not any(re.match(r\"hung-task: INFO: task .* @ .*\\.[ch]:\\d+\", e) for e in ev))"'
tap_done
